"""Fast approximations of deletion influence, to be checked against the exact retrains.

* MF (ALS): a warm start from the full model. Removing a user changes, to first order, only the
  factors of the items that user touched; removing an item zeroes its factor (it has no
  observation left, exactly as in a retrain) and changes the users who touched it. We re-solve
  just that block with everything else held at the full model, then evaluate. One small solve
  instead of ``sweeps`` full sweeps.
* MF (ALS), warm sweeps: the block re-solve above misses that in implicit ALS every item's normal
  equations hold the Gram matrix of *all* user factors (and every user's that of all item factors),
  so removing a user moves every item a little. ``als_warm_sweeps`` starts from the full model
  with the entity's data and factor removed and runs a few alternating solves of the whole model,
  beginning with the side the removal perturbs: one half-sweep is the closed-form re-solve of that
  whole side (a rank-one change of each item's equations for a removed user), more half-sweeps
  carry the change back and forth towards the retrained optimum. Each is compared with the full model
  given the same half-sweeps (its ``reference_ranks``), so the influence is a difference of two models
  that did the same work from the same start.
* MF (ALS), closed form (``als_closed_form``): that first half-sweep without any solve. Removing a
  user takes x x^T out of every item's equations (times the confidence 1 + alpha w for the items the
  user touched, whose right-hand side also loses (1 + alpha w) x); removing an item does the same to
  every user's equations. Sherman-Morrison turns each into an O(k^2) update from the full model's
  inverses, computed once, so one removal costs about one evaluation.
* Sequential models, warm start (``sequential_warm_start``): from the seed's full model, a few more epochs on
  its batch layout without the entity (``paired.PairedRetrainer``), compared with the full model given the same
  epochs on the same batches with nothing removed: the same work from the same start, like the MF warm sweeps.
* Sequential models: TracIn with the final checkpoint (Pruthi et al. 2020): the influence of a
  training entity on the evaluation loss is approximated by <grad of the entity's training loss,
  grad of the evaluation loss>; a positive score means training on the entity lowered the
  evaluation loss, i.e. the entity helps. ``tracin_checkpoints`` sums it over the checkpoints of
  training (TracIn-CP; the learning rate is constant, so it only scales the sum).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sparse

from diagnostics.engine.exact import DiagnosticData, mf_ranks
from diagnostics.engine.mf import (
    ALSModel,
    alternate,
    interaction_matrix,
    normal_equations,
    rank_one_downdate,
    solve_side,
)
from diagnostics.engine.paired import PairedRetrainer, TrainingState
from diagnostics.engine.removal import Removal


@dataclass(frozen=True)
class ApproximateResult:
    removal: Removal
    ranks: np.ndarray | None  # MF: ranks after the warm start; TracIn gives a score instead
    score: float | None
    seconds: float
    reference_ranks: np.ndarray | None = None  # the unablated model to compare with, when not the full model


def als_warm_start(model: ALSModel, data: DiagnosticData, removals: Sequence[Removal]) -> list[ApproximateResult]:
    weights = sparse.csr_matrix(interaction_matrix(data.split.train, len(data.index)))
    by_item = weights.T.tocsr()
    rows = {user: row for row, user in enumerate(model.users)}
    results = []
    for removal in removals:
        started = time.perf_counter()
        users, items = model.user_factors.copy(), model.item_factors.copy()
        if removal.kind == "user":
            row = rows[removal.key]
            touched = weights[row].indices
            block = by_item[touched].toarray()
            block[:, row] = 0.0
            users[row] = 0.0
            items[touched] = solve_side(sparse.csr_matrix(block), users, model.config)
        elif removal.kind == "item":
            column = data.index.index_of(removal.key)
            touched = by_item[column].indices
            block = weights[touched].toarray()
            block[:, column] = 0.0
            items[column] = 0.0
            users[touched] = solve_side(sparse.csr_matrix(block), items, model.config)
        ranks = mf_ranks(ALSModel(users, items, model.users, model.config), data.split.test)
        results.append(ApproximateResult(removal, ranks, None, time.perf_counter() - started))
    return results


def als_warm_sweeps(
    model: ALSModel, data: DiagnosticData, removals: Sequence[Removal], half_sweeps: int
) -> list[ApproximateResult]:
    weights = sparse.csr_matrix(interaction_matrix(data.split.train, len(data.index)))
    rows = {user: row for row, user in enumerate(model.users)}
    references = {
        users_first: mf_ranks(ALSModel(*alternate(weights, model.user_factors, model.item_factors, model.config,
                                                  half_sweeps, users_first), model.users, model.config),
                              data.split.test)
        for users_first in {removal.kind == "item" for removal in removals}
    }
    results = []
    for removal in removals:
        started = time.perf_counter()
        ablated = weights.copy()
        users, items = model.user_factors.copy(), model.item_factors.copy()
        if removal.kind == "user":
            row = rows[removal.key]
            ablated.data[ablated.indptr[row]:ablated.indptr[row + 1]] = 0.0
            users[row] = 0.0
        elif removal.kind == "item":
            column = data.index.index_of(removal.key)
            ablated.data[ablated.indices == column] = 0.0
            items[column] = 0.0
        ablated.eliminate_zeros()
        users, items = alternate(ablated, users, items, model.config, half_sweeps, users_first=removal.kind == "item")
        if removal.kind == "user":
            users[rows[removal.key]] = 0.0  # a removed user has no learned row in a retrain either
        ranks = mf_ranks(ALSModel(users, items, model.users, model.config), data.split.test)
        seconds = time.perf_counter() - started
        results.append(ApproximateResult(removal, ranks, None, seconds, references[removal.kind == "item"]))
    return results


def als_closed_form(model: ALSModel, data: DiagnosticData, removals: Sequence[Removal]) -> list[ApproximateResult]:
    config = model.config
    weights = sparse.csr_matrix(interaction_matrix(data.split.train, len(data.index)))
    by_item = weights.T.tocsr()
    rows = {user: row for row, user in enumerate(model.users)}
    # the full model ends on an item solve: its items solve their equations, its users those of the items
    # before; users re-solved against the final items make the user side exact too (and the reference)
    item_inverses = np.linalg.inv(normal_equations(by_item, model.user_factors, config)[0])
    resolved_users = solve_side(weights, model.item_factors, config)
    user_inverses = np.linalg.inv(normal_equations(weights, model.item_factors, config)[0])
    reference = mf_ranks(ALSModel(resolved_users, model.item_factors, model.users, config), data.split.test)
    results = []
    for removal in removals:
        started = time.perf_counter()
        users, items, compared_with = model.user_factors, model.item_factors, None
        if removal.kind == "user":
            row = rows[removal.key]
            observed = weights[row].toarray()[0]
            confidence = 1.0 + config.alpha * observed
            taken = np.where(observed > 0, confidence, 0.0)
            items = rank_one_downdate(items, item_inverses, users[row], confidence, taken)
            items[0] = 0.0
            users = users.copy()
            users[row] = 0.0
        elif removal.kind == "item":
            column = data.index.index_of(removal.key)
            observed = by_item[column].toarray()[0]
            confidence = 1.0 + config.alpha * observed
            taken = np.where(observed > 0, confidence, 0.0)
            users = rank_one_downdate(resolved_users, user_inverses, items[column], confidence, taken)
            items = items.copy()
            items[column] = 0.0
            compared_with = reference
        ranks = mf_ranks(ALSModel(users, items, model.users, config), data.split.test)
        results.append(ApproximateResult(removal, ranks, None, time.perf_counter() - started, compared_with))
    return results


def sequential_warm_start(
    retrainer: PairedRetrainer, removals: Sequence[Removal], epochs: int
) -> list[ApproximateResult]:
    """The retrainer holds the seed's trained full model; it holds it again afterwards."""
    trained = retrainer.state()
    retrainer.train(Removal(), epochs)
    reference = retrainer.ranks()
    results = []
    for removal in removals:
        started = time.perf_counter()
        retrainer.restore(trained)
        retrainer.train(removal, epochs)
        results.append(ApproximateResult(removal, retrainer.ranks(), None, time.perf_counter() - started, reference))
    retrainer.restore(trained)
    return results


