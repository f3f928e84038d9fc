"""Recourse for a member: preview a correction of their history, apply it, undo it.

A correction maps interaction ids to new weights: 0 excludes the interaction (the row stays,
its state becomes "excluded"), a weight in (0, 1) down-weights it. Nothing is ever deleted.
"""

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from django.db import transaction
from django.utils import timezone

from recourse.engine.alignment import alignment_from_logits
from recourse.engine.attribution import score_histories
from recourse.engine.drift_metrics import drift_metrics_from_logits
from recourse.engine.recourse_search import plan_recourse, search_recourse
from recourse.engine.sequences import History, seen_mask
from recourse.models import DriftResult, RecourseResult
from recourse.selectors import history_fingerprint, member_history
from recsys.models import Dataset, Interaction, InteractionSequence, Item, TrainedModel
from recsys.ratings import model_weight
from recsys.services import serving
from recsys.services.serving import loaded_model

from .context import categories_for, drift_calibration
from .drift import member_profile

STALE_PREVIEW = "Your history changed since this preview; please preview again."
NO_DRIFT_NOTE = ("Your latest drift check found no drift, so no change is needed. If your recommendations went "
                 "off after a certain day, pick that date to compare with how they were before it.")


class CorrectionError(Exception):
    """A correction that cannot be made; nothing was changed."""


@dataclass
class Preview:
    changes: dict[int, float]  # interaction id -> new weight (0 = exclude)
    titles: dict[int, str]  # interaction id -> title
    fingerprint: str
    alignment_before: float
    alignment_after: float
    ads: float
    dtc: float | None
    top_before: list[Item]
    top_after: list[Item]
    suggested: bool = False
    satisfied: bool | None = None
    note: str = ""
    entered: list[Item] = field(default_factory=list)
    left: list[Item] = field(default_factory=list)

    def metrics(self) -> dict:
        return {
            "alignment_before": self.alignment_before, "alignment_after": self.alignment_after, "ads": self.ads,
            "dtc": self.dtc, "top_before": [i.pk for i in self.top_before], "top_after": [i.pk for i in self.top_after],
        }


def preview(*, user, dataset: Dataset, changes: dict[int, float]) -> Preview:
    """What the recommendations would be with these changes. Changes nothing."""
    model, recommender = loaded_model(dataset)
    mine = member_history(user, dataset, recommender)
    _validate(changes, mine.interactions)
    return _preview(user, dataset, model, recommender, mine, changes)


def suggest(*, user, dataset: Dataset, went_off_after: datetime | None = None, min_rating: float | None = None):
    """The engine's smallest correction restoring alignment (eq. 6), as a preview.

    Without a date, a member whose latest drift check of this history found no drift is told that no
    change is needed instead of being offered removals that chase the alignment margin.
    """
    model, recommender = loaded_model(dataset)
    categories = categories_for(model, recommender)
    mine = member_history(user, dataset, recommender)
    if len(mine.history) < 3:
        raise CorrectionError("A suggestion needs at least three interactions in your history that the model knows.")
    profile = member_profile(mine.history, categories, interactions=mine.interactions, min_rating=min_rating)
    reference = _history_before(mine, went_off_after)
    check = _latest_check(user, model, mine) if min_rating is None else None
    if check is not None and not check.drift and reference is None:
        shown = _preview(user, dataset, model, recommender, mine, {}, profile=profile)
        shown.suggested, shown.satisfied, shown.note = True, True, NO_DRIFT_NOTE
        return shown
    if check is None:
        result = plan_recourse(recommender.model, mine.history, profile, categories,
                                 calibration=drift_calibration(model, recommender), reference=reference)
    else:
        result = search_recourse(recommender.model, mine.history, profile, categories,
                                 _ranked_positions(check, mine), reference=reference)
    changes = {mine.interactions[c.position].pk: c.weight for c in result.changes}
    shown = _preview(user, dataset, model, recommender, mine, changes, profile=profile)
    shown.suggested, shown.satisfied = True, result.satisfied
    shown.note = _suggestion_note(result, reference is not None)
    return shown


def _latest_check(user, model, mine) -> DriftResult | None:
    """The latest drift check of exactly this history and model (same profile: all active interactions)."""
    return DriftResult.objects.filter(user=user, trained_model=model, history_fingerprint=mine.fingerprint,
                                      method="ig_alignment").first()


