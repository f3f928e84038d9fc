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
    [{"loss": "bpr"}, {"hidden": 10, "heads": 3}, {"dropout": 1.0}, {"max_len": 0}, {"epochs": 0}, {"epochs": -3},
     {"batch_size": 0}, {"lr": -1.0}, {"patience": -1}],
)
def test_invalid_values_are_rejected(changes):
    with pytest.raises(ValueError):
        ModelConfig(**changes)


def test_unknown_fields_are_rejected():
    with pytest.raises(ValueError, match="unknown ModelConfig fields"):
        ModelConfig.from_dict({"num_items": 3, "hiden": 4})


@pytest.mark.parametrize("given,said", [
    ({"epochs": "ten"}, "epochs must be a whole number"), ({"epochs": 1e9}, "epochs must be a whole number"),
    ({"epochs": True}, "epochs must be a whole number"), ({"lr": "0.1"}, "lr must be a number"),
    ({"jit_compile": 0}, "jit_compile must be true or false"), ({"dilations": [1, "2"]}, "dilations must be a list"),
    ([1, 2], "must be an object"), ({"hiden": 4}, "unknown ModelConfig fields"),
])
def test_what_a_person_typed_must_have_each_fields_type(given, said):
    with pytest.raises(ValueError, match=said):
        ModelConfig.check_given(given)


def test_typed_hyperparameters_pass():
    ModelConfig.check_given({"epochs": 20, "lr": 1, "dropout": 0.5, "loss": "full", "dilations": [1, 2],
                             "jit_compile": False, "auto": {"loss": "why"}})