def tracin_scores(model: Any, data: DiagnosticData, removals: Sequence[Removal]) -> list[ApproximateResult]:
    import tensorflow as tf  # noqa: I001  (only sequential models need TensorFlow; it takes seconds to import)

    variables = model.network.trainable_variables

    def flat_gradient(loss_fn: Any) -> Any:
        with tf.GradientTape() as tape:
            loss = loss_fn()
        return tf.concat([tf.reshape(tf.convert_to_tensor(g), [-1]) for g in tape.gradient(loss, variables)], 0)

    test = data.split.test
    ids, w = model.encode_inputs(test.histories.items, test.histories.weights)
    targets = tf.constant(test.targets, tf.int32)

    def evaluation_loss() -> Any:
        logits = model.logits_from_input_embeddings(model.item_input_embeddings(ids, w), ids)
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits))

    evaluation_gradient = flat_gradient(evaluation_loss)
    results = []
    for removal in removals:
        started = time.perf_counter()
        inputs, outputs, focus = _entity_examples(data.split.train.items, data.split.train.users, removal, data)
        score = 0.0
        if inputs:
            loss = _entity_loss(model, inputs, outputs, focus if removal.kind == "item" else 0)
            score = float(tf.tensordot(flat_gradient(loss), evaluation_gradient, 1))
        results.append(ApproximateResult(removal, None, score, time.perf_counter() - started))
    return results


