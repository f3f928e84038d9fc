"""Trainer: next-item cross-entropy at every real position, Adam, early stopping.

Speed on CPU comes from (1) one XLA-compiled training step, (2) batches of
sequences of similar length padded only to their bucket's length (the models
are padding-invariant), and (3) fixed batch shapes per bucket, so XLA
compiles once per bucket instead of once per batch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import keras  # noqa: E402,I001  (after recsys.ml.models.base configured TensorFlow)
import numpy as np
import tensorflow as tf  # noqa: E402

from recsys.ml.evaluation import quick_validation
from recsys.ml.models.base import MASKED_LOGIT, RecommenderModel
from recsys.ml.runtime import device_description
from recsys.ml.sequences import (
    EvalSet,
    NextItemExamples,
    Sequences,
    next_item_examples,
    pad_left,
    sample_users,
)
from recsys.ml.training_result import EpochRecord, TrainingResult

EARLY_STOPPING_METRIC = "NDCG@10"

OnEpoch = Callable[[int, float, dict[str, float] | None, float, float], None]  # epoch, loss, valid, train s, valid s
ShouldStop = Callable[[], bool]


@dataclass
class Bucket:
    inputs: np.ndarray  # [n, length] int32
    weights: np.ndarray  # [n, length] float32
    targets: np.ndarray  # [n, length] int32
    capacity: int  # most real positions any batch of this bucket can hold


def bucket_lengths(lengths: np.ndarray, max_len: int, buckets: int) -> list[int]:
    """Padded lengths: quantiles of the sequence lengths rounded up to a multiple of 8."""
    quantiles = np.quantile(lengths, np.linspace(0, 1, buckets + 1)[1:])
    rounded = np.minimum(np.ceil(quantiles / 8) * 8, max_len).astype(int)
    return sorted(set(rounded.tolist()) | {int(min(max_len, max(8, rounded.max())))})


def make_buckets(
    examples: NextItemExamples, max_len: int, buckets: int, batch_size: int, content: NextItemExamples | None = None,
) -> list[Bucket]:
    """Rows grouped by length into buckets. The layout (lengths, which row goes where, capacities) comes from
    ``examples``; the rows held are ``content``'s (default ``examples``), row for row, each no longer than its
    layout row: deletion diagnostics lay out the full data and fill it with the data minus one entity."""
    content = examples if content is None else content
    lengths = examples.lengths()
    bounds = bucket_lengths(lengths, max_len, buckets)
    assignment = np.searchsorted(bounds, lengths)
    result = []
    for bucket_id, length in enumerate(bounds):
        rows = np.flatnonzero(assignment == bucket_id)
        if not len(rows):
            continue
        longest = np.sort(lengths[rows])[::-1][:batch_size].sum()
        result.append(
            Bucket(
                inputs=pad_left([content.inputs[r] for r in rows], length),
                weights=pad_left([content.weights[r] for r in rows], length, np.float32),
                targets=pad_left([content.targets[r] for r in rows], length),
                capacity=int(min(batch_size * length, -(-longest // 64) * 64)),
            )
        )
    return result


@dataclass
class Batch:
    ids: np.ndarray  # [B, l]
    weights: np.ndarray  # [B, l]
    positions: np.ndarray  # [capacity] flat indices of the real positions, then zeros
    targets: np.ndarray  # [capacity] next item at those positions, 0 in unused slots


def epoch_batches(buckets: list[Bucket], batch_size: int, rng: np.random.Generator) -> list[Batch]:
    """Shuffled fixed-shape batches; the last batch of a bucket is padded with empty rows."""
    batches = []
    for bucket in buckets:
        order = rng.permutation(len(bucket.inputs))
        padded = -(-len(order) // batch_size) * batch_size
        order = np.concatenate([order, np.full(padded - len(order), -1)])
        for start in range(0, padded, batch_size):
            rows = order[start : start + batch_size]
            batches.append(_batch(bucket, rows))
    return [batches[i] for i in rng.permutation(len(batches))]


def _batch(bucket: Bucket, rows: np.ndarray) -> Batch:
    targets = _take_rows(bucket.targets, rows).reshape(-1)
    positions = np.zeros(bucket.capacity, dtype=np.int32)
    real = np.flatnonzero(targets)
    positions[: len(real)] = real
    return Batch(
        ids=_take_rows(bucket.inputs, rows),
        weights=_take_rows(bucket.weights, rows),
        positions=positions,
        targets=np.where(np.arange(bucket.capacity) < len(real), targets[positions], 0).astype(np.int32),
    )


def _take_rows(array: np.ndarray, rows: np.ndarray) -> np.ndarray:
    taken = array[np.maximum(rows, 0)]
    taken[rows < 0] = 0
    return np.asarray(taken)


def process_cpu_seconds() -> float:
    """CPU time of every thread of this process (nanosecond clock; os.times() ticks in 10 ms steps)."""
    return time.process_time()


def item_counts(train: Sequences, num_items: int) -> np.ndarray:
    items = np.concatenate([row for row in train.items if len(row)] or [np.zeros(0, np.int32)])
    return np.bincount(items, minlength=num_items + 1).astype(np.float64)


class Trainer:
    """Fits a RecommenderModel; apart from the model so the loop can be swapped."""

    def __init__(self, model: RecommenderModel) -> None:
        self.model = model
        self.config = model.config
        self.optimizer = self._make_optimizer()
        self._log_proposal: tf.Tensor | None = None
        self._proposal_cdf: np.ndarray | None = None
        self._train_step = tf.function(self._step, jit_compile=self.config.jit_compile)

    def _make_optimizer(self) -> keras.optimizers.Optimizer:
        if self.config.l2 > 0:
            return keras.optimizers.AdamW(self.config.lr, weight_decay=self.config.l2, beta_2=0.98)
        return keras.optimizers.Adam(self.config.lr, beta_2=0.98)

    # -- losses -------------------------------------------------------------------

    def _full_softmax_loss(self, hidden: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
        embeddings = self.model.output_embeddings()
        logits = tf.matmul(hidden, embeddings, transpose_b=True)
        logits += tf.one_hot(0, self.config.num_items + 1, on_value=MASKED_LOGIT, off_value=0.0)
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits)

    def _sampled_softmax_loss(self, hidden: tf.Tensor, targets: tf.Tensor, negatives: tf.Tensor) -> tf.Tensor:
        """Negatives shared by the batch, logits corrected by -log Q (Bengio & Senecal 2008)."""
        embeddings = self.model.output_embeddings()
        positive = tf.reduce_sum(hidden * tf.gather(embeddings, targets), -1)
        positive -= tf.gather(self._log_proposal, targets)
        negative = tf.matmul(hidden, tf.gather(embeddings, negatives), transpose_b=True)
        negative -= tf.gather(self._log_proposal, negatives)[None]
        accidental_hit = tf.equal(targets[:, None], negatives[None])
        negative = tf.where(accidental_hit, MASKED_LOGIT, negative)
        logits = tf.concat([positive[..., None], negative], axis=-1)
        return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.zeros_like(targets), logits=logits)

    def _gbce_loss(self, hidden: tf.Tensor, targets: tf.Tensor, negatives: tf.Tensor) -> tf.Tensor:
        """gBCE (Petrov & Macdonald 2023): BCE whose positive term is raised to beta = 1 - t (1 - alpha),
        alpha = negatives / (N - 1), which undoes the over-confidence negative sampling teaches."""
        embeddings = self.model.output_embeddings()
        positive = tf.reduce_sum(hidden * tf.gather(embeddings, targets), -1)
        negative = tf.matmul(hidden, tf.gather(embeddings, negatives), transpose_b=True)
        not_target = tf.cast(tf.not_equal(targets[:, None], negatives[None]), tf.float32)
        alpha = self.config.num_sampled / max(self.config.num_items - 1, 1)
        beta = 1.0 - self.config.gbce_t * (1.0 - min(alpha, 1.0))
        return beta * tf.nn.softplus(-positive) + tf.reduce_sum(tf.nn.softplus(negative) * not_target, -1)

    def _position_loss(self, hidden: tf.Tensor, targets: tf.Tensor, negatives: tf.Tensor) -> tf.Tensor:
        if self.config.loss == "full":
            return self._full_softmax_loss(hidden, targets)
        if self.config.loss == "gbce":
            return self._gbce_loss(hidden, targets, negatives)
        return self._sampled_softmax_loss(hidden, targets, negatives)

    def _step(
        self, ids: tf.Tensor, w: tf.Tensor, positions: tf.Tensor, targets: tf.Tensor, negatives: tf.Tensor,
    ) -> tf.Tensor:
        """One update; the loss only sees the real positions gathered by ``positions``."""
        real = tf.cast(targets > 0, tf.float32)
        variables = self.model.network.trainable_variables
        with tf.GradientTape() as tape:
            hidden = self.model.sequence_hidden(ids, w, training=True)
            hidden = tf.gather(tf.reshape(hidden, [-1, self.config.hidden]), positions)
            per_position = self._position_loss(hidden, targets, negatives)
            loss = tf.reduce_sum(per_position * real) / tf.maximum(tf.reduce_sum(real), 1.0)
        gradients = tape.gradient(loss, variables)
        self.optimizer.apply_gradients(zip(gradients, variables, strict=True))
        return loss

    def _set_proposal(self, train: Sequences) -> None:
        counts = item_counts(train, self.config.num_items)
        if self.config.sampling_proposal == "uniform" or self.config.loss == "gbce":
            # gBCE has no log-Q term: its calibration assumes uniform negatives (gSASRec samples them so);
            # popularity-drawn negatives would teach it that popular items are unlikely.
            counts = np.ones_like(counts)
        proposal = (counts + 1.0) ** self.config.proposal_power  # +1: never-seen items stay reachable
        proposal[0] = 0.0
        log_q = np.log(proposal / proposal.sum(), where=proposal > 0, out=np.full_like(proposal, -1e9))
        self._log_proposal = tf.constant(log_q, dtype=tf.float32)
        self._proposal_cdf = np.cumsum(proposal)

    def _sample_negatives(self, rng: np.random.Generator) -> np.ndarray:
        """Draws from Q with NumPy: XLA's categorical sampler is single-threaded and slow."""
        if self.config.loss == "full":
            return np.zeros(1, dtype=np.int32)
        cdf = self._proposal_cdf
        assert cdf is not None  # set by _set_proposal before training with a sampled loss
        uniform = rng.random(self.config.num_sampled) * cdf[-1]
        return np.asarray(np.searchsorted(cdf, uniform, side="right").astype(np.int32))

    # -- loop ---------------------------------------------------------------------

    def fit(
        self,
        train: Sequences,
        valid: EvalSet | None = None,
        on_epoch: OnEpoch | None = None,
        should_stop: ShouldStop | None = None,
    ) -> TrainingResult:
        examples = next_item_examples(train, self.config.max_len)
        buckets = make_buckets(examples, self.config.max_len, self.config.length_buckets, self.config.batch_size)
        self._set_proposal(train)
        if valid is not None:
            valid = sample_users(valid, self.config.valid_users, self.config.seed)
        schedule = ValidationSchedule(self.config.eval_every, self.config.valid_share)
        rng = np.random.default_rng(self.config.seed)
        result = TrainingResult(device=device_description())
        best_score, best_weights = -np.inf, None
        started = time.perf_counter()
        for epoch in range(1, self.config.epochs + 1):
            if should_stop is not None and should_stop():
                result.stopped = "cancelled"
                break
            loss, seconds, cpu_seconds = self._run_epoch(buckets, rng)
            metrics, valid_seconds = self._validate(valid, epoch, schedule)
            schedule.record(epoch, seconds, valid_seconds if metrics is not None else None)
            result.curve.append(EpochRecord(epoch, loss, metrics, seconds, cpu_seconds, valid_seconds))
            if on_epoch is not None:
                on_epoch(epoch, loss, metrics, seconds, valid_seconds)
            if metrics is None:
                continue
            if metrics[EARLY_STOPPING_METRIC] > best_score:
                best_score, best_weights = metrics[EARLY_STOPPING_METRIC], self.model.network.get_weights()
                result.best_epoch, result.best_valid = epoch, metrics
            elif epoch - (result.best_epoch or 0) >= self.config.patience:
                result.stopped = "early_stopping"
                break
        if best_weights is not None:
            self.model.network.set_weights(best_weights)
        elif result.curve:
            result.best_epoch = result.curve[-1].epoch
        self._record_schedule(schedule, valid)
        result.total_seconds = time.perf_counter() - started
        self.model.is_trained = bool(result.curve) or self.model.is_trained
        self.model.training_result = result
        return result

    def _record_schedule(self, schedule: ValidationSchedule, valid: EvalSet | None) -> None:
        """Write the measured choice of k into the config, so the model card shows what was used."""
        if schedule.fixed or valid is None or not schedule.valid_seconds:
            return
        self.config.eval_every = schedule.every
        self.config.auto["eval_every"] = (
            f"{schedule.every}: validating {len(valid):,} users took {schedule.typical_valid():.1f} s and an epoch's "
            f"training {schedule.typical_train():.1f} s; every {schedule.every} epoch(s) keeps validation within "
            f"{self.config.valid_share:.0%} of the time"
        )

    def train_fixed(self, buckets: list[Bucket], train: Sequences, epochs: int, rng: np.random.Generator) -> float:
        """``epochs`` epochs on batches the caller laid out, no validation; the last epoch's loss."""
        self._set_proposal(train)
        loss = float("nan")
        for _ in range(epochs):
            loss = self._run_epoch(buckets, rng)[0]
        self.model.is_trained = True
        return loss

    def _run_epoch(self, buckets: list[Bucket], rng: np.random.Generator) -> tuple[float, float, float]:
        started, cpu_started = time.perf_counter(), process_cpu_seconds()
        losses = [
            self._train_step(batch.ids, batch.weights, batch.positions, batch.targets, self._sample_negatives(rng))
            for batch in epoch_batches(buckets, self.config.batch_size, rng)
        ]
        loss = float(np.mean([value.numpy() for value in losses]))
        return loss, time.perf_counter() - started, process_cpu_seconds() - cpu_started

    def _validate(
        self, valid: EvalSet | None, epoch: int, schedule: ValidationSchedule,
    ) -> tuple[dict[str, float] | None, float]:
        if valid is None or len(valid) == 0 or not schedule.due(epoch):
            return None, 0.0
        started = time.perf_counter()
        metrics = quick_validation(self.model, valid)
        return metrics, time.perf_counter() - started


