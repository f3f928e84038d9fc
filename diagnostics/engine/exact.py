"""Exact deletion diagnostics: retrain from scratch without the entity, same hyper-parameters and seed.

One retrain is ``retrain(data, spec, removal, seed)``: it returns the full-ranking rank of every
evaluated user's held-out item, from which NDCG@10 and MAP@10 follow per user. The unablated
model is the same call with ``Removal()``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from diagnostics.engine.mf import ALSConfig, ALSModel, fit_als
from diagnostics.engine.removal import Removal, without
from recsys.ml.evaluation import full_ranks
from recsys.ml.sequences import (
    EvalSet,
    Histories,
    ItemIndex,
    LeaveOneOutSplit,
    Sequences,
    build_sequences,
    leave_one_out,
)

MF = "mf"
K = 10


@dataclass(frozen=True)
class DiagnosticData:
    """One leave-one-out split shared by every retrain of a run, so all are evaluated on the same users."""

    split: LeaveOneOutSplit
    index: ItemIndex

    @classmethod
    def from_histories(cls, histories: Histories) -> DiagnosticData:
        sequences, index, _ = build_sequences(histories)
        return cls(leave_one_out(sequences), index)

    @property
    def evaluated_users(self) -> list[str]:
        return list(self.split.test.histories.users)

    def item_index(self, removal: Removal) -> int | None:
        return self.index.index_of(removal.key) if removal.kind == "item" else None


@dataclass(frozen=True)
class RetrainSpec:
    architecture: str  # "mf" or a registered sequential architecture
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.architecture != MF:
            from recsys.ml.models import ARCHITECTURES  # imports TensorFlow (seconds): only for sequential models

            if self.architecture not in ARCHITECTURES:
                valid = ", ".join([MF, *sorted(ARCHITECTURES)])
                raise ValueError(f"unknown architecture {self.architecture!r}; valid: {valid}")


@dataclass(frozen=True)
class RetrainOutcome:
    ranks: np.ndarray  # [evaluated users] full-ranking rank of the held-out item
    seconds: float

    def metrics(self) -> dict[str, np.ndarray]:
        return per_user_metrics(self.ranks)


def per_user_metrics(ranks: np.ndarray) -> dict[str, np.ndarray]:
    """NDCG@10 and MAP@10; with one held-out item per user AP@10 = 1/(rank+1) inside the top 10."""
    ranks = np.asarray(ranks, dtype=np.float64)
    inside = ranks < K
    return {
        f"NDCG@{K}": np.where(inside, 1.0 / np.log2(ranks + 2.0), 0.0),
        f"MAP@{K}": np.where(inside, 1.0 / (ranks + 1.0), 0.0),
    }


def retrain(data: DiagnosticData, spec: RetrainSpec, removal: Removal, seed: int) -> RetrainOutcome:
    started = time.perf_counter()
    if spec.architecture == MF:
        train = without(data.split.train, removal, data.item_index(removal))
        model = fit_als(train, len(data.index), als_config(spec, seed))
        ranks = mf_ranks(model, data.split.test)
    else:
        # paired with the full model of the seed: the same batches minus the entity (see paired.py)
        from diagnostics.engine.paired import PairedRetrainer

        retrainer = PairedRetrainer(data, spec, seed)
        retrainer.fit(removal)
        ranks = retrainer.ranks()
    return RetrainOutcome(ranks, time.perf_counter() - started)


def als_config(spec: RetrainSpec, seed: int) -> ALSConfig:
    return ALSConfig(**{**dict(spec.hyperparameters), "seed": seed})


def mf_ranks(model: ALSModel, test: EvalSet) -> np.ndarray:
    """Full-ranking ranks; a user without a learned row (removed) scores every item 0."""
    rows = {user: row for row, user in enumerate(model.users)}
    user_rows = np.asarray([rows.get(user, -1) for user in test.histories.users])
    factors = np.vstack([model.user_factors, np.zeros((1, model.user_factors.shape[1]))])
    scores = factors[user_rows] @ model.item_factors.T
    return np.asarray(full_ranks(scores, test.targets, test.histories.items))


def train_sequential(train: Sequences, data: DiagnosticData, spec: RetrainSpec, seed: int) -> Any:
    """Fixed budget: the configured epochs, no early stopping, so every retrain does the same work."""
    # Imported here: they load TensorFlow (seconds), which MF retrains never need.
    from recsys.ml.config import ModelConfig
    from recsys.ml.models import build_model
    from recsys.ml.training import fit

    config = ModelConfig.from_dict(dict(spec.hyperparameters)).replace(num_items=len(data.index), seed=seed)
    model = build_model(spec.architecture, config)
    fit(model, train, None)
    return model
