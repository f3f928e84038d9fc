"""Reads shared by pages, API and services."""

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.core.cache import cache
from django.db.models import Exists, FloatField, OuterRef, Q, QuerySet, Value

from . import page_cache
from .models import Dataset, Interaction, InteractionSequence, Item, Job, NotInterested, TrainedModel, TrainingExclusion
from .ratings import model_weight, policy, scale_of
from .vocabulary import words_for

SESSION_DATASET_KEY = "hikmax_dataset"


@dataclass(frozen=True)
class DatasetChoice:
    """A dataset as the member's switcher offers it. Only datasets that recommend (a ready model is active) or
    hold the member's own history can be picked; the others are listed, disabled, with the reason."""

    dataset: Dataset
    recommends: bool
    own_history: bool
    current: bool

    @property
    def selectable(self) -> bool:
        return self.recommends or self.own_history or self.current

    @property
    def note(self) -> str:
        if self.recommends:
            return ""
        return "your history; no recommendations yet" if self.own_history else "no recommendations yet"


def datasets_for(user, current: Dataset | None = None) -> list[DatasetChoice]:
    """Every dataset for the switcher, by name, saying which can recommend and which hold the member's history."""
    recommending = set(TrainedModel.objects.filter(is_active=True, status=TrainedModel.Status.READY)
                       .values_list("dataset_id", flat=True))
    own = set(InteractionSequence.objects.filter(user=user).values_list("dataset_id", flat=True))
    current_pk = current.pk if current is not None else None
    return [DatasetChoice(dataset, dataset.pk in recommending, dataset.pk in own, dataset.pk == current_pk)
            for dataset in Dataset.objects.order_by("name")]


def current_dataset(request) -> Dataset | None:
    """The dataset the member is looking at: chosen in this session, else where they have a history (one that can
    recommend first), else the site default an administrator chose, else the first (by name) with an active model."""
    chosen = request.session.get(SESSION_DATASET_KEY)
    if chosen and (dataset := Dataset.objects.filter(pk=chosen).first()):
        return dataset
    ready = TrainedModel.objects.filter(dataset=OuterRef("dataset"), is_active=True, status=TrainedModel.Status.READY)
    own = (InteractionSequence.objects.filter(user=request.user).annotate(recommends=Exists(ready))
           .order_by("-recommends", "dataset__name").select_related("dataset").first())
    if own:
        return own.dataset
    default = Dataset.objects.filter(is_default=True).first()
    if default:
        return default
    recommending = Dataset.objects.filter(models__is_active=True, models__status=TrainedModel.Status.READY)
    return recommending.order_by("name").first() or Dataset.objects.first()


def active_model(dataset: Dataset) -> TrainedModel | None:
    """The dataset's active model version when it is ready to serve (the registry only activates ready ones)."""
    return (TrainedModel.objects.filter(dataset=dataset, is_active=True, status=TrainedModel.Status.READY)
            .select_related("dataset").first())


def member_history(user, dataset: Dataset) -> QuerySet[Interaction]:
    """The member's active interactions, oldest first, with their items."""
    return (Interaction.objects.filter(sequence__user=user, sequence__dataset=dataset)
            .active().chronological().select_related("item"))


def member_history_entries(user, dataset: Dataset, *, changes: dict[int, float] | None = None
                           ) -> list[tuple[str, float]]:
    """Every interaction of the member, oldest first, as (item id, what it counts for in the model).

    A removed (excluded) interaction counts 0: the model does not read it, yet its item is never
    recommended. Ratings change the rest by the policy in ``recsys.ratings``. ``changes``
    ({interaction id: new weight, 0 = remove}) gives the entries a correction would leave, so a preview
    and the applied correction read the history through this one function.
    """
    changes = changes or {}
    scale = scale_of(dataset)
    rows = (Interaction.objects.filter(sequence__user=user, sequence__dataset=dataset).chronological()
            .values_list("pk", "item_id", "weight", "rating", "state"))
    return [
        (str(item_id), model_weight(changes.get(pk, weight), rating, scale=scale,
                                    active=state == Interaction.State.ACTIVE and changes.get(pk, weight) > 0))
        for pk, item_id, weight, rating, state in rows
    ]


