"""A member's own history: adding entries, "Not interested" signals, erasure (reads live in recsys.selectors).

Removing an entry is a correction (``recourse.services.corrections.remove_from_history``): never a deletion."""

import hashlib
import secrets
import time

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from recsys import ratings
from recsys.models import Dataset, ErasedHistory, Interaction, InteractionSequence, Item, NotInterested
from recsys.selectors import sequences_of
from recsys.signals import interactions_added


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
    scale = ratings.scale_of(item.dataset)
    if rating is not None and not scale.is_member_rating(rating):
        raise HistoryError(scale.member_rule)
    sequence = get_or_create_sequence(user, item.dataset)
    InteractionSequence.objects.select_for_update().filter(pk=sequence.pk).first()
    last = sequence.interactions.aggregate(ts=Max("timestamp"))["ts"] or 0
    # Ordinal datasets count steps, not seconds: a new entry goes right after the last one.
    timestamp = int(time.time()) if item.dataset.has_timestamps else last + 1
    interaction = Interaction.objects.create(
        sequence=sequence,
        item=item,
        timestamp=max(timestamp, last),
        rating=rating,
        source=Interaction.Source.MANUAL,
    )
    interactions_added.send(sender=Interaction, dataset=item.dataset, user_ids=[user.pk])
    return interaction


def not_interested(*, user, item: Item) -> NotInterested:
    """Hide a recommended item from the member for good (until undone): an explicit dislike."""
    existing = NotInterested.objects.filter(user=user, item=item, undone_at__isnull=True).first()
    return existing or NotInterested.objects.create(user=user, item=item)


def undo_not_interested(*, user, signal_id: int) -> NotInterested:
    signal = NotInterested.objects.filter(pk=signal_id, user=user).select_related("item").first()
    if signal is None:
        raise NotInterested.DoesNotExist("No such signal.")
    if signal.undone_at is None:
        signal.undone_at = timezone.now()
        signal.save(update_fields=["undone_at"])
    return signal


def erase_for_user(user) -> dict:
    """Each dataset's policy decides whether the member's interactions go or stay anonymised (call in a transaction)."""
    erased = {}
    for sequence in sequences_of(user).select_for_update(of=("self",)):
        erased[sequence.dataset.name] = _erase_sequence(sequence)
    return {"datasets": erased}


def erased_key(dataset_id: int, external_user_id: str) -> str:
    return hashlib.sha256(f"{dataset_id}:{external_user_id}".encode()).hexdigest()


def _erase_sequence(sequence: InteractionSequence) -> dict:
    count = sequence.interactions.count()
    if not sequence.external_user_id.startswith("account-"):  # an imported history: a re-import must not restore it
        ErasedHistory.objects.get_or_create(dataset_id=sequence.dataset_id,
                                            user_key=erased_key(sequence.dataset_id, sequence.external_user_id))
    if sequence.dataset.erasure_policy == Dataset.ErasurePolicy.DELETE or sequence.external_user_id.startswith(
        "account-"
    ):
        sequence.delete()
        return {"policy": "deleted", "interactions": count}
    anonymous_id = f"erased-{secrets.token_hex(8)}"
    sequence.interactions.filter(source=Interaction.Source.MANUAL).delete()
    InteractionSequence.objects.filter(pk=sequence.pk).update(user=None, external_user_id=anonymous_id, attributes={})
    return {"policy": "anonymised", "interactions": count}
