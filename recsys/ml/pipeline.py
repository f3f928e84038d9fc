"""One-call API for services: histories in, trained/evaluated/served recommender out.

    trained = train_recommender(histories, "sasrec", {"epochs": 50}, on_epoch=..., should_stop=...)
    reports = trained.evaluate()                     # both protocols, model + most-popular
    trained.recommend([[("item-7", 1.0), ("item-9", 0.5)]], n=10)
    trained.save(directory); TrainedRecommender.load(directory)

``histories`` maps a user key to that user's chronological list of item keys
or (item key, weight) pairs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recsys.ml.config import ModelConfig
from recsys.ml.defaults import DataProfile, choose_config
from recsys.ml.evaluation import PROTOCOLS, EvaluationReport, evaluate
from recsys.ml.models import RecommenderModel, build_model, load_model
from recsys.ml.popularity import MostPopular
from recsys.ml.sequences import (
    Histories,
    HistoryEntry,
    ItemIndex,
    LeaveOneOutSplit,
    build_sequences,
    leave_one_out,
)
from recsys.ml.serving import Recommendation, recommend
from recsys.ml.training import OnEpoch, ShouldStop, fit
from recsys.ml.training_result import TrainingResult

MODEL_DIR = "model"
INDEX_FILE = "items.json"
POPULARITY_FILE = "popularity.json"


@dataclass
class PreparedData:
    index: ItemIndex
    split: LeaveOneOutSplit
    unknown_items: list[str]


def prepare_data(histories: Histories) -> PreparedData:
    sequences, index, unknown = build_sequences(histories)
    return PreparedData(index, leave_one_out(sequences), unknown)


@dataclass
class TrainedRecommender:
    model: RecommenderModel
    index: ItemIndex
    popularity: MostPopular
    split: LeaveOneOutSplit | None = None  # not persisted

    @property
    def training_result(self) -> TrainingResult | None:
        return self.model.training_result

    def recommend(
        self, histories: Sequence[Sequence[HistoryEntry]], n: int = 10, exclude_seen: bool = True,
        exclude: Sequence[Sequence[str]] | None = None,
    ) -> list[Recommendation]:
        return recommend(self.model, self.index, histories, n, self.popularity, exclude_seen, exclude)

    def evaluate(
        self, protocols: Sequence[str] = PROTOCOLS, seed: int = 0, resamples: int = 1000
    ) -> dict[str, dict[str, EvaluationReport]]:
        """{protocol: {"model": report, "most-popular": report}} on the test users."""
        if self.split is None:
            raise ValueError("no split attached: evaluate right after training")
        return {
            protocol: {
                name: evaluate(scorer, self.split.test, protocol, seed=seed, resamples=resamples)
                for name, scorer in (("model", self.model), ("most-popular", self.popularity))
            }
            for protocol in protocols
        }

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        self.model.save(path / MODEL_DIR)
        self.index.save(path / INDEX_FILE)
        self.popularity.save(path / POPULARITY_FILE)
        return path

    @classmethod
    def load(cls, path: str | Path) -> TrainedRecommender:
        path = Path(path)
        return cls(
            model=load_model(path / MODEL_DIR),
            index=ItemIndex.load(path / INDEX_FILE),
            popularity=MostPopular.load(path / POPULARITY_FILE),
        )


def train_recommender(
    histories: Histories | PreparedData,
    architecture: str = "sasrec",
    config: ModelConfig | Mapping[str, Any] | None = None,
    on_epoch: OnEpoch | None = None,
    should_stop: ShouldStop | None = None,
) -> TrainedRecommender:
    """Index items, split leave-one-out, train with early stopping on validation NDCG@10.

    ``config`` as a mapping (or None) holds only the fields the user chose; the others are chosen from
    the data (``recsys.ml.defaults``) and listed in ``config.auto``. A ModelConfig is used as it is."""
    data = histories if isinstance(histories, PreparedData) else prepare_data(histories)
    if config is None or isinstance(config, Mapping):
        profile = DataProfile.of(data.split.train, len(data.index))
        config = choose_config(architecture, dict(config or {}), profile)
    config = config.replace(num_items=len(data.index))
    model = build_model(architecture, config)
    fit(model, data.split.train, data.split.valid, on_epoch=on_epoch, should_stop=should_stop)
    popularity = MostPopular.fit(data.split.train, len(data.index))
    return TrainedRecommender(model, data.index, popularity, data.split)
