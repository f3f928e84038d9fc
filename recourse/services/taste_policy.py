"""The ratings policy of the taste check (recsys.ratings), applied the same way to members and to the reference
histories it is calibrated on.

* Explicit evidence: an item the member marked "Not interested" (a deliberate action) is passed to the engine as an
  explicit dislike wherever it sits in the history the model reads (flagged first; the verdict's evidence counts
  it). An interaction rated 2.5 stars or lower (half the top of its dataset's scale, ``recsys.ratings``) counts as
  explicit evidence only where the check itself finds the title unusual: inside the recent window the check scores,
  less predictable from the rest of the history than the calibrated flag threshold. A low rating says the member
  did not enjoy a film, not that it pulls their recommendations away from their taste; a low-rated film the rest of
  their history predicts (an older film of their usual kind, say) is part of their established history, not a
  drift (docs/member-loop.md, "Drift check: what counts as evidence"). The ratings policy already gives it half
  weight in the model's input.
* Liked films: an interaction rated 4 stars or more (80 % of the scale's top) is never chosen for removal. It stays
  in the model's input; its suspicion is not scored, as for interactions older than the calibrated window. If the
  engine's second round still picks one, the fix is re-measured without it (its effect and, for the threshold
  rule, its evidence against the cutoff), so the fix and verdict shown are the ones measured.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from recourse.engine.sequences import History
from recourse.engine.taste import TasteMeasure, established_likelihood, final_log_probs, measure_taste
from recourse.engine.taste_recourse import TasteAnalysis, TasteCalibration, analyze_batch, evidence_of
from recourse.engine.wording import counted
from recsys.ratings import STARS, RatingScale

TOP_K = 10


@dataclass(frozen=True)
class Dislikes:
    """What a history's owner said against its interactions (caller positions, oldest first)."""

    low_rated: tuple[int, ...] = ()  # rated 2.5 stars or lower (RatingScale.is_low)
    not_interested: tuple[int, ...] = ()  # the item was marked "Not interested"


def dislikes(ratings: Sequence[float | None], hidden: Sequence[bool] | None = None, *,
             scale: RatingScale) -> Dislikes:
    hidden = hidden or [False] * len(ratings)
    pairs = list(zip(ratings, hidden, strict=True))
    return Dislikes(
        low_rated=tuple(p for p, (rating, _) in enumerate(pairs) if scale.is_low(rating)),
        not_interested=tuple(p for p, (_, not_interested) in enumerate(pairs) if not_interested),
    )


def counted_evidence(said: Dislikes, measure: TasteMeasure, calibration: TasteCalibration) -> list[int]:
    """The dislikes the check counts as explicit evidence: every "Not interested"; a low rating only on a title
    the check finds unusual (suspicion above the flag threshold; only titles in the scored window have one)."""
    scores = calibration.norm.scores(measure)
    unusual = {int(p) for p, score in zip(measure.positions.tolist(), scores.tolist(), strict=True)
               if score > calibration.flag_threshold}
    return sorted(set(said.not_interested) | {p for p in said.low_rated if p in unusual})


def protected_positions(ratings: Sequence[float | None], *, scale: RatingScale) -> set[int]:
    return {position for position, rating in enumerate(ratings) if scale.is_liked(rating)}


def analyze_rated(network, history: History, calibration: TasteCalibration, explicit: Dislikes,
                  protected: set[int], *, scale: RatingScale = STARS) -> TasteAnalysis:
    """One member's taste analysis under the policy."""
    return analyze_rated_batch(network, [history], calibration, [explicit], [protected], scale=scale)[0]


def analyze_rated_batch(network, histories: Sequence[History], calibration: TasteCalibration,
                        explicit: Sequence[Dislikes], protected: Sequence[set[int]], *,
                        scale: RatingScale = STARS) -> list[TasteAnalysis]:
    """Many histories under the policy, in the engine's batched passes. ``scale``: the dataset's rating scale, which
    the reasons name the liked titles' threshold on (``explicit`` and ``protected`` were already read on it;
    benchmarks' MovieLens histories are five stars)."""
    measures = measure_taste(network, list(histories), window=calibration.window, candidates_only=True)
    counted = [counted_evidence(said, measure, calibration) for said, measure in zip(explicit, measures, strict=True)]
    masked = []
    for measure, kept in zip(measures, protected, strict=True):
        keep = np.asarray([int(p) not in kept for p in measure.positions], dtype=bool)
        masked.append(replace(measure, candidates=measure.candidates & keep))
    analyses = analyze_batch(network, list(histories), calibration, explicit=counted, measures=masked)
    return [_restricted(network, history, analysis, kept, calibration, scale=scale)
            if any(change.position in kept for change in analysis.changes) else analysis
            for history, analysis, kept in zip(histories, analyses, protected, strict=True)]


