"""Common random numbers for sequential retrains: the retrain without an entity sees the full model's batches
minus that entity.

The product's trainer shuffles the rows it is given, so a retrain on data with one row fewer draws another
permutation from the same seed: every batch differs, and one member's influence is measured through the noise
of a new batch order. Here every retrain of a seed lays its batches out on the FULL training data (bucket of
each row, padded length, batch capacity, one permutation of all rows) and fills that layout with the data minus
the entity: a removed member's row keeps its slot, empty (it adds no loss term); a removed title is taken out of
every row holding it (the row gets shorter and stays left-padded in its slot; a row left with fewer than two
items is empty). The batch order, the dropout masks (drawn per call from each layer's seed generator, so they
depend only on the step count and the shapes) and the initial weights are those of the full model: the two runs
differ only by the entity's data. With nothing removed a retrain is the product's ``fit`` bit for bit.

One ``PairedRetrainer`` per seed also keeps its compiled training step and scoring function and, before each
retrain, restores the initial weights, optimiser state and seed generators instead of building a new model.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from diagnostics.engine.exact import DiagnosticData, RetrainSpec
from diagnostics.engine.removal import Removal
from recsys.ml.evaluation import compute_ranks
from recsys.ml.sequences import NextItemExamples, Sequences


def masked_rows(train: Sequences, removed_users: Collection[str], removed_item: int | None) -> Sequences:
    """The training rows in their order: removed users' rows empty, the removed item taken out of every row."""
    items, weights = [], []
    for user, row_items, row_weights in zip(train.users, train.items, train.weights, strict=True):
        keep = np.ones(len(row_items), bool) if removed_item is None else row_items != removed_item
        if user in removed_users:
            keep = np.zeros(len(row_items), bool)
        items.append(row_items[keep])
        weights.append(row_weights[keep])
    return Sequences(list(train.users), items, weights)


def aligned_examples(full: Sequences, masked: Sequences, max_len: int) -> NextItemExamples:
    """One example per row that has one in ``full`` (as ``next_item_examples`` lays them out), from ``masked``."""
    inputs, weights, targets = [], [], []
    for full_items, items, item_weights in zip(full.items, masked.items, masked.weights, strict=True):
        if len(full_items) < 2:
            continue
        if len(items) < 2:
            items, item_weights = items[:0], item_weights[:0]
            inputs.append(items)
            weights.append(item_weights)
            targets.append(items)
            continue
        inputs.append(items[:-1][-max_len:])
        weights.append(item_weights[:-1][-max_len:])
        targets.append(items[1:][-max_len:])
    return NextItemExamples(inputs, weights, targets)


@dataclass
class TrainingState:
    network: list[np.ndarray]  # every network variable, seed generators included
    optimizer: list[np.ndarray]
    rng: Mapping[str, Any]  # the batch shuffler's bit generator


class PairedRetrainer:
    """Retrains of one seed, each without one entity (or a set of users), on the full model's batch layout."""

    def __init__(self, data: DiagnosticData, spec: RetrainSpec, seed: int) -> None:
        # Imported here: they load TensorFlow (seconds).
        from recsys.ml.config import ModelConfig
        from recsys.ml.models import build_model
        from recsys.ml.sequences import next_item_examples
        from recsys.ml.training import Trainer

        self.data = data
        self.config = ModelConfig.from_dict(dict(spec.hyperparameters)).replace(
            num_items=len(data.index), seed=seed)
        self.model = build_model(spec.architecture, self.config)
        self.trainer = Trainer(self.model)
        self.trainer.optimizer.build(self.model.network.trainable_variables)
        self.layout = next_item_examples(data.split.train, self.config.max_len)
        self.rng = np.random.default_rng(seed)
        self.initial = self.state()

    def state(self) -> TrainingState:
        return TrainingState([np.array(v.numpy()) for v in self.model.network.variables],
                             [np.array(v.numpy()) for v in self.trainer.optimizer.variables],
                             self.rng.bit_generator.state)

    def restore(self, state: TrainingState) -> None:
        for variable, value in zip(self.model.network.variables, state.network, strict=True):
            variable.assign(value)
        for variable, value in zip(self.trainer.optimizer.variables, state.optimizer, strict=True):
            variable.assign(value)
        self.rng.bit_generator.state = state.rng

    def buckets(self, removal: Removal, removed_users: Collection[str] = ()) -> tuple[list[Any], Sequences]:
        from recsys.ml.training import make_buckets  # loads TensorFlow, as in __init__

        users = set(removed_users) | ({removal.key} if removal.kind == "user" else set())
        train = self.data.split.train
        masked = masked_rows(train, users, self.data.item_index(removal))
        content = aligned_examples(train, masked, self.config.max_len)
        config = self.config
        return make_buckets(self.layout, config.max_len, config.length_buckets, config.batch_size, content), masked

    def train(self, removal: Removal, epochs: int, removed_users: Collection[str] = ()) -> Any:
        """``epochs`` more epochs from the current state on the layout without the removal."""
        buckets, masked = self.buckets(removal, removed_users)
        self.trainer.train_fixed(buckets, masked, epochs, self.rng)
        return self.model

    def fit(self, removal: Removal, removed_users: Collection[str] = ()) -> Any:
        """The model retrained from the seed's start without the removal (and ``removed_users``)."""
        self.restore(self.initial)
        return self.train(removal, self.config.epochs, removed_users)

    def fit_with_checkpoints(self, removal: Removal) -> list[TrainingState]:
        """``fit``, epoch by epoch (the same model), and the state after each epoch."""
        self.restore(self.initial)
        checkpoints = []
        for _ in range(self.config.epochs):
            self.train(removal, 1)
            checkpoints.append(self.state())
        return checkpoints

    def ranks(self) -> np.ndarray:
        return np.asarray(compute_ranks(self.model, self.data.split.test, "full"))
