"""Taste-consistency drift check and recourse (issue 19): one analysis per history.

Detection: interactions whose suspicion (recency-normalised surprisal + pull, see taste.py) is above
the threshold calibrated on clean members, plus explicit evidence (low ratings, "Not interested").

Objective: Psi(H') = mean log-probability the next-item distribution after H' gives the member's
ESTABLISHED interactions (the visible ones not flagged). Drift moves probability away from them;
a good correction gives it back. Psi needs no categories.

Recourse (choice "prefix", the default of calibrate_taste since the second measurement): the
candidates are ranked by suspicion (explicit dislikes first; a second round re-ranks the rest with
the first-round flags left out), and every prefix of that order (remove the 0, 1, ..., `depth` most
suspicious) is scored in one batched pass; the prefix maximising Psi - removal_cost x size is the fix.
Psi is measured on the same established items for every prefix (the visible ones outside the
searched order), so prefixes compare fairly. removal_cost (nats per removal) is calibrated with
simulated drift on the clean reference members (see calibrate_taste), not on the members judged.
Choice "threshold" (the first measurement; calibrations stored before the second one load with it):
remove every flag, then keep back each flag whose removal does not raise Psi.
Choice "joint" (the third measurement, taste_joint.py): the plan - a prefix of the same order, a run of
consecutive interactions or a neighbour of the best one - that best explains the recent history as taste
plus off-taste noise; its verdict can use the J gain of the fix ("glr").

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
from typing import Any

import numpy as np

from .injection import inject
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
from .taste_joint import (
    FIX_OBJECTIVES,
    NOISE_MARGINS,
    NOISE_MODELS,
    VERDICT_STATISTICS,
    JointCurve,
    calibrate_joint,
    joint_curves,
    valid_statistic,
)
from .wording import counted

METHOD = "taste"
DEFAULT_FLAG_QUANTILE = 0.80
DEFAULT_VERDICT_QUANTILE = 0.96  # nominal 4 %: room for the sampling error of a quantile on ~140 members
DEFAULT_VERDICT_TOP = 3  # choice "prefix": the verdict sums the suspicion of the 3 most unusual candidates
DEFAULT_MAX_CHANGES = 12
TOP_K = 10
CHOICES = ("prefix", "threshold", "joint")
REMOVAL_COSTS = (0.0, 0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12, 0.2)  # nats per removal, searched by calibration
REMOVAL_DEPTHS = (6, 8, 10, 12)  # most removals a fix may make, searched by calibration (<= max_changes)
SIMULATED_KINDS = ("appended", "interleaved", "burst")
PLAN_CHUNK = 48  # members per batched plan pass (bounds memory at members x plans x items)
# Named removal rules (calibrate_taste options): "threshold" (first measurement), "prefix" (second), "joint"
# (third measurement, taste_joint.py: J over prefixes, runs and the best plan's neighbours, J-gain (GLR) verdict),
# "joint_scan" (fourth measurement: the same fix; the verdict is the summed suspicion of the 3 most unusual
# candidates at the clean 97th percentile, a statistic whose cutoff does not move with the calibrated margin and
# depth - on the development users the J gain's "yes" rate fell from 93 % to 49 % on appended drift without
# categories, the scan's stayed at 71-84 %); "joint_recent" (fifth measurement: the same rule on the 15 most recent
# interactions, verdict at the clean 98th percentile - with 50 candidates J buys its gain by also removing old
# surprising interactions, whose removal improves the likelihood of every later one, and the scan's clean cutoff
# is set by old outliers; on the development users the fix alone won back 83 % of the appended drop instead of
# 72 %, the verdict's ROC-AUC rose from 0.970 to 0.989). "joint_next" (fifth measurement, not adopted) calibrates
# the margin and depth on the simulated members' held-out next interaction instead of the distance ADS.
# "joint_steady" (sixth measurement): "joint_recent" calibrated on three drifted copies of each reference member -
# with one copy a retrained ML-100K model's calibration chose margin 2.0 instead of 0.5 and the development
# members' appended share fell from 83 % to 62 %.
RULES: dict[str, dict[str, Any]] = {
    "threshold": {"choice": "threshold"},
    "prefix": {"choice": "prefix"},
    "joint": {"choice": "joint", "episodes": True, "refine": True, "verdict_statistic": "glr",
              "reference_prefixes": (5, 10)},
    "joint_scan": {"choice": "joint", "episodes": True, "refine": True, "verdict_statistic": "scan",
                   "verdict_quantile": 0.97, "reference_prefixes": (5, 10)},
    "joint_recent": {"choice": "joint", "episodes": True, "refine": True, "verdict_statistic": "scan",
                     "verdict_quantile": 0.98, "reference_prefixes": (5, 10), "window": 15},
    "joint_next": {"choice": "joint", "episodes": True, "refine": True, "verdict_statistic": "scan",
                   "verdict_quantile": 0.97, "reference_prefixes": (5, 10), "fix_objective": "next_item"},
    "joint_steady": {"choice": "joint", "episodes": True, "refine": True, "verdict_statistic": "scan",
                     "verdict_quantile": 0.98, "reference_prefixes": (5, 10), "window": 15, "simulated_copies": 3},
}


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
    # Added in the second measurement (issue 19). "threshold" = the first measurement's rule, so a
    # calibration stored before this field existed behaves as it did when it was stored.
    choice: str = "threshold"
    removal_cost: float = 0.0  # nats of Psi a removal must earn (choice "prefix")
    simulated: dict[str, float] = field(default_factory=dict)  # recovery on simulated drift of reference members
    suffixes: bool = False  # also search "remove the j most recent" plans (choice "prefix")
    # 0: the verdict statistic is the evidence of the fix (first measurement). k > 0: the summed suspicion
    # of the k most unusual candidates (+1 per explicit dislike the fix removes); gain_cutoff then
    # holds the cutoff on that statistic.
    verdict_top: int = 0
    removal_depth: int = 0  # choice "prefix": at most this many removals (0 = max_changes); calibrated
    # Added in the third measurement, choice "joint" (taste_joint.py): calling an interaction noise costs a
    # clean surprisal plus noise_margin spreads; episodes adds runs of consecutive interactions to the plans;
    # verdict_statistic "glr" (J gain of the fix), "scan" (the top-verdict_top suspicion sum) or "either".
    noise_margin: float = 0.0
    episodes: bool = False
    verdict_statistic: str = "scan"
    refine: bool = False  # choice "joint": also try the best plan's neighbours (taste_joint.joint_curves)
    verdict_scales: list[float] = field(default_factory=lambda: [1.0, 1.0])  # verdict "a|b" / "either": each scale
    # Added in the fourth measurement, choice "joint": the refinement also moves the best plan's run boundaries
    # (taste_joint._boundary_moves) and is repeated refine_rounds times around each round's best plan.
    boundaries: bool = False
    refine_rounds: int = 1
    # Added in the fifth measurement, choice "joint": what the margin and depth are calibrated for
    # (taste_joint.calibrate_joint): "ads" or "next_item".
    fix_objective: str = "ads"
    # Added in the sixth measurement, choice "joint": what calling an interaction noise costs (taste_joint):
    # "clean" a clean surprisal at its distance; "episode" the smaller of that and its surprisal given only the
    # plan's earlier removed interactions (an off-taste run explains itself as one episode).
    noise_model: str = "clean"
    # Sixth measurement, choice "joint": half the simulated drift the margin and depth are calibrated on is a
    # coherent episode the model generates (taste_joint.coherent_episodes) instead of uniform items.
    simulated_episodes: bool = False
    simulated_copies: int = 1  # drifted copies of each fitting history (more copies: a steadier margin choice)

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
    surprisal: FloatArray  # NaN where not measured (a check measures the candidates only)
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
        measures = measure_taste(model, histories, window=calibration.window, candidates_only=True)
    explicit = explicit or [[] for _ in histories]
    scores = [calibration.norm.scores(m) for m in measures]
    if calibration.choice == "joint":
        joint = joint_curves(model, histories, calibration, measures, scores, explicit,
                             refine_margin=calibration.noise_margin if calibration.refine else None)
        return [_from_joint_curve(histories[row], measures[row], scores[row], curve, explicit[row], calibration)
                for row, curve in enumerate(joint)]
    if calibration.choice == "prefix":
        curves = prefix_curves(model, histories, calibration, measures, scores, explicit)
        return [_from_curve(histories[row], measures[row], scores[row], curve, explicit[row], calibration)
                for row, curve in enumerate(curves)]
    flagged = [
        _flag_order(m, s, calibration.flag_threshold, e, calibration.max_changes)
        for m, s, e in zip(measures, scores, explicit, strict=True)
    ]
    flagged = _second_round(model, histories, flagged, calibration)
    plans = [_pruning_plans(order) for order in flagged]
    psi, tops, count = _evaluate_plans(model, histories, measures, flagged, plans)
    chosen = [_pruned(plans[row], psi[row]) for row in range(len(histories))]
    # The pruned fix is usually one of the plans just scored (nothing, every flag, or every flag but one);
    # only the others need a pass of their own.
    scored = [next((index for index, plan in enumerate(plans[row]) if plan == chosen[row]), None)
              for row in range(len(histories))]
    missing = [row for row, index in enumerate(scored) if index is None]
    extra_psi, extra_tops, _ = _evaluate_plans(model, [histories[row] for row in missing],
                                               [measures[row] for row in missing], [flagged[row] for row in missing],
                                               [[chosen[row]] for row in missing])
    final = {row: (float(value[0]), top[0]) for row, value, top in zip(missing, extra_psi, extra_tops, strict=True)}
    for row, index in enumerate(scored):
        if index is not None:
            final[row] = (float(psi[row][index]), tops[row][index])
    return [
        _analysis(history, measures[row], scores[row], flagged[row], explicit[row], chosen[row], float(psi[row][0]),
                  final[row][0], tops[row][0], final[row][1], calibration, count[row] + int(scored[row] is None))
        for row, history in enumerate(histories)
    ]


@dataclass(frozen=True)
class PrefixCurve:
    """One member's removal plans, scored: plan 0 removes nothing, plan j (1 <= j <= len(order)) the j
    most suspicious; with calibration.suffixes, further plans remove the j most recent interactions."""

    order: IntArray  # searched caller positions, most suspicious first
    flagged: IntArray  # the explicit ones and those above the flag threshold, in order
    plans: list[IntArray]  # caller positions removed by each plan
    psi: FloatArray  # per plan
    evidence: FloatArray  # per plan: summed excess suspicion of the removed interactions
    tops: list[IntArray]  # top 10 after each plan
    distance: FloatArray | None  # JS divergence to a reference distribution per plan (calibration only)
    passes: int  # histories scored for this member
    scan: float  # summed suspicion of the calibration.verdict_top most unusual candidates (0 when verdict_top = 0)
    explicit_in: FloatArray  # per plan: explicit dislikes it removes

    def choose(self, removal_cost: float, depth: int = 0) -> int:
        """Index of the plan maximising Psi - removal_cost x removals (the first, i.e. smallest, on ties)
        among the plans with at most `depth` removals (0: all)."""
        sizes = np.asarray([len(plan) for plan in self.plans], dtype=np.float64)
        value = self.psi - removal_cost * sizes
        if depth > 0:
            value = np.where(sizes <= depth, value, -np.inf)
        return int(np.argmax(value))

    def moved(self, index: int) -> bool:
        return not np.array_equal(np.sort(self.tops[0]), np.sort(self.tops[index]))

    def statistic(self, index: int, verdict_top: int) -> float:
        """The verdict statistic for this plan (see TasteCalibration.verdict_top)."""
        return float(self.scan + self.explicit_in[index]) if verdict_top > 0 else float(self.evidence[index])

    def judged(self, index: int, cutoff: float, verdict_top: int) -> bool:
        """The verdict of _analysis for this plan: statistic above the cutoff, Psi rises, top 10 moves."""
        return bool(len(self.plans[index]) > 0 and self.statistic(index, verdict_top) > cutoff
                    and self.psi[index] > self.psi[0] and self.moved(index))


def prefix_curves(
    model: CausalModel, histories: Sequence[History], calibration: TasteCalibration,
    measures: Sequence[TasteMeasure], scores: Sequence[FloatArray], explicit: Sequence[Sequence[int]],
    reference: FloatArray | None = None,
) -> list[PrefixCurve]:
    """Suspicion order (two rounds) and Psi / top 10 of each of its prefixes, batched over members."""
    threshold, depth = calibration.flag_threshold, calibration.max_changes
    firsts = [_search_order(m, s, e, threshold, depth) for m, s, e in zip(measures, scores, explicit, strict=True)]
    orders, rescored = _second_round_order(model, histories, firsts, calibration, depth)
    curves: list[PrefixCurve] = []
    for start in range(0, len(histories), PLAN_CHUNK):
        rows = list(range(start, min(start + PLAN_CHUNK, len(histories))))
        variants: list[History] = []
        owners: list[int] = []
        member_plans = {row: _plans(orders[row], measures[row], calibration) for row in rows}
        for row in rows:
            for plan in member_plans[row]:
                variants.append(without_positions(histories[row], plan.tolist()) if len(plan) else histories[row])
                owners.append(row)
        final = final_log_probs(model, variants)
        values = established_likelihood(final, [_established(measures[row], _searched(member_plans[row]))
                                                for row in owners])
        tops = _top_k(final, [histories[row].items for row in owners])
        distance = None if reference is None else _js_divergence(final, reference[owners])
        cursor = 0
        for row in rows:
            count = len(member_plans[row])
            span = slice(cursor, cursor + count)
            cursor += count
            curves.append(PrefixCurve(
                order=orders[row], flagged=orders[row][:len(firsts[row][1])], plans=member_plans[row],
                psi=values[span], evidence=np.asarray([_evidence(plan, measures[row], scores[row], explicit[row],
                                                                 threshold) for plan in member_plans[row]]),
                tops=tops[span], distance=None if distance is None else distance[span],
                passes=count + 1 + int(rescored[row]), scan=_scan(scores[row], calibration.verdict_top),
                explicit_in=np.asarray([float(np.isin(plan, np.asarray(explicit[row], dtype=np.int64)).sum())
                                        for plan in member_plans[row]]),
            ))
    return curves


def _scan(scores: FloatArray, top: int) -> float:
    finite = np.sort(scores[np.isfinite(scores)])[::-1]
    return float(finite[:top].sum()) if top > 0 else 0.0


def _plans(order: IntArray, measure: TasteMeasure, calibration: TasteCalibration) -> list[IntArray]:
    """Nothing removed, each prefix of the suspicion order, and (suffixes) each run of the most recent."""
    plans = [order[:size] for size in range(len(order) + 1)]
    if calibration.suffixes:
        candidates = measure.positions[measure.candidates]
        plans += [candidates[-size:] for size in range(1, min(calibration.max_changes, len(candidates)) + 1)]
    return plans


def _searched(plans: Sequence[IntArray]) -> IntArray:
    return np.unique(np.concatenate(plans)).astype(np.int64) if plans else np.zeros(0, dtype=np.int64)


def _search_order(
    measure: TasteMeasure, scores: FloatArray, explicit: Sequence[int], threshold: float, depth: int
) -> tuple[IntArray, IntArray]:
    """(explicit dislikes then every candidate by suspicion, first `depth`; the flags among them)."""
    visible_positions = set(measure.positions.tolist())
    visible_explicit = [int(p) for p in explicit if int(p) in visible_positions]
    order = np.argsort(-scores, kind="stable")
    ranked = [int(measure.positions[i]) for i in order
              if np.isfinite(scores[i]) and int(measure.positions[i]) not in visible_explicit]
    flags = visible_explicit + [int(measure.positions[i]) for i in order
                                if scores[i] > threshold and int(measure.positions[i]) not in visible_explicit]
    return (np.asarray((visible_explicit + ranked)[:depth], dtype=np.int64),
            np.asarray(flags[:depth], dtype=np.int64))


def _second_round_order(
    model: CausalModel, histories: Sequence[History], firsts: Sequence[tuple[IntArray, IntArray]],
    calibration: TasteCalibration, depth: int,
) -> tuple[list[IntArray], list[bool]]:
    """The first-round flags, then the other candidates re-ranked with those flags left out."""
    orders = [order for order, _ in firsts]
    rescored = [False] * len(histories)
    rows = [row for row, (_, flags) in enumerate(firsts) if len(flags)]
    if not rows:
        return orders, rescored
    reduced = [without_positions(histories[row], firsts[row][1].tolist()) for row in rows]
    again = measure_taste(model, reduced, window=calibration.window, candidates_only=True)
    for row, measure in zip(rows, again, strict=True):
        flags = firsts[row][1].tolist()
        rest, _ = _search_order(measure, calibration.norm.scores(measure), [], calibration.flag_threshold, depth)
        orders[row] = np.asarray((flags + [p for p in rest.tolist() if p not in set(flags)])[:depth], dtype=np.int64)
        rescored[row] = True
    return orders, rescored


def _evidence(plan: IntArray, measure: TasteMeasure, scores: FloatArray, explicit: Sequence[int],
              threshold: float) -> float:
    return evidence_of({int(p): 0.0 for p in plan}, measure.positions, scores, explicit, threshold)


def _js_divergence(log_p: FloatArray, log_q: FloatArray) -> FloatArray:
    """Jensen-Shannon divergence (base 2) between rows of two log-probability matrices."""
    p, q = np.exp(log_p), np.exp(log_q)
    mid = np.log(np.maximum(0.5 * (p + q), 1e-300))
    kl_p = (p * (log_p - mid)).sum(axis=1)
    kl_q = (q * (log_q - mid)).sum(axis=1)
    result: FloatArray = np.maximum(0.5 * (kl_p + kl_q), 0.0) / np.log(2.0)
    return result


def _from_curve(history: History, measure: TasteMeasure, scores: FloatArray, curve: PrefixCurve,
                explicit: Sequence[int], calibration: TasteCalibration) -> TasteAnalysis:
    index = curve.choose(calibration.removal_cost, calibration.removal_depth)
    plan = {int(p): 0.0 for p in curve.plans[index]}
    flagged = curve.flagged.tolist() + [p for p in curve.plans[index].tolist() if p not in set(curve.flagged.tolist())]
    return _analysis(history, measure, scores, np.asarray(flagged, dtype=np.int64), explicit, plan,
                     float(curve.psi[0]), float(curve.psi[index]), curve.tops[0], curve.tops[index], calibration,
                     curve.passes, statistic=curve.statistic(index, calibration.verdict_top))


def _from_joint_curve(history: History, measure: TasteMeasure, scores: FloatArray, curve: JointCurve,
                      explicit: Sequence[int], calibration: TasteCalibration) -> TasteAnalysis:
    margin, kind = calibration.noise_margin, calibration.verdict_statistic
    index = curve.choose(margin, calibration.removal_depth)
    plan = {int(p): 0.0 for p in curve.plans[index]}
    flagged = curve.flagged.tolist() + [p for p in curve.plans[index].tolist() if p not in set(curve.flagged.tolist())]
    joint_gain = float(curve.values(margin)[index] - curve.values(margin)[0])
    return _analysis(history, measure, scores, np.asarray(flagged, dtype=np.int64), explicit, plan,
                     float(curve.psi[0]), float(curve.psi[index]), curve.tops[0], curve.tops[index], calibration,
                     curve.passes, statistic=curve.statistic(index, margin, kind, calibration.verdict_scales),
                     joint_gain=joint_gain)


def evidence_of(plan: dict[int, float], positions: IntArray, scores: FloatArray, explicit: Sequence[int],
                threshold: float) -> float:
    """Summed excess suspicion of the changed interactions over the flag threshold (+1 per explicit dislike);
    scores[i] is the suspicion at caller position positions[i]."""
    by_position = dict(zip(positions.tolist(), scores.tolist(), strict=True))
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
    again = measure_taste(model, reduced, window=calibration.window, candidates_only=True)
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
    calibration: TasteCalibration, scored: int, statistic: float | None = None, joint_gain: float | None = None,
) -> TasteAnalysis:
    changes = [TasteChange(p, int(history.items[p]), "remove" if w == 0 else "down_weight", w)
               for p, w in plan.items()]
    moved = not np.array_equal(np.sort(top_before), np.sort(top_after))
    gain = after - before
    evidence = evidence_of(plan, measure.positions, scores, explicit, calibration.flag_threshold) if statistic is None \
        else statistic
    cutoff = calibration.gain_cutoff
    # The joint rule's own measure of "moves the recommendations back" is its J gain (taste_joint.py).
    improves = gain > 0 if joint_gain is None else joint_gain > 0
    drift = bool(changes) and evidence > cutoff and improves and moved
    if not len(flagged):
        reason = "every recent interaction fits what the rest of the history predicts"
    elif not changes:
        reason = "leaving out the unusual interactions would not bring the recommendations closer to your taste"
    elif drift and joint_gain is not None:
        reason = (f"your most unusual recent interactions are far less predictable from the rest of your history "
                  f"than in clean histories (evidence {evidence:.2f} > {cutoff:.2f}); with "
                  f"{counted(len(changes), 'interaction')} left out the model explains your recent history better "
                  f"by {joint_gain:.2f} nats and the likelihood of your established taste changes by {gain:+.3f} nats")
    elif drift and calibration.verdict_top > 0:
        reason = (f"your {calibration.verdict_top} most unusual recent interactions are far less predictable from "
                  f"the rest of your history than in clean histories (evidence {evidence:.2f} > {cutoff:.2f}); "
                  f"leaving out {counted(len(changes), 'interaction')} raises the likelihood of your established "
                  f"taste by {gain:.3f} nats")
    elif drift:
        one = len(changes) == 1
        reason = (f"{counted(len(changes), 'interaction')} {'is' if one else 'are'} far less predictable from the "
                  f"rest of your history than usual (evidence {evidence:.2f} > {cutoff:.2f}, what clean histories "
                  f"show); leaving {'it' if one else 'them'} out raises the likelihood of your established taste by "
                  f"{gain:.3f} nats")
    elif not moved:
        reason = "the suggested change would not bring any new title into your top 10"
    elif not improves:
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
    choice: str = "prefix",
    seed: int = 0,
    suffixes: bool = False,
    episodes: bool = False,
    verdict_statistic: str = "scan",
    refine: bool = False,
    reference_prefixes: Sequence[int] = (),
    boundaries: bool = False,
    refine_rounds: int = 1,
    noise_margins: Sequence[float] | None = None,
    fix_objective: str = "ads",
    noise_model: str = "clean",
    simulated_episodes: bool = False,
    simulated_copies: int = 1,
) -> TasteCalibration:
    """Fit the norm, the flag threshold and the verdict cutoff on clean members; measure false alarms.

    With choice "prefix" the removal cost and the verdict cutoff are chosen together with simulated
    drift on the fitting members (uniform unseen items appended, interleaved among the last 10 or as a
    burst; no categories): the cost whose gated fix moves the simulated members' next-item
    distribution closest back to their clean one, the cutoff at `verdict_quantile` of the clean
    members' evidence for that cost. The held-out members then give the stored false-alarm rate.

    Choice "joint" (taste_joint.py) chooses the noise margin and depth the same way; `reference_prefixes`
    (e.g. (5, 10)) adds each fitting history cut short by that many interactions as a further clean
    history for the norm, the flag threshold and the verdict cutoff (small datasets have few reference
    members; the held-out check stays on whole histories of other members). `noise_margins` limits the
    margins the calibration searches (default taste_joint.NOISE_MARGINS); `boundaries` and `refine_rounds`
    widen the refinement (TasteCalibration); `fix_objective` says what the margin and depth are chosen for
    (taste_joint.calibrate_joint); `noise_model` what calling an interaction noise costs (TasteCalibration).
    """
    if choice not in CHOICES:
        raise ValueError(f"unknown removal-set choice {choice!r}; valid: {', '.join(CHOICES)}")
    if fix_objective not in FIX_OBJECTIVES:
        raise ValueError(f"unknown fix objective {fix_objective!r}; valid: {', '.join(FIX_OBJECTIVES)}")
    if noise_model not in NOISE_MODELS:
        raise ValueError(f"unknown noise model {noise_model!r}; valid: {', '.join(NOISE_MODELS)}")
    if not valid_statistic(verdict_statistic):
        raise ValueError(f"unknown verdict statistic {verdict_statistic!r}; valid: {', '.join(VERDICT_STATISTICS)} "
                         "or two of them joined by |")
    histories = [h for h in clean_histories if (h.weights > 0).sum() >= 3]
    if len(histories) < 5:
        raise ValueError("need at least 5 clean histories with 3 or more interactions to calibrate")
    n_fit = len(histories) - int(len(histories) * holdout_fraction) if len(histories) >= 10 else len(histories)
    fit, held_out = histories[:n_fit], histories[n_fit:]
    measures = measure_taste(model, histories, window=window)
    shorter = [History(h.items[:-cut], h.weights[:-cut]) for cut in reference_prefixes for h in fit
               if (h.weights[:-cut] > 0).sum() >= 3]
    reference, reference_measures = fit + shorter, measures[:n_fit] + measure_taste(model, shorter, window=window)
    norm = TasteNorm.fit(reference_measures, model.max_len)  # surprisal only, see TasteNorm.use_pull
    pooled = np.concatenate([s[np.isfinite(s)] for s in (norm.scores(m) for m in reference_measures)])
    threshold = float(np.quantile(pooled, flag_quantile)) if pooled.size else float("inf")
    calibration = TasteCalibration(
        norm=norm, flag_threshold=threshold, gain_cutoff=-np.inf, false_alarm_rate=float("nan"),
        false_alarm_basis="held-out" if held_out else "in-sample", n_reference=len(histories),
        flag_quantile=flag_quantile, verdict_quantile=verdict_quantile, window=window, max_changes=max_changes,
        choice=choice, suffixes=suffixes, verdict_top=DEFAULT_VERDICT_TOP if choice != "threshold" else 0,
        episodes=episodes, verdict_statistic=verdict_statistic, refine=refine, boundaries=boundaries,
        refine_rounds=refine_rounds, fix_objective=fix_objective, noise_model=noise_model,
        simulated_episodes=simulated_episodes, simulated_copies=simulated_copies,
    )
    if choice == "joint":
        calibrate_joint(model, fit, measures[:n_fit], calibration, np.random.default_rng(seed), clean=reference,
                        clean_measures=reference_measures, margins=noise_margins or NOISE_MARGINS)
    elif choice == "prefix":
        _fit_removal_cost(model, fit, measures[:n_fit], calibration, np.random.default_rng(seed))
    else:
        fit_analyses = analyze_batch(model, fit, calibration, measures=measures[:n_fit])
        fit_evidence = [evidence_of({c.position: c.weight for c in a.changes}, m.positions, a.scores, [], threshold)
                        for a, m in zip(fit_analyses, measures[:n_fit], strict=True)]
        calibration.gain_cutoff = float(np.quantile(fit_evidence, verdict_quantile))
    check, check_measures = (held_out, measures[n_fit:]) if held_out else (fit, measures[:n_fit])
    verdicts = [a.drift for a in analyze_batch(model, check, calibration, measures=check_measures)]
    calibration.false_alarm_rate = float(np.mean(verdicts))
    return calibration


def _fit_removal_cost(
    model: CausalModel, clean: Sequence[History], measures: Sequence[TasteMeasure], calibration: TasteCalibration,
    rng: np.random.Generator,
) -> None:
    """Choose removal_cost and gain_cutoff with simulated drift on clean members (see calibrate_taste)."""
    drifted = []
    for row, history in enumerate(clean):
        kind = SIMULATED_KINDS[row % len(SIMULATED_KINDS)]
        drifted.append(inject(kind, history, model.num_items, rng, k=int(rng.integers(2, 7)),
                              window=model.max_len).history)
    no_explicit: list[list[int]] = [[] for _ in clean]
    clean_scores = [calibration.norm.scores(m) for m in measures]
    clean_curves = prefix_curves(model, clean, calibration, measures, clean_scores, no_explicit)
    drifted_measures = measure_taste(model, drifted, window=calibration.window)
    drifted_scores = [calibration.norm.scores(m) for m in drifted_measures]
    reference = final_log_probs(model, clean)
    curves = prefix_curves(model, drifted, calibration, drifted_measures, drifted_scores, no_explicit,
                           reference=reference)
    untouched = max(float(np.mean([c.distance[0] for c in curves if c.distance is not None])), 1e-12)
    best: tuple[float, float, int] | None = None  # (ungated ADS won back, cost, depth)
    for depth in REMOVAL_DEPTHS:
        for cost in REMOVAL_COSTS:
            ungated = [c.distance[c.choose(cost, depth)] for c in curves if c.distance is not None]
            won = 1.0 - float(np.mean(ungated)) / untouched
            if best is None or won > best[0] + 1e-3:  # a larger cost or depth must earn a visible improvement
                best = (won, cost, depth)
    assert best is not None
    cost, depth = best[1], best[2]
    calibration.removal_depth = depth
    clean_statistic = [c.statistic(c.choose(cost, depth), calibration.verdict_top) for c in clean_curves]
    cutoff = float(np.quantile(clean_statistic, calibration.verdict_quantile))
    gated, yes = [], []
    for curve in curves:
        assert curve.distance is not None
        index = curve.choose(cost, depth)
        judged = curve.judged(index, cutoff, calibration.verdict_top)
        gated.append(curve.distance[index] if judged else curve.distance[0])
        yes.append(judged)
    calibration.removal_cost, calibration.gain_cutoff = cost, cutoff
    calibration.simulated = {"ads_won_back": 1.0 - float(np.mean(gated)) / untouched, "ads_won_back_ungated": best[0],
                             "verdict_yes": float(np.mean(yes)), "members": float(len(curves))}
    simulated = calibration.simulated
    calibration.notes.append(
        f"removal cost {cost} nats and at most {depth} removals chosen on {len(curves)} reference members with "
        f"simulated drift ({', '.join(SIMULATED_KINDS)}; 2-6 uniform unseen items): the fix wins back "
        f"{100 * best[0]:.0f} % of the distance to their clean next-item distribution "
        f"({100 * simulated['ads_won_back']:.0f} % with the verdict, which says yes for "
        f"{100 * simulated['verdict_yes']:.0f} %)")


def suspicion_of(analysis: TasteAnalysis) -> tuple[IntArray, FloatArray]:
    """(positions, finite suspicion) for detection metrics: non-candidates score lowest."""
    finite = np.where(np.isfinite(analysis.scores), analysis.scores, -1e9)
    return analysis.positions, finite


def flagged_mask(analysis: TasteAnalysis) -> BoolArray:
    return np.isin(analysis.positions, analysis.flagged_positions)
