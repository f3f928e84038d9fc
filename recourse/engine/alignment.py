"""Item categories, preference profiles and the alignment score R(H) of eq. 6."""
from __future__ import annotations

from collections.abc import Sequence
from typing import overload

import numpy as np
import tensorflow as tf

from .attribution import score_histories
from .protocol import ScoringModel
from .sequences import History, as_history


class CategoryIndex:
    """Item -> categories as a multi-hot matrix [N+1, C] (row 0 = padding, all zeros)."""

    def __init__(self, item_categories: np.ndarray, names: Sequence[str] | None = None):
        matrix = np.asarray(item_categories, dtype=np.float32)
        if matrix.ndim != 2:
            raise ValueError("item_categories must be a [N+1, C] matrix")
        self.matrix = matrix
        self.names = list(names) if names is not None else [f"category {c}" for c in range(matrix.shape[1])]
        self.alignment_score = AlignmentScore(self)

    @classmethod
    def of_items(cls, names_per_item: Sequence[Sequence[str]]) -> CategoryIndex:
        """From the category names of items 1..N; one column per name, sorted ("(none)" when there are none)."""
        names = sorted({name for names in names_per_item for name in names}) or ["(none)"]
        column = {name: c for c, name in enumerate(names)}
        matrix = np.zeros((len(names_per_item) + 1, len(names)), dtype=np.float32)
        for row, names_of_item in enumerate(names_per_item, start=1):
            matrix[row, [column[name] for name in names_of_item]] = 1.0
        return cls(matrix, names)

    @property
    def num_categories(self) -> int:
        return int(self.matrix.shape[1])

    def name(self, category: int | None) -> str | None:
        return None if category is None else self.names[category]

    def counts(self, items: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        rows = self.matrix[np.asarray(items, dtype=np.int64)]
        if weights is not None:
            rows = rows * np.asarray(weights, dtype=np.float32)[..., None]
        return np.asarray(rows.sum(axis=-2))

    def dominant(self, items: Sequence[int] | np.ndarray) -> int | None:
        counts = self.counts(np.asarray(items, dtype=np.int64))
        return None if counts.sum() == 0 else int(np.argmax(counts))


def preference_profile(history: History | Sequence[int], categories: CategoryIndex | np.ndarray) -> np.ndarray:
    """Category distribution [C] of a history (weighted counts, sums to 1)."""
    index = as_categories(categories)
    member = as_history(history)
    counts = index.counts(member.items, member.weights).astype(np.float64)
    total = counts.sum()
    return counts / total if total > 0 else counts


def next_item_probabilities(logits: np.ndarray) -> np.ndarray:
    """Softmax over items 1..N ([B, N]); column 0 of the logits is padding."""
    items = np.asarray(logits, dtype=np.float64)[:, 1:]
    shifted = np.exp(items - items.max(axis=1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=1, keepdims=True))


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return np.where(norms > 0, (a * b).sum(axis=-1) / np.maximum(norms, 1e-30), 0.0)


def alignment_from_logits(logits: np.ndarray, profiles: np.ndarray, categories: CategoryIndex) -> np.ndarray:
    """R = cos(softmax probs @ item-category matrix, preference profile), per row."""
    predicted = next_item_probabilities(logits) @ categories.matrix[1:].astype(np.float64)
    return cosine(predicted, np.atleast_2d(profiles))


def alignment(
    model: ScoringModel, histories: Sequence[History], profiles: np.ndarray, categories: CategoryIndex | np.ndarray
) -> np.ndarray:
    categories = as_categories(categories)
    profiles = np.broadcast_to(np.atleast_2d(profiles), (len(histories), categories.num_categories))
    return alignment_from_logits(score_histories(model, histories), profiles, categories)


class AlignmentScore:
    """Differentiable R(logits, profile) for IG; one instance per CategoryIndex so traces are reused."""

    def __init__(self, categories: CategoryIndex):
        self.matrix = tf.constant(categories.matrix[1:])

    def __call__(self, logits: tf.Tensor, profiles: tf.Tensor) -> tf.Tensor:
        predicted = tf.nn.softmax(logits[:, 1:], axis=-1) @ self.matrix
        profiles = tf.cast(profiles, tf.float32)
        dot = tf.reduce_sum(predicted * profiles, axis=-1)
        norms = tf.norm(predicted, axis=-1) * tf.norm(profiles, axis=-1)
        return dot / tf.maximum(norms, 1e-12)


_INDEX_CACHE: dict[int, tuple[np.ndarray, CategoryIndex]] = {}


@overload
def as_categories(categories: CategoryIndex | np.ndarray) -> CategoryIndex: ...


@overload
def as_categories(categories: CategoryIndex | np.ndarray | None) -> CategoryIndex | None: ...


def as_categories(categories: CategoryIndex | np.ndarray | None) -> CategoryIndex | None:
    """Accept a CategoryIndex or a raw [N+1, C] matrix.

    Matrices are wrapped once per array object: a fresh CategoryIndex would mean a fresh
    differentiable alignment function and therefore a new (slow) trace of the IG graph.
    """
    if categories is None or isinstance(categories, CategoryIndex):
        return categories
    cached = _INDEX_CACHE.get(id(categories))
    if cached is None or cached[0] is not categories:
        if len(_INDEX_CACHE) > 16:
            _INDEX_CACHE.clear()
        cached = _INDEX_CACHE[id(categories)] = (categories, CategoryIndex(categories))
    return cached[1]
