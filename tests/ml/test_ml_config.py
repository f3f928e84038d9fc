import pytest

from recsys.ml.config import ModelConfig


def test_defaults_follow_sasrec_paper_setup():
    config = ModelConfig()
    assert (config.max_len, config.hidden, config.blocks, config.heads) == (200, 64, 2, 1)
    assert (config.dropout, config.lr, config.batch_size, config.loss) == (0.2, 1e-3, 128, "full")


def test_round_trip_through_dict():
    config = ModelConfig(num_items=10, loss="sampled", num_sampled=5, dilations=[1, 2])
    assert ModelConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize(
    "changes",
    [{"loss": "bpr"}, {"hidden": 10, "heads": 3}, {"dropout": 1.0}, {"max_len": 0}],
)
def test_invalid_values_are_rejected(changes):
    with pytest.raises(ValueError):
        ModelConfig(**changes)


def test_unknown_fields_are_rejected():
    with pytest.raises(ValueError, match="unknown ModelConfig fields"):
        ModelConfig.from_dict({"num_items": 3, "hiden": 4})
