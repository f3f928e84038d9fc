"""Reads shared by pages, API and services."""

from datetime import UTC, datetime

from django.db.models import Q

from .models import Dataset, Interaction, InteractionSequence, Item, Job, TrainedModel

SESSION_DATASET_KEY = "hikmax_dataset"


def datasets_for(user) -> list[Dataset]:
    return list(Dataset.objects.all())


def current_dataset(request) -> Dataset | None:
    """The dataset the member is looking at: chosen in this session, else where they have a history, else the
    site default an administrator chose, else the first (by name) with an active model."""
    chosen = request.session.get(SESSION_DATASET_KEY)
    if chosen and (dataset := Dataset.objects.filter(pk=chosen).first()):
        return dataset
    own = InteractionSequence.objects.filter(user=request.user).select_related("dataset").first()
    if own:
        return own.dataset
    default = Dataset.objects.filter(is_default=True).first()
    if default:
        return default
    return Dataset.objects.filter(models__is_active=True).order_by("name").first() or Dataset.objects.first()


def member_interactions(user, dataset: Dataset, *, query: str = ""):
    """The member's own interactions in chronological order (all states)."""
    interactions = Interaction.objects.filter(sequence__user=user, sequence__dataset=dataset).select_related("item")
    if query:
        interactions = interactions.filter(Q(item__title__icontains=query) | Item.in_category(query, prefix="item__"))
    return interactions.order_by(*Interaction.CHRONOLOGICAL)


def catalogue(dataset: Dataset, *, query: str = "", category: str = "", year: int | None = None,
              popularity: dict[int, int] | None = None):
    """Matching items by title, or most popular first when popularity ({item pk: count}) is given."""
    items = dataset.items.all()
    if query:
        items = items.filter(title__icontains=query)
    if category:
        items = items.filter(Item.in_category(category))
    if year:
        items = items.filter(year=year)
    items = items.order_by("title", "id")
    if popularity is None:
        return items
    ranked = sorted(items.values_list("pk", flat=True), key=lambda pk: -popularity.get(pk, 0))  # stable: by title
    return LazyItems(ranked)


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


def categories_of(dataset: Dataset) -> list[str]:
    names = set()
    for value in dataset.items.exclude(categories="").values_list("categories", flat=True).distinct():
        names.update(c for c in value.split("|") if c)
    return sorted(names)


# ---------------------------------------------------------------- account export (accounts.export)

EXPORTED_MODELS = {
    "recsys.InteractionSequence": "histories",
    "recsys.Interaction": "histories[].interactions",
    "recsys.TrainedModel": "models_trained",
    "recsys.Job": "jobs",
}


def export_for_user(user) -> dict:
    sequences = InteractionSequence.objects.filter(user=user).select_related("dataset").order_by("dataset__name")
    return {
        "histories": [_history_export(sequence) for sequence in sequences],
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
    }


def _history_export(sequence: InteractionSequence) -> dict:
    rows = sequence.interactions.select_related("item").order_by(*Interaction.CHRONOLOGICAL)
    return {
        "dataset": sequence.dataset.name,
        "dataset_title": sequence.dataset.title,
        "external_user_id": sequence.external_user_id,
        "attributes": sequence.attributes,
        "interactions": [interaction_export(sequence, row) for row in rows],
    }


def interaction_export(sequence: InteractionSequence, row: Interaction) -> dict:
    return {
        "interaction_id": row.pk,
        "dataset": sequence.dataset.name,
        "external_user_id": sequence.external_user_id,
        "item_external_id": row.item.external_id,
        "title": row.item.title,
        "watched_at": watched_at(sequence.dataset, row.timestamp),
        "timestamp": row.timestamp,
        "rating": row.rating,
        "weight": row.weight,
        "state": row.state,
        "source": row.source,
    }


def watched_at(dataset: Dataset, timestamp: int) -> str | None:
    """ISO date-time of a Unix timestamp; None when the dataset's 'timestamps' are only an order."""
    if not dataset.has_timestamps:
        return None
    return datetime.fromtimestamp(timestamp, tz=UTC).isoformat()