def _ranked_positions(check: DriftResult, mine) -> np.ndarray:
    """History positions, most suspicious first, from a stored check (saves recomputing its IG pass).

    Ties, which need identical float scores, fall back to history order instead of the raw attribution.
    """
    position = {row.pk: p for p, row in enumerate(mine.interactions)}
    positions = np.array([position[pk] for pk in check.interaction_ids], dtype=np.int64)
    return positions[np.argsort(-np.asarray(check.drift_scores), kind="stable")]


def _history_before(mine, went_off_after: datetime | None) -> History | None:
    if went_off_after is None:
        return None
    if went_off_after > timezone.now():
        raise CorrectionError("That date is in the future; pick the day your recommendations went off.")
    cutoff = went_off_after.timestamp()
    keep = np.array([row.timestamp < cutoff for row in mine.interactions], dtype=bool)
    if keep.sum() < 3:
        raise CorrectionError("Fewer than three interactions come before that date; pick a later date.")
    return History(mine.history.items[keep], mine.history.weights[keep])


def _suggestion_note(result, with_reference: bool) -> str:
    goal = "your recommendations before the date you picked" if with_reference else "slightly better than now"
    if not result.changes:
        return "Your recommendations already match your usual interests; no change is needed."
    if result.satisfied:
        return f"These changes bring your recommendations back in line with your usual interests ({goal})."
    return (f"No correction of up to {len(result.changes)} changes reaches the target ({goal}), so HikmaX does not "
            "suggest applying one; below is the closest it found. You can still choose interactions yourself.")


def _preview(user, dataset, model, recommender, mine, changes: dict[int, float], profile=None) -> Preview:
    """The one path from a correction to what the member will see: the top 10 before and after come from
    ``serving.recommend_for_member`` (what For you shows), so the applied top 10 is the previewed one."""
    categories = categories_for(model, recommender)
    profile = member_profile(mine.history, categories) if profile is None else profile
    position = {row.pk: p for p, row in enumerate(mine.interactions)}
    changed = mine.history.reweighted({position[pk]: model_weight(weight, mine.interactions[position[pk]].rating)
                                       for pk, weight in changes.items()})
    network = recommender.model
    logits = score_histories(network, [mine.history, changed])
    exclude = np.repeat(seen_mask([mine.history], network.num_items), 2, axis=0)
    target = categories.dominant([mine.history.items[position[pk]] for pk in changes]) if changes else None
    metrics = drift_metrics_from_logits(logits[:1], logits[1:], exclude_before=exclude[:1], exclude_after=exclude[1:],
                                        categories=categories, target_categories=None if target is None else [target])
    alignment = alignment_from_logits(logits, np.stack([profile, profile]), categories)
    top_before = [rec.item for rec in serving.recommend_for_member(user, dataset).items]
    top_after = [rec.item for rec in serving.recommend_for_member(user, dataset, changes=changes).items]
    return Preview(
        changes=changes, titles={row.pk: row.item.title for row in mine.interactions if row.pk in changes},
        fingerprint=mine.fingerprint, alignment_before=float(alignment[0]), alignment_after=float(alignment[1]),
        ads=float(metrics.ads[0]), dtc=None if metrics.dtc is None else float(metrics.dtc[0]),
        top_before=top_before, top_after=top_after,
        entered=[i for i in top_after if i not in top_before], left=[i for i in top_before if i not in top_after],
    )


def _validate(changes: dict[int, float], interactions: list[Interaction]) -> None:
    if not changes:
        raise CorrectionError("Choose at least one interaction to remove or down-weight.")
    mine = {row.pk for row in interactions}
    for interaction_id, weight in changes.items():
        if interaction_id not in mine:
            raise CorrectionError(f"Interaction {interaction_id} is not an active entry of your history.")
        if not 0.0 <= weight < 1.0:
            raise CorrectionError(f"A weight must be at least 0 and below 1; got {weight}.")


def apply(*, user, dataset: Dataset, changes: dict[int, float], fingerprint: str, suggested: bool = False):
    """Apply a previewed correction; refused if the history changed since the preview.

    The metrics are computed before the row lock is taken and the fingerprint is checked again
    under it, so the lock is held only for the writes.
    """
    model, recommender = loaded_model(dataset)
    mine = member_history(user, dataset, recommender)
    if mine.fingerprint != fingerprint:
        raise CorrectionError(STALE_PREVIEW)
    _validate(changes, mine.interactions)
    shown = _preview(user, dataset, model, recommender, mine, changes)
    with transaction.atomic():
        sequence = _locked_sequence(user, dataset)
        if history_fingerprint(user, dataset) != fingerprint:
            raise CorrectionError(STALE_PREVIEW)
        records = [_change(row, changes[row.pk]) for row in mine.interactions if row.pk in changes]
        return RecourseResult.objects.create(
            user=user, sequence=sequence, trained_model=model, changes=records, metrics=shown.metrics(),
            suggested_by_engine=suggested,
        )


