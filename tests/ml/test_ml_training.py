import numpy as np
import pytest

from recsys.ml import training
from recsys.ml.evaluation import evaluate, quick_validation
from recsys.ml.models import build_model
from recsys.ml.popularity import MostPopular
from recsys.ml.sequences import Sequences, next_item_examples
from recsys.ml.training import bucket_lengths, make_buckets
from recsys.ml.training_result import TrainingResult
from tests.toy_data import tiny_config


def fit(toy_data, architecture="sasrec", **overrides):
    model = build_model(architecture, tiny_config(len(toy_data.index), **overrides))
    calls = []
    result = training.fit(
        model,
        toy_data.split.train,
        toy_data.split.valid,
        on_epoch=lambda *args: calls.append(args),
        should_stop=overrides.pop("should_stop", None),
    )
    return model, result, calls


@pytest.fixture(scope="module")
def fitted(toy_data):
    """(model, result, on_epoch calls) of one short run shared by several tests."""
    return fit(toy_data, epochs=5)


def test_on_epoch_streams_every_epoch(fitted):
    _, result, calls = fitted
    assert [call[0] for call in calls] == [1, 2, 3, 4, 5]
    for (epoch, loss, valid, seconds, valid_seconds), record in zip(calls, result.curve, strict=True):
        assert np.isfinite(loss) and seconds > 0 and "NDCG@10" in valid and valid_seconds > 0
        assert (record.epoch, record.loss, record.valid, record.valid_seconds) == (epoch, loss, valid, valid_seconds)
        assert record.cpu_seconds > 0
    assert result.device.startswith(("CPU", "GPU")) and result.stopped == "completed"
    assert result.seconds_per_epoch > 0 and result.epochs_run == 5


def test_loss_goes_down(fitted):
    _, result, _ = fitted
    assert result.curve[-1].loss < result.curve[0].loss


def test_should_stop_cancels_between_epochs(toy_data):
    model = build_model("gru4rec", tiny_config(len(toy_data.index), epochs=10))
    epochs_seen = []
    result = training.fit(
        model,
        toy_data.split.train,
        toy_data.split.valid,
        on_epoch=lambda epoch, *_: epochs_seen.append(epoch),
        should_stop=lambda: len(epochs_seen) >= 2,
    )
    assert result.stopped == "cancelled" and result.epochs_run == 2 and model.is_trained


def test_early_stopping_when_validation_stops_improving(toy_data):
    _, result, _ = fit(toy_data, epochs=10, patience=2, lr=0.0)
    assert result.stopped == "early_stopping"
    assert result.best_epoch == 1 and result.epochs_run == 3


def test_best_checkpoint_is_restored(toy_data):
    model, result, _ = fit(toy_data, epochs=6, lr=0.05)
    best = max(record.valid["NDCG@10"] for record in result.curve)
    assert result.best_valid["NDCG@10"] == best
    assert quick_validation(model, toy_data.split.valid)["NDCG@10"] == pytest.approx(best)


def test_sampled_softmax_trains(toy_data):
    model, result, _ = fit(toy_data, architecture="sasrec", loss="sampled", num_sampled=8, epochs=25)
    popularity = MostPopular.fit(toy_data.split.train, len(toy_data.index))
    ours = evaluate(model, toy_data.split.test, "full", resamples=0).metrics["NDCG@10"]
    baseline = evaluate(popularity, toy_data.split.test, "full", resamples=0).metrics["NDCG@10"]
    assert ours > baseline + 0.1
    assert model.config.loss == "sampled"


def test_xla_training_step_with_length_buckets(toy_data):
    _, result, _ = fit(toy_data, epochs=2, jit_compile=True, length_buckets=2)
    assert np.isfinite(result.curve[-1].loss)


def test_training_without_usable_sequences_is_an_error(toy_data):
    model = build_model("sasrec", tiny_config(len(toy_data.index)))
    lonely = Sequences(["u"], [np.array([1], dtype=np.int32)], [np.ones(1, dtype=np.float32)])
    with pytest.raises(ValueError, match="two or more items"):
        training.fit(model, lonely)


def test_training_result_round_trip(fitted):
    _, result, _ = fitted
    again = TrainingResult.from_dict(result.to_dict())
    assert again.curve == result.curve and again.best_epoch == result.best_epoch


def test_buckets_cover_every_sequence_without_cutting_it(toy_data):
    examples = next_item_examples(toy_data.split.train, 12)
    buckets = make_buckets(examples, 12, 3, batch_size=16)
    assert sum(len(bucket.inputs) for bucket in buckets) == len(examples)
    real = sum(int((bucket.targets > 0).sum()) for bucket in buckets)
    assert real == int(examples.lengths().sum())
    assert bucket_lengths(np.array([1, 5, 40, 300]), 200, 4)[-1] == 200
