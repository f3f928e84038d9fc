"""Recourse for a member: preview a correction of their history, apply it, undo it.

A correction maps interaction ids to new weights: 0 excludes the interaction (the row stays,
its state becomes "excluded"), a weight in (0, 1) down-weights it. Nothing is ever deleted.
"""

from dataclasses import dataclass, field

import numpy as np
from django.db import transaction
from django.utils import timezone

from recourse.engine.attribution import score_histories
from recourse.engine.drift_metrics import algorithmic_drift_score
from recourse.engine.taste import established_likelihood, log_probs_from_logits, visible
from recourse.models import DriftResult, RecourseResult
from recourse.selectors import history_fingerprint, member_history
from recsys import selectors
from recsys.models import Dataset, Interaction, InteractionSequence, Item, TrainedModel
from recsys.ratings import model_weight, scale_of
from recsys.services.serving import loaded_model
from recsys.vocabulary import words_for

from . import drift

STALE_PREVIEW = "Your history changed since this preview; please preview again."
NO_DRIFT_NOTE = ("Your drift check found no drift, so HikmaX suggests no change. "
                 "You can still choose titles to remove or lower yourself.")


class CorrectionError(Exception):
    """A correction that cannot be made; nothing was changed."""


@dataclass
class Preview:
    changes: dict[int, float]  # interaction id -> new weight (0 = exclude)
    titles: dict[int, str]  # interaction id -> title
    fingerprint: str
    # mean log-probability the next-item distribution gives the kept interactions; None when the change keeps none
    # (the mean over nothing was 0.0, the best possible figure, in the API and the stored metrics)
    taste_before: float | None
    taste_after: float | None
    ads: float  # Jensen-Shannon divergence (base 2) of the next-item distribution, now vs after
    top_before: list[Item]
    top_after: list[Item]
    suggested: bool = False
    satisfied: bool | None = None
    note: str = ""
    entered: list[Item] = field(default_factory=list)
    left: list[Item] = field(default_factory=list)
    check_id: int | None = None  # the drift check whose fix this is (suggestions)
    kept: int | None = None  # how many interactions the taste figures are taken over (0: none, they mean nothing)
    unchanged: int = 0  # interactions the change leaves as they are, counting for the model or not (rated too low)

    def metrics(self) -> dict:
        return {
            "taste_before": self.taste_before, "taste_after": self.taste_after, "ads": self.ads,
            "top_before": [i.pk for i in self.top_before], "top_after": [i.pk for i in self.top_after],
            "drift_check_id": self.check_id,
        }


def preview(*, user, dataset: Dataset, changes: dict[int, float]) -> Preview:
    """What the recommendations would be with these changes. Changes nothing."""
    loaded = loaded_model(dataset)
    mine = member_history(user, dataset, loaded[1])
    _validate(changes, mine.interactions, user, dataset)
    return _preview(user, dataset, loaded, mine, changes)


def suggest(*, user, dataset: Dataset) -> Preview:
    """The drift check's fix, as a preview: the SAME analysis of the SAME history (fingerprint) as the drift
    check page, so the check, the flagged interactions and the suggestion cannot disagree.

    The latest check of exactly this history and model is reused; without one, the check runs now (and is
    stored, as if the member had opened the drift check).
    """
    loaded = model, recommender = loaded_model(dataset)
    mine = member_history(user, dataset, recommender)
    if drift.too_short(mine):
        raise CorrectionError(drift.too_short_message("A suggestion", user, dataset))
    check = latest_check(user, model, mine.fingerprint)
    if check is None:
        check = drift.check_drift(user=user, dataset=dataset, loaded=loaded, mine=mine).result
    if not check.drift:
        shown = _preview(user, dataset, loaded, mine, {})
        shown.suggested, shown.satisfied, shown.note, shown.check_id = True, True, NO_DRIFT_NOTE, check.pk
        return shown
    changes = {int(pk): float(weight) for pk, weight in check.details.get("changes", {}).items()}
    shown = _preview(user, dataset, loaded, mine, changes)
    shown.suggested, shown.check_id = True, check.pk
    shown.satisfied = bool(shown.entered)
    shown.note = _suggestion_note(shown)
    return shown


def latest_check(user, model: TrainedModel, fingerprint: str) -> DriftResult | None:
    """The latest taste check of exactly this history and model."""
    return DriftResult.objects.filter(user=user, trained_model=model, history_fingerprint=fingerprint,
                                      method=drift.METHOD).first()


def _suggestion_note(shown: Preview) -> str:
    n = len(shown.changes)
    what = f"Leaving out {'this title' if n == 1 else f'these {n} titles'}, which do not fit the rest of your history,"
    if shown.entered:
        titles = "title" if len(shown.entered) == 1 else "titles"
        return (f"{what} puts {len(shown.entered)} new {titles} into your top 10 "
                f"({', '.join(item.title for item in shown.entered[:3])}{' …' if len(shown.entered) > 3 else ''}). "
                "This is exactly the fix your drift check found.")
    return f"{what} would not bring any new title into your top 10, so HikmaX does not suggest applying it."


