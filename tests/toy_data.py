"""Tiny deterministic data and models for the tests.

Every toy user walks cyclically through one cluster of items, so the next
item is predictable from the last one while item popularity is nearly flat:
a sequential model must clearly beat most-popular.
"""

from __future__ import annotations

import numpy as np

from recsys.ml.config import ModelConfig
from recsys.ml.pipeline import prepare_data, train_recommender


def toy_histories(
    users: int = 80,
    clusters: int = 4,
    items_per_cluster: int = 8,
    min_length: int = 6,
    max_length: int = 14,
    seed: int = 0,
) -> dict[str, list[str]]:
    rng = np.random.default_rng(seed)
    histories = {}
    for user in range(users):
        cluster = int(rng.integers(clusters))
        start = int(rng.integers(items_per_cluster))
        length = int(rng.integers(min_length, max_length + 1))
        histories[f"user{user}"] = [
            f"item{cluster * items_per_cluster + (start + step) % items_per_cluster}" for step in range(length)
        ]
    return histories


def tiny_config(num_items: int, **overrides) -> ModelConfig:
    """Small and fast: seconds to train on the toy data, no XLA compile wait."""
    values = dict(
        num_items=num_items,
        max_len=12,
        hidden=16,
        blocks=1,
        heads=1,
        dropout=0.1,
        lr=5e-3,
        batch_size=32,
        epochs=25,
        patience=25,
        length_buckets=1,
        jit_compile=False,
        seed=7,
    )
    values.update(overrides)
    return ModelConfig(**values)


def train_tiny(architecture: str = "sasrec", **config_overrides):
    """A TrainedRecommender (model, index, popularity, split) on the toy data."""
    data = prepare_data(toy_histories())
    config = tiny_config(len(data.index), **config_overrides)
    return train_recommender(data, architecture, config)