def tracin_checkpoints(
    retrainer: PairedRetrainer, checkpoints: Sequence[TrainingState], data: DiagnosticData,
    removals: Sequence[Removal],
) -> list[ApproximateResult]:
    """TracIn summed over ``checkpoints``; the retrainer is left at the last one."""
    totals = np.zeros(len(removals))
    seconds = np.zeros(len(removals))
    for checkpoint in checkpoints:
        retrainer.restore(checkpoint)
        found = tracin_scores(retrainer.model, data, removals)
        totals += [result.score or 0.0 for result in found]
        seconds += [result.seconds for result in found]
    return [ApproximateResult(removal, None, float(total), float(spent))
            for removal, total, spent in zip(removals, totals, seconds, strict=True)]


def _entity_loss(model: Any, inputs: list[np.ndarray], outputs: list[np.ndarray], focus: int) -> Any:
    """Summed next-item loss of the rows; with ``focus`` only at positions whose target is that item."""
    import tensorflow as tf  # noqa: I001  (see tracin_scores)

    in_ids, in_w = model.encode_inputs(inputs)
    out_ids, _ = model.encode_inputs(outputs)

    def loss() -> Any:
        logits = model.output_logits(model.sequence_hidden(in_ids, in_w, training=False))
        logits = tf.where(tf.math.is_finite(logits), logits, -1e9)
        losses = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=out_ids, logits=logits)
        real = tf.cast(out_ids > 0, tf.float32)
        if focus:
            real *= tf.cast(tf.equal(out_ids, focus), tf.float32)
        return tf.reduce_sum(losses * real)

    return loss


def _entity_examples(
    items: Sequence[np.ndarray], users: Sequence[str], removal: Removal, data: DiagnosticData
) -> tuple[list[np.ndarray], list[np.ndarray], int]:
    """Training rows (inputs, next-item targets) through which the entity enters the training loss."""
    if removal.kind == "user":
        rows = [row for row, user in enumerate(users) if user == removal.key]
        focus = 0
    else:
        focus = data.index.index_of(removal.key)
        rows = [row for row, seq in enumerate(items) if focus in seq[1:]]
    rows = [row for row in rows if len(items[row]) >= 2]
    return [items[r][:-1] for r in rows], [items[r][1:] for r in rows], focus
