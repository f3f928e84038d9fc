"""Top-N for a member from the dataset's active model; the loaded model is cached per process."""

import hashlib
import threading
from dataclasses import dataclass, field

from django.core.cache import cache

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
        raise NoActiveModel(f"No model is active for {dataset}; one has to be trained and activated first.")
    with _lock:
        cached = _loaded.get(dataset.pk)
        if cached is None or cached[0] != model.artefact_path:
            _loaded[dataset.pk] = (model.artefact_path, load_recommender(model))
        return model, _loaded[dataset.pk][1]


LIST_CACHE_SECONDS = 24 * 3600


def member_cache_key(kind: str, user, dataset: Dataset, model: TrainedModel, fingerprint: str, *extra) -> str:
    """A cache key for something computed from one member's history by one model version.

    The history fingerprint (``selectors.history_fingerprint``) changes with every change of the history
    or of what the member is not interested in, and a new model version is a new ``model.pk``; what the items
    are (their words) and the rating scale (what a rating counts for) are part of the key too, as an
    administrator may change them: an entry is never read for a state it was not computed on, so nothing has
    to be invalidated.
    """
    tail = ":".join(str(part) for part in extra)
    reading = f"{dataset.item_kind}:{dataset.rating_low}:{dataset.rating_high}"
    return f"hikmax:{kind}:{user.pk}:{dataset.pk}:{reading}:{model.pk}:{fingerprint}:{tail}"


def recommend_for_member(user, dataset: Dataset, *, n: int = 10, changes: dict[int, float] | None = None,
                         fingerprint: str | None = None, loaded: tuple | None = None) -> MemberRecommendations:
    """The member's top-n: what For you shows, and (with ``changes``) what a fix's preview shows.

    Never recommends an item of the history (removed ones included) nor one the member is not interested in.
    The list is cached per member, model version, history fingerprint and changes (pass ``fingerprint`` when
    it was just computed, and ``loaded``, ``loaded_model``'s answer, when it was just asked): the drift check,
    its preview and the applied fix's preview rank the same fix once. The Item rows are always read afresh.
    """
    model, recommender = loaded or loaded_model(dataset)
    key = ranking_cache_key(user, dataset, model, fingerprint or selectors.history_fingerprint(user, dataset), n,
                            changes)
    ranked = cache.get(key)
    if ranked is None:
        ranked = _rank(user, dataset, recommender, n=n, changes=changes or None)
        cache.set(key, ranked, timeout=LIST_CACHE_SECONDS)
    items = Item.objects.in_bulk([pk for pk, _ in ranked["items"]])
    unknown = ranked["unknown"]  # usually none: skip building the query (~0.3 ms)
    ignored = sorted(Item.objects.filter(pk__in=unknown), key=lambda item: (selectors.natural_key(item.title),
                                                                          item.title, item.pk)) if unknown else []
    return MemberRecommendations(
        model=model,
        items=[RecommendedItem(rank, items[pk], score) for rank, (pk, score) in enumerate(ranked["items"], start=1)],
        fallback=ranked["fallback"], ignored=ignored, truncated=ranked["truncated"],
    )


def ranking_cache_key(user, dataset: Dataset, model: TrainedModel, fingerprint: str, n: int,
                      changes: dict[int, float] | None = None) -> str:
    """Where ``recommend_for_member`` keeps the member's top-n (with ``changes``: the top-n with that fix)."""
    if not changes:
        return member_cache_key("recs", user, dataset, model, fingerprint, n)
    fix = hashlib.sha256(repr(sorted((int(pk), float(weight)) for pk, weight in changes.items())).encode())
    return member_cache_key("recs-changed", user, dataset, model, fingerprint, n, fix.hexdigest())


def _rank(user, dataset: Dataset, recommender, *, n: int, changes: dict[int, float] | None) -> dict:
    """The model's top-n for the member's history (with ``changes``), as plain data that can be cached."""
    entries = selectors.member_history_entries(user, dataset, changes=changes)
    hidden = [str(pk) for pk in selectors.not_interested_item_ids(user, dataset)]
    [result] = recommender.recommend([entries], n=n, exclude=[hidden])
    return {"items": [(int(key), float(score)) for key, score in zip(result.items, result.scores, strict=True)],
            "unknown": [int(key) for key in result.unknown_items],
            "fallback": bool(result.fallback), "truncated": bool(result.truncated)}


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


@dataclass(frozen=True)
class KnownItems:
    """What the catalogue reads of a model version: the items it knows, most popular first, and how often each
    was in its training data. Shared by every request of the process: read it, never change it."""

    by_popularity: list[int]  # item pks
    training_counts: dict[int, int]  # item pk -> interactions


_known: dict[int, tuple[tuple[int, str], KnownItems]] = {}  # dataset id -> ((model id, artefact name), known items)


def known_items(dataset: Dataset) -> KnownItems | None:
    """The active model's KnownItems, decoded once per process and model version; None when no model is active."""
    try:
        model, recommender = loaded_model(dataset)
    except NoActiveModel:
        return None
    version = (model.pk, model.artefact_path)
    with _lock:
        cached = _known.get(dataset.pk)
        if cached is None or cached[0] != version:
            _known[dataset.pk] = (version, _decode_known_items(recommender))
        return _known[dataset.pk][1]


def _decode_known_items(recommender: TrainedRecommender) -> KnownItems:
    counts = recommender.popularity.counts
    return KnownItems(
        by_popularity=[int(key) for key in recommender.index.decode(recommender.popularity.ranking())],
        training_counts={int(key): int(counts[position])
                         for position, key in enumerate(recommender.index.keys, start=1)})


def popularity_order(dataset: Dataset) -> list[int]:
    """Item pks the active model knows, most popular first: the order of a new member's most-popular list."""
    known = known_items(dataset)
    return known.by_popularity if known else []


def training_counts(dataset: Dataset) -> dict[int, int]:
    """{item pk: interactions in the active model's training data}; items missing are unknown to the model.

    Empty when no model is active (then nothing can be said about what the model knows).
    """
    known = known_items(dataset)
    return known.training_counts if known else {}
