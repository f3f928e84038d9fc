"""Top-N for a member from the dataset's active model; the loaded model is cached per process."""

import threading
from dataclasses import dataclass, field

from recsys import selectors
from recsys.ml.pipeline import TrainedRecommender
from recsys.models import Dataset, Item, TrainedModel
from recsys.services import artefacts

_lock = threading.Lock()
_loaded: dict[int, tuple[str, TrainedRecommender]] = {}  # dataset id -> (artefact name, recommender)


class NoActiveModel(Exception):
    pass


@dataclass
class RecommendedItem:
    rank: int
    item: Item
    score: float


@dataclass
class MemberRecommendations:
    model: TrainedModel
    items: list[RecommendedItem]
    fallback: bool  # most-popular list: the member has no history the model knows
    ignored: list[Item] = field(default_factory=list)  # history items unknown to the model (added after training)
    truncated: bool = False


def load_recommender(model: TrainedModel):
    """The TrainedRecommender of any ready model version (not cached in memory).

    Its artefact comes from the storage (any machine may have trained it), unpacked once per machine."""
    if not model.artefact_path:
        raise artefacts.ArtefactMissing(f"{model} has no stored artefact.")
    return TrainedRecommender.load(artefacts.local_directory(model.artefact_path))


def loaded_model(dataset: Dataset):
    """(TrainedModel row, TrainedRecommender) of the active version; reloaded when the active version changes."""
    model = selectors.active_model(dataset)
    if model is None:
        raise NoActiveModel(f"No model is active for {dataset}; an administrator has to train and activate one.")
    with _lock:
        cached = _loaded.get(dataset.pk)
        if cached is None or cached[0] != model.artefact_path:
            _loaded[dataset.pk] = (model.artefact_path, load_recommender(model))
        return model, _loaded[dataset.pk][1]


def recommend_for_member(user, dataset: Dataset, *, n: int = 10,
                         changes: dict[int, float] | None = None) -> MemberRecommendations:
    """The member's top-n: what For you shows, and (with ``changes``) what a fix's preview shows.

    Never recommends an item of the history (removed ones included) nor one the member is not interested in.
    """
    model, recommender = loaded_model(dataset)
    entries = selectors.member_history_entries(user, dataset, changes=changes)
    hidden = [str(pk) for pk in selectors.not_interested_item_ids(user, dataset)]
    [result] = recommender.recommend([entries], n=n, exclude=[hidden])
    items = Item.objects.in_bulk([int(key) for key in result.items])
    unknown = [int(key) for key in result.unknown_items]  # usually none: skip building the query (~0.3 ms)
    ignored = list(Item.objects.filter(pk__in=unknown).order_by("title")) if unknown else []
    return MemberRecommendations(
        model=model,
        items=[RecommendedItem(rank, items[int(key)], score) for rank, (key, score)
               in enumerate(zip(result.items, result.scores, strict=True), start=1)],
        fallback=result.fallback, ignored=ignored, truncated=result.truncated,
    )


def warm_up_recommenders() -> list[str]:
    """Load every active model and run it once, so a worker's first page is not slowed by TensorFlow start-up."""
    warmed = []
    for model in TrainedModel.objects.filter(is_active=True, status=TrainedModel.Status.READY).select_related(
        "dataset"
    ):
        _, recommender = loaded_model(model.dataset)
        key = recommender.index.key_of(1)
        recommender.recommend([[(key, 1.0)]], n=10)
        warmed.append(str(model))
    return warmed


def training_counts(dataset: Dataset) -> dict[int, int]:
    """{item pk: interactions in the active model's training data}; items missing are unknown to the model.

    Empty when no model is active (then nothing can be said about what the model knows).
    """
    try:
        _, recommender = loaded_model(dataset)
    except NoActiveModel:
        return {}
    counts = recommender.popularity.counts
    return {int(key): int(counts[position]) for position, key in enumerate(recommender.index.keys, start=1)}
