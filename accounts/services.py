"""A member's data: export everything we hold about them, or erase it.

Each app registers what it holds (accounts.personal_data), so accounts imports none of them.
"""

from django.db import transaction
from django.utils import timezone

from . import personal_data, selectors
from .models import ErasureRecord, User


def export_user_data(user: User) -> dict:
    """Everything the account holds: its profile and admin actions, then every registered app's sections."""
    return {"exported_at": timezone.now().isoformat(), **selectors.export_for_user(user),
            **personal_data.export_sections(user)}


@transaction.atomic
def erase_account(user: User) -> ErasureRecord:
    """Delete the account after every app erased or anonymised what it holds about the member."""
    summary = personal_data.erase_everywhere(user)
    record = ErasureRecord.objects.create(former_user_id=user.pk, summary=summary)
    user.delete()
    return record
