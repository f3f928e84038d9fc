"""Dynamic decision threshold (paper, eq. 9): maximise F1 subject to recall ≥ R_min, on validation scores."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import precision_recall_curve


@dataclass(frozen=True)
class ThresholdChoice:
    threshold: float
    precision: float
    recall: float
    f1: float


def choose_threshold(y_true: np.ndarray, scores: np.ndarray, *, min_recall: float) -> ThresholdChoice:
    """Among the thresholds whose recall is at least min_recall, the one with the highest F1 (the highest
    threshold on ties). Predictions are positive when score ≥ threshold."""
    if int(np.sum(y_true)) == 0:
        raise ValueError("The validation data hold no positives; no threshold can be chosen.")
    precision, recall, thresholds = precision_recall_curve(y_true, scores)
    precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    allowed = recall >= min_recall
    candidates = np.flatnonzero(allowed)
    best_f1 = f1[candidates].max()
    best = candidates[f1[candidates] == best_f1].max()
    return ThresholdChoice(float(thresholds[best]), float(precision[best]), float(recall[best]), float(best_f1))
