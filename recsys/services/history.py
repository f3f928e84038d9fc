"""A member's own history: adding and removing their manual entries (reads live in recsys.selectors)."""

import time

from django.db import transaction
from django.db.models import Max

from recsys.models import Dataset, Interaction, InteractionSequence, Item


class HistoryError(Exception):
    pass


def sequence_for(user, dataset: Dataset) -> InteractionSequence | None:
    return InteractionSequence.objects.filter(user=user, dataset=dataset).first()


def get_or_create_sequence(user, dataset: Dataset) -> InteractionSequence:
    sequence, _ = InteractionSequence.objects.get_or_create(
        user=user, dataset=dataset, defaults={"external_user_id": f"account-{user.pk}"}
    )
    return sequence


@transaction.atomic
def add_item(*, user, item: Item, rating: float | None = None) -> Interaction:
    if rating is not None and not 0.5 <= rating <= 5:
        raise HistoryError("A rating must be between 0.5 and 5.")
    sequence = get_or_create_sequence(user, item.dataset)
    InteractionSequence.objects.select_for_update().filter(pk=sequence.pk).first()
    last = sequence.interactions.aggregate(ts=Max("timestamp"))["ts"] or 0
    # Ordinal datasets count steps, not seconds: a new entry goes right after the last one.
    timestamp = int(time.time()) if item.dataset.has_timestamps else last + 1
    return Interaction.objects.create(
        sequence=sequence,
        item=item,
        timestamp=max(timestamp, last),
        rating=rating,
        source=Interaction.Source.MANUAL,
    )


@transaction.atomic
def remove_manual_item(*, user, interaction_id: int) -> None:
    interaction = Interaction.objects.select_for_update().filter(pk=interaction_id, sequence__user=user).first()
    if interaction is None:
        raise Interaction.DoesNotExist("No such entry in your history.")
    if interaction.source != Interaction.Source.MANUAL:
        raise HistoryError(
            "Only entries you added yourself can be removed here; use “Fix my recommendations” for the rest."
        )
    interaction.delete()
