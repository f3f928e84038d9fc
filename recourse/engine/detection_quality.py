"""Detection quality: how well each detector ranks injected interactions above clean ones.

The one implementation used by the population experiment and by the engine tests. A detector gives,
per member, the visible positions and a suspicion score per position (higher = more likely injected).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from .alignment import CategoryIndex, alignment_from_logits, as_categories
from .attribution import Attribution, attention_attribution, occlusion_effects
from .drift_detection import DriftCalibration, alignment_attributions, top_item_attributions
from .drift_injection import Injection
from .protocol import ExplainerUnavailable, ScoringModel
from .sequences import History, visible_positions

DETECTORS = ("ig_alignment", "paper_rule", "attention", "occlusion", "recency", "random")
Scores = tuple[np.ndarray, np.ndarray]  # (positions, suspicion per position)


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
    model: ScoringModel,
    histories: Sequence[History],
    profiles: np.ndarray,
    categories: CategoryIndex,
    *,
    calibration: DriftCalibration | None = None,
    alignment_ig: Sequence[Attribution] | None = None,
    seed: int = 0,
) -> list[Scores]:
    """Per member (visible positions, suspicion score per position).

    ig_alignment: the negative IG of the alignment score, relative to its usual size at that distance from
    the end when a calibration is given (raw otherwise); pass ``alignment_ig`` to reuse attributions.
    paper_rule needs a calibration. random: member ``row`` draws from seed + row.
    Raises ExplainerUnavailable for attention on a model without attention.
    """
    profiles = np.broadcast_to(np.atleast_2d(profiles), (len(histories), categories.num_categories))
    if method == "ig_alignment":
        return _ig_alignment_scores(model, histories, profiles, categories, calibration, alignment_ig)
    if method == "paper_rule":
        if calibration is None:
            raise ValueError("the paper_rule detector needs a drift calibration")
        attributions = top_item_attributions(model, histories, calibration.steps)
        return [(a.positions, calibration.top_item_norm.relative(a)) for a in attributions]
    if method == "attention":
        return [_attention_scores(model, history) for history in histories]
    visible = [visible_positions(history, model.max_len) for history in histories]
    if method == "occlusion":
        return [_occlusion_scores(model, h, p, categories, v) for h, p, v in zip(histories, profiles, visible)]
    if method == "recency":
        return [(v, v.astype(np.float64)) for v in visible]
    if method == "random":
        return [(v, np.random.default_rng(seed + row).random(len(v))) for row, v in enumerate(visible)]
    raise ValueError(f"unknown detector {method!r}; valid: {', '.join(DETECTORS)}")


def _ig_alignment_scores(model: ScoringModel, histories: Sequence[History], profiles: np.ndarray,
                         categories: CategoryIndex, calibration: DriftCalibration | None,
                         alignment_ig: Sequence[Attribution] | None) -> list[Scores]:
    if alignment_ig is None and calibration is None:
        alignment_ig = alignment_attributions(model, histories, profiles, categories)
    elif alignment_ig is None and calibration is not None:
        alignment_ig = alignment_attributions(model, histories, profiles, categories, calibration.steps,
                                              calibration.baseline)
    assert alignment_ig is not None
    if calibration is None:
        return [(a.positions, -a.scores) for a in alignment_ig]
    return [(a.positions, -calibration.alignment_norm.relative(a)) for a in alignment_ig]


def _attention_scores(model: ScoringModel, history: History) -> Scores:
    attribution = attention_attribution(model, history)
    return attribution.positions, attribution.scores


def _occlusion_scores(model: ScoringModel, history: History, profile: np.ndarray, categories: CategoryIndex,
                      positions: np.ndarray) -> Scores:
    positions, full, without = occlusion_effects(
        model, history, lambda logits: alignment_from_logits(logits, profile[None], categories), positions=positions,
    )
    return positions, without - full


def quality_of(
    method: str, per_member: Sequence[Scores], injections: Sequence[Injection], k: int = 5,
) -> DetectionQuality:
    """Mean ROC-AUC (members with both classes visible) and precision@k of one detector's scores."""
    aucs, precisions = [], []
    for injection, (positions, scores) in zip(injections, per_member, strict=True):
        labels = np.isin(positions, injection.injected_positions)
        auc = roc_auc(scores, labels)
        if auc is not None:
            aucs.append(auc)
        precisions.append(precision_at_k(scores, labels, k))
    return DetectionQuality(method, float(np.mean(aucs)) if aucs else None, float(np.mean(precisions)), k,
                            len(precisions))


def detection_quality(
    model: ScoringModel,
    injections: Sequence[Injection],
    profiles: np.ndarray,
    categories: CategoryIndex,
    calibration: DriftCalibration | None = None,
    *,
    methods: Sequence[str] = DETECTORS,
    k: int = 5,
    seed: int = 0,
) -> dict[str, DetectionQuality]:
    """ROC-AUC and precision@k of flagging the injected interactions, per detector (unavailable ones left out)."""
    categories = as_categories(categories)
    histories = [injection.history for injection in injections]
    quality = {}
    for method in methods:
        try:
            per_member = detector_scores(method, model, histories, profiles, categories, calibration=calibration,
                                         seed=seed)
        except ExplainerUnavailable:
            continue
        quality[method] = quality_of(method, per_member, injections, k)
    return quality
