"""Issue 23: bounded validation cost, defaults chosen from the data, gBCE."""

import numpy as np
import pytest

from recsys.ml import training
from recsys.ml.defaults import FULL_SOFTMAX_MAX_ITEMS, DataProfile, choose_config
from recsys.ml.evaluation import compute_ranks, full_ranks, trim_padding
from recsys.ml.models import build_model
from recsys.ml.pipeline import train_recommender
from recsys.ml.sequences import sample_users
from recsys.ml.training import ValidationSchedule
from tests.toy_data import tiny_config


def profile(items=1000, users=500, interactions=5000, median_length=9.0):
    return DataProfile(users=users, items=items, interactions=interactions, median_length=median_length)


# -- validation sample and schedule ----------------------------------------------------------------


def test_validation_sample_is_fixed_seeded_and_bounded(toy_data):
    valid = toy_data.split.valid
    sample = sample_users(valid, 7, seed=3)
    assert len(sample) == 7 and set(sample.histories.users) <= set(valid.histories.users)
    assert sample.histories.users == sample_users(valid, 7, seed=3).histories.users
    assert sample.histories.users != sample_users(valid, 7, seed=4).histories.users
    row = valid.histories.users.index(sample.histories.users[0])
    assert sample.targets[0] == valid.targets[row]
    assert np.array_equal(sample.histories.items[0], valid.histories.items[row])
    assert sample_users(valid, 0, seed=3) is valid and sample_users(valid, len(valid), seed=3) is valid


def test_fixed_schedule_validates_every_k_epochs():
    schedule = ValidationSchedule(eval_every=3, share=0.25)
    validated = []
    for epoch in range(1, 10):
        if schedule.due(epoch):
            validated.append(epoch)
        schedule.record(epoch, 1.0, 5.0 if schedule.due(epoch) else None)
    assert validated == [3, 6, 9]


def test_automatic_schedule_keeps_validation_within_its_share():
    schedule = ValidationSchedule(eval_every=0, share=0.25)
    assert schedule.due(1)
    schedule.record(1, 10.0, 3.0)  # the first epoch's training includes compilation
    schedule.record(2, 2.0, None)
    assert not schedule.due(2) or schedule.every == 1
    # later epochs: 2 s training, 3 s validation -> k >= 3 * 0.75 / (0.25 * 2) = 4.5
    for epoch in range(3, 12):
        schedule.record(epoch, 2.0, 3.0 if schedule.due(epoch) else None)
    assert schedule.every == 5
    spent_valid = 3.0 / (schedule.every * 2.0 + 3.0)
    assert spent_valid <= 0.25


def test_training_records_validation_seconds_and_the_chosen_k(toy_data):
    model = build_model("sasrec", tiny_config(len(toy_data.index), epochs=4, eval_every=0, valid_users=10))
    calls = []
    result = training.fit(model, toy_data.split.train, toy_data.split.valid, on_epoch=lambda *args: calls.append(args))
    assert [len(call) for call in calls] == [5] * 4
    validated = [record for record in result.curve if record.valid is not None]
    assert validated[0].epoch == 1 and all(record.valid_seconds > 0 for record in validated)
    assert all(record.valid_seconds == 0 for record in result.curve if record.valid is None)
    assert model.config.eval_every >= 1 and "eval_every" in model.config.auto
    assert "10 users" in model.config.auto["eval_every"]
    assert 0 < result.to_dict()["validation_share"] < 1


# -- faster full ranking ---------------------------------------------------------------------------


def test_trim_padding_keeps_every_real_column():
    ids = np.zeros((2, 40), dtype=np.int32)
    ids[0, -3:] = [4, 5, 6]
    ids[1, -11:] = 7
    trimmed, weights = trim_padding(ids, ids.astype(np.float32))
    assert trimmed.shape == (2, 16) and weights.shape == (2, 16)
    assert np.array_equal(trimmed, ids[:, -16:]) and (ids[:, :-16] == 0).all()


@pytest.mark.parametrize("architecture", ["sasrec", "gru4rec", "tcn"])
def test_sorted_trimmed_full_ranking_equals_ranking_every_user_at_full_width(trained_models, architecture):
    trained = trained_models[architecture]
    test = trained.split.test
    model = trained.model
    ids, w = model.encode_inputs(test.histories.items, test.histories.weights)
    expected = full_ranks(model.score_last(ids, w), test.targets, test.histories.items)
    assert np.array_equal(compute_ranks(model, test, "full"), expected)


# -- defaults chosen from the data -------------------------------------------------------------------


