"""Temporal convolutional recommender in the NextItNet style (Yuan et al. 2019).

Residual blocks of two dilated causal 1-D convolutions (dilation r then 2r),
each followed by layer norm and ReLU; ``config.blocks`` repetitions of
``config.dilations``. Padding is zeroed after every block so a real position
only ever sees zeros to its left, exactly like the convolution's own padding.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from recsys.ml.config import ModelConfig
from recsys.ml.models.base import RecommenderModel, SequenceNetwork
from recsys.ml.models.layers import FastDropout


class ResidualBlock(keras.layers.Layer):  # type: ignore[misc]  # keras ships no type information
    def __init__(self, hidden: int, kernel_size: int, dilation: int, dropout: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.convolutions = [
            keras.layers.Conv1D(hidden, kernel_size, padding="causal", dilation_rate=rate)
            for rate in (dilation, 2 * dilation)
        ]
        self.norms = [keras.layers.LayerNormalization(epsilon=1e-8) for _ in range(2)]
        self.dropout = FastDropout(dropout)

    def build(self, input_shape: tf.Tensor) -> None:
        for convolution, norm in zip(self.convolutions, self.norms, strict=True):
            convolution.build(input_shape)
            norm.build(input_shape)

    def call(self, x: tf.Tensor, mask: tf.Tensor, training: bool = False) -> tf.Tensor:
        h = x
        for convolution, norm in zip(self.convolutions, self.norms, strict=True):
            h = tf.nn.relu(norm(convolution(h))) * mask  # the next convolution must see zeros
        return (x + self.dropout(h, training=training)) * mask


class TCNNetwork(SequenceNetwork):
    def __init__(self, config: ModelConfig, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.input_dropout = FastDropout(config.dropout)
        self.residual_blocks = [
            ResidualBlock(config.hidden, config.kernel_size, rate, config.dropout, name=f"residual_{repeat}_{rate}")
            for repeat in range(config.blocks)
            for rate in config.dilations
        ]
        self.projection = keras.layers.Dense(config.hidden, name="projection")

    def encode(self, emb: tf.Tensor, mask: tf.Tensor, training: bool = False) -> tf.Tensor:
        mask_f = tf.cast(mask, tf.float32)[..., None]
        x = self.input_dropout(emb, training=training) * mask_f
        for block in self.residual_blocks:
            x = block(x, mask_f, training=training)
        return self.projection(x) * mask_f


class TCN(RecommenderModel):
    architecture = "tcn"
    network_class = TCNNetwork