def member_has_ratings(user, dataset: Dataset | None) -> bool:
    """Whether the member rated anything in this dataset (click and play logs have no ratings at all)."""
    if dataset is None or not user.is_authenticated:
        return False
    return Interaction.objects.filter(sequence__user=user, sequence__dataset=dataset, rating__isnull=False).exists()


def rating_policy(user, dataset: Dataset) -> str:
    """``recsys.ratings.policy`` in this dataset's words and on its scale, with the rating rules only for a member
    who rated."""
    return policy(words_for(dataset), member_has_ratings(user, dataset), scale_of(dataset))


def history_fingerprint(user, dataset: Dataset) -> str:
    """Changes whenever any of the member's interactions is added, removed, excluded, re-weighted or re-rated,
    or an item is hidden ("Not interested") or shown again: anything that changes their top 10.

    Keys the stored explanations and the cached recommendation lists, so those are never served for a
    history they were not computed on (a change of history is a change of key; nothing to invalidate)."""
    rows = (Interaction.objects.filter(sequence__user=user, sequence__dataset=dataset).order_by()
            .values_list("pk", "state", "weight", "rating"))
    hidden = (NotInterested.objects.filter(user=user, item__dataset=dataset, undone_at__isnull=True).order_by()
              .values_list("item_id", Value(HIDDEN), Value(0.0), Value(None, output_field=FloatField())))
    both = list(rows.union(hidden, all=True))  # one round trip for both; split again below
    state = sorted(row for row in both if row[1] != HIDDEN)
    return hashlib.sha256(repr((state, sorted(row[0] for row in both if row[1] == HIDDEN))).encode()).hexdigest()


HIDDEN = "not-interested"  # not an Interaction.State: marks the "Not interested" rows of the query above


def sequence_histories(
    *, dataset: Dataset | None = None, sequence_ids: Iterable[int] | None = None, external_ids: bool = False,
    for_training: bool = False,
) -> dict[str, list[tuple[str, float]]]:
    """Active interactions of many sequences (a dataset's, or the given ones) as {sequence: [(item, weight)]}.

    Each list is oldest first. Keys are database ids as strings, or the dataset's own user and item ids
    with external_ids=True. Excluded interactions are left out; a down-weighted one keeps its weight.
    With for_training=True (a dataset given) the members an administrator left out of training are left out.
    """
    interactions = Interaction.objects.active()
    if dataset is not None:
        interactions = interactions.filter(sequence__dataset=dataset)
        if for_training:
            interactions = interactions.exclude(sequence__in=excluded_from_training(dataset))
    if sequence_ids is not None:
        interactions = interactions.filter(sequence_id__in=list(sequence_ids))
    fields = ("sequence__external_user_id", "item__external_id") if external_ids else ("sequence_id", "item_id")
    rows = interactions.order_by("sequence_id", *Interaction.CHRONOLOGICAL).values_list(*fields, "weight")
    histories: dict[str, list[tuple[str, float]]] = {}
    for sequence_key, item_key, weight in rows.iterator(chunk_size=20000):
        histories.setdefault(str(sequence_key), []).append((str(item_key), weight))
    return histories


def sequence_ratings(sequence_ids: Iterable[int]) -> dict[int, list[tuple[str, float, float | None]]]:
    """Active interactions of these sequences as {sequence id: [(item pk, weight, rating)]}, oldest first."""
    rows = (Interaction.objects.active().filter(sequence_id__in=list(sequence_ids))
            .order_by("sequence_id", *Interaction.CHRONOLOGICAL)
            .values_list("sequence_id", "item_id", "weight", "rating"))
    histories: dict[int, list[tuple[str, float, float | None]]] = {}
    for sequence_id, item_id, weight, rating in rows.iterator(chunk_size=20000):
        histories.setdefault(int(sequence_id), []).append((str(item_id), weight, rating))
    return histories


def excluded_from_training(dataset: Dataset) -> QuerySet:
    """Sequences with a TrainingExclusion in force (as a subquery of sequence ids)."""
    return TrainingExclusion.objects.filter(sequence__dataset=dataset, lifted_at__isnull=True).values("sequence_id")


def item_categories(dataset: Dataset) -> dict[int, list[str]]:
    """{item pk: category names} of the dataset's items, parsed by Item.parse_categories."""
    rows = dataset.items.values_list("pk", "categories")
    return {pk: Item.parse_categories(text) for pk, text in rows}


