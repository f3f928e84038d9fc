"""Layers shared by the architectures."""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

_GOLDEN = 0x9E3779B9


def _hash_u32(value: tf.Tensor) -> tf.Tensor:
    """The 'lowbias32' integer hash (C. Wellons): cheap, well mixed 32-bit output."""
    value = tf.bitwise.bitwise_xor(value, tf.bitwise.right_shift(value, 16))
    value = value * tf.constant(0x7FEB352D, tf.uint32)
    value = tf.bitwise.bitwise_xor(value, tf.bitwise.right_shift(value, 15))
    value = value * tf.constant(0x846CA68B, tf.uint32)
    return tf.bitwise.bitwise_xor(value, tf.bitwise.right_shift(value, 16))


class FastDropout(keras.layers.Layer):  # type: ignore[misc]  # keras ships no type information
    """Inverted dropout whose mask is a hash of (element index, per-call seed).

    Under XLA on CPU, Philox random numbers are generated on a single thread
    and made dropout the slowest part of a SASRec training step (3x the rest
    of the encoder); the hash fuses into the surrounding element-wise code.
    """

    def __init__(self, rate: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate = float(rate)
        self.seed_generator = keras.random.SeedGenerator()

    def call(self, inputs: tf.Tensor, training: bool = False) -> tf.Tensor:
        if not training or self.rate <= 0.0:
            return inputs
        seed = tf.cast(self.seed_generator.next(), tf.uint32)
        salt = _hash_u32(seed[0] * tf.constant(_GOLDEN, tf.uint32) + seed[1])
        positions = tf.reshape(tf.range(tf.size(inputs), dtype=tf.int32), tf.shape(inputs))
        bits = _hash_u32(tf.bitwise.bitwise_xor(tf.cast(positions, tf.uint32), salt))
        keep = bits >= tf.constant(int(self.rate * 2**32), tf.uint32)
        return tf.where(keep, inputs / (1.0 - self.rate), tf.zeros_like(inputs))
