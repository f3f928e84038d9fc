"""Drift metrics: ADS (JS divergence of next-item distributions) and DTC (target-category share shift)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .alignment import CategoryIndex, as_categories, next_item_probabilities
from .attribution import score_histories
from .protocol import ScoringModel
from .sequences import History, as_history, seen_mask

TOP_K = 10


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """JS divergence in bits (in [0, 1]) per row; rows are normalised like scipy does."""
    p = np.atleast_2d(np.asarray(p, dtype=np.float64))
    q = np.atleast_2d(np.asarray(q, dtype=np.float64))
    p = p / p.sum(axis=1, keepdims=True)
    q = q / q.sum(axis=1, keepdims=True)
    m = 0.5 * (p + q)
    divergence = 0.5 * (_kl_bits(p, m) + _kl_bits(q, m))
    return np.asarray(np.clip(divergence, 0.0, 1.0))


def _kl_bits(p: np.ndarray, m: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log2(p / np.where(m > 0, m, 1.0)), 0.0)
    return np.asarray(terms.sum(axis=1))


def algorithmic_drift_score(logits_before: np.ndarray, logits_after: np.ndarray) -> np.ndarray:
    """ADS: JS divergence (base 2) between next-item softmax distributions, per row."""
    return jensen_shannon(next_item_probabilities(logits_before), next_item_probabilities(logits_after))


def top_k_items(logits: np.ndarray, exclude: np.ndarray | None = None, k: int = TOP_K) -> np.ndarray:
    """[B, k] item ids by descending logit; `exclude` is a [B, N+1] mask (e.g. seen items)."""
    scores = np.array(logits, dtype=np.float64)
    scores[:, 0] = -np.inf
    if exclude is not None:
        scores[exclude] = -np.inf
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1)


def top_k_category_distribution(top_items: np.ndarray, categories: CategoryIndex) -> np.ndarray:
    """[B, C+1] category mass of each top-k list; last column counts uncategorised items."""
    rows = categories.matrix[top_items]  # [B, k, C]
    uncategorised = (rows.sum(axis=2) == 0).astype(np.float32)[..., None]
    return np.asarray(np.concatenate([rows, uncategorised], axis=2).sum(axis=1))


def target_share(top_items: np.ndarray, categories: CategoryIndex, target_categories: np.ndarray) -> np.ndarray:
    in_target = categories.matrix[top_items, np.asarray(target_categories)[:, None]] > 0
    return np.asarray(in_target.mean(axis=1))


def delta_target_consumption(
    top_before: np.ndarray, top_after: np.ndarray, categories: CategoryIndex, target_categories: np.ndarray
) -> np.ndarray:
    """DTC = |share of target-category items in top-k after - before|, per row."""
    after = target_share(top_after, categories, target_categories)
    return np.asarray(np.abs(after - target_share(top_before, categories, target_categories)))


@dataclass(frozen=True)
class DriftMetrics:
    ads: np.ndarray  # [B]
    category_ads: np.ndarray | None  # [B] JSD of top-k category distributions
    dtc: np.ndarray | None  # [B]
    target_categories: np.ndarray | None  # [B]
    top_before: np.ndarray  # [B, k]
    top_after: np.ndarray  # [B, k]
    reason: str = ""  # why category metrics are missing


def drift_metrics_from_logits(
    logits_before: np.ndarray,
    logits_after: np.ndarray,
    *,
    exclude_before: np.ndarray | None = None,
    exclude_after: np.ndarray | None = None,
    categories: CategoryIndex | None = None,
    target_categories: Sequence[int | None] | None = None,
    k: int = TOP_K,
) -> DriftMetrics:
    ads = algorithmic_drift_score(logits_before, logits_after)
    top_before = top_k_items(logits_before, exclude_before, k)
    top_after = top_k_items(logits_after, exclude_after, k)
    if categories is None:
        return DriftMetrics(ads, None, None, None, top_before, top_after, "the dataset has no item categories")
    category_ads = jensen_shannon(
        top_k_category_distribution(top_before, categories), top_k_category_distribution(top_after, categories)
    )
    if target_categories is None or any(t is None for t in target_categories):
        return DriftMetrics(ads, category_ads, None, None, top_before, top_after, "no target category given")
    targets = np.asarray(target_categories, dtype=np.int64)
    dtc = delta_target_consumption(top_before, top_after, categories, targets)
    return DriftMetrics(ads, category_ads, dtc, targets, top_before, top_after)


def drift_metrics(
    model: ScoringModel,
    before: Sequence[History | Sequence[int]],
    after: Sequence[History | Sequence[int]],
    *,
    categories: CategoryIndex | None = None,
    target_categories: Sequence[int | None] | None = None,
    injected_items: Sequence[Sequence[int] | np.ndarray] | None = None,
    k: int = TOP_K,
    exclude_seen: bool = True,
) -> DriftMetrics:
    """ADS / category ADS / DTC for many members at once (two batched forward passes).

    The DTC target is `target_categories`, else the dominant category of each member's injected items.
    """
    categories = as_categories(categories)
    old = [as_history(h) for h in before]
    new = [as_history(h) for h in after]
    if target_categories is None and injected_items is not None and categories is not None:
        target_categories = [categories.dominant(items) for items in injected_items]
    logits = score_histories(model, old + new)
    return drift_metrics_from_logits(
        logits[: len(old)],
        logits[len(old) :],
        exclude_before=seen_mask(old, model.num_items) if exclude_seen else None,
        exclude_after=seen_mask(new, model.num_items) if exclude_seen else None,
        categories=categories,
        target_categories=target_categories,
        k=k,
    )