def _restricted(network, history: History, analysis: TasteAnalysis, protected: set[int],
                calibration: TasteCalibration, *, scale: RatingScale) -> TasteAnalysis:
    """The analysis with the protected positions taken out of its fix; objective, top 10, evidence and verdict
    re-measured."""
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
    evidence = fix_evidence(analysis, plan, calibration)
    strong = evidence is None or evidence > analysis.gain_cutoff
    drift = analysis.drift and bool(changes) and after > before and moved and strong
    measured = Remeasured(before=before, after=after, evidence=evidence, cutoff=analysis.gain_cutoff)
    reason = kept_fix_reason(len(changes), measured, scale=scale) if drift else restricted_reason(
        analysis.reason, changes=bool(changes), moved=moved, measured=measured, scale=scale)
    return replace(analysis, changes=changes, corrected=corrected, objective_before=before, objective_after=after,
                   top_before=tops[0], top_after=tops[1], drift=drift, verdict="drift: yes" if drift else "drift: no",
                   reason=reason)


@dataclass(frozen=True)
class Remeasured:
    """What the fix without the protected titles was re-measured at: the likelihood of the established taste before
    and after it and, where the verdict counts the fix's evidence (the threshold rule), its evidence and cutoff."""

    before: float
    after: float
    evidence: float | None = None
    cutoff: float | None = None

    def evidence_words(self, relation: str) -> str:
        return "" if self.evidence is None else f" (evidence {self.evidence:.2f} {relation} {self.cutoff:.2f})"


def fix_evidence(analysis: TasteAnalysis, plan: dict[int, float], calibration: TasteCalibration) -> float | None:
    """The verdict's evidence for `plan` where the verdict counts the fix's own evidence (verdict_top 0), else None
    (the verdict statistic is the most unusual candidates' suspicion, whatever the fix)."""
    if calibration.verdict_top > 0:
        return None
    return evidence_of(plan, analysis.positions, analysis.scores, analysis.explicit_positions.tolist(),
                       calibration.flag_threshold)


def kept_fix_reason(count: int, measured: Remeasured, *, scale: RatingScale) -> str:
    """The reason for a fix that still holds without the protected titles, in the re-measured fix's own count,
    evidence and gain: the engine's reason counted and measured the fix with them, not the one the page shows."""
    one = count == 1
    return (f"{counted(count, 'interaction')} {'is' if one else 'are'} far less predictable from the rest of your "
            f"history than usual{measured.evidence_words('>')}; leaving {'it' if one else 'them'} out (not the "
            f"unusual ones you rated "
            f"{scale.liked_words} or asked never to flag) raises the likelihood of your established taste by "
            f"{measured.after - measured.before:.3f} nats")


def restricted_reason(engine_reason: str, *, changes: bool, moved: bool, measured: Remeasured,
                      scale: RatingScale) -> str:
    """Why a fix without the protected titles is not drift: the first condition the re-measured fix fails, else the
    engine's own reason (its fix already failed the evidence test). Each sentence agrees with the numbers shown
    beside it (the likelihood before and after)."""
    if not changes:
        return (f"the fix the check found would only leave out titles you rated {scale.liked_words}"
                f" or asked never to flag, and those are never left out")
    if not moved:
        return "leaving out the unusual titles you did not rate highly would not bring any new title into your top 10"
    if measured.after <= measured.before:
        return ("leaving out the unusual titles you did not rate highly would not bring the recommendations closer "
                "to your taste")
    if measured.evidence is not None and measured.cutoff is not None and measured.evidence <= measured.cutoff:
        return (f"the unusual titles you did not rate highly are within what clean histories show"
                f"{measured.evidence_words('<=')}")
    return engine_reason
