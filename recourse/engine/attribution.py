"""Interaction-level attributions: Integrated Gradients, attention, occlusion."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf
from scipy.stats import spearmanr

from .protocol import ExplainerUnavailable, ScoringModel
from .sequences import PADDING, EncodedBatch, History, Positions, as_history, encode, trimmed_length

DEFAULT_STEPS = 50
DEFAULT_MAX_STEPS = 400
COMPLETENESS_TOLERANCE = 0.05
DEFAULT_MAX_ROWS = 1024  # interpolated sequences per forward/backward pass
JIT_COMPILE = False  # XLA made IG slower on 2 CPU cores in our measurements

ScalarFn = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]  # (logits [R, N+1], aux [R, ...]) -> [R]


@dataclass(frozen=True)
class Attribution:
    """Scores for the interactions the model actually sees, oldest first."""

    method: str
    positions: np.ndarray  # caller interaction indices (weight-0 / out-of-window ones absent)
    items: np.ndarray
    scores: np.ndarray  # raw, signed: > 0 pushes the explained output up
    normalized: np.ndarray  # min-max to [0, 1] for display (paper section 16)
    target: int | None = None
    output: float | None = None  # F(x)
    baseline_output: float | None = None  # F(zero item embeddings, positions kept)
    completeness_gap: float | None = None  # |sum(scores) - (F(x) - F(baseline))| / |F(x) - F(baseline)|
    steps: int | None = None
    converged: bool | None = None
    note: str = ""

    def score_of(self, position: int) -> float:
        return float(self.scores[np.flatnonzero(self.positions == position)[0]])

    def top_positions(self, k: int) -> np.ndarray:
        """Caller positions of the k largest (most supporting) scores."""
        order = np.argsort(-self.scores, kind="stable")[:k]
        return self.positions[order]


def target_logit(logits: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
    return tf.gather(logits, tf.cast(targets, tf.int32), axis=1, batch_dims=1)


def min_max(scores: np.ndarray) -> np.ndarray:
    if scores.size == 0:
        return scores.astype(np.float32)
    span = float(scores.max() - scores.min())
    if span == 0.0:
        return np.zeros_like(scores, dtype=np.float32)
    return np.asarray((scores - scores.min()) / span, dtype=np.float32)


def relative_gap(total: np.ndarray, delta: np.ndarray) -> np.ndarray:
    return np.asarray(np.abs(total - delta) / np.maximum(np.abs(delta), 1e-6))


def trapezoid_weights(steps: int) -> np.ndarray:
    weights = np.full(steps + 1, 1.0 / steps, dtype=np.float32)
    weights[[0, -1]] *= 0.5
    return weights


# --- batched IG core ------------------------------------------------------------------------------

ZERO_BASELINE, MEAN_ITEM_BASELINE = "zero", "mean_item"
_MEAN_ITEMS: dict[int, tuple[object, np.ndarray]] = {}


Baseline = str | np.ndarray | None  # "zero", "mean_item" or a [d] item embedding


def _baseline_vector(model: ScoringModel, baseline: Baseline) -> np.ndarray:
    """[d] baseline item embedding: zeros, the catalogue mean, or a given vector."""
    if baseline is None or (isinstance(baseline, str) and baseline == ZERO_BASELINE):
        return np.zeros_like(_mean_item_embedding(model))
    if isinstance(baseline, str) and baseline == MEAN_ITEM_BASELINE:
        return _mean_item_embedding(model)
    if isinstance(baseline, str):
        raise ValueError(f"unknown IG baseline {baseline!r}; valid: {ZERO_BASELINE}, {MEAN_ITEM_BASELINE} or a vector")
    return np.asarray(baseline, dtype=np.float32).reshape(-1)


def _mean_item_embedding(model: ScoringModel) -> np.ndarray:
    cached = _MEAN_ITEMS.get(id(model))
    if cached is None or cached[0] is not model:
        items = np.arange(1, model.num_items + 1, dtype=np.int32)[:, None]
        table = np.asarray(model.item_input_embeddings(items, np.ones_like(items, np.float32)))[:, 0]
        cached = _MEAN_ITEMS[id(model)] = (model, table.mean(axis=0).astype(np.float32))
    return cached[1]


def _ig_tensors(
    model: ScoringModel, scalar_fn: ScalarFn, ids: tf.Tensor, w: tf.Tensor, aux: tf.Tensor, alphas: tf.Tensor,
    trapezoid: tf.Tensor, baseline_item: tf.Tensor,
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    emb = tf.convert_to_tensor(model.item_input_embeddings(ids, w), tf.float32)  # [B, L, d]
    batch, length, dim = tf.shape(emb)[0], tf.shape(emb)[1], tf.shape(emb)[2]
    n_alphas = tf.shape(alphas)[0]
    # Baseline: baseline_item (zeros by default) at every real slot, weighted like the input; padding stays 0.
    baseline = baseline_item[None, None, :] * tf.cast(w, tf.float32)[..., None]
    delta = emb - baseline
    path = tf.reshape(baseline[:, None] + alphas[None, :, None, None] * delta[:, None], [batch * n_alphas, length, dim])
    ids_path = tf.repeat(ids, n_alphas, axis=0)
    aux_path = tf.repeat(aux, n_alphas, axis=0)
    with tf.GradientTape() as tape:
        tape.watch(path)
        values = scalar_fn(model.logits_from_input_embeddings(path, ids_path), aux_path)
    grads = tf.reshape(tape.gradient(values, path), [batch, n_alphas, length, dim])
    mean_grad = tf.einsum("s,bsld->bld", trapezoid, grads)
    attr = tf.reduce_sum(delta * mean_grad, axis=-1)
    attr = tf.where(tf.not_equal(ids, 0), attr, tf.zeros_like(attr))  # padding: exactly 0
    values = tf.reshape(values, [batch, n_alphas])
    return attr, values[:, -1], values[:, 0]


class _CompiledIG:
    """tf.function per (model, scalar_fn), traced once for every batch size, length and step count.

    Falls back to eager execution if the model cannot be traced.
    """

    def __init__(self, model: ScoringModel, scalar_fn: ScalarFn):
        self.model, self.scalar_fn = model, scalar_fn
        self.graph: Callable[..., tuple[tf.Tensor, tf.Tensor, tf.Tensor]] | None = None
        self.eager_only = False

    def _trace_for(
        self, ids: tf.Tensor, w: tf.Tensor, aux: tf.Tensor, alphas: tf.Tensor, trapezoid: tf.Tensor,
        baseline_item: tf.Tensor,
    ) -> Callable[..., tuple[tf.Tensor, tf.Tensor, tf.Tensor]]:
        def spec(tensor: tf.Tensor, fixed_tail: bool = True) -> tf.TensorSpec:
            tail = list(tensor.shape[1:]) if fixed_tail else [None] * (len(tensor.shape) - 1)
            return tf.TensorSpec([None, *tail], tensor.dtype)

        signature = [spec(ids, False), spec(w, False), spec(aux), spec(alphas), spec(trapezoid),
                     tf.TensorSpec(baseline_item.shape, tf.float32)]
        traced: Callable[..., tuple[tf.Tensor, tf.Tensor, tf.Tensor]] = tf.function(
            lambda *args: _ig_tensors(self.model, self.scalar_fn, *args),
            input_signature=signature,
            jit_compile=JIT_COMPILE,
            autograph=False,  # plain tensor code; autograph conversion only slows tracing
        )
        return traced

    def __call__(self, *args: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        if not self.eager_only:
            try:
                if self.graph is None:
                    self.graph = self._trace_for(*args)
                return self.graph(*args)
            except (TypeError, NotImplementedError, AttributeError, tf.errors.OperatorNotAllowedInGraphError):
                self.eager_only = True
        return _ig_tensors(self.model, self.scalar_fn, *args)


_COMPILED: dict[tuple[int, int], _CompiledIG] = {}


def _compiled(model: ScoringModel, scalar_fn: ScalarFn) -> _CompiledIG:
    key = (id(model), id(scalar_fn))
    cached = _COMPILED.get(key)
    if cached is None or cached.model is not model or cached.scalar_fn is not scalar_fn:
        if len(_COMPILED) > 64:
            _COMPILED.clear()
        cached = _COMPILED[key] = _CompiledIG(model, scalar_fn)
    return cached


def ig_slot_scores(
    model: ScoringModel, scalar_fn: ScalarFn, ids: np.ndarray, w: np.ndarray, aux: np.ndarray, steps: int,
    max_rows: int = DEFAULT_MAX_ROWS, baseline_item: Baseline = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Slot attributions [B, L], F(x) [B], F(baseline) [B], chunked to at most max_rows paths."""
    run = _compiled(model, scalar_fn)
    baseline_item = tf.constant(_baseline_vector(model, baseline_item))
    alphas = tf.constant(np.linspace(0.0, 1.0, steps + 1, dtype=np.float32))
    trapezoid = tf.constant(trapezoid_weights(steps))
    users_per_pass = max(1, max_rows // (steps + 1))
    if len(ids) == 0:
        return np.zeros(ids.shape, np.float32), np.zeros(0, np.float32), np.zeros(0, np.float32)
    outputs = []
    for start in range(0, len(ids), users_per_pass):
        rows = slice(start, start + users_per_pass)
        chunk_ids, chunk_w, chunk_aux = ids[rows], w[rows], aux[rows]
        size, full_length = chunk_ids.shape
        keep = trimmed_length(model, chunk_ids)  # all-padding leading columns are skipped when exact
        attr, f_x, f_base = run(
            tf.constant(chunk_ids[:, -keep:]),
            tf.constant(chunk_w[:, -keep:]),
            tf.constant(chunk_aux),
            alphas,
            trapezoid,
            baseline_item,
        )
        slot_attr = np.zeros((size, full_length), dtype=np.float32)
        slot_attr[:, -keep:] = attr.numpy()
        outputs.append((slot_attr, f_x.numpy(), f_base.numpy()))
    slots, f_x, f_base = (np.concatenate(parts) for parts in zip(*outputs, strict=True))
    return slots, f_x, f_base


def _ig_with_refinement(
    model: ScoringModel, scalar_fn: ScalarFn, batch: EncodedBatch, aux: np.ndarray, steps: int, max_steps: int,
    tolerance: float, max_rows: int, baseline: Baseline,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    attr, f_x, f_base = ig_slot_scores(model, scalar_fn, batch.ids, batch.weights, aux, steps, max_rows, baseline)
    used = np.full(len(attr), steps)
    current = steps
    while current * 2 <= max_steps:
        redo = np.flatnonzero(relative_gap(attr.sum(axis=1), f_x - f_base) > tolerance)
        if redo.size == 0:
            break
        current *= 2
        attr[redo], f_x[redo], f_base[redo] = ig_slot_scores(
            model, scalar_fn, batch.ids[redo], batch.weights[redo], aux[redo], current, max_rows, baseline
        )
        used[redo] = current
    return attr, f_x, f_base, used


def _attribution_from_row(
    method: str, batch: EncodedBatch, row: int, slot_scores: np.ndarray, target: int | None = None, **extra: Any,
) -> Attribution:
    real = batch.source_positions[row] != PADDING
    scores = slot_scores[real].astype(np.float64)
    return Attribution(
        method=method,
        positions=batch.source_positions[row][real],
        items=batch.ids[row][real].astype(np.int64),
        scores=scores,
        normalized=min_max(scores),
        target=target,
        **extra,
    )


def integrated_gradients_of(
    model: ScoringModel,
    histories: Sequence[History | Sequence[int]],
    scalar_fn: ScalarFn,
    aux: np.ndarray,
    *,
    method: str = "integrated_gradients",
    targets: Sequence[int | None] | None = None,
    steps: int = DEFAULT_STEPS,
    max_steps: int = DEFAULT_MAX_STEPS,
    tolerance: float = COMPLETENESS_TOLERANCE,
    max_rows: int = DEFAULT_MAX_ROWS,
    baseline: str | np.ndarray = ZERO_BASELINE,
) -> list[Attribution]:
    """IG of any differentiable scalar of the logits, one Attribution per history.

    scalar_fn(logits [R, N+1], aux [R, ...]) -> [R]; aux row b belongs to history b.
    Baseline at every real position (positions and padding mask kept): "zero" item embeddings
    (default), "mean_item" (the catalogue's mean input embedding) or a given [d] vector.
    """
    batch = encode(model, [as_history(h) for h in histories])
    aux = np.asarray(aux)
    attr, f_x, f_base, used = _ig_with_refinement(
        model, scalar_fn, batch, aux, steps, max_steps, tolerance, max_rows, baseline
    )
    gaps = relative_gap(attr.sum(axis=1), f_x - f_base)
    results = []
    for row in range(len(attr)):
        converged = bool(gaps[row] <= tolerance)
        results.append(
            _attribution_from_row(
                method,
                batch,
                row,
                attr[row],
                target=None if targets is None else targets[row],
                output=float(f_x[row]),
                baseline_output=float(f_base[row]),
                completeness_gap=float(gaps[row]),
                steps=int(used[row]),
                converged=converged,
                note=_completeness_note(float(gaps[row]), int(used[row]), steps, tolerance),
            )
        )
    return results


def _completeness_note(gap: float, used: int, requested: int, tolerance: float) -> str:
    if gap <= tolerance and used == requested:
        return ""
    if gap <= tolerance:
        return f"steps raised from {requested} to {used} to bring the completeness gap to {gap:.1%}"
    return f"completeness gap {gap:.1%} still above {tolerance:.0%} after {used} steps; treat scores as approximate"


def integrated_gradients_batch(
    model: ScoringModel, histories: Sequence[History | Sequence[int]], target_items: Sequence[int], **options: Any,
) -> list[Attribution]:
    """IG of each history's target-item logit (last-position path)."""
    targets = np.asarray(target_items, dtype=np.int32)
    return integrated_gradients_of(model, histories, target_logit, targets, targets=list(map(int, targets)), **options)


def integrated_gradients(
    model: ScoringModel, items: Sequence[int] | History, target_item: int, weights: Sequence[float] | None = None,
    **options: Any,
) -> Attribution:
    return integrated_gradients_batch(model, [as_history(items, weights)], [target_item], **options)[0]


# --- attention and occlusion ----------------------------------------------------------------------


def attention_attribution(
    model: ScoringModel, items: Sequence[int] | History, weights: Sequence[float] | None = None,
) -> Attribution:
    """Last-layer, last-position attention (mean over heads) per interaction."""
    batch = encode(model, [as_history(items, weights)])
    if not getattr(model, "supports_attention", False):
        raise ExplainerUnavailable(_no_attention_message(model))
    try:
        weights_per_slot = np.asarray(model.attention_last(batch.ids, batch.weights), dtype=np.float64)
    except Exception as error:  # recsys.ml.AttentionNotSupported, without importing recsys here
        if type(error).__name__ == "AttentionNotSupported":
            raise ExplainerUnavailable(_no_attention_message(model)) from error
        raise
    return _attribution_from_row("attention", batch, 0, weights_per_slot[0])


def _no_attention_message(model: ScoringModel) -> str:
    return (
        f"The {getattr(model, 'architecture', 'current')} model has no attention layer, so attention "
        "explanations are unavailable; use integrated gradients or occlusion instead."
    )


def score_histories(model: ScoringModel, histories: Sequence[History], max_rows: int = DEFAULT_MAX_ROWS) -> np.ndarray:
    """Last-position logits [B, N+1] for many histories, in chunks of max_rows."""
    parts = []
    for start in range(0, len(histories), max_rows):
        batch = encode(model, histories[start : start + max_rows])
        keep = trimmed_length(model, batch.ids)
        parts.append(np.asarray(model.score_last(batch.ids[:, -keep:], batch.weights[:, -keep:]), dtype=np.float32))
    return np.concatenate(parts)


def occlusion_effects(
    model: ScoringModel, history: History, value_fn: Callable[[np.ndarray], np.ndarray],
    positions: Positions | None = None,
) -> tuple[np.ndarray, float, np.ndarray]:
    """(positions, value of the full history, value with each position removed); one batched pass."""
    if positions is None:
        slots = encode(model, [history]).source_positions[0]
        positions = slots[slots != PADDING]
    chosen = np.asarray(positions, dtype=np.int64)
    variants = [history] + [history.reweighted({int(p): 0.0}) for p in chosen]
    values = np.asarray(value_fn(score_histories(model, variants)), dtype=np.float64)
    return chosen, float(values[0]), values[1:]


def occlusion_attribution(
    model: ScoringModel, items: Sequence[int] | History, target_item: int, weights: Sequence[float] | None = None
) -> Attribution:
    """Leave-one-out: target logit with the full history minus target logit without each interaction."""
    history = as_history(items, weights)
    positions, full, without = occlusion_effects(model, history, lambda logits: logits[:, target_item])
    scores = full - without
    return Attribution(
        method="occlusion",
        positions=positions,
        items=history.items[positions],
        scores=scores,
        normalized=min_max(scores),
        target=int(target_item),
        output=full,
    )


# --- agreement ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Agreement:
    spearman: float | None  # None when either method gives constant scores
    top_k_overlap: float  # |top-k(a) ∩ top-k(b)| / k
    k: int
    # of the two top-k together, the share (of those both score away from 0) both push the same way (None: none)
    same_direction: float | None = None


def method_agreement(first: Attribution, second: Attribution, k: int = 3) -> Agreement:
    common, in_first, in_second = np.intersect1d(first.positions, second.positions, return_indices=True)
    a, b = first.scores[in_first], second.scores[in_second]
    k = min(k, len(common))
    if k == 0:
        return Agreement(None, 0.0, 0)
    rho = None
    if np.ptp(a) > 0 and np.ptp(b) > 0:
        rho = float(spearmanr(a, b).statistic)
    top_a = set(common[np.argsort(-a, kind="stable")[:k]])
    top_b = set(common[np.argsort(-b, kind="stable")[:k]])
    # attention weights are never negative: they say how much, not which way, so direction is not compared
    signed = "attention" not in (first.method, second.method)
    tops = np.isin(common, list(top_a | top_b)) & (a != 0) & (b != 0) & signed
    same = float(np.mean(np.sign(a[tops]) == np.sign(b[tops]))) if tops.any() else None
    return Agreement(rho, len(top_a & top_b) / k, k, same)
