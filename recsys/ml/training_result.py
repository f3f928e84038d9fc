"""The record of one training run (per-epoch loss, validation, timing), saved with the model.

Apart from the trainer so loading a saved model does not import it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np


@dataclass
class EpochRecord:
    epoch: int
    loss: float
    valid: dict[str, float] | None
    seconds: float  # training time of the epoch, validation excluded
    cpu_seconds: float = 0.0  # process CPU time of the same span (all cores); robust to a busy machine
    valid_seconds: float = 0.0  # validation after this epoch (0 when it was not validated)


@dataclass
class TrainingResult:
    curve: list[EpochRecord] = field(default_factory=list)
    best_epoch: int | None = None
    best_valid: dict[str, float] | None = None
    stopped: str = "completed"  # "completed" | "early_stopping" | "cancelled"
    device: str = ""
    total_seconds: float = 0.0

    @property
    def epochs_run(self) -> int:
        return len(self.curve)

    @property
    def seconds_per_epoch(self) -> float:
        if not self.curve:
            return 0.0
        return float(np.mean([record.seconds for record in self.curve]))

    @property
    def cpu_seconds_per_epoch(self) -> float:
        if not self.curve:
            return 0.0
        return float(np.mean([record.cpu_seconds for record in self.curve]))

    @property
    def validation_share(self) -> float:
        """Validation seconds / (training + validation seconds) over the epochs after the first."""
        later = self.curve[1:] or self.curve
        spent = sum(record.seconds + record.valid_seconds for record in later)
        return sum(record.valid_seconds for record in later) / spent if spent else 0.0

    @property
    def final_loss(self) -> float | None:
        return self.curve[-1].loss if self.curve else None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["seconds_per_epoch"] = self.seconds_per_epoch
        data["cpu_seconds_per_epoch"] = self.cpu_seconds_per_epoch
        data["epochs_run"] = self.epochs_run
        data["validation_share"] = self.validation_share
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingResult:
        curve = [EpochRecord(**record) for record in data.get("curve", [])]
        return cls(
            curve=curve,
            best_epoch=data.get("best_epoch"),
            best_valid=data.get("best_valid"),
            stopped=data.get("stopped", "completed"),
            device=data.get("device", ""),
            total_seconds=data.get("total_seconds", 0.0),
        )