def member_interactions(user, dataset: Dataset, *, query: str = ""):
    """The member's own interactions in chronological order (all states)."""
    interactions = Interaction.objects.filter(sequence__user=user, sequence__dataset=dataset).select_related("item")
    if query:
        matches = Item.title_contains(query, prefix="item__") | Item.in_category(query, prefix="item__")
        interactions = interactions.filter(matches)
    return interactions.chronological()


def not_interested(user, dataset: Dataset):
    """The member's standing "Not interested" signals in a dataset (explicit dislikes), newest first."""
    return NotInterested.objects.filter(user=user, item__dataset=dataset, undone_at__isnull=True).select_related("item")


def not_interested_item_ids(user, dataset: Dataset) -> list[int]:
    return list(not_interested(user, dataset).values_list("item_id", flat=True))


def catalogue(dataset: Dataset, *, query: str = "", category: str = "", year: int | None = None,
              popularity: list[int] | None = None):
    """Matching items by title (natural order: "9" before "10"), or in the given popularity order (item pks, most
    popular first; items not in it follow by title)."""
    items = dataset.items.all()
    if query:
        items = items.filter(Item.title_contains(query))
    if category:
        items = items.filter(Item.in_category(category))
    if year:
        items = items.filter(year=year)
    by_title = _in_title_order(dataset, items)
    if popularity is None:
        return LazyItems(by_title)
    rank = {pk: position for position, pk in enumerate(popularity)}
    return LazyItems(sorted(by_title, key=lambda pk: rank.get(pk, len(rank))))  # stable: by title


def _in_title_order(dataset: Dataset, items: QuerySet[Item]) -> list[int]:
    """Pks of ``items`` in the natural order of their titles (27,000 titles take ~0.2 s to sort). With a cache
    shared by every process (as for page fragments) the dataset's whole order is cached under the catalogue
    version, which every Item save or delete bumps; items the cached order lacks (bulk-created since) make it be
    recomputed. Without one, only the matching items are sorted."""
    if not page_cache.enabled():
        return [pk for _, pk in sorted(items.order_by().values_list("title", "pk"), key=_title_order)]
    key = f"hikmax:title-order:{dataset.pk}:{page_cache.catalogue_version()}"
    pks = list(items.order_by().values_list("pk", flat=True))
    ranks = cache.get(key)
    if ranks is None or any(pk not in ranks for pk in pks):
        rows = sorted(dataset.items.order_by().values_list("title", "pk"), key=_title_order)
        ranks = {pk: rank for rank, (_, pk) in enumerate(rows)}
        cache.set(key, ranks, timeout=page_cache.FRAGMENT_SECONDS)
    return sorted(pks, key=ranks.__getitem__)


def _title_order(row: tuple[str, int]) -> tuple:
    return natural_key(row[0]), row[0], row[1]


_DIGIT_RUNS = re.compile(r"(\d+)")


def natural_key(title: str) -> tuple[str | int, ...]:
    """Sort key comparing runs of digits as numbers and the rest ignoring case: "Item 9" < "Item 10", "9" < "10".
    (re.split alternates text and digit runs, so positions compare str with str and int with int.)"""
    parts = _DIGIT_RUNS.split(title.casefold())
    return tuple(int(part) if index % 2 else part for index, part in enumerate(parts))


class LazyItems:
    """Item pks in a chosen order, fetched page by page (what Paginator needs: len and slices)."""

    def __init__(self, pks: list[int]):
        self.pks = pks

    def __len__(self) -> int:
        return len(self.pks)

    def count(self) -> int:
        return len(self.pks)

    def __getitem__(self, window: slice) -> list[Item]:
        pks = self.pks[window]
        found = Item.objects.in_bulk(pks)
        return [found[pk] for pk in pks]


def has_years(dataset: Dataset) -> bool:
    return dataset.items.filter(year__isnull=False).exists()


def categories_of(dataset: Dataset) -> list[str]:
    """The dataset's category names, sorted."""
    names: set[str] = set()
    for value in dataset.items.exclude(categories="").values_list("categories", flat=True).distinct():
        names.update(Item.parse_categories(value))
    return sorted(names)


# ---------------------------------------------------------------- account export (accounts.export)

