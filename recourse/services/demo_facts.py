"""Measured facts about a demo member's drift check, printed by setup_demo (so they are measured, not assumed).

The fix is tried through the product's own path: the suggestion is previewed, applied, the drift check run again,
and the correction undone (the history is restored exactly; the trial's correction and its check are then removed
so the member's pages start clean).
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from recourse.engine.wording import counted
from recourse.models import DriftResult, RecourseResult
from recsys.models import Interaction, InteractionSequence

from . import corrections, drift


@dataclass
class DriftFacts:
    drift: bool
    flagged: int
    flagged_burst: int | None  # flagged interactions that are the planted burst (None: no planted burst)
    burst: dict | None
    liked_outside_burst: int  # flagged films rated 4+ that are not burst films
    returning: list[str] = field(default_factory=list)
    fix_reaches_target: bool | None = None
    after_fix_drift: bool | None = None
    after_fix_flagged: int | None = None

    @property
    def burst_share(self) -> float | None:
        if self.flagged_burst is None or not self.flagged:
            return None
        return self.flagged_burst / self.flagged

    def lines(self) -> list[str]:
        verdict = "yes" if self.drift else "no"
        text = f"drift check says {verdict}; {counted(self.flagged, 'film')} flagged"
        if self.burst is not None:
            share = self.burst_share
            text += (f", {self.flagged_burst} of them in the planted burst ({self.burst['length']} films from "
                     f"{self.burst['start']})" + ("" if share is None else f" = {100 * share:.0f} % of flagged"))
        text += f"; flagged films rated 4+ outside the burst: {self.liked_outside_burst}"
        lines = [text]
        if self.fix_reaches_target is not None:
            lines.append(f"suggested fix puts {counted(len(self.returning), 'new title')} into the top 10 "
                         f"({', '.join(self.returning[:3])}{' …' if len(self.returning) > 3 else ''}); "
                         f"reaches its target: {'yes' if self.fix_reaches_target else 'no'}")
        if self.after_fix_drift is not None:
            lines.append(f"after applying it the drift check says {'yes' if self.after_fix_drift else 'no'} "
                         f"({self.after_fix_flagged} flagged); the trial was undone")
        return lines


def burst_rows(sequence: InteractionSequence) -> set[int] | None:
    """Interaction ids of the planted burst (the first `length` interactions from its start date), if any."""
    burst = sequence.attributes.get("planted_off_taste_burst")
    if not burst:
        return None
    # The exact first burst timestamp (the day alone would also count the member's own titles earlier that day)
    start = burst.get("start_timestamp") or int(datetime.fromisoformat(burst["start"]).replace(tzinfo=UTC).timestamp())
    rows = Interaction.objects.filter(sequence=sequence, timestamp__gte=start).chronological()
    return set(rows.values_list("pk", flat=True)[: burst["length"]])


def drift_facts(member, dataset) -> DriftFacts:
    sequence = InteractionSequence.objects.get(user=member, dataset=dataset)
    burst = burst_rows(sequence)
    check = drift.check_drift(user=member, dataset=dataset)
    flagged = {row.pk for row in check.flagged}
    liked = {row.pk for row in check.flagged if check.scale.is_liked(row.rating)}
    facts = DriftFacts(
        drift=check.result.drift, flagged=len(flagged), flagged_burst=None if burst is None else len(flagged & burst),
        burst=sequence.attributes.get("planted_off_taste_burst"), liked_outside_burst=len(liked - (burst or set())),
    )
    if not check.result.drift:
        return facts
    shown = corrections.suggest(user=member, dataset=dataset)
    facts.returning = [item.title for item in shown.entered]
    facts.fix_reaches_target = bool(shown.satisfied and shown.entered)
    if not shown.changes:
        return facts
    result = corrections.apply(user=member, dataset=dataset, changes=shown.changes, fingerprint=shown.fingerprint,
                               suggested=True)
    after = drift.check_drift(user=member, dataset=dataset)
    facts.after_fix_drift, facts.after_fix_flagged = after.result.drift, len(after.flagged)
    corrections.undo(user=member, result_id=result.pk)
    RecourseResult.objects.filter(pk=result.pk).delete()
    DriftResult.objects.filter(pk=after.result.pk).delete()
    return facts
