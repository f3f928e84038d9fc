import numpy as np
import pytest
import tensorflow as tf

from recsys.ml.evaluation import evaluate
from recsys.ml.models import AttentionNotSupported, ModelNotTrainedError, build_model, load_model
from tests.toy_data import tiny_config

HISTORY = [3, 7, 2, 9, 4, 1]


def test_unknown_architecture_names_the_valid_ones():
    with pytest.raises(ValueError, match="gru4rec, sasrec, tcn"):
        build_model("bert4rec", tiny_config(10))


def test_catalogue_size_is_required():
    with pytest.raises(ValueError, match="num_items"):
        build_model("sasrec", tiny_config(0))


def test_untrained_model_refuses_to_score():
    model = build_model("sasrec", tiny_config(10))
    ids, w = model.encode_inputs([[1, 2]])
    with pytest.raises(ModelNotTrainedError):
        model.score_last(ids, w)


def test_encode_inputs_drops_weight_zero_truncates_and_left_pads():
    model = build_model("gru4rec", tiny_config(20, max_len=4))
    ids, w = model.encode_inputs([[1, 2, 3, 4, 5, 6], [7, 8, 9]], [[1] * 6, [1.0, 0.0, 0.5]])
    assert ids.tolist() == [[3, 4, 5, 6], [0, 0, 7, 9]]
    assert w.tolist() == [[1, 1, 1, 1], [0, 0, 1.0, 0.5]]
    assert ids.dtype == np.int32 and w.dtype == np.float32
    with pytest.raises(ValueError, match="1..20"):
        model.encode_inputs([[21]])
    with pytest.raises(ValueError, match="weights"):
        model.encode_inputs([[1]], [[1, 1]])


def test_score_shape_and_padding_column(trained):
    model = trained.model
    ids, w = model.encode_inputs([HISTORY, HISTORY[:2]])
    scores = model.score_last(ids, w)
    assert scores.shape == (2, model.num_items + 1) and scores.dtype == np.float32
    assert np.all(np.isneginf(scores[:, 0])) and np.all(np.isfinite(scores[:, 1:]))


def test_last_position_path_equals_full_forward(trained):
    model = trained.model
    ids, w = model.encode_inputs([HISTORY, [5, 6], HISTORY * 3], [[0.5] * 6, [1, 1], [1] * 18])
    fast = model.score_last(ids, w)
    full = model.score_all_positions(ids, w)[:, -1, :]
    np.testing.assert_allclose(fast[:, 1:], full[:, 1:], rtol=1e-5, atol=1e-5)


def test_scores_do_not_depend_on_padding_length(trained):
    model = trained.model
    ids, w = model.encode_inputs([HISTORY])
    short = model.score_last(ids[:, -len(HISTORY) :], w[:, -len(HISTORY) :])
    np.testing.assert_allclose(model.score_last(ids, w), short, rtol=1e-5, atol=1e-5)


def test_contract_identity_between_paths(trained):
    model = trained.model
    ids, w = model.encode_inputs([HISTORY], [[1, 0.3, 1, 1, 0.7, 1]])
    via_embeddings = model.logits_from_input_embeddings(model.item_input_embeddings(ids, w), ids)
    np.testing.assert_allclose(via_embeddings.numpy(), model.score_last(ids, w), rtol=1e-5, atol=1e-5)


def test_input_embeddings_are_zero_at_padding_and_differentiable(trained):
    model = trained.model
    ids, w = model.encode_inputs([HISTORY[:3]])
    emb = model.item_input_embeddings(ids, w)
    assert emb.shape == (1, model.max_len, model.config.hidden)
    assert not np.any(emb.numpy()[0, : model.max_len - 3])
    with tf.GradientTape() as tape:
        tape.watch(emb)
        logit = model.logits_from_input_embeddings(emb, ids)[0, 5]
    gradient = tape.gradient(logit, emb).numpy()
    assert np.any(gradient[0, -3:]) and not np.any(np.isnan(gradient))


def test_all_ones_weights_equal_unweighted_scores_exactly(trained):
    model = trained.model
    unweighted = model.score_last(*model.encode_inputs([HISTORY]))
    ones = model.score_last(*model.encode_inputs([HISTORY], [[1.0] * len(HISTORY)]))
    np.testing.assert_array_equal(unweighted, ones)


def test_weight_zero_equals_removal_exactly(trained):
    model = trained.model
    removed = model.score_last(*model.encode_inputs([[3, 7, 9, 4, 1]]))
    zeroed = model.score_last(*model.encode_inputs([HISTORY], [[1, 1, 0, 1, 1, 1]]))
    np.testing.assert_array_equal(removed, zeroed)


def test_lower_weight_moves_scores_continuously(trained):
    model = trained.model
    weights = np.linspace(1.0, 0.05, 20)
    rows = [[1, 1, 1, 1, weight, 1] for weight in weights]
    scores = model.score_last(*model.encode_inputs([HISTORY] * len(rows), rows))[:, 1:]
    steps = np.abs(np.diff(scores, axis=0)).max(axis=1)
    assert np.abs(scores[0] - scores[-1]).max() > 1e-3  # the weight matters
    assert steps.max() < 0.25 * np.abs(scores[0] - scores[-1]).max() + 1e-6  # small steps, no jump


def test_attention_is_a_distribution_over_real_positions(trained_sasrec):
    model = trained_sasrec.model
    ids, w = model.encode_inputs([HISTORY, [2, 5]])
    attention = model.attention_last(ids, w)
    assert attention.shape == (2, model.max_len)
    np.testing.assert_allclose(attention.sum(axis=1), 1.0, rtol=1e-5)
    assert not np.any(attention[ids == 0])


@pytest.mark.parametrize("architecture", ["gru4rec", "tcn"])
def test_attention_is_not_supported_without_attention(trained_models, architecture):
    model = trained_models[architecture].model
    assert not model.supports_attention
    with pytest.raises(AttentionNotSupported):
        model.attention_last(*model.encode_inputs([HISTORY]))


def test_save_then_load_gives_identical_scores(trained, tmp_path):
    model = trained.model
    model.save(tmp_path / "model")
    loaded = load_model(tmp_path / "model")
    assert loaded.architecture == model.architecture and loaded.config == model.config
    ids, w = model.encode_inputs([HISTORY, [1, 2]], [[1, 0.5, 1, 1, 1, 1], [1, 1]])
    np.testing.assert_array_equal(loaded.score_last(ids, w), model.score_last(ids, w))
    assert loaded.training_result.best_epoch == model.training_result.best_epoch


def test_loading_a_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no saved model"):
        load_model(tmp_path)


def test_trained_models_beat_most_popular(trained):
    for protocol in ("full", "sampled"):
        model_report = evaluate(trained.model, trained.split.test, protocol, resamples=0)
        popular = evaluate(trained.popularity, trained.split.test, protocol, resamples=0)
        assert model_report.metrics["NDCG@10"] > popular.metrics["NDCG@10"] + 0.1, protocol


def test_a_build_that_runs_out_of_memory_does_not_break_the_next_training(toy_data):
    """A worker that was asked for an embedding table too large for memory trains the next model normally."""
    from recsys.ml import training

    with pytest.raises(tf.errors.ResourceExhaustedError):
        build_model("sasrec", tiny_config(len(toy_data.index), hidden=10**11))
    model = build_model("sasrec", tiny_config(len(toy_data.index), epochs=1))
    result = training.fit(model, toy_data.split.train, toy_data.split.valid)
    assert model.is_trained and len(result.curve) == 1
