"""The four model families, each in an imbalanced-learn pipeline whose SMOTE step runs only when the pipeline
is fitted — so, inside cross-validation, only on the training folds, never on a validation fold or the test set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from imblearn.over_sampling import SMOTE
from imblearn.pipeline import Pipeline
from sklearn.base import BaseEstimator
from sklearn.ensemble import RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_predict
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from xgboost import XGBClassifier

# The paper's grids (section 3.3.3); QUICK_GRIDS keep one point of each for tests and demos.
PAPER_GRIDS: dict[str, dict[str, list[Any]]] = {
    "rf": {"model__n_estimators": [100, 200], "model__max_depth": [10, 15, 25]},
    "xgb": {"model__n_estimators": [100, 200], "model__max_depth": [3, 6]},
    "lr": {"model__C": [0.1, 1.0, 10.0]},
    "mlp": {"model__hidden_layer_sizes": [(50,), (100, 50)], "model__alpha": [0.0001, 0.001]},
}
QUICK_GRIDS: dict[str, dict[str, list[Any]]] = {
    "rf": {"model__n_estimators": [40], "model__max_depth": [8]},
    "xgb": {"model__n_estimators": [40], "model__max_depth": [3]},
    "lr": {"model__C": [1.0]},
    "mlp": {"model__hidden_layer_sizes": [(20,)], "model__alpha": [0.001]},
}


def classifier(name: str, seed: int) -> BaseEstimator:
    if name == "rf":
        return RandomForestClassifier(random_state=seed, n_jobs=1)
    if name == "xgb":
        return XGBClassifier(learning_rate=0.1, tree_method="hist", n_jobs=1, random_state=seed,
                             eval_metric="logloss")
    if name == "lr":
        return LogisticRegression(max_iter=2000)
    if name == "mlp":
        # Early stopping on a 10% slice of the (resampled) training fold bounds the cost on a 2-core machine.
        return MLPClassifier(max_iter=300, early_stopping=True, n_iter_no_change=10, random_state=seed)
    raise ValueError(f"Unknown model {name!r}")


def smote_neighbours(minority_in_smallest_training_fold: int) -> int:
    """SMOTE's k must be below the minority count of every training fold it sees."""
    return max(1, min(5, minority_in_smallest_training_fold - 1))


def make_pipeline(name: str, *, seed: int, k_neighbors: int) -> Pipeline:
    steps: list[tuple[str, Any]] = [("impute", SimpleImputer(strategy="median"))]
    if name in ("lr", "mlp"):
        steps.append(("scale", StandardScaler()))
    steps.append(("smote", SMOTE(k_neighbors=k_neighbors, random_state=seed)))
    steps.append(("model", classifier(name, seed)))
    return Pipeline(steps)


@dataclass
class TunedModel:
    name: str
    pipeline: Pipeline
    best_params: dict[str, Any]
    cv_auprc: float
    validation_scores: np.ndarray  # out-of-fold probabilities on the training set: the threshold's data


def folds(y: np.ndarray, wanted: int, seed: int) -> StratifiedKFold:
    positives = int(y.sum())
    return StratifiedKFold(n_splits=max(2, min(wanted, positives)), shuffle=True, random_state=seed)


def smallest_training_minority(y: np.ndarray, cv: StratifiedKFold) -> int:
    return min(int(y[train].sum()) for train, _ in cv.split(np.zeros(len(y)), y))


def tune(name: str, X: np.ndarray, y: np.ndarray, *, cv_folds: int, full_grid: bool, seed: int) -> TunedModel:
    """GridSearchCV on AUPRC with stratified folds; then out-of-fold probabilities of the best setting on
    the same training set, from which the decision threshold is chosen (never from the test set)."""
    cv = folds(y, cv_folds, seed)
    k = smote_neighbours(smallest_training_minority(y, cv))
    grid = (PAPER_GRIDS if full_grid else QUICK_GRIDS)[name]
    search = GridSearchCV(make_pipeline(name, seed=seed, k_neighbors=k), grid, scoring="average_precision",
                          cv=cv, refit=True, n_jobs=1, error_score="raise")
    search.fit(X, y)
    best = make_pipeline(name, seed=seed, k_neighbors=k).set_params(**search.best_params_)
    validation = cross_val_predict(best, X, y, cv=cv, method="predict_proba", n_jobs=1)[:, 1]
    return TunedModel(name=name, pipeline=search.best_estimator_, best_params=_plain(search.best_params_),
                      cv_auprc=float(search.best_score_), validation_scores=np.asarray(validation, dtype=np.float64))


def fit_fixed(name: str, params: dict[str, Any], X: np.ndarray, y: np.ndarray, *, cv_folds: int,
              seed: int) -> TunedModel:
    """One setting, no search (the sensitivity analysis re-uses the tuned setting of the main run)."""
    cv = folds(y, cv_folds, seed)
    k = smote_neighbours(smallest_training_minority(y, cv))
    pipeline = make_pipeline(name, seed=seed, k_neighbors=k).set_params(**_unplain(params))
    validation = cross_val_predict(pipeline, X, y, cv=cv, method="predict_proba", n_jobs=1)[:, 1]
    pipeline.fit(X, y)
    return TunedModel(name=name, pipeline=pipeline, best_params=params, cv_auprc=float("nan"),
                      validation_scores=np.asarray(validation, dtype=np.float64))


def positive_probability(pipeline: Pipeline, X: np.ndarray) -> np.ndarray:
    return np.asarray(pipeline.predict_proba(X)[:, 1], dtype=np.float64)


def transformed_input(pipeline: Pipeline, X: np.ndarray) -> np.ndarray:
    """What the final model sees at prediction time (imputed, and scaled for LR/MLP; SMOTE is fit-only)."""
    for name, step in pipeline.steps[:-1]:
        if name != "smote":
            X = step.transform(X)
    return np.asarray(X, dtype=np.float64)


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}


def _unplain(params: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
