"""SASRec (Kang & McAuley, ICDM 2018): causal self-attention over the item sequence.

Follows the authors' TensorFlow code: embeddings scaled by sqrt(d) plus learned
positional embeddings, pre-layer-norm blocks (Q from the normalised input,
K/V from the raw input, residual on the normalised input), a point-wise
two-layer ReLU feed-forward network, padding zeroed after every block and a
final layer norm. Keys at padding positions are masked as well.
"""

from __future__ import annotations

import math
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from recsys.ml.config import ModelConfig
from recsys.ml.models.base import MASKED_LOGIT, RecommenderModel, SequenceNetwork
from recsys.ml.models.layers import FastDropout


class AttentionBlock(keras.layers.Layer):  # type: ignore[misc]  # keras ships no type information
    def __init__(self, hidden: int, heads: int, dropout: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.heads = heads
        self.head_size = hidden // heads
        self.attention_norm = keras.layers.LayerNormalization(epsilon=1e-8)
        self.query = keras.layers.Dense(hidden, name="query")
        self.key = keras.layers.Dense(hidden, name="key")
        self.value = keras.layers.Dense(hidden, name="value")
        self.attention_dropout = FastDropout(dropout)
        self.ffn_norm = keras.layers.LayerNormalization(epsilon=1e-8)
        self.ffn_inner = keras.layers.Dense(hidden, activation="relu", name="ffn_inner")
        self.ffn_outer = keras.layers.Dense(hidden, name="ffn_outer")
        self.ffn_dropout_inner = FastDropout(dropout)
        self.ffn_dropout_outer = FastDropout(dropout)

    def build(self, input_shape: tf.Tensor) -> None:
        hidden = input_shape[-1]
        for layer in (self.attention_norm, self.ffn_norm):
            layer.build(input_shape)
        for layer in (self.query, self.key, self.value, self.ffn_inner, self.ffn_outer):
            layer.build((None, hidden))

    def _split_heads(self, x: tf.Tensor) -> tf.Tensor:
        batch, length = tf.shape(x)[0], tf.shape(x)[1]
        x = tf.reshape(x, [batch, length, self.heads, self.head_size])
        return tf.transpose(x, [0, 2, 1, 3])

    def attend(
        self, queries: tf.Tensor, keys: tf.Tensor, allowed: tf.Tensor, training: bool = False,
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """queries [B, q, d] (normalised), keys [B, k, d], allowed [B, 1|q, k] bool."""
        q = self._split_heads(self.query(queries))
        k = self._split_heads(self.key(keys))
        v = self._split_heads(self.value(keys))
        scores = tf.matmul(q, k, transpose_b=True) / math.sqrt(self.head_size)
        scores = tf.where(allowed[:, None, :, :], scores, MASKED_LOGIT)
        weights = tf.nn.softmax(scores, axis=-1)  # [B, h, q, k]
        mixed = tf.matmul(self.attention_dropout(weights, training=training), v)
        batch, length = tf.shape(mixed)[0], tf.shape(mixed)[2]
        mixed = tf.reshape(tf.transpose(mixed, [0, 2, 1, 3]), [batch, length, -1])
        return mixed, weights

    def feed_forward(self, x: tf.Tensor, training: bool = False) -> tf.Tensor:
        inner = self.ffn_dropout_inner(self.ffn_inner(x), training=training)
        return x + self.ffn_dropout_outer(self.ffn_outer(inner), training=training)

    def call(
        self, x: tf.Tensor, allowed: tf.Tensor, mask: tf.Tensor, query_last_only: bool = False, training: bool = False,
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """Returns (block output, attention weights); mask [B, l, 1] float."""
        queries = self.attention_norm(x)
        if query_last_only:
            queries, mask = queries[:, -1:, :], mask[:, -1:, :]
        mixed, weights = self.attend(queries, x, allowed, training=training)
        out = self.feed_forward(self.ffn_norm(queries + mixed), training=training)
        return out * mask, weights


class SASRecNetwork(SequenceNetwork):
    def __init__(self, config: ModelConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.position_embedding = keras.layers.Embedding(
            config.max_len,
            config.hidden,
            embeddings_initializer="glorot_uniform",
            name="position_embedding",
        )
        self.input_dropout = FastDropout(config.dropout)
        self.attention_blocks = [
            AttentionBlock(config.hidden, config.heads, config.dropout, name=f"block_{i}") for i in range(config.blocks)
        ]
        self.final_norm = keras.layers.LayerNormalization(epsilon=1e-8)

    def _embed(self, emb: tf.Tensor, mask: tf.Tensor, training: bool) -> tf.Tensor:
        length = tf.shape(emb)[1]
        # Positions count back from the most recent item, so a shorter padded
        # length gives the same embeddings as the full window.
        positions = tf.range(self.config.max_len - length, self.config.max_len)
        x = emb * math.sqrt(self.config.hidden) + self.position_embedding(positions)[None]
        return self.input_dropout(x, training=training) * mask

    @staticmethod
    def _causal_allowed(mask: tf.Tensor) -> tf.Tensor:
        length = tf.shape(mask)[1]
        causal = tf.linalg.band_part(tf.ones([length, length], tf.bool), -1, 0)
        return tf.logical_and(causal[None], mask[:, None, :])

    def encode(self, emb: tf.Tensor, mask: tf.Tensor, training: bool = False) -> tf.Tensor:
        mask_f = tf.cast(mask, tf.float32)[..., None]
        x = self._embed(emb, mask_f, training)
        allowed = self._causal_allowed(mask)
        for block in self.attention_blocks:
            x, _ = block(x, allowed, mask_f, training=training)
        return self.final_norm(x)

    def encode_last_with_attention(self, emb: tf.Tensor, mask: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Last-position hidden state [B, d] and last-block attention [B, h, 1, l]."""
        mask_f = tf.cast(mask, tf.float32)[..., None]
        x = self._embed(emb, mask_f, training=False)
        for block in self.attention_blocks[:-1]:
            x, _ = block(x, self._causal_allowed(mask), mask_f)
        last, weights = self.attention_blocks[-1](x, mask[:, None, :], mask_f, query_last_only=True)
        return self.final_norm(last[:, 0, :]), weights

    def encode_last(self, emb: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
        return self.encode_last_with_attention(emb, mask)[0]


class SASRec(RecommenderModel):
    architecture = "sasrec"
    supports_attention = True
    network_class = SASRecNetwork

    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self._attention_fn = tf.function(self._attention_graph, reduce_retracing=True)

    def _attention_graph(self, ids: tf.Tensor, w: tf.Tensor) -> tf.Tensor:
        emb = self.item_input_embeddings(ids, w)
        _, weights = self.network.encode_last_with_attention(emb, ids > 0)
        return tf.reduce_mean(weights[:, :, 0, :], axis=1)

    def attention_last(self, ids: tf.Tensor, w: tf.Tensor) -> np.ndarray:
        self._require_trained()
        ids, w = self._check_batch(ids, w)
        weights = self._attention_fn(ids, w).numpy()
        return np.where(ids > 0, weights, 0.0).astype(np.float32)
