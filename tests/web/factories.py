"""Small datasets built directly in the database for page and service tests."""

from recsys.models import Dataset, Interaction, InteractionSequence, Item
from recsys.vocabulary import item_kind_for_format

GENRES = ["Action", "Comedy", "Drama", "Horror", "Romance"]


def make_dataset(name="films", n_items=20, **fields) -> Dataset:
    """``item_kind`` defaults as an import's does: from ``source_format``."""
    fields.setdefault("item_kind", item_kind_for_format(fields.get("source_format", "")))
    dataset = Dataset.objects.create(name=name, title=name.title(), **fields)
    Item.objects.bulk_create(
        Item(
            dataset=dataset,
            external_id=str(i),
            title=f"Film {i:02d} ({1990 + i})",
            year=1990 + i,
            categories=GENRES[i % len(GENRES)],
        )
        for i in range(1, n_items + 1)
    )
    return dataset


def make_history(dataset, *, user=None, external_user_id="u1", item_ids=(1, 2, 3)) -> InteractionSequence:
    sequence = InteractionSequence.objects.create(dataset=dataset, external_user_id=external_user_id, user=user)
    items = {item.external_id: item for item in dataset.items.all()}
    Interaction.objects.bulk_create(
        Interaction(sequence=sequence, item=items[str(i)], timestamp=1_000_000 + step, position=step, rating=4.0)
        for step, i in enumerate(item_ids)
    )
    return sequence
