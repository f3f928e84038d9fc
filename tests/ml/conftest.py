"""Session fixtures: toy data and one tiny trained model per architecture."""

from __future__ import annotations

import pytest

from recsys.ml.pipeline import prepare_data
from tests.toy_data import toy_histories, train_tiny


@pytest.fixture(scope="session")
def toy_data():
    return prepare_data(toy_histories())


@pytest.fixture(scope="session")
def trained_models():
    """{architecture: TrainedRecommender}, trained once per test session."""
    return {architecture: train_tiny(architecture) for architecture in ("sasrec", "gru4rec", "tcn")}


@pytest.fixture(scope="session")
def trained_sasrec(trained_models):
    return trained_models["sasrec"]


@pytest.fixture(params=["sasrec", "gru4rec", "tcn"])
def trained(request, trained_models):
    return trained_models[request.param]
