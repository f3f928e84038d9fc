"""The scoring-model interface (recsys/ml/CONTRACT.md) as a Protocol, used in type hints here and in the engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import tensorflow as tf


class Scorer(Protocol):
    """Scores next items over indices 1..N (0 = padding): models and the most-popular baseline."""

    architecture: str

    @property
    def num_items(self) -> int: ...

    @property
    def max_len(self) -> int: ...

    def encode_inputs(
        self,
        sequences: Sequence[Sequence[int] | np.ndarray],
        weights: Sequence[Sequence[float] | np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def score_last(self, ids: np.ndarray, w: np.ndarray) -> np.ndarray: ...


class ScoringModel(Scorer, Protocol):
    """A trained sequence model the explanation engine can differentiate through."""

    supports_attention: bool

    def item_input_embeddings(self, ids: tf.Tensor, w: tf.Tensor) -> tf.Tensor: ...

    def logits_from_input_embeddings(self, emb: tf.Tensor, ids: tf.Tensor) -> tf.Tensor: ...

    def attention_last(self, ids: np.ndarray, w: np.ndarray) -> np.ndarray: ...
