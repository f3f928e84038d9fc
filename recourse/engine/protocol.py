"""The model interface the engine relies on (see recsys/ml/CONTRACT.md)."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import tensorflow as tf


class ScoringModel(Protocol):
    architecture: str
    num_items: int
    max_len: int
    supports_attention: bool

    def encode_inputs(
        self, sequences: Sequence[Sequence[int]], weights: Sequence[Sequence[float]] | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...

    def score_last(self, ids: np.ndarray, w: np.ndarray) -> np.ndarray: ...

    def item_input_embeddings(self, ids, w) -> tf.Tensor: ...

    def logits_from_input_embeddings(self, emb: tf.Tensor, ids) -> tf.Tensor: ...

    def attention_last(self, ids: np.ndarray, w: np.ndarray) -> np.ndarray: ...


class ExplainerUnavailable(RuntimeError):
    """The requested explanation method does not apply to this model."""
