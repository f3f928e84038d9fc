"""Reads shared by pages, API and services."""

from django.db.models import Q

from .models import Dataset, Interaction, InteractionSequence, Item, NotInterested, TrainedModel

SESSION_DATASET_KEY = "hikmax_dataset"


def datasets_for(user) -> list[Dataset]:
    return list(Dataset.objects.all())


def current_dataset(request) -> Dataset | None:
    """The dataset the member is looking at: chosen in this session, else where they have a history."""
    chosen = request.session.get(SESSION_DATASET_KEY)
    if chosen and (dataset := Dataset.objects.filter(pk=chosen).first()):
        return dataset
    own = InteractionSequence.objects.filter(user=request.user).select_related("dataset").first()
    if own:
        return own.dataset
    active = TrainedModel.objects.filter(is_active=True).select_related("dataset").first()
    return active.dataset if active else Dataset.objects.first()


def member_interactions(user, dataset: Dataset, *, query: str = ""):
    """The member's own interactions in chronological order (all states)."""
    interactions = Interaction.objects.filter(sequence__user=user, sequence__dataset=dataset).select_related("item")
    if query:
        interactions = interactions.filter(Q(item__title__icontains=query) | Item.in_category(query, prefix="item__"))
    return interactions.order_by(*Interaction.CHRONOLOGICAL)


def not_interested(user, dataset: Dataset):
    """The member's standing "Not interested" signals in a dataset (explicit dislikes), newest first."""
    return NotInterested.objects.filter(user=user, item__dataset=dataset, undone_at__isnull=True).select_related("item")


def not_interested_item_ids(user, dataset: Dataset) -> list[int]:
    return list(not_interested(user, dataset).values_list("item_id", flat=True))


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
