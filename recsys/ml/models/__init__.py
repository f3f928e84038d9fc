"""Model registry: ``build_model(architecture, config)`` and ``load_model(path)``."""

from __future__ import annotations

import json
from pathlib import Path

from recsys.ml.config import ModelConfig
from recsys.ml.models.base import (
    CONFIG_FILE,
    FORMAT_VERSION,
    AttentionNotSupported,
    ModelNotTrainedError,
    RecommenderModel,
)
from recsys.ml.models.gru4rec import GRU4Rec
from recsys.ml.models.sasrec import SASRec
from recsys.ml.models.tcn import TCN
from recsys.ml.training_result import TrainingResult

ARCHITECTURES: dict[str, type[RecommenderModel]] = {model.architecture: model for model in (SASRec, GRU4Rec, TCN)}

__all__ = [
    "ARCHITECTURES",
    "AttentionNotSupported",
    "ModelNotTrainedError",
    "RecommenderModel",
    "build_model",
    "load_model",
]


def build_model(architecture: str, config: ModelConfig) -> RecommenderModel:
    try:
        model_class = ARCHITECTURES[architecture]
    except KeyError:
        valid = ", ".join(sorted(ARCHITECTURES))
        raise ValueError(f"unknown architecture {architecture!r}; valid: {valid}") from None
    return model_class(config)


def load_model(path: str | Path) -> RecommenderModel:
    path = Path(path)
    meta_path = path / CONFIG_FILE
    if not meta_path.exists():
        raise FileNotFoundError(f"no saved model in {path} (missing {CONFIG_FILE})")
    meta = json.loads(meta_path.read_text())
    if meta.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"unsupported model format {meta.get('format_version')!r}")
    model = build_model(meta["architecture"], ModelConfig.from_dict(meta["config"]))
    model.restore_weights(path, is_trained=meta["is_trained"])
    if meta.get("training_result"):
        model.training_result = TrainingResult.from_dict(meta["training_result"])
    return model