def _locked_sequence(user, dataset: Dataset) -> InteractionSequence:
    sequence = InteractionSequence.objects.select_for_update().filter(user=user, dataset=dataset).first()
    if sequence is None:
        raise CorrectionError("You have no history in this dataset.")
    return sequence


def _change(row: Interaction, weight: float) -> dict:
    before = {"state": row.state, "weight": row.weight}
    if weight == 0.0:
        row.state = Interaction.State.EXCLUDED
    else:
        row.weight = weight
    row.save(update_fields=["state", "weight"])
    return {"interaction_id": row.pk, "title": row.item.title, "before": before,
            "after": {"state": row.state, "weight": row.weight}}


def remove_from_history(*, user, interaction_id: int) -> RecourseResult:
    """My history's "Remove": the same exclusion as a fix (never deleted, never recommended), undoable."""
    return _set_state(user, interaction_id, Interaction.State.EXCLUDED)


def add_back(*, user, interaction_id: int) -> RecourseResult:
    """My history's "Add back" of a removed interaction, itself a correction that can be undone."""
    return _set_state(user, interaction_id, Interaction.State.ACTIVE)


def _set_state(user, interaction_id: int, state: str) -> RecourseResult:
    with transaction.atomic():
        row = (Interaction.objects.select_for_update().select_related("item", "sequence")
               .filter(pk=interaction_id, sequence__user=user).first())
        if row is None:
            raise Interaction.DoesNotExist("No such entry in your history.")
        if row.state == state:
            done = "removed" if state == Interaction.State.EXCLUDED else "in your history"
            raise CorrectionError(f"“{row.item.title}” is already {done}.")
        InteractionSequence.objects.select_for_update().filter(pk=row.sequence_id).first()
        before = {"state": row.state, "weight": row.weight}
        row.state = state
        row.save(update_fields=["state"])
        model = TrainedModel.objects.filter(dataset_id=row.sequence.dataset_id, is_active=True).first()
        change = {"interaction_id": row.pk, "title": row.item.title, "before": before,
                  "after": {"state": row.state, "weight": row.weight}}
        return RecourseResult.objects.create(user=user, sequence=row.sequence, trained_model=model, changes=[change],
                                             origin=RecourseResult.Origin.HISTORY)


def undo(*, user, result_id: int) -> RecourseResult:
    """Restore exactly the state before a correction."""
    with transaction.atomic():
        result = RecourseResult.objects.select_for_update().filter(pk=result_id, user=user).first()
        if result is None:
            raise RecourseResult.DoesNotExist("No such correction.")
        if result.is_undone:
            raise CorrectionError("This correction has already been undone.")
        InteractionSequence.objects.select_for_update().filter(pk=result.sequence_id).first()
        if not all(isinstance(change, dict) for change in result.changes):
            raise CorrectionError("This correction's record is incomplete, so it cannot be undone safely.")
        rows = Interaction.objects.filter(sequence_id=result.sequence_id).in_bulk(
            [change.get("interaction_id") for change in result.changes])
        # An entry deleted from the history since has nothing left to restore; the others are restored.
        present = [change for change in result.changes if change.get("interaction_id") in rows]
        for change in present:
            row = rows[change["interaction_id"]]
            if {"state": row.state, "weight": row.weight} != change.get("after"):
                raise CorrectionError(
                    f"“{change.get('title', 'An entry')}” was changed again after this correction (by a later "
                    "correction or on My history); undo that change first.")
        for change in present:
            Interaction.objects.filter(pk=change["interaction_id"]).update(**_restorable(change.get("before")))
        result.undone_at = timezone.now()
        result.save(update_fields=["undone_at"])
        result.gone = tuple(change.get("title", "An entry") for change in result.changes if change not in present)
        return result


def _restorable(before) -> dict:
    """The recorded state and weight before a change, refusing anything else a stored record might hold."""
    if not isinstance(before, dict) or before.get("state") not in Interaction.State.values:
        raise CorrectionError("This correction's record is incomplete, so it cannot be undone safely.")
    return {"state": before["state"], "weight": float(before.get("weight", 1.0))}
