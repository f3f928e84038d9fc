"""A member's data: erase it (the export is accounts.export)."""

import secrets

from django.db import transaction

from recsys.models import Dataset, Interaction, InteractionSequence

from .models import ErasureRecord, User


def _sequences(user):
    return InteractionSequence.objects.filter(user=user).select_related("dataset").order_by("dataset__name")


@transaction.atomic
def erase_account(user: User) -> ErasureRecord:
    """Delete the account; each dataset's policy decides whether its interactions go or stay anonymised."""
    summary = {"datasets": {}}
    for sequence in _sequences(user).select_for_update(of=("self",)):
        summary["datasets"][sequence.dataset.name] = _erase_sequence(sequence)
    record = ErasureRecord.objects.create(former_user_id=user.pk, summary=summary)
    user.delete()
    return record


def _erase_sequence(sequence: InteractionSequence) -> dict:
    count = sequence.interactions.count()
    if sequence.dataset.erasure_policy == Dataset.ErasurePolicy.DELETE or sequence.external_user_id.startswith(
        "account-"
    ):
        sequence.delete()
        return {"policy": "deleted", "interactions": count}
    anonymous_id = f"erased-{secrets.token_hex(8)}"
    sequence.interactions.filter(source=Interaction.Source.MANUAL).delete()
    InteractionSequence.objects.filter(pk=sequence.pk).update(user=None, external_user_id=anonymous_id, attributes={})
    return {"policy": "anonymised", "interactions": count}