def test_small_catalogue_gets_the_full_softmax_large_one_the_sampled_softmax():
    small = choose_config("sasrec", {}, profile(items=FULL_SOFTMAX_MAX_ITEMS))
    large = choose_config("sasrec", {}, profile(items=FULL_SOFTMAX_MAX_ITEMS + 1))
    assert (small.loss, large.loss) == ("full", "sampled")
    assert f"{FULL_SOFTMAX_MAX_ITEMS + 1:,} items" in large.auto["loss"]


def test_window_is_short_for_short_histories_and_long_for_long_ones():
    assert choose_config("sasrec", {}, profile(median_length=9)).max_len == 50
    assert choose_config("sasrec", {}, profile(median_length=50)).max_len == 50
    assert choose_config("sasrec", {}, profile(median_length=63)).max_len == 200
    assert "median 63" in choose_config("sasrec", {}, profile(median_length=63)).auto["max_len"]
    assert "max_len" not in choose_config("gru4rec", {}, profile()).auto


def test_dropout_follows_size_and_density():
    dense = choose_config("sasrec", {}, profile(users=6040, items=3706, interactions=1_000_209))
    small_dense = choose_config("sasrec", {}, profile(users=943, items=1682, interactions=100_000))
    sparse = choose_config("sasrec", {}, profile(users=30_000, items=24_000, interactions=290_000))
    assert (dense.dropout, small_dense.dropout, sparse.dropout) == (0.2, 0.5, 0.5)


def test_given_fields_win_and_are_not_listed_as_automatic():
    config = choose_config("sasrec", {"loss": "gbce", "max_len": 20, "dropout": 0.1, "auto": {"x": "y"}},
                           profile(items=50_000))
    assert (config.loss, config.max_len, config.dropout) == ("gbce", 20, 0.1)
    assert not {"loss", "max_len", "dropout", "x"} & set(config.auto)
    assert {"eval_every", "hidden", "heads"} <= set(config.auto) and config.eval_every == 0


def test_two_heads_only_when_the_given_width_allows_them():
    assert choose_config("sasrec", {"hidden": 15}, profile()).heads == 1
    assert choose_config("sasrec", {"hidden": 16}, profile()).heads == 2


def test_train_recommender_without_settings_records_its_choices(toy_data):
    trained = train_recommender(toy_data, "sasrec", {"epochs": 2, "hidden": 8, "jit_compile": False})
    config = trained.model.config
    assert config.loss == "full" and config.dropout == 0.5 and config.max_len == 50
    assert {"loss", "dropout", "max_len", "heads", "eval_every"} <= set(config.auto)
    assert config.eval_every >= 1 and "epochs" not in config.auto


# -- gBCE ----------------------------------------------------------------------------------------------


def test_gbce_trains(toy_data):
    model = build_model("sasrec", tiny_config(len(toy_data.index), loss="gbce", num_sampled=8, epochs=12))
    result = training.fit(model, toy_data.split.train, toy_data.split.valid)
    assert np.isfinite(result.curve[-1].loss) and result.curve[-1].loss < result.curve[0].loss
    assert result.best_valid["NDCG@10"] > 0


def test_gbce_calibration_must_be_a_share():
    with pytest.raises(ValueError, match="gbce_t"):
        tiny_config(10, gbce_t=1.5)


def test_unknown_loss_is_refused():
    with pytest.raises(ValueError, match="loss must be one of"):
        tiny_config(10, loss="bpr")



def test_negatives_are_listed_only_for_the_losses_that_sample_them():
    large = choose_config("sasrec", {}, profile(items=FULL_SOFTMAX_MAX_ITEMS + 1))
    assert large.loss == "sampled" and large.num_sampled == 3000 and "log-Q" in large.auto["num_sampled"]
    assert "num_sampled" not in choose_config("sasrec", {}, profile(items=FULL_SOFTMAX_MAX_ITEMS)).auto
    gbce = choose_config("sasrec", {"loss": "gbce"}, profile())
    assert "gSASRec" in gbce.auto["num_sampled"] and "loss" not in gbce.auto and gbce.num_sampled == 1000
    given = choose_config("sasrec", {"num_sampled": 500}, profile(items=50_000))
    assert given.num_sampled == 500 and "num_sampled" not in given.auto


@pytest.mark.parametrize(("loss", "uniform"), [("gbce", True), ("sampled", False)])
def test_gbce_draws_uniform_negatives_the_sampled_softmax_popular_ones(toy_data, loss, uniform):
    model = build_model("sasrec", tiny_config(len(toy_data.index), loss=loss, num_sampled=8))
    trainer = training.Trainer(model)
    trainer._set_proposal(toy_data.split.train)
    log_q = trainer._log_proposal.numpy()[1:]
    assert np.allclose(log_q, log_q[0]) == uniform