def _preview(user, dataset, loaded, mine, changes: dict[int, float]) -> Preview:
    """The one path from a correction to what the member will see: the top 10 before and after come from
    ``serving.recommend_for_member`` (what For you shows), so the applied top 10 is the previewed one.
    ``loaded``: ``loaded_model``'s answer the history ``mine`` was read with."""
    _, recommender = loaded
    position = {row.pk: p for p, row in enumerate(mine.interactions)}
    scale = scale_of(dataset)
    changed = mine.history.reweighted({position[pk]: model_weight(weight, mine.interactions[position[pk]].rating,
                                                                  scale=scale)
                                       for pk, weight in changes.items()})
    network = recommender.model
    # One pass gives both the distributions (ADS) and Psi; without changes the two rows are the same history.
    logits = score_histories(network, [mine.history, changed] if changes else [mine.history])
    logits = logits if changes else np.repeat(logits, 2, axis=0)
    ads = algorithmic_drift_score(logits[:1], logits[1:])
    kept = np.asarray([i for p, i in enumerate(mine.history.items.tolist())
                       if mine.history.weights[p] > 0 and mine.interactions[p].pk not in changes], dtype=np.int64)
    taste: list[float | None] = [None, None]  # a change that keeps none has no taste to measure
    if len(kept):
        taste = [float(v) for v in established_likelihood(log_probs_from_logits(logits), [kept, kept])]
    top_before, top_after = drift.top_now_and_after(user, dataset, loaded, mine.fingerprint, changes)
    return Preview(
        changes=changes, titles={row.pk: row.item.title for row in mine.interactions if row.pk in changes},
        fingerprint=mine.fingerprint, taste_before=taste[0], taste_after=taste[1],
        ads=float(ads[0]), top_before=top_before, top_after=top_after,
        entered=[i for i in top_after if i not in top_before], left=[i for i in top_before if i not in top_after],
        note=_unread_note([position[pk] for pk in changes], mine.history, network.max_len), kept=len(kept),
        unchanged=len(mine.interactions) - len(changes),
    )


def _unread_note(positions: list[int], history, max_len: int) -> str:
    """Why a change cannot move the recommendations: the model reads none of the changed interactions, because each
    is older than what it reads or already counts for nothing (a rating too low to count). A 3-film member whose
    films were all rated 1 star read "the one you chose is older" than the 50 most recent interactions."""
    read = set(visible(history, max_len).tolist())
    if not positions or any(p in read for p in positions):
        return ""
    rated_out = sum(1 for p in positions if history.weights[p] == 0)
    older = len(positions) - rated_out
    one = len(positions) == 1
    if not older:
        return (f"Your rating already keeps {'the one you chose' if one else 'the ones you chose'} from counting, so "
                "your recommendations would not change.")
    if not rated_out:
        which = "the one you chose is" if one else "the ones you chose are"
        return (f"The model reads only your {max_len} most recent interactions; {which} older, so your "
                f"recommendations would not change.")
    return (f"The model reads only your {max_len} most recent interactions; of the ones you chose, "
            f"{older} {'is' if older == 1 else 'are'} older and your ratings already keep the others from "
            "counting, so your recommendations would not change.")


def _validate(changes: dict[int, float], interactions: list[Interaction], user, dataset: Dataset) -> None:
    """``interactions``: the member's active ones the model knows (``member_history``)."""
    if not changes:
        raise CorrectionError("Choose at least one interaction to remove or down-weight.")
    mine = {row.pk for row in interactions}
    for interaction_id, weight in changes.items():
        if interaction_id not in mine:
            active = selectors.member_interactions(user, dataset).active().filter(pk=interaction_id).first()
            if active is not None:  # imported or added after the model was trained
                raise CorrectionError(
                    f"Interaction {interaction_id} ({active.item.title}) is of {words_for(dataset).an_item} the "
                    "current model does not know yet, so changing it would not change your recommendations.")
            raise CorrectionError(f"Interaction {interaction_id} is not an active entry of your history.")
        if not 0.0 <= weight < 1.0:
            raise CorrectionError(f"A weight must be at least 0 and below 1; got {weight}.")


def apply(*, user, dataset: Dataset, changes: dict[int, float], fingerprint: str, suggested: bool = False):
    """Apply a previewed correction; refused if the history changed since the preview.

    The metrics are computed before the row lock is taken and the fingerprint is checked again
    under it, so the lock is held only for the writes.
    """
    loaded = model, recommender = loaded_model(dataset)
    mine = member_history(user, dataset, recommender)
    if mine.fingerprint != fingerprint:
        raise CorrectionError(STALE_PREVIEW)
    _validate(changes, mine.interactions, user, dataset)
    shown = _preview(user, dataset, loaded, mine, changes)
    check = latest_check(user, model, fingerprint) if suggested else None
    shown.check_id = None if check is None else check.pk
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