class ValidationSchedule:
    """When to validate: every ``eval_every`` epochs, or with ``eval_every == 0`` every k epochs where k is
    the smallest keeping validation within ``share`` of training + validation time, re-chosen from the
    seconds measured after every validation (the first epoch's training time includes XLA compilation
    and is left out once there is a second one)."""

    def __init__(self, eval_every: int, share: float) -> None:
        self.fixed = eval_every > 0
        self.every = max(eval_every, 1)
        self.share = share
        self.next_epoch = self.every
        self.train_seconds: list[float] = []
        self.valid_seconds: list[float] = []

    def due(self, epoch: int) -> bool:
        return epoch >= self.next_epoch

    def record(self, epoch: int, train_seconds: float, valid_seconds: float | None) -> None:
        self.train_seconds.append(train_seconds)
        if valid_seconds is None:
            return
        self.valid_seconds.append(valid_seconds)
        if not self.fixed:
            needed = self.typical_valid() * (1 - self.share) / (self.share * self.typical_train())
            self.every = max(1, math.ceil(needed))
        self.next_epoch = epoch + self.every

    def typical_train(self) -> float:
        return max(float(np.median(self.train_seconds[1:] or self.train_seconds)), 1e-6)

    def typical_valid(self) -> float:
        return float(np.median(self.valid_seconds[1:] or self.valid_seconds))


def fit(
    model: RecommenderModel,
    train: Sequences,
    valid: EvalSet | None = None,
    on_epoch: OnEpoch | None = None,
    should_stop: ShouldStop | None = None,
) -> TrainingResult:
    """Train ``model`` on ``train``; early-stop on ``valid`` NDCG@10 (full ranking)."""
    return Trainer(model).fit(train, valid, on_epoch=on_epoch, should_stop=should_stop)
