"""Explanation, drift and recourse engine (pure: numpy/TensorFlow, no Django).

Works with any model following recsys/ml/CONTRACT.md. Inputs are plain lists or arrays
(caller interaction order, oldest first); outputs are plain dataclasses whose positions refer
back to the caller's interaction indices. See README.md for the service-facing API.
"""
from .alignment import CategoryIndex, alignment, preference_profile
from .attribution import (
    Attribution,
    attention_attribution,
    integrated_gradients,
    integrated_gradients_batch,
    integrated_gradients_of,
    method_agreement,
    occlusion_attribution,
)
from .counterfactual import counterfactual_ranks, top_counterfactuals
from .detection import DriftCalibration, DriftReport, RecencyNorm, calibrate_drift, detect_drift, detect_drift_batch
from .drift import Injection, drift_metrics, inject_drift, jensen_shannon
from .explain import Explanation, explain_item, warm_up
from .narratives import drift_narrative, explain_recommendation, recourse_narrative
from .protocol import ExplainerUnavailable
from .recourse import RecourseResult, compare_removal_strategies, comparison_orders, recourse, search_recourse
from .sequences import History, as_history, history_before
from .serialize import to_plain

__all__ = [
    "Attribution",
    "CategoryIndex",
    "DriftCalibration",
    "DriftReport",
    "ExplainerUnavailable",
    "Explanation",
    "History",
    "Injection",
    "RecencyNorm",
    "RecourseResult",
    "alignment",
    "as_history",
    "attention_attribution",
    "calibrate_drift",
    "compare_removal_strategies",
    "comparison_orders",
    "counterfactual_ranks",
    "detect_drift",
    "detect_drift_batch",
    "drift_metrics",
    "drift_narrative",
    "explain_item",
    "explain_recommendation",
    "history_before",
    "inject_drift",
    "integrated_gradients",
    "integrated_gradients_batch",
    "integrated_gradients_of",
    "jensen_shannon",
    "method_agreement",
    "occlusion_attribution",
    "preference_profile",
    "recourse",
    "recourse_narrative",
    "search_recourse",
    "to_plain",
    "top_counterfactuals",
    "warm_up",
]
