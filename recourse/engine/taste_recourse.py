"""Taste-consistency drift check and recourse (issue 19): one analysis per history.

Detection: interactions whose suspicion (recency-normalised surprisal + pull, see taste.py) is above
the threshold calibrated on clean members, plus explicit evidence (low ratings, "Not interested").

Objective: Psi(H') = mean log-probability the next-item distribution after H' gives the member's
ESTABLISHED interactions (the visible ones not flagged). Drift moves probability away from them;
a good correction gives it back. Psi needs no categories.

Recourse: removal prefixes of the flagged order are scored in one batched pass; the smallest
prefix winning at least `share` of the best gain is kept, then each of its removals is tried as a
down-weight (0.5) in one more pass and kept milder when the gain holds.

Verdict: "drift: yes" only when the evidence the fix removes (the summed excess suspicion of its
changes over the flag threshold; an explicit dislike adds 1) exceeds the cutoff calibrated on clean
members (so clean members get "no" at the calibrated rate) AND the fix measurably moves the
recommendations back: Psi rises and the top 10 changes; the result lists what returns to the top 10.
(Psi gain itself is a poor verdict statistic: the pruning step optimises it, so clean members show
large gains too.)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from .sequences import History, without_positions
from .taste import (
    DEFAULT_WINDOW,
    BoolArray,
    CausalModel,
    FloatArray,
    IntArray,
    TasteMeasure,
    TasteNorm,
    established_likelihood,
    final_log_probs,
    measure_taste,
)

METHOD = "taste"
DEFAULT_FLAG_QUANTILE = 0.80
DEFAULT_VERDICT_QUANTILE = 0.95
DEFAULT_MAX_CHANGES = 12
TOP_K = 10


@dataclass
class TasteCalibration:
    """Thresholds fitted on clean members of one model; store it with the model (to_json)."""

    norm: TasteNorm
    flag_threshold: float  # suspicion above this flags an interaction
    gain_cutoff: float  # evidence (unexplained surprise the fix removes) needed for "drift: yes"
    false_alarm_rate: float  # share of clean members judged "drift: yes"
    false_alarm_basis: str  # "held-out" or "in-sample"
    n_reference: int
    flag_quantile: float = DEFAULT_FLAG_QUANTILE
    verdict_quantile: float = DEFAULT_VERDICT_QUANTILE
    window: int = DEFAULT_WINDOW
    max_changes: int = DEFAULT_MAX_CHANGES
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        data = asdict(self)
        data["norm"] = asdict(self.norm)
        return json.dumps(data)

    @classmethod
    def from_json(cls, text: str) -> TasteCalibration:
        data = json.loads(text)
        data["norm"] = TasteNorm(**data["norm"])
        return cls(**data)


@dataclass(frozen=True)
class TasteChange:
    position: int  # caller interaction index
    item: int
    action: str  # "remove" or "down_weight"
    weight: float


@dataclass(frozen=True)
class TasteAnalysis:
    """Drift check, flagged interactions and the suggested fix, all from one analysis."""

    method: str
    positions: IntArray  # visible caller indices, oldest first
    items: IntArray
    scores: FloatArray  # suspicion per visible position (-inf: not a candidate)
    surprisal: FloatArray
    pull: FloatArray
    flagged_positions: IntArray  # most suspicious first (explicit evidence first)
    explicit_positions: IntArray
    changes: list[TasteChange]
    objective_before: float  # Psi(current)
    objective_after: float  # Psi(corrected)
    gain_cutoff: float  # the calibrated evidence cutoff
    drift: bool
    verdict: str
    reason: str
    top_before: IntArray
    top_after: IntArray
    corrected: History
    candidates_scored: int

    @property
    def gain(self) -> float:
        return self.objective_after - self.objective_before

    @property
    def returning(self) -> IntArray:
        """Items the fix brings (back) into the top 10."""
        return np.asarray([i for i in self.top_after if i not in set(self.top_before.tolist())], dtype=np.int64)

    @property
    def leaving(self) -> IntArray:
        return np.asarray([i for i in self.top_before if i not in set(self.top_after.tolist())], dtype=np.int64)

    def ranked_positions(self) -> IntArray:
        """Every candidate position, most suspicious first."""
        order = np.argsort(-self.scores, kind="stable")
        return self.positions[order][np.isfinite(self.scores[order])]


# --- analysis --------------------------------------------------------------------------------


def analyze_batch(
    model: CausalModel,
    histories: Sequence[History],
    calibration: TasteCalibration,
    *,
    explicit: Sequence[Sequence[int]] | None = None,
    measures: Sequence[TasteMeasure] | None = None,
) -> list[TasteAnalysis]:
    """Check many histories: flag (two rounds), prune the fix to what helps, judge it; batched passes."""
    histories = list(histories)
    if measures is None:
        measures = measure_taste(model, histories, window=calibration.window)
    explicit = explicit or [[] for _ in histories]
    scores = [calibration.norm.scores(m) for m in measures]
    flagged = [
        _flag_order(m, s, calibration.flag_threshold, e, calibration.max_changes)
        for m, s, e in zip(measures, scores, explicit, strict=True)
    ]
    flagged = _second_round(model, histories, flagged, calibration)
    plans = [_pruning_plans(order) for order in flagged]
    psi, tops, count = _evaluate_plans(model, histories, measures, flagged, plans)
    chosen = [_pruned(plans[row], psi[row]) for row in range(len(histories))]
    final_psi, final_tops, _ = _evaluate_plans(model, histories, measures, flagged, [[plan] for plan in chosen])
    return [
        _analysis(history, measures[row], scores[row], flagged[row], explicit[row], chosen[row], float(psi[row][0]),
                  float(final_psi[row][0]), tops[row][0], final_tops[row][0], calibration, count[row] + 1)
        for row, history in enumerate(histories)
    ]


def evidence_of(plan: dict[int, float], measure: TasteMeasure, scores: FloatArray, explicit: Sequence[int],
                threshold: float) -> float:
    """Summed excess suspicion of the changed interactions over the flag threshold (+1 per explicit dislike)."""
    by_position = dict(zip(measure.positions.tolist(), scores.tolist(), strict=True))
    disliked = {int(p) for p in explicit}
    return float(sum(max(by_position.get(p, threshold) - threshold, 0.0) + (1.0 if p in disliked else 0.0)
                     for p in plan))


def analyze(model: CausalModel, history: History, calibration: TasteCalibration,
            explicit: Sequence[int] = ()) -> TasteAnalysis:
    return analyze_batch(model, [history], calibration, explicit=[list(explicit)])[0]


def _flag_order(
    measure: TasteMeasure, scores: FloatArray, threshold: float, explicit: Sequence[int], max_changes: int
) -> IntArray:
    """Explicitly disliked visible interactions first, then candidates above the threshold, by score."""
    visible_positions = set(measure.positions.tolist())
    visible_explicit = [int(p) for p in explicit if int(p) in visible_positions]
    order = np.argsort(-scores, kind="stable")
    above = [int(measure.positions[i]) for i in order
             if scores[i] > threshold and int(measure.positions[i]) not in visible_explicit]
    return np.asarray((visible_explicit + above)[:max_changes], dtype=np.int64)


def _second_round(
    model: CausalModel, histories: Sequence[History], flagged: list[IntArray], calibration: TasteCalibration
) -> list[IntArray]:
    """Re-measure without the first flags: genuine items after a burst stop looking odd, injected ones do not."""
    rows = [row for row, f in enumerate(flagged) if len(f)]
    if not rows:
        return flagged
    reduced = [without_positions(histories[row], flagged[row].tolist()) for row in rows]
    again = measure_taste(model, reduced, window=calibration.window)
    result = list(flagged)
    for row, measure in zip(rows, again, strict=True):
        scores = calibration.norm.scores(measure)
        more = [p for p in _flag_order(measure, scores, calibration.flag_threshold, [], calibration.max_changes)
                if p not in set(flagged[row].tolist())]
        result[row] = np.asarray((flagged[row].tolist() + more)[: calibration.max_changes], dtype=np.int64)
    return result


def _pruning_plans(order: IntArray) -> list[dict[int, float]]:
    """Plan 0 = no change, plan 1 = every flagged interaction removed, then each flagged one kept back."""
    if not len(order):
        return [{}]
    everything = {int(p): 0.0 for p in order}
    return [{}, everything] + [{p: w for p, w in everything.items() if p != int(kept)} for kept in order]


def _pruned(plans: list[dict[int, float]], psi: FloatArray) -> dict[int, float]:
    """All flagged removed, minus those whose removal does not raise Psi (each removal must help)."""
    if len(plans) == 1:
        return {}
    kept_back = [next(iter(set(plans[1]) - set(plans[index]))) for index in range(2, len(plans))]
    needless = {p for p, value in zip(kept_back, psi[2:], strict=True) if value >= psi[1]}
    return {p: w for p, w in plans[1].items() if p not in needless}


def _evaluate_plans(
    model: CausalModel,
    histories: Sequence[History],
    measures: Sequence[TasteMeasure],
    flagged: Sequence[IntArray],
    plans: Sequence[Sequence[dict[int, float]]],
) -> tuple[list[FloatArray], list[list[IntArray]], list[int]]:
    """Psi and top-10 of every plan of every history, in one batched pass."""
    variants: list[History] = []
    owners: list[int] = []
    for row, (history, member_plans) in enumerate(zip(histories, plans, strict=True)):
        for plan in member_plans:
            variants.append(history.reweighted(plan) if plan else history)
            owners.append(row)
    final = final_log_probs(model, variants)
    established = [_established(measures[row], flagged[row]) for row in owners]
    values = established_likelihood(final, established)
    seen = [histories[row].items for row in owners]
    tops = _top_k(final, seen)
    psi: list[FloatArray] = [np.zeros(0) for _ in histories]
    top_lists: list[list[IntArray]] = [[] for _ in histories]
    for index, row in enumerate(owners):
        psi[row] = np.append(psi[row], values[index])
        top_lists[row].append(tops[index])
    return psi, top_lists, [len(p) for p in plans]


def _established(measure: TasteMeasure, flagged: IntArray) -> IntArray:
    keep = ~np.isin(measure.positions, flagged)
    return measure.items[keep]


def _top_k(final: FloatArray, seen: Sequence[IntArray], k: int = TOP_K) -> list[IntArray]:
    tops = []
    for row, items in enumerate(seen):
        scores = final[row].copy()
        scores[np.asarray(items, dtype=np.int64) - 1] = -np.inf
        best = np.argpartition(-scores, k - 1)[:k]
        tops.append((best[np.argsort(-scores[best], kind="stable")] + 1).astype(np.int64))
    return tops


def _analysis(
    history: History, measure: TasteMeasure, scores: FloatArray, flagged: IntArray, explicit: Sequence[int],
    plan: dict[int, float], before: float, after: float, top_before: IntArray, top_after: IntArray,
    calibration: TasteCalibration, scored: int,
) -> TasteAnalysis:
    changes = [TasteChange(p, int(history.items[p]), "remove" if w == 0 else "down_weight", w)
               for p, w in plan.items()]
    moved = not np.array_equal(np.sort(top_before), np.sort(top_after))
    gain = after - before
    evidence = evidence_of(plan, measure, scores, explicit, calibration.flag_threshold)
    cutoff = calibration.gain_cutoff
    drift = bool(changes) and evidence > cutoff and gain > 0 and moved
    if not len(flagged):
        reason = "every recent interaction fits what the rest of the history predicts"
    elif not changes:
        reason = "leaving out the unusual interactions would not bring the recommendations closer to your taste"
    elif drift:
        reason = (f"{len(changes)} interaction(s) are far less predictable from the rest of your history than "
                  f"usual (evidence {evidence:.2f} > {cutoff:.2f}, what clean histories show); leaving them out "
                  f"raises the likelihood of your established taste by {gain:.3f} nats")
    elif not moved:
        reason = "the suggested change would not change your top 10"
    elif gain <= 0:
        reason = "leaving out the unusual interactions would not bring the recommendations closer to your taste"
    else:
        reason = (f"the unusual interactions are within what clean histories show (evidence {evidence:.2f} "
                  f"<= {cutoff:.2f})")
    corrected = history.reweighted(plan) if plan else history
    return TasteAnalysis(
        method=METHOD, positions=measure.positions, items=measure.items, scores=scores,
        surprisal=measure.surprisal, pull=measure.pull_total, flagged_positions=flagged,
        explicit_positions=np.asarray([p for p in explicit if p in set(flagged.tolist())], dtype=np.int64),
        changes=changes, objective_before=before, objective_after=after, gain_cutoff=cutoff, drift=drift,
        verdict="drift: yes" if drift else "drift: no", reason=reason, top_before=top_before, top_after=top_after,
        corrected=corrected, candidates_scored=scored,
    )


# --- calibration -----------------------------------------------------------------------------


def calibrate_taste(
    model: CausalModel,
    clean_histories: Sequence[History],
    *,
    flag_quantile: float = DEFAULT_FLAG_QUANTILE,
    verdict_quantile: float = DEFAULT_VERDICT_QUANTILE,
    holdout_fraction: float = 0.3,
    window: int = DEFAULT_WINDOW,
    max_changes: int = DEFAULT_MAX_CHANGES,
) -> TasteCalibration:
    """Fit the norm, the flag threshold and the verdict cutoff on clean members; measure false alarms."""
    histories = [h for h in clean_histories if (h.weights > 0).sum() >= 3]
    if len(histories) < 5:
        raise ValueError("need at least 5 clean histories with 3 or more interactions to calibrate")
    n_fit = len(histories) - int(len(histories) * holdout_fraction) if len(histories) >= 10 else len(histories)
    fit, held_out = histories[:n_fit], histories[n_fit:]
    measures = measure_taste(model, histories, window=window)
    norm = TasteNorm.fit(measures[:n_fit], model.max_len)  # surprisal only, see TasteNorm.use_pull
    pooled = np.concatenate([s[np.isfinite(s)] for s in (norm.scores(m) for m in measures[:n_fit])])
    threshold = float(np.quantile(pooled, flag_quantile)) if pooled.size else float("inf")
    calibration = TasteCalibration(
        norm=norm, flag_threshold=threshold, gain_cutoff=-np.inf, false_alarm_rate=float("nan"),
        false_alarm_basis="held-out" if held_out else "in-sample", n_reference=len(histories),
        flag_quantile=flag_quantile, verdict_quantile=verdict_quantile, window=window, max_changes=max_changes,
    )
    fit_analyses = analyze_batch(model, fit, calibration, measures=measures[:n_fit])
    fit_evidence = [evidence_of({c.position: c.weight for c in a.changes}, m, a.scores, [], threshold)
                    for a, m in zip(fit_analyses, measures[:n_fit], strict=True)]
    calibration.gain_cutoff = float(np.quantile(fit_evidence, verdict_quantile))
    check, check_measures = (held_out, measures[n_fit:]) if held_out else (fit, measures[:n_fit])
    verdicts = [a.drift for a in analyze_batch(model, check, calibration, measures=check_measures)]
    calibration.false_alarm_rate = float(np.mean(verdicts))
    return calibration


def suspicion_of(analysis: TasteAnalysis) -> tuple[IntArray, FloatArray]:
    """(positions, finite suspicion) for detection metrics: non-candidates score lowest."""
    finite = np.where(np.isfinite(analysis.scores), analysis.scores, -1e9)
    return analysis.positions, finite


def flagged_mask(analysis: TasteAnalysis) -> BoolArray:
    return np.isin(analysis.positions, analysis.flagged_positions)
