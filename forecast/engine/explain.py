"""Governance layers 1 and 2: exact TreeSHAP (with its additivity check), LIME beside it, ICE/PDP."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shap
from imblearn.pipeline import Pipeline
from lime.lime_tabular import LimeTabularExplainer
from scipy.stats import spearmanr
from sklearn.inspection import partial_dependence

from .models import transformed_input


@dataclass(frozen=True)
class TreeShap:
    values: np.ndarray  # (n, features), in the model's output space
    base_value: float
    output: np.ndarray  # what the model outputs for these rows, in the same space
    output_space: str  # "probability" (Random Forest) or "log-odds" (XGBoost)

    @property
    def additivity_error(self) -> float:
        """max |base + Σ contributions − model output| over the rows: ~1e-7 when the attribution is exact."""
        return float(np.max(np.abs(self.base_value + self.values.sum(axis=1) - self.output))) if len(self.output) \
            else 0.0


def tree_shap(pipeline: Pipeline, X: np.ndarray) -> TreeShap:
    """Exact Shapley values of the pipeline's tree model (path-dependent TreeSHAP, no sampling)."""
    model = pipeline.named_steps["model"]
    inputs = transformed_input(pipeline, X)
    explainer = shap.TreeExplainer(model)
    raw = explainer.shap_values(inputs, check_additivity=True)
    expected = np.atleast_1d(np.asarray(explainer.expected_value, dtype=np.float64))
    if isinstance(raw, list):
        values, base = np.asarray(raw[1]), float(expected[1])
    elif np.ndim(raw) == 3:
        values, base = np.asarray(raw)[:, :, 1], float(expected[-1])
    else:
        values, base = np.asarray(raw), float(expected[0])
    if type(model).__name__.startswith("XGB"):
        output = np.asarray(model.predict(inputs, output_margin=True), dtype=np.float64)
        space = "log-odds"
    else:
        output = np.asarray(model.predict_proba(inputs)[:, 1], dtype=np.float64)
        space = "probability"
    return TreeShap(values=np.asarray(values, dtype=np.float64), base_value=base, output=output, output_space=space)


def global_importance(values: np.ndarray, names: list[str]) -> list[dict[str, Any]]:
    mean_abs = np.abs(values).mean(axis=0)
    order = np.argsort(mean_abs)[::-1]
    return [{"feature": names[i], "mean_abs_shap": round(float(mean_abs[i]), 5)} for i in order]


def lime_items(probabilities: np.ndarray, threshold: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Half the items nearest the decision threshold (borderline), half the most confident (either side)."""
    order_near = np.argsort(np.abs(probabilities - threshold))
    near = order_near[: max(1, n // 2)]
    rest = np.setdiff1d(np.arange(len(probabilities)), near)
    confident = rest[np.argsort(np.abs(probabilities[rest] - 0.5))[::-1][: n - len(near)]]
    return near, confident


def lime_agreement(pipeline: Pipeline, X_train: np.ndarray, X: np.ndarray, shap_values: np.ndarray,
                   names: list[str], *, near: np.ndarray, confident: np.ndarray, samples: int,
                   seed: int) -> dict[str, Any]:
    """LIME on the same rows as TreeSHAP (shap_values: the rows of `near`, then of `confident`). Agreement =
    top-5 overlap, sign agreement on SHAP's top 5 and Spearman correlation of the two attribution vectors,
    reported for borderline and confident items."""
    model = pipeline.named_steps["model"]
    background = transformed_input(pipeline, X_train)
    inputs = transformed_input(pipeline, X)
    explainer = LimeTabularExplainer(background, feature_names=names, class_names=["no hit", "hit"],
                                     discretize_continuous=True, random_state=seed, mode="classification")
    rows: list[dict[str, Any]] = []
    position = 0
    for group, indices in (("borderline", near), ("confident", confident)):
        for i in indices:
            explanation = explainer.explain_instance(inputs[i], model.predict_proba, labels=(1,),
                                                     num_features=len(names), num_samples=samples)
            lime_vector = np.zeros(len(names))
            for feature, weight in explanation.as_map()[1]:
                lime_vector[feature] = weight
            rows.append({"row": int(i), "group": group, **_compare(lime_vector, shap_values[position])})
            position += 1
    summary = {group: _mean_of(rows, group) for group in ("borderline", "confident")}
    return {"items": rows, "summary": summary}


def _compare(lime_vector: np.ndarray, shap_vector: np.ndarray, k: int = 5) -> dict[str, float]:
    top_lime = set(np.argsort(np.abs(lime_vector))[::-1][:k].tolist())
    top_shap = np.argsort(np.abs(shap_vector))[::-1][:k]
    overlap = len(top_lime & set(top_shap.tolist())) / k
    signs = float(np.mean(np.sign(lime_vector[top_shap]) == np.sign(shap_vector[top_shap])))
    rho = spearmanr(lime_vector, shap_vector).statistic
    return {"top5_overlap": round(overlap, 3), "sign_agreement": round(signs, 3),
            "spearman": round(float(rho), 3) if np.isfinite(rho) else 0.0}


def _mean_of(rows: list[dict[str, Any]], group: str) -> dict[str, float]:
    chosen = [r for r in rows if r["group"] == group]
    if not chosen:
        return {}
    return {key: round(float(np.mean([r[key] for r in chosen])), 3)
            for key in ("top5_overlap", "sign_agreement", "spearman")} | {"items": len(chosen)}


def ice_pdp(pipeline: Pipeline, X: np.ndarray, feature_index: int, *, grid: int = 20) -> dict[str, Any]:
    """Individual conditional expectation curves and their average (the partial dependence)."""
    result = partial_dependence(pipeline, X, features=[feature_index], kind="both", grid_resolution=grid,
                                response_method="predict_proba")
    return {"grid": [round(float(v), 5) for v in result["grid_values"][0]],
            "average": [round(float(v), 5) for v in result["average"][0]],
            "individual": [[round(float(v), 4) for v in row] for row in result["individual"][0]]}
