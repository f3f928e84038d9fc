"""Policy sensitivity (paper, Table 8): re-derive labels under 27 policies and re-train the forecaster."""

from __future__ import annotations

import time
from collections.abc import Callable
from itertools import product
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from .config import (
    MIN_POSITIVES,
    SENSITIVITY_AVGS,
    SENSITIVITY_COUNTS,
    SENSITIVITY_NEGS,
    ForecastConfig,
    Policy,
)
from .labels import emerging, future_hit
from .metrics import precision_recall_f1
from .models import fit_fixed, positive_probability
from .threshold import choose_threshold

Progress = Callable[[float, str], None]


def policy_grid(count_scale: float = 1.0, rating_scale: float = 1.0) -> list[Policy]:
    counts = [max(1, round(c * count_scale)) for c in SENSITIVITY_COUNTS]
    avgs = [round(a * rating_scale, 6) for a in SENSITIVITY_AVGS]
    return [Policy(count=c, avg=a, neg=n) for c, a, n in product(counts, avgs, SENSITIVITY_NEGS)]


def run_sensitivity(
    features: pd.DataFrame, outcomes: pd.DataFrame, sentiment: pd.Series, *, model: str, params: dict[str, Any],
    config: ForecastConfig, progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """One row per policy: test ROC-AUC, recall, F1 at the threshold chosen on validation, support."""
    rows = []
    grid = policy_grid(config.sensitivity_count_scale, config.rating_scale)
    for number, policy in enumerate(grid, start=1):
        started = time.perf_counter()
        rows.append(_one_policy(features, outcomes, sentiment, policy, model, params, config)
                    | {"seconds": round(time.perf_counter() - started, 2)})
        if progress:
            progress(number / len(grid), f"Policy {number} of {len(grid)}")
    return rows


def _one_policy(features: pd.DataFrame, outcomes: pd.DataFrame, sentiment: pd.Series, policy: Policy,
                model: str, params: dict[str, Any], config: ForecastConfig) -> dict[str, Any]:
    candidates = emerging(features, policy)
    y = future_hit(outcomes.loc[candidates], sentiment, policy).to_numpy()
    row: dict[str, Any] = {"count": policy.count, "avg": policy.avg, "neg": policy.neg,
                           "candidates": int(len(candidates)), "support": int(y.sum())}
    if y.sum() < MIN_POSITIVES:
        return row | {"status": f"too few positives ({int(y.sum())} < {MIN_POSITIVES})"}
    X = features.loc[candidates].to_numpy()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=config.test_size, stratify=y,
                                                        random_state=config.seed)
    tuned = fit_fixed(model, params, X_train, y_train, cv_folds=config.cv_folds, seed=config.seed)
    choice = choose_threshold(y_train, tuned.validation_scores, min_recall=config.min_recall)
    scores = positive_probability(tuned.pipeline, X_test)
    _, recall, f1 = precision_recall_f1(y_test, (scores >= choice.threshold).astype(int))
    return row | {"status": "ok", "roc_auc": round(float(roc_auc_score(y_test, scores)), 4),
                  "recall": round(recall, 4), "f1": round(f1, 4), "threshold": round(choice.threshold, 4),
                  "test_support": int(y_test.sum()), "positive_rate": round(float(np.mean(y)), 4)}
