"""“Don't flag this again”: interactions a member declared part of their taste; every drift check respects them.

``respect`` is the hook ``recourse.services.drift.check_drift`` calls on its result: the member's choice is
applied after detection (the detector itself is unchanged), so a check whose flags were all such interactions
says "no drift", and one with other flags names only those.
"""

from django.db import transaction
from django.utils import timezone

from recourse.engine.narratives import join_titles
from recourse.models import NeverFlag
from recourse.selectors import never_flag_interaction_ids
from recsys.models import Interaction


def respect(check, *, user, dataset, muted: set[int] | None = None):
    """The drift check without the interactions the member asked never to flag (its stored result too);
    ``muted``: those interaction ids, when the caller has just read them."""
    muted = never_flag_interaction_ids(user, dataset) if muted is None else muted
    left_out = [row for row in check.flagged if row.pk in muted]
    if not left_out:
        return check
    kept = [row for row in check.flagged if row.pk not in muted]
    result = check.result
    names = join_titles([row.item.title for row in left_out])
    if result.drift and not kept:
        result.drift = False
        result.reason = "only interactions the member asked never to flag pull away from their usual taste"
        check.narrative = (f"Your recommendations match your usual interests once {names} count as part of your "
                           "taste, as you asked.")
    elif result.drift:
        check.narrative = (f"Your recommendations are drifting away from your usual interests, mostly because of "
                           f"{join_titles([row.item.title for row in kept[:3]])}. Not flagged, as you asked: {names}.")
    result.flagged_interaction_ids = [row.pk for row in kept]
    result.save(update_fields=["drift", "reason", "flagged_interaction_ids"])
    check.flagged = kept
    if isinstance(getattr(check, "changes", None), dict):  # a check that also proposes its fix
        check.changes = {pk: weight for pk, weight in check.changes.items() if pk not in muted}
    return check


def never_flag(*, user, interaction_id: int) -> NeverFlag:
    """Record the member's choice (once; again after an undo is a new record)."""
    with transaction.atomic():
        row = Interaction.objects.filter(pk=interaction_id, sequence__user=user).select_related("item").first()
        if row is None:
            raise Interaction.DoesNotExist("No such entry in your history.")
        existing = NeverFlag.objects.filter(user=user, interaction=row, undone_at__isnull=True).first()
        return existing or NeverFlag.objects.create(user=user, interaction=row)


def undo(*, user, flag_id: int) -> NeverFlag:
    flag = NeverFlag.objects.filter(pk=flag_id, user=user).select_related("interaction__item",
                                                                        "interaction__sequence__dataset").first()
    if flag is None:
        raise NeverFlag.DoesNotExist("No such choice.")
    if flag.undone_at is None:
        flag.undone_at = timezone.now()
        flag.save(update_fields=["undone_at"])
    return flag
