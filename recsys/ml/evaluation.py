"""Ranking metrics under the sampled (1 + 100 negatives) and full-ranking protocols.

Each evaluated user has exactly one held-out item, so with ``rank`` = number
of competing candidates scoring at least as high as the target (ties count
against the target: a constant scorer gets no credit):

    HR@K = Recall@K = [rank < K]      Precision@K = HR@K / K
    NDCG@K = [rank < K] / log2(rank + 2)      MRR = 1 / (rank + 1)
    Accuracy = HR@1

Protocols
    sampled: target vs ``num_negatives`` items drawn uniformly without
             replacement from the items the user never interacted with (seeded),
             as in SASRec / the HikmaX paper.
    full:    target vs the whole catalogue minus the items in the user's
             history (the target itself is never removed).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import wilcoxon

from recsys.ml.protocol import Scorer
from recsys.ml.sequences import EvalSet

KS = (1, 5, 10, 20)
PROTOCOLS = ("sampled", "full")
NUM_NEGATIVES = 100
EVAL_BATCH = 512


def hit_rate(ranks: np.ndarray, k: int) -> np.ndarray:
    return (np.asarray(ranks) < k).astype(np.float64)


def recall(ranks: np.ndarray, k: int) -> np.ndarray:
    return hit_rate(ranks, k)  # one relevant item per user


def precision(ranks: np.ndarray, k: int) -> np.ndarray:
    return hit_rate(ranks, k) / k


def ndcg(ranks: np.ndarray, k: int) -> np.ndarray:
    ranks = np.asarray(ranks, dtype=np.float64)
    return np.where(ranks < k, 1.0 / np.log2(ranks + 2.0), 0.0)


def mrr(ranks: np.ndarray) -> np.ndarray:
    return 1.0 / (np.asarray(ranks, dtype=np.float64) + 1.0)


def accuracy(ranks: np.ndarray) -> np.ndarray:
    return hit_rate(ranks, 1)


def per_user_metrics(ranks: np.ndarray, ks: Iterable[int] = KS) -> dict[str, np.ndarray]:
    values = {}
    for k in ks:
        values[f"HR@{k}"] = hit_rate(ranks, k)
        values[f"NDCG@{k}"] = ndcg(ranks, k)
        values[f"Precision@{k}"] = precision(ranks, k)
        values[f"Recall@{k}"] = recall(ranks, k)
    values["MRR"] = mrr(ranks)
    values["Accuracy"] = accuracy(ranks)
    return values


def bootstrap_ci(values: np.ndarray, resamples: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean over users."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    chunk = max(1, 4_000_000 // len(values))
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        means[start:stop] = values[rng.integers(0, len(values), (stop - start, len(values)))].mean(1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def mean_with_ci(values: ArrayLike, *, seed: int = 0, resamples: int = 1000) -> dict[str, float | int | None]:
    """Mean, 95% bootstrap CI and count of the non-NaN values (None when there are none)."""
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[~np.isnan(finite)]
    if len(finite) == 0:
        return {"mean": None, "low": None, "high": None, "n": 0}
    low, high = bootstrap_ci(finite, resamples=resamples, seed=seed)
    return {"mean": float(finite.mean()), "low": low, "high": high, "n": int(len(finite))}


def paired_test(
    first: ArrayLike, second: ArrayLike, *, seed: int = 0, resamples: int = 1000,
) -> dict[str, float | int | None]:
    """Mean difference (first - second) per user with its bootstrap CI and the Wilcoxon signed-rank p-value."""
    difference = np.asarray(first, dtype=np.float64) - np.asarray(second, dtype=np.float64)
    difference = difference[~np.isnan(difference)]
    summary = mean_with_ci(difference, seed=seed, resamples=resamples)
    summary["p_value"] = wilcoxon_p(difference)
    return summary


def wilcoxon_p(difference: np.ndarray) -> float | None:
    """Two-sided Wilcoxon signed-rank p-value; zero differences split between the signs (1.0 if all zero)."""
    if len(difference) == 0:
        return None
    if not np.any(difference != 0):
        return 1.0
    return float(wilcoxon(difference, zero_method="zsplit").pvalue)


# -- ranks ---------------------------------------------------------------------------


def _membership(rows: list[np.ndarray], width: int) -> np.ndarray:
    """Boolean [len(rows), width] with True at every index listed in a row."""
    mask = np.zeros((len(rows), width), dtype=bool)
    lengths = [len(row) for row in rows]
    if sum(lengths):
        row_ids = np.repeat(np.arange(len(rows)), lengths)
        mask[row_ids, np.concatenate([np.asarray(row, dtype=np.int64) for row in rows])] = True
    return mask


def full_ranks(scores: np.ndarray, targets: np.ndarray, seen: list[np.ndarray]) -> np.ndarray:
    """Rank of each target among all items not in the user's history."""
    excluded = _membership(seen, scores.shape[1])
    excluded[:, 0] = True
    excluded[np.arange(len(targets)), targets] = False
    target_scores = scores[np.arange(len(targets)), targets][:, None]
    competing = (scores >= target_scores) & ~excluded
    return np.asarray(competing.sum(axis=1) - 1)  # the target competes with itself once


