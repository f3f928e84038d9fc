"""Detection quality: how well each scorer ranks injected interactions above clean ones."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from .alignment import CategoryIndex, alignment_from_logits, as_categories
from .attribution import attention_attribution, occlusion_effects
from .detection import (
    DriftCalibration,
    alignment_attributions,
    top_item_attributions,
)
from .drift import Injection
from .protocol import ExplainerUnavailable
from .sequences import visible_positions

DETECTORS = ("ig_alignment", "paper_rule", "attention", "occlusion", "recency", "random")


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float | None:
    """Mann-Whitney AUC (ties count half); None when only one class is present."""
    labels = np.asarray(labels, dtype=bool)
    positives, negatives = labels.sum(), (~labels).sum()
    if positives == 0 or negatives == 0:
        return None
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def precision_at_k(scores: np.ndarray, labels: np.ndarray, k: int = 5) -> float:
    top = np.argsort(-np.asarray(scores), kind="stable")[:k]
    return float(np.asarray(labels, dtype=bool)[top].mean()) if len(top) else 0.0


@dataclass(frozen=True)
class DetectionQuality:
    method: str
    roc_auc: float | None  # mean over members with both classes visible
    precision_at_k: float
    k: int
    members: int


def detector_scores(
    method: str,
    model,
    injections: Sequence[Injection],
    profiles: np.ndarray,
    categories: CategoryIndex,
    calibration: DriftCalibration,
    seed: int = 0,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per member: (visible positions, suspicion score per position; higher = more likely injected)."""
    histories = [injection.history for injection in injections]
    profiles = np.broadcast_to(np.atleast_2d(profiles), (len(histories), categories.num_categories))
    if method == "ig_alignment":
        attributions = alignment_attributions(
            model, histories, profiles, categories, calibration.steps, calibration.baseline
        )
        return [(a.positions, -calibration.alignment_norm.relative(a)) for a in attributions]
    if method == "paper_rule":
        attributions = top_item_attributions(model, histories, calibration.steps)
        return [(a.positions, calibration.top_item_norm.relative(a)) for a in attributions]
    if method == "attention":
        return [_attention_scores(model, h) for h in histories]
    if method == "occlusion":
        return [_occlusion_scores(model, h, p, categories) for h, p in zip(histories, profiles)]
    visible = [visible_positions(h, model.max_len) for h in histories]
    if method == "recency":
        return [(v, np.arange(len(v), dtype=np.float64)) for v in visible]
    if method == "random":
        rng = np.random.default_rng(seed)
        return [(v, rng.random(len(v))) for v in visible]
    raise ValueError(f"unknown detector {method!r}; valid: {', '.join(DETECTORS)}")


def _attention_scores(model, history):
    attribution = attention_attribution(model, history)
    return attribution.positions, attribution.scores


def _occlusion_scores(model, history, profile, categories):
    positions, full, without = occlusion_effects(
        model, history, lambda logits: alignment_from_logits(logits, np.atleast_2d(profile), categories)
    )
    return positions, without - full


def detection_quality(
    model,
    injections: Sequence[Injection],
    profiles: np.ndarray,
    categories: CategoryIndex,
    calibration: DriftCalibration,
    *,
    methods: Sequence[str] = DETECTORS,
    k: int = 5,
    seed: int = 0,
) -> dict[str, DetectionQuality]:
    """ROC-AUC and precision@k of flagging the injected interactions, per detector."""
    categories = as_categories(categories)
    quality = {}
    for method in methods:
        try:
            per_member = detector_scores(method, model, injections, profiles, categories, calibration, seed)
        except ExplainerUnavailable:
            continue
        aucs, precisions = [], []
        for injection, (positions, scores) in zip(injections, per_member):
            labels = np.isin(positions, injection.injected_positions)
            auc = roc_auc(scores, labels)
            if auc is not None:
                aucs.append(auc)
            precisions.append(precision_at_k(scores, labels, k))
        quality[method] = DetectionQuality(
            method, float(np.mean(aucs)) if aucs else None, float(np.mean(precisions)), k, len(injections)
        )
    return quality
