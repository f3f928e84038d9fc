"""The glass-box forecaster of emerging hits (paper 002): numerical code only, no Django."""

from .config import (
    MIN_POSITIVES,
    MODEL_LABELS,
    MODEL_NAMES,
    ForecastConfig,
    ForecastInputError,
    Policy,
    TooFewPositivesError,
)
from .data import ForecastInput
from .pipeline import Explanation, ForecastRun, train_forecaster

__all__ = [
    "MIN_POSITIVES", "MODEL_LABELS", "MODEL_NAMES", "Explanation", "ForecastConfig", "ForecastInput",
    "ForecastInputError", "ForecastRun", "Policy", "TooFewPositivesError", "train_forecaster",
]
