"""Base class shared by every sequential recommender (see recsys/ml/CONTRACT.md).

A model is a Keras ``SequenceNetwork`` (item embeddings + an encoder) wrapped
by ``RecommenderModel``, which speaks NumPy to callers. Output logits use the
input item embeddings (shared weights). Every encoder keeps padding positions
at zero and never lets a real position read them, so the output at real
positions does not depend on how much left padding there is; training relies
on that to batch sequences of similar length together.

Weights in (0, 1] multiply the item's input embedding. This is an
approximation of "partly forgetting" an interaction: the position (and, for
SASRec, the positional embedding) stays, only the item signal shrinks.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from recsys.ml.config import ModelConfig
from recsys.ml.runtime import configure_tensorflow
from recsys.ml.training_result import TrainingResult

configure_tensorflow()

import keras  # noqa: E402  (threads must be configured before TensorFlow starts)
import tensorflow as tf  # noqa: E402

FORMAT_VERSION = 1
CONFIG_FILE = "model.json"
WEIGHTS_FILE = "model.weights.h5"
SCORE_BATCH = 512
MASKED_LOGIT = -1e9  # instead of -inf inside the graph: keeps softmax finite


class AttentionNotSupported(NotImplementedError):
    """The architecture has no attention weights to show."""


class ModelNotTrainedError(RuntimeError):
    """Scores were requested from a model that was never trained nor loaded."""


class SequenceNetwork(keras.Model):  # type: ignore[misc]  # keras ships no type information
    """Keras part of a model: item embeddings and a sequence encoder."""

    def __init__(self, config: ModelConfig, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.config = config
        self.item_embedding = keras.layers.Embedding(
            config.num_items + 1,
            config.hidden,
            embeddings_initializer="glorot_uniform",
            name="item_embedding",
        )

    def encode(self, emb: tf.Tensor, mask: tf.Tensor, training: bool = False) -> tf.Tensor:
        """[B, l, d] input embeddings + [B, l] bool mask -> [B, l, d] hidden states."""
        raise NotImplementedError

    def encode_last(self, emb: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
        """Hidden state of the last position only, [B, d] (inference)."""
        return self.encode(emb, mask, training=False)[:, -1, :]

    def call(self, ids: tf.Tensor, training: bool = False) -> tf.Tensor:
        ids = tf.convert_to_tensor(ids)
        emb = self.item_embedding(ids)
        return self.encode(emb, ids > 0, training=training)


def forget_unbuilt_variables() -> None:
    """Drop the variables a failed build left waiting for their first value.

    Keras creates a network's variables on its first call and gives them values when that call returns; when
    giving one a value fails (an embedding table too large for memory), the rest stay queued in Keras's
    per-thread state and the next network built in the same thread tries again, inside its training step's
    graph, and every later training in that worker fails with "'SymbolicTensor' object has no attribute
    'handle'". Keras keeps that queue in a private module; nothing public empties only it.
    """
    try:
        from keras.src.backend.common import global_state  # private Keras: read only on this failure path
    except ImportError:  # a Keras that moved it: clearing the whole session empties the queue too
        keras.backend.clear_session()
        return
    global_state.set_global_attribute("uninitialized_variables", [])


class RecommenderModel:
    """Next-item recommender over item indices 1..N (0 = padding)."""

    architecture = ""
    supports_attention = False
    network_class: type[SequenceNetwork] = SequenceNetwork

    def __init__(self, config: ModelConfig) -> None:
        config.validate()
        if config.num_items < 1:
            raise ValueError("config.num_items must be set to the catalogue size N >= 1")
        self.config = config
        self.is_trained = False
        self.training_result: TrainingResult | None = None
        keras.utils.set_random_seed(config.seed)
        self.network = self.network_class(config)
        try:
            self.network(np.zeros((1, config.max_len), dtype=np.int32))
        except Exception:
            forget_unbuilt_variables()
            raise
        # One trace each for every batch size and length: calls then skip the shape-relaxation bookkeeping.
        batch = [tf.TensorSpec([None, None], tf.int32), tf.TensorSpec([None, None], tf.float32)]
        self._score_fn = tf.function(self._score_graph, input_signature=batch, autograph=False)
        self._hidden_fn = tf.function(self._hidden_graph, input_signature=batch, autograph=False)

    @property
    def num_items(self) -> int:
        return self.config.num_items

    @property
    def max_len(self) -> int:
        return self.config.max_len

    # -- inputs -----------------------------------------------------------------

    def encode_inputs(
        self,
        sequences: Sequence[Sequence[int] | np.ndarray],
        weights: Sequence[Sequence[float] | np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Drop weight-0 items, keep the last L, left-pad with 0 (weight 0)."""
        length = self.max_len
        ids = np.zeros((len(sequences), length), dtype=np.int32)
        out_weights = np.zeros((len(sequences), length), dtype=np.float32)
        for row, sequence in enumerate(sequences):
            items = np.asarray(sequence, dtype=np.int64).reshape(-1)
            row_weights = (
                np.ones(len(items), dtype=np.float32)
                if weights is None
                else np.asarray(weights[row], dtype=np.float32).reshape(-1)
            )
            self._check_row(items, row_weights, row)
            keep = row_weights > 0
            items, row_weights = items[keep][-length:], row_weights[keep][-length:]
            if len(items):
                ids[row, length - len(items) :] = items
                out_weights[row, length - len(items) :] = row_weights
        return ids, out_weights

    def _check_row(self, items: np.ndarray, weights: np.ndarray, row: int) -> None:
        if len(items) != len(weights):
            raise ValueError(f"row {row}: {len(items)} items but {len(weights)} weights")
        if len(items) and (items.min() < 1 or items.max() > self.num_items):
            raise ValueError(f"row {row}: item indices must be in 1..{self.num_items}")
        if len(weights) and (weights.min() < 0 or weights.max() > 1):
            raise ValueError(f"row {row}: weights must be in [0, 1]")

    # -- differentiable path ------------------------------------------------------

    def item_input_embeddings(self, ids: tf.Tensor, w: tf.Tensor) -> tf.Tensor:
        """E[ids] * w[..., None]; exactly zero at padding."""
        ids = tf.convert_to_tensor(ids, dtype=tf.int32)
        w = tf.convert_to_tensor(w, dtype=tf.float32) * tf.cast(ids > 0, tf.float32)
        return self.network.item_embedding(ids) * w[..., None]

    def logits_from_input_embeddings(self, emb: tf.Tensor, ids: tf.Tensor) -> tf.Tensor:
        """Next-item logits [B, N+1] from input embeddings; ids only give the padding mask."""
        ids = tf.convert_to_tensor(ids, dtype=tf.int32)
        hidden = self.network.encode_last(tf.convert_to_tensor(emb, tf.float32), ids > 0)
        return self.output_logits(hidden)

    def output_logits(self, hidden: tf.Tensor) -> tf.Tensor:
        """hidden [..., d] -> logits [..., N+1] with column 0 = -inf."""
        logits = tf.matmul(
            tf.reshape(hidden, [-1, self.config.hidden]),
            self.network.item_embedding.embeddings,
            transpose_b=True,
        )
        padding_column = tf.one_hot(0, self.num_items + 1, on_value=-np.inf, off_value=0.0)
        logits = logits + padding_column
        return tf.reshape(logits, tf.concat([tf.shape(hidden)[:-1], [self.num_items + 1]], 0))

    def sequence_hidden(self, ids: tf.Tensor, w: tf.Tensor, training: bool = False) -> tf.Tensor:
        """Hidden states at every position [B, l, d] (training path)."""
        emb = self.item_input_embeddings(ids, w)
        return self.network.encode(emb, ids > 0, training=training)

    def output_embeddings(self) -> tf.Variable:
        return self.network.item_embedding.embeddings

    # -- NumPy inference ------------------------------------------------------------

    def _score_graph(self, ids: tf.Tensor, w: tf.Tensor) -> tf.Tensor:
        return self.logits_from_input_embeddings(self.item_input_embeddings(ids, w), ids)

    def _hidden_graph(self, ids: tf.Tensor, w: tf.Tensor) -> tf.Tensor:
        return self.sequence_hidden(ids, w, training=False)

    def hidden_states(self, ids: tf.Tensor, w: tf.Tensor) -> np.ndarray:
        """Hidden states at every position [B, l, d] for inference, in a ``tf.function`` (``sequence_hidden``
        runs eagerly, layer by layer; compiled, a pass at L = 200 costs a fraction of that)."""
        self._require_trained()
        ids, w = self._check_batch(ids, w)
        return np.asarray(self._hidden_fn(ids, w).numpy())

    def _require_trained(self) -> None:
        if not self.is_trained:
            raise ModelNotTrainedError(f"{self.architecture} model is not trained: call fit() or load a saved model")

    def _check_batch(self, ids: tf.Tensor, w: tf.Tensor) -> tuple[np.ndarray, np.ndarray]:
        ids = np.asarray(ids, dtype=np.int32)
        w = np.asarray(w, dtype=np.float32)
        if ids.ndim != 2 or ids.shape != w.shape or ids.shape[1] > self.max_len:
            raise ValueError(f"ids and w must both be [B, l <= {self.max_len}], got {ids.shape}")
        return ids, w

    def score_last(self, ids: tf.Tensor, w: tf.Tensor) -> np.ndarray:
        """Logits [B, N+1] for the next item (column 0 = -inf); last-position fast path."""
        self._require_trained()
        return self._score_unchecked(ids, w)

    def _score_unchecked(self, ids: tf.Tensor, w: tf.Tensor) -> np.ndarray:
        ids, w = self._check_batch(ids, w)
        chunks = [
            self._score_fn(ids[start : start + SCORE_BATCH], w[start : start + SCORE_BATCH]).numpy()
            for start in range(0, len(ids), SCORE_BATCH)
        ]
        if not chunks:
            return np.zeros((0, self.num_items + 1), dtype=np.float32)
        return np.concatenate(chunks)

    def score_all_positions(self, ids: tf.Tensor, w: tf.Tensor) -> np.ndarray:
        """Logits at every position [B, l, N+1] via the full forward pass (for checks)."""
        self._require_trained()
        ids, w = self._check_batch(ids, w)
        return np.asarray(self.output_logits(self.sequence_hidden(ids, w, training=False)).numpy())

    def attention_last(self, ids: tf.Tensor, w: tf.Tensor) -> np.ndarray:
        """Last-layer attention of the last position [B, L], mean over heads."""
        raise AttentionNotSupported(f"{self.architecture} has no attention weights")

    # -- persistence (training is recsys.ml.training.fit, loading recsys.ml.models.load_model) ------

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.network.save_weights(path / WEIGHTS_FILE)
        meta = {
            "format_version": FORMAT_VERSION,
            "architecture": self.architecture,
            "config": self.config.to_dict(),
            "is_trained": self.is_trained,
            "training_result": self.training_result.to_dict() if self.training_result else None,
        }
        (path / CONFIG_FILE).write_text(json.dumps(meta, indent=2))
        return path

    def restore_weights(self, path: Path, is_trained: bool) -> None:
        self.network.load_weights(path / WEIGHTS_FILE)
        self.is_trained = is_trained
