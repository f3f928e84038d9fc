import numpy as np
import pytest
import tensorflow as tf
from engine_tiny_model import TinyRecommender

from recourse.engine.attribution import (
    attention_attribution,
    ig_slot_scores,
    integrated_gradients,
    integrated_gradients_batch,
    integrated_gradients_of,
    method_agreement,
    occlusion_attribution,
    target_logit,
)
from recourse.engine.protocol import ExplainerUnavailable
from recourse.engine.sequences import as_history

HISTORY = [3, 5, 7, 9, 11, 2, 14]


def test_ig_completeness_within_five_percent(tiny_model):
    result = integrated_gradients(tiny_model, HISTORY, target_item=4)
    delta = result.output - result.baseline_output
    assert result.completeness_gap <= 0.05
    assert abs(result.scores.sum() - delta) <= 0.05 * abs(delta)
    assert result.converged and result.steps == 50 and result.note == ""


def test_ig_doubles_steps_when_gap_too_large(tiny_model):
    result = integrated_gradients(tiny_model, HISTORY, 4, steps=2, max_steps=8, tolerance=1e-6)
    assert result.steps > 2
    assert "steps" in result.note


def test_ig_padding_slots_are_exactly_zero(tiny_model):
    ids, w = tiny_model.encode_inputs([HISTORY])
    attr, _, _ = ig_slot_scores(tiny_model, target_logit, ids, w, np.array([4], np.int32), steps=50)
    padding = ids[0] == 0
    assert padding.sum() == tiny_model.max_len - len(HISTORY)
    assert np.all(attr[0][padding] == 0.0)
    assert np.all(attr[0][~padding] != 0.0)


def test_weight_zero_interaction_is_not_explained_and_positions_map_back(tiny_model):
    weights = [1, 1, 0, 1, 0.5, 1, 1]
    result = integrated_gradients(tiny_model, HISTORY, 4, weights=weights)
    assert 2 not in result.positions
    assert result.positions.tolist() == [0, 1, 3, 4, 5, 6]
    assert result.items.tolist() == [HISTORY[p] for p in result.positions]


def test_interactions_beyond_the_window_are_not_explained(tiny_model):
    long_history = list(range(1, 21))
    result = integrated_gradients(tiny_model, long_history, 4)
    assert result.positions.tolist() == list(range(20 - tiny_model.max_len, 20))


def test_normalised_scores_span_zero_to_one(tiny_model):
    result = integrated_gradients(tiny_model, HISTORY, 4)
    assert result.normalized.min() == 0.0 and result.normalized.max() == pytest.approx(1.0)
    assert np.argmax(result.normalized) == np.argmax(result.scores)


def test_batched_ig_matches_single_member_ig(tiny_model):
    histories = [HISTORY, [1, 2, 3], [8, 6, 4, 2]]
    batched = integrated_gradients_batch(tiny_model, histories, [4, 5, 6])
    for history, target, result in zip(histories, [4, 5, 6], batched):
        single = integrated_gradients(tiny_model, history, target)
        np.testing.assert_allclose(result.scores, single.scores, rtol=1e-4, atol=1e-6)


def test_ig_of_arbitrary_scalar_is_complete(tiny_model):
    def log_prob(logits, items):
        return target_logit(logits, items) - tf.reduce_logsumexp(logits[:, 1:], axis=1)

    results = integrated_gradients_of(tiny_model, [HISTORY, [5, 6]], log_prob, np.array([1, 2]), method="log_prob")
    assert all(r.method == "log_prob" and r.completeness_gap <= 0.05 for r in results)


def test_occlusion_matches_direct_recomputation(tiny_model):
    result = occlusion_attribution(tiny_model, HISTORY, target_item=4)
    full = tiny_model.score_last(*tiny_model.encode_inputs([HISTORY]))[0, 4]
    for position, score in zip(result.positions, result.scores):
        without = HISTORY[:position] + HISTORY[position + 1 :]
        direct = full - tiny_model.score_last(*tiny_model.encode_inputs([without]))[0, 4]
        assert score == pytest.approx(direct, abs=1e-5)


def test_attention_explainer_and_clear_error_without_attention():
    model = TinyRecommender(30, 12, dim=8, seed=3)
    result = attention_attribution(model, HISTORY)
    assert result.scores.sum() == pytest.approx(1.0, abs=1e-5)
    no_attention = TinyRecommender(30, 12, dim=8, seed=3, attention=False)
    with pytest.raises(ExplainerUnavailable, match="no attention layer"):
        attention_attribution(no_attention, HISTORY)


def test_agreement_between_methods(tiny_model):
    ig = integrated_gradients(tiny_model, HISTORY, 4)
    same = method_agreement(ig, ig, k=3)
    assert same.spearman == pytest.approx(1.0) and same.top_k_overlap == 1.0
    other = method_agreement(ig, occlusion_attribution(tiny_model, as_history(HISTORY), 4), k=3)
    assert -1.0 <= other.spearman <= 1.0 and 0.0 <= other.top_k_overlap <= 1.0


def test_empty_history_gives_an_empty_attribution(tiny_model):
    result = integrated_gradients(tiny_model, [], 4)
    assert result.positions.size == 0 and result.scores.size == 0
    all_zero = integrated_gradients(tiny_model, [1, 2], 4, weights=[0, 0])
    assert all_zero.positions.size == 0
