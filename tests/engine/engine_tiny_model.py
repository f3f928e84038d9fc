"""A tiny deterministic attention recommender that follows recsys/ml/CONTRACT.md."""
from __future__ import annotations

import numpy as np
import tensorflow as tf


class AttentionNotSupported(RuntimeError):
    pass


class TinyRecommender:
    architecture = "tiny"

    def __init__(self, num_items: int, max_len: int, dim: int = 16, seed: int = 0, attention: bool = True):
        rng = np.random.default_rng(seed)
        self.num_items, self.max_len, self.dim = num_items, max_len, dim
        self.supports_attention = attention

        def variable(shape, scale):
            return tf.Variable(rng.normal(0.0, scale, shape).astype(np.float32))

        self.item_table = variable((num_items + 1, dim), 0.5)
        self.position_table = variable((max_len, dim), 0.1)
        self.query, self.key, self.value, self.mix = (variable((dim, dim), dim**-0.5) for _ in range(4))
        self.bias = tf.Variable(np.zeros(num_items + 1, np.float32))

    @property
    def trainable_variables(self):
        return [self.item_table, self.position_table, self.query, self.key, self.value, self.mix, self.bias]

    def encode_inputs(self, sequences, weights=None):
        ids = np.zeros((len(sequences), self.max_len), np.int32)
        out_w = np.zeros((len(sequences), self.max_len), np.float32)
        for row, items in enumerate(sequences):
            row_w = [1.0] * len(items) if weights is None else weights[row]
            kept = [(i, x) for i, x in zip(items, row_w) if x != 0][-self.max_len :]
            if kept:
                ids[row, -len(kept) :] = [i for i, _ in kept]
                out_w[row, -len(kept) :] = [x for _, x in kept]
        return ids, out_w

    def item_input_embeddings(self, ids, w):
        return tf.gather(self.item_table, ids) * tf.cast(w, tf.float32)[..., None]

    def _attend(self, emb, ids):
        mask = tf.cast(tf.not_equal(ids, 0), tf.float32)
        x = emb + self.position_table[None] * mask[..., None]
        query = x[:, -1] @ self.query
        scores = tf.einsum("bd,bld->bl", query, x @ self.key) / self.dim**0.5 + (1.0 - mask) * -1e9
        attention = tf.nn.softmax(scores, axis=-1)
        context = tf.einsum("bl,bld->bd", attention, x @ self.value)
        return tf.tanh(context @ self.mix) + x[:, -1], attention

    def logits_from_input_embeddings(self, emb, ids):
        hidden, _ = self._attend(emb, ids)
        logits = hidden @ tf.transpose(self.item_table) + self.bias
        return tf.concat([tf.fill([tf.shape(logits)[0], 1], -np.inf), logits[:, 1:]], axis=1)

    def score_last(self, ids, w):
        return self.logits_from_input_embeddings(self.item_input_embeddings(ids, w), ids).numpy()

    def attention_last(self, ids, w):
        if not self.supports_attention:
            raise AttentionNotSupported("tiny model without attention")
        return self._attend(self.item_input_embeddings(ids, w), ids)[1].numpy()
