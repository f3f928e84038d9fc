"""A member's data: export everything we hold about them, or erase it."""

import csv
import io
import secrets

from django.db import transaction

from recsys.models import Dataset, Interaction, InteractionSequence

from .models import ErasureRecord, User

INTERACTION_FIELDS = [
    "dataset",
    "external_user_id",
    "item_external_id",
    "title",
    "timestamp",
    "rating",
    "weight",
    "state",
    "source",
]


def export_user_data(user: User) -> dict:
    from recourse.selectors import export_for_user as recourse_export

    return {
        "profile": {
            "username": user.username,
            "email": user.email,
            "role": user.role,
            "date_joined": user.date_joined.isoformat(),
            "last_login": user.last_login.isoformat() if user.last_login else None,
        },
        "histories": [_sequence_export(sequence) for sequence in _sequences(user)],
        **recourse_export(user),
    }


def _sequences(user):
    return InteractionSequence.objects.filter(user=user).select_related("dataset").order_by("dataset__name")


def _sequence_export(sequence: InteractionSequence) -> dict:
    rows = sequence.interactions.select_related("item").order_by(*Interaction.CHRONOLOGICAL)
    return {
        "dataset": sequence.dataset.name,
        "external_user_id": sequence.external_user_id,
        "interactions": [_interaction_row(sequence, row) for row in rows],
    }


def _interaction_row(sequence, row) -> dict:
    return {
        "dataset": sequence.dataset.name,
        "external_user_id": sequence.external_user_id,
        "item_external_id": row.item.external_id,
        "title": row.item.title,
        "timestamp": row.timestamp,
        "rating": row.rating,
        "weight": row.weight,
        "state": row.state,
        "source": row.source,
    }


def export_interactions_csv(user: User) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=INTERACTION_FIELDS)
    writer.writeheader()
    for sequence in _sequences(user):
        for row in _sequence_export(sequence)["interactions"]:
            writer.writerow(row)
    return buffer.getvalue()


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
