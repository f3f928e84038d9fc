"""Test-set metrics with stratified bootstrap 95% confidence intervals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

Metric = Callable[[np.ndarray, np.ndarray], float]


def stratified_resamples(y: np.ndarray, n: int, seed: int) -> list[np.ndarray]:
    """Index sets that redraw positives and negatives separately, so every resample has both classes."""
    rng = np.random.default_rng(seed)
    positives, negatives = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    return [np.concatenate([rng.choice(positives, len(positives)), rng.choice(negatives, len(negatives))])
            for _ in range(n)]


def interval(values: list[float] | np.ndarray) -> tuple[float, float]:
    finite = np.asarray(values, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return (float("nan"), float("nan"))
    low, high = np.percentile(finite, [2.5, 97.5])
    return (float(low), float(high))


def precision_recall_f1(y: np.ndarray, predicted: np.ndarray) -> tuple[float, float, float]:
    tp = float(np.sum((predicted == 1) & (y == 1)))
    fp = float(np.sum((predicted == 1) & (y == 0)))
    fn = float(np.sum((predicted == 0) & (y == 1)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def evaluate(y: np.ndarray, scores: np.ndarray, threshold: float, resamples: list[np.ndarray]) -> dict[str, Any]:
    predicted = (scores >= threshold).astype(int)
    precision, recall, f1 = precision_recall_f1(y, predicted)
    boot: dict[str, list[float]] = {"roc_auc": [], "auprc": [], "precision": [], "recall": [], "f1": []}
    for idx in resamples:
        boot["roc_auc"].append(float(roc_auc_score(y[idx], scores[idx])))
        boot["auprc"].append(float(average_precision_score(y[idx], scores[idx])))
        p, r, f = precision_recall_f1(y[idx], predicted[idx])
        boot["precision"].append(p)
        boot["recall"].append(r)
        boot["f1"].append(f)
    point = {"roc_auc": float(roc_auc_score(y, scores)), "auprc": float(average_precision_score(y, scores)),
             "precision": precision, "recall": recall, "f1": f1}
    tp = int(np.sum((predicted == 1) & (y == 1)))
    fp = int(np.sum((predicted == 1) & (y == 0)))
    return {
        **{name: round(value, 4) for name, value in point.items()},
        "ci": {name: [round(v, 4) for v in interval(values)] for name, values in boot.items()},
        "threshold": round(threshold, 4),
        "confusion": {"tp": tp, "fp": fp, "fn": int(np.sum(y == 1)) - tp, "tn": int(np.sum(y == 0)) - fp},
        "positives": int(np.sum(y)),
        "n": int(len(y)),
        "prevalence": round(float(np.mean(y)), 4),
    }


def paired_auc_difference(y: np.ndarray, first: np.ndarray, second: np.ndarray,
                          resamples: list[np.ndarray]) -> dict[str, Any]:
    """ROC-AUC(first) − ROC-AUC(second) on the same resamples; the ranking holds if the CI excludes 0."""
    differences = [float(roc_auc_score(y[i], first[i]) - roc_auc_score(y[i], second[i])) for i in resamples]
    low, high = interval(differences)
    point = float(roc_auc_score(y, first) - roc_auc_score(y, second))
    return {"difference": round(point, 4), "ci": [round(low, 4), round(high, 4)],
            "separated": bool(low > 0 or high < 0)}