EXPORTED_MODELS = {
    "recsys.InteractionSequence": "histories",
    "recsys.Interaction": "histories[].interactions",
    "recsys.TrainedModel": "models_trained",
    "recsys.Job": "jobs",
    "recsys.TrainingExclusion": "training_exclusions",
    "recsys.ItemTag": "histories[].tags",
    "recsys.NotInterested": "not_interested",
}


def export_for_user(user) -> dict:
    return {
        "histories": [_history_export(sequence) for sequence in sequences_of(user)],
        "models_trained": [
            {"model": str(model), "dataset": model.dataset.name, "architecture": model.get_architecture_display(),
             "status": model.status, "active": model.is_active, "created_at": model.created_at.isoformat()}
            for model in TrainedModel.objects.filter(created_by=user).select_related("dataset").order_by("created_at")
        ],
        "jobs": [
            {"job": job.pk, "kind": job.kind, "status": job.status, "message": job.message,
             "created_at": job.created_at.isoformat(),
             "finished_at": job.finished_at.isoformat() if job.finished_at else None}
            for job in Job.objects.filter(owner=user).order_by("created_at")
        ],
        "training_exclusions": [_exclusion_export(exclusion, user) for exclusion in (
            TrainingExclusion.objects.filter(Q(sequence__user=user) | Q(created_by=user) | Q(lifted_by=user))
            .distinct().select_related("sequence__dataset").order_by("created_at"))],
        "not_interested": [
            {"title": signal.item.title, "dataset": signal.item.dataset.name, "at": signal.created_at.isoformat(),
             "undone_at": signal.undone_at.isoformat() if signal.undone_at else None}
            for signal in NotInterested.objects.filter(user=user).select_related("item__dataset")
            .order_by("created_at")
        ],
    }


def sequences_of(user) -> QuerySet[InteractionSequence]:
    """The member's histories, one per dataset, by dataset name."""
    return InteractionSequence.objects.filter(user=user).select_related("dataset").order_by("dataset__name")


def _exclusion_export(exclusion: TrainingExclusion, user) -> dict:
    """A history left out of training: the member's own (who decided is not theirs to see) or one this
    account excluded or let back in."""
    return {
        "dataset": exclusion.sequence.dataset.name,
        "history": "yours" if exclusion.sequence.user_id == user.pk else exclusion.sequence.external_user_id,
        "reason": exclusion.reason, "excluded_at": exclusion.created_at.isoformat(),
        "excluded_by_you": exclusion.created_by_id == user.pk, "lifted_by_you": exclusion.lifted_by_id == user.pk,
        "lifted_at": exclusion.lifted_at.isoformat() if exclusion.lifted_at else None,
    }


def _history_export(sequence: InteractionSequence) -> dict:
    rows = sequence.interactions.select_related("item").order_by(*Interaction.CHRONOLOGICAL)
    return {
        "dataset": sequence.dataset.name,
        "dataset_title": sequence.dataset.title,
        "external_user_id": sequence.external_user_id,
        "attributes": sequence.attributes,
        "interactions": [interaction_export(sequence, row) for row in rows],
        "tags": [{"dataset": sequence.dataset.name, "title": tag.item.title, "tag": tag.tag,
                  "tagged_at": dataset_time(sequence.dataset, tag.timestamp)}
                 for tag in sequence.tags.select_related("item").order_by("timestamp", "pk")],
    }


def interaction_export(sequence: InteractionSequence, row: Interaction) -> dict:
    return {
        "interaction_id": row.pk,
        "dataset": sequence.dataset.name,
        "external_user_id": sequence.external_user_id,
        "item_external_id": row.item.external_id,
        "title": row.item.title,
        "interacted_at": dataset_time(sequence.dataset, row.timestamp),
        "timestamp": row.timestamp,
        "rating": row.rating,
        "weight": row.weight,
        "state": row.state,
        "source": row.source,
    }


def dataset_time(dataset: Dataset, timestamp: int) -> str | None:
    """ISO date-time of a Unix timestamp; None when the dataset's 'timestamps' are only an order.

    Exports call it ``interacted_at`` in every dataset (it was ``watched_at``, untrue of items that are not films;
    the export is a download, not part of the documented API)."""
    if not dataset.has_timestamps:
        return None
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat()
