"""The ratings policy of the taste check (recsys.ratings), applied the same way to members and to the reference
histories it is calibrated on.

* Explicit evidence: an item the member marked "Not interested" (a deliberate action) is passed to the engine as an
  explicit dislike wherever it sits in the history the model reads (flagged first; the verdict's evidence counts
  it). An interaction rated 2.5 stars or lower counts as explicit evidence only where the check itself finds the
  title unusual: inside the recent window the check scores, less predictable from the rest of the history than
  the calibrated flag threshold. A low rating says the member did not enjoy a film, not that it pulls their
  recommendations away from their taste; a low-rated film the rest of their history predicts (an older film of
  their usual kind, say) is part of their established history, not a drift (docs/member-loop.md, "Drift check:
  what counts as evidence"). The ratings policy already gives it half weight in the model's input.
* Liked films: an interaction rated 4 stars or more is never chosen for removal. It stays in the model's input;
  its suspicion is not scored, as for interactions older than the calibrated window. If the engine's second
  round still picks one, the fix is re-measured without it, so the fix shown is the one whose effect was measured.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from recourse.engine.sequences import History
from recourse.engine.taste import TasteMeasure, established_likelihood, final_log_probs, measure_taste
from recourse.engine.taste_recourse import TasteAnalysis, TasteCalibration, analyze_batch
from recsys.ratings import SO_SO_AT_MOST

LIKED_AT_LEAST = 4.0
TOP_K = 10


@dataclass(frozen=True)
class Dislikes:
    """What a history's owner said against its interactions (caller positions, oldest first)."""

    low_rated: tuple[int, ...] = ()  # rated 2.5 stars or lower
    not_interested: tuple[int, ...] = ()  # the item was marked "Not interested"


def dislikes(ratings: Sequence[float | None], hidden: Sequence[bool] | None = None) -> Dislikes:
    hidden = hidden or [False] * len(ratings)
    pairs = list(zip(ratings, hidden, strict=True))
    return Dislikes(
        low_rated=tuple(p for p, (rating, _) in enumerate(pairs) if rating is not None and rating <= SO_SO_AT_MOST),
        not_interested=tuple(p for p, (_, not_interested) in enumerate(pairs) if not_interested),
    )


def counted_evidence(said: Dislikes, measure: TasteMeasure, calibration: TasteCalibration) -> list[int]:
    """The dislikes the check counts as explicit evidence: every "Not interested"; a low rating only on a title
    the check finds unusual (suspicion above the flag threshold; only titles in the scored window have one)."""
    scores = calibration.norm.scores(measure)
    unusual = {int(p) for p, score in zip(measure.positions.tolist(), scores.tolist(), strict=True)
               if score > calibration.flag_threshold}
    return sorted(set(said.not_interested) | {p for p in said.low_rated if p in unusual})


def protected_positions(ratings: Sequence[float | None]) -> set[int]:
    return {position for position, rating in enumerate(ratings) if rating is not None and rating >= LIKED_AT_LEAST}


def analyze_rated(network, history: History, calibration: TasteCalibration, explicit: Dislikes,
                  protected: set[int]) -> TasteAnalysis:
    """One member's taste analysis under the policy."""
    return analyze_rated_batch(network, [history], calibration, [explicit], [protected])[0]


def analyze_rated_batch(network, histories: Sequence[History], calibration: TasteCalibration,
                        explicit: Sequence[Dislikes], protected: Sequence[set[int]]) -> list[TasteAnalysis]:
    """Many histories under the policy, in the engine's batched passes."""
    measures = measure_taste(network, list(histories), window=calibration.window, candidates_only=True)
    counted = [counted_evidence(said, measure, calibration) for said, measure in zip(explicit, measures, strict=True)]
    masked = []
    for measure, kept in zip(measures, protected, strict=True):
        keep = np.asarray([int(p) not in kept for p in measure.positions], dtype=bool)
        masked.append(replace(measure, candidates=measure.candidates & keep))
    analyses = analyze_batch(network, list(histories), calibration, explicit=counted, measures=masked)
    return [_restricted(network, history, analysis, kept)
            if any(change.position in kept for change in analysis.changes) else analysis
            for history, analysis, kept in zip(histories, analyses, protected, strict=True)]


def _restricted(network, history: History, analysis: TasteAnalysis, protected: set[int]) -> TasteAnalysis:
    """The analysis with the protected positions taken out of its fix; objective, top 10 and verdict re-measured."""
    changes = [change for change in analysis.changes if change.position not in protected]
    plan = {change.position: change.weight for change in changes}
    corrected = history.reweighted(plan) if plan else history
    final = final_log_probs(network, [history, corrected])
    established = analysis.items[~np.isin(analysis.positions, analysis.flagged_positions)]
    before, after = established_likelihood(final, [established, established]).tolist()
    tops = []
    for row in range(2):
        scores = final[row].copy()
        scores[history.items - 1] = -np.inf
        tops.append((np.argsort(-scores, kind="stable")[:TOP_K] + 1).astype(np.int64))
    moved = set(tops[0].tolist()) != set(tops[1].tolist())
    drift = analysis.drift and bool(changes) and after > before and moved
    reason = kept_fix_reason(len(changes), before=before, after=after) if drift else restricted_reason(
        analysis.reason, changes=bool(changes), moved=moved, before=before, after=after)
    return replace(analysis, changes=changes, corrected=corrected, objective_before=before, objective_after=after,
                   top_before=tops[0], top_after=tops[1], drift=drift, verdict="drift: yes" if drift else "drift: no",
                   reason=reason)


def kept_fix_reason(count: int, *, before: float, after: float) -> str:
    """The reason for a fix that still holds without the protected films, in the re-measured fix's own count and
    gain: the engine's reason counted and measured the fix with them, not the one the page shows."""
    return (f"{count} interaction(s) are far less predictable from the rest of your history than usual; leaving "
            f"them out (not the unusual ones you rated 4 stars or more or asked never to flag) raises the likelihood "
            f"of your established taste by {after - before:.3f} nats")


def restricted_reason(engine_reason: str, *, changes: bool, moved: bool, before: float, after: float) -> str:
    """Why a fix without the protected films is not drift: the first condition the re-measured fix fails, else the
    engine's own reason (its fix already failed the evidence test). Each sentence agrees with the numbers shown
    beside it (the likelihood before and after)."""
    if not changes:
        return ("the fix the check found would only leave out films you rated 4 stars or more or asked never to "
                "flag, and those are never left out")
    if not moved:
        return "leaving out the unusual films you did not rate highly would not bring any new title into your top 10"
    if after <= before:
        return ("leaving out the unusual films you did not rate highly would not bring the recommendations closer "
                "to your taste")
    return engine_reason
