"""GRU4Rec (Hidasi et al. 2016) in its next-item-at-every-step form.

Embedding -> dropout -> stacked GRU (``config.blocks`` layers) -> dense
projection, scored against the shared item embeddings. The GRU skips masked
(left-padding) steps, so the state entering the first real item is zero.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from recsys.ml.config import ModelConfig
from recsys.ml.models.base import RecommenderModel, SequenceNetwork
from recsys.ml.models.layers import FastDropout


class GRU4RecNetwork(SequenceNetwork):
    def __init__(self, config: ModelConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.input_dropout = FastDropout(config.dropout)
        self.recurrent_layers = [
            keras.layers.GRU(config.hidden, return_sequences=True, name=f"gru_{i}") for i in range(config.blocks)
        ]
        self.projection = keras.layers.Dense(config.hidden, name="projection")

    def encode(self, emb: tf.Tensor, mask: tf.Tensor, training: bool = False) -> tf.Tensor:
        x = self.input_dropout(emb, training=training)
        for layer in self.recurrent_layers:
            x = layer(x, mask=mask, training=training)
        return self.projection(x) * keras.ops.cast(mask, "float32")[..., None]


class GRU4Rec(RecommenderModel):
    architecture = "gru4rec"
    network_class = GRU4RecNetwork