def sample_negatives(interacted: list[np.ndarray], num_items: int, count: int, rng: np.random.Generator) -> np.ndarray:
    """[U, count] items drawn uniformly without replacement from never-interacted items.

    Users with fewer than ``count`` such items get -1 in the missing slots.
    """
    keys = rng.random((len(interacted), num_items + 1))
    forbidden = _membership(interacted, num_items + 1)
    forbidden[:, 0] = True
    keys[forbidden] = np.inf
    count = min(count, num_items)
    negatives = np.argpartition(keys, count - 1, axis=1)[:, :count]
    available = np.isfinite(np.take_along_axis(keys, negatives, axis=1))
    return np.where(available, negatives, -1)


def sampled_ranks(scores: np.ndarray, targets: np.ndarray, negatives: np.ndarray) -> np.ndarray:
    target_scores = scores[np.arange(len(targets)), targets][:, None]
    negative_scores = np.take_along_axis(scores, np.maximum(negatives, 0), axis=1)
    return np.asarray(((negative_scores >= target_scores) & (negatives > 0)).sum(axis=1))


def compute_ranks(
    model: Scorer,
    eval_set: EvalSet,
    protocol: str = "full",
    num_negatives: int = NUM_NEGATIVES,
    seed: int = 0,
    trained_check: bool = True,
) -> np.ndarray:
    """Target ranks for every user of ``eval_set`` (model: encode_inputs + score_last)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    rng = np.random.default_rng(seed)
    score = model.score_last
    if not trained_check:  # validation while a RecommenderModel trains
        score = model._score_unchecked  # type: ignore[attr-defined]
    histories = eval_set.histories
    # Full ranking draws nothing at random, so users can be taken shortest history first and each batch
    # padded only to its longest history (the models are padding-invariant); the sampled protocol keeps
    # the users' order so every user keeps the negatives drawn for it before.
    order = np.argsort(histories.lengths(), kind="stable") if protocol == "full" else np.arange(len(eval_set))
    ranks = []
    for start in range(0, len(eval_set), EVAL_BATCH):
        rows = order[start : start + EVAL_BATCH]
        ids, w = model.encode_inputs([histories.items[r] for r in rows], [histories.weights[r] for r in rows])
        scores = score(*trim_padding(ids, w))
        targets = eval_set.targets[rows]
        if protocol == "full":
            ranks.append(full_ranks(scores, targets, [histories.items[r] for r in rows]))
        else:
            negatives = sample_negatives([eval_set.interacted[r] for r in rows], model.num_items, num_negatives, rng)
            ranks.append(sampled_ranks(scores, targets, negatives))
    if not ranks:
        return np.zeros(0, dtype=np.int64)
    in_order = np.empty(len(eval_set), dtype=np.int64)
    in_order[order] = np.concatenate(ranks)
    return in_order


def trim_padding(ids: np.ndarray, w: np.ndarray, multiple: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Drop left-padding columns no row of the batch needs (width rounded up to ``multiple``)."""
    longest = int((ids > 0).sum(axis=1).max()) if len(ids) else 0
    width = min(ids.shape[1], max(multiple, -(-longest // multiple) * multiple))
    return ids[:, ids.shape[1] - width :], w[:, ids.shape[1] - width :]


# -- reports ---------------------------------------------------------------------------


@dataclass
class EvaluationReport:
    protocol: str
    num_users: int
    metrics: dict[str, float]
    ci: dict[str, tuple[float, float]] = field(default_factory=dict)
    num_negatives: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "num_users": self.num_users,
            "num_negatives": self.num_negatives,
            "metrics": self.metrics,
            "ci": {name: list(bounds) for name, bounds in self.ci.items()},
        }


def summarize(
    ranks: np.ndarray,
    protocol: str,
    ks: Iterable[int] = KS,
    resamples: int = 1000,
    seed: int = 0,
    num_negatives: int | None = None,
) -> EvaluationReport:
    values = per_user_metrics(ranks, ks)
    metrics = {name: float(v.mean()) if len(v) else float("nan") for name, v in values.items()}
    ci = {}
    if resamples:
        ci = {name: bootstrap_ci(v, resamples, seed) for name, v in values.items()}
    return EvaluationReport(protocol, len(ranks), metrics, ci, num_negatives)


def evaluate(
    model: Scorer,
    eval_set: EvalSet,
    protocol: str = "full",
    ks: Iterable[int] = KS,
    num_negatives: int = NUM_NEGATIVES,
    seed: int = 0,
    resamples: int = 1000,
) -> EvaluationReport:
    """All metrics with 95% bootstrap CIs for one protocol."""
    ranks = compute_ranks(model, eval_set, protocol, num_negatives, seed)
    negatives = num_negatives if protocol == "sampled" else None
    return summarize(ranks, protocol, ks, resamples, seed, negatives)


def quick_validation(model: Scorer, valid: EvalSet) -> dict[str, float]:
    """Full-ranking metrics without CIs, used for early stopping during training."""
    ranks = compute_ranks(model, valid, "full", trained_check=False)
    return summarize(ranks, "full", ks=(10,), resamples=0).metrics
