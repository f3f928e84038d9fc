"""Fixtures: a tiny deterministic contract-following model and a small synthetic "world"."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).parent))

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
from engine_tiny_model import TinyRecommender  # noqa: E402

from recourse.engine.alignment import CategoryIndex, preference_profile  # noqa: E402
from recourse.engine.sequences import as_history  # noqa: E402

NUM_ITEMS, NUM_CATEGORIES, ITEMS_PER_CATEGORY = 60, 6, 10
MAX_LEN, HISTORY_LEN = 40, 30
CALIBRATION_MEMBERS = 80


@dataclass
class World:
    model: TinyRecommender
    categories: CategoryIndex
    clean: list  # histories (item lists) of reference members
    favourites: list  # each member's two favourite categories
    titles: dict

    def profile(self, items):
        return preference_profile(as_history(items), self.categories)


def category_matrix() -> np.ndarray:
    matrix = np.zeros((NUM_ITEMS + 1, NUM_CATEGORIES), np.float32)
    for item in range(1, NUM_ITEMS + 1):
        matrix[item, (item - 1) // ITEMS_PER_CATEGORY] = 1.0
    return matrix


def member_history(rng, favourites, length=HISTORY_LEN) -> list[int]:
    """Items from the member's two favourite categories, mostly without repeats."""
    pool = np.concatenate([np.arange(c * ITEMS_PER_CATEGORY + 1, (c + 1) * ITEMS_PER_CATEGORY + 1) for c in favourites])
    return rng.choice(pool, size=length, replace=len(pool) < length).tolist()


def synthetic_members(seed: int, count: int):
    rng = np.random.default_rng(seed)
    favourites = [rng.choice(NUM_CATEGORIES, size=2, replace=False).tolist() for _ in range(count)]
    return [member_history(rng, f) for f in favourites], favourites


def train(model: TinyRecommender, histories, steps: int = 250, batch: int = 64, seed: int = 0) -> None:
    """Next-item cross-entropy on random prefixes (teacher forcing at the last position only)."""
    rng = np.random.default_rng(seed)
    optimizer = tf.keras.optimizers.Adam(0.02)

    @tf.function
    def step(ids, w, labels):
        with tf.GradientTape() as tape:
            logits = model.logits_from_input_embeddings(model.item_input_embeddings(ids, w), ids)[:, 1:]
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels - 1, logits))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))

    for _ in range(steps):
        rows = rng.integers(len(histories), size=batch)
        cuts = rng.integers(5, HISTORY_LEN, size=batch)
        ids, w = model.encode_inputs([histories[r][:c] for r, c in zip(rows, cuts)])
        step(ids, w, np.array([histories[r][c] for r, c in zip(rows, cuts)]))


@pytest.fixture(scope="session")
def world() -> World:
    tf.random.set_seed(0)
    tf.config.experimental.enable_op_determinism()
    model = TinyRecommender(NUM_ITEMS, MAX_LEN, dim=16, seed=0)
    train_histories, _ = synthetic_members(seed=1, count=400)
    train(model, train_histories)
    clean, favourites = synthetic_members(seed=2, count=100)
    titles = {item: f"Film {item:02d}" for item in range(1, NUM_ITEMS + 1)}
    return World(model, CategoryIndex(category_matrix(), [f"genre {c}" for c in range(NUM_CATEGORIES)]), clean,
                  favourites, titles)


@pytest.fixture(scope="session")
def tiny_model() -> TinyRecommender:
    """Untrained but deterministic: enough for exactness checks."""
    return TinyRecommender(num_items=30, max_len=12, dim=8, seed=3)


@pytest.fixture(scope="session")
def calibration(world):
    from recourse.engine.drift_detection import calibrate_drift

    reference = world.clean[:CALIBRATION_MEMBERS]
    profiles = np.stack([world.profile(h) for h in reference])
    return calibrate_drift(world.model, reference, profiles, world.categories)


@pytest.fixture(scope="session")
def held_out(world):
    """Clean members not used for calibration: (history, profile) pairs."""
    return [(h, world.profile(h)) for h in world.clean[CALIBRATION_MEMBERS:]]
