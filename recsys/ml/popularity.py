"""Most-popular baseline and fallback: scores every item by its training count."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from recsys.ml.sequences import Sequences

TIE_BREAK_SEED = 0


class MostPopular:
    """Same scoring interface as RecommenderModel (encode_inputs + score_last)."""

    architecture = "most-popular"
    max_len = 1
    is_trained = True

    def __init__(self, counts: np.ndarray):
        counts = np.asarray(counts, dtype=np.float64)
        if counts.ndim != 1 or len(counts) < 2:
            raise ValueError("counts must be a vector [N + 1] (index 0 = padding)")
        self.counts = counts
        # Counts are integers: a jitter below 1 breaks ties at random without reordering.
        jitter = np.random.default_rng(TIE_BREAK_SEED).random(len(counts)) * 0.5
        self._scores = (counts + jitter).astype(np.float64)
        self._scores[0] = -np.inf

    @classmethod
    def fit(cls, train: Sequences, num_items: int) -> MostPopular:
        rows = [row for row in train.items if len(row)]
        items = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        return cls(np.bincount(items, minlength=num_items + 1)[: num_items + 1])

    @property
    def num_items(self) -> int:
        return len(self.counts) - 1

    def encode_inputs(
        self,
        sequences: Sequence[Sequence[int] | np.ndarray],
        weights: Sequence[Sequence[float] | np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros((len(sequences), 1), np.int32), np.zeros((len(sequences), 1), np.float32)

    def score_last(self, ids: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
        return np.tile(self._scores, (len(ids), 1))

    _score_unchecked = score_last

    def ranking(self) -> np.ndarray:
        """Every item position, most popular first, ties broken as ``top_n`` breaks them."""
        order = np.argsort(-self._scores, kind="stable")
        known: np.ndarray = order[order != 0].astype(np.int32)
        return known

    def top_n(self, n: int, exclude: Sequence[int] | np.ndarray = ()) -> tuple[np.ndarray, np.ndarray]:
        scores = self._scores.copy()
        scores[np.asarray(list(exclude), dtype=np.int64)] = -np.inf
        order = np.argsort(-scores, kind="stable")[:n]
        order = order[np.isfinite(scores[order])]
        return order.astype(np.int32), self.counts[order]

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps({"counts": self.counts.tolist()}))

    @classmethod
    def load(cls, path: str | Path) -> MostPopular:
        return cls(np.asarray(json.loads(Path(path).read_text())["counts"]))
