"""Choice "joint" of the taste check (issue 19, third measurement): the removal set that best explains the
member's recent interactions as their taste plus off-taste noise.

Each plan S (interactions to remove) is scored by the joint log-likelihood of the recent history when S's
interactions are explained as noise and every other one by the model, reading the history without S:

    J(S) = sum over t >= first, t not in S, of log p(x_t | x_<t without S)
           - sum over t in S of (mu_d(t) + margin x sigma_d(t))

mu_d and sigma_d are the clean reference members' mean and spread of surprisal at t's distance from the end
(TasteNorm): calling an interaction noise costs what an interaction `margin` spreads more surprising than a
clean one costs. `first` is the oldest interaction any plan of the member removes, so every plan is judged on
the same interactions. Removing an off-taste interaction gains twice: its own surprise is replaced by the
noise cost, and the genuine interactions after it are predicted better without it in the context. Removing a
genuine recent interaction gives up its good likelihood, so J, unlike Psi (the likelihood of the ESTABLISHED
items after the history, which rewards reverting to the older taste), does not favour removing whatever is
recent; that is what let "remove the j most recent" plans hurt in the second measurement.

Plans: every prefix of the two-round suspicion order (as choice "prefix") and, with `episodes`, runs of
consecutive interactions: the j most recent (appended drift) and, per length, the run among the last
EPISODE_REACH interactions with the largest summed suspicion (a burst that started on some day).

Verdict statistic ("glr"): J(S*) - J(nothing), the log-likelihood ratio of the best noise explanation over
none; ("scan") the summed suspicion of the 3 most unusual candidates, as the second measurement; or ("either")
the larger of the two, each divided by its clean quantile. Added in the fourth measurement: ("glr_fixed") the
same J gain of the fix at the fixed margin VERDICT_MARGIN, so the cutoff does not move with the calibrated
margin; ("established") how surprising the fix's removed interactions are under the ESTABLISHED taste - the
next-item distribution after the history without them - summed over the removed interactions, each less the
clean mean surprisal of a last interaction. A run of off-taste items from one rare genre predicts itself
(after its first item the sequential model expects more of the same, so J(nothing) is not much worse than
J(S*) and the J gain stays small); under the established taste every one of them is a surprise. Measured on
the development users it separates drifted from clean members worse than the J gain, and the scan transfers
best across datasets (docs/research-report.md, issue 19 fourth measurement; taste_recourse.RULES["joint_scan"]).
The cutoff is the clean reference members' `verdict_quantile`; "yes" also needs the top 10 to change.
margin and the depth are chosen with simulated drift on the reference members (calibrate_joint).

With `boundaries` the refinement also moves the best plan's run boundaries: the candidate just before its
oldest interaction added, and every candidate after its oldest one (the run extended to the end).
`refine_rounds` repeats the neighbour search around each round's best plan.

Sixth measurement (selectable, not adopted): with noise_model "episode" a removed interaction's noise
surprisal is the smaller of the clean mean and its surprisal given only the plan's earlier removed
interactions (_episode_surprisal); with simulated_episodes half the calibration's simulated drift is a
coherent episode the model generates (coherent_episodes). simulated_copies (adopted in RULES["joint_steady"])
calibrates on several drifted copies of each reference member.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .injection import inject
from .sequences import History, without_positions
from .taste import (
    CausalModel,
    FloatArray,
    IntArray,
    TasteMeasure,
    TasteNorm,
    established_likelihood,
    final_log_probs,
    measure_taste,
    next_log_probs,
    visible,
)

if TYPE_CHECKING:
    from .taste_recourse import TasteCalibration

NOISE_MARGINS = (-0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0)  # spreads of clean surprisal; searched by calibration
EPISODE_REACH = 12  # runs are searched among this many most recent interactions
EPISODE_LENGTHS = range(1, 9)
SINGLE_STATISTICS = ("glr", "scan", "glr_fixed", "established")
VERDICT_STATISTICS = (*SINGLE_STATISTICS, "either")  # and "a|b" for any two single ones ("either" = "scan|glr")
VERDICT_MARGIN = 0.0  # "glr_fixed": the J gain of the fix at this margin, whatever margin the fix was chosen at
NOISE_MODELS = ("clean", "episode")
EPISODE_NEIGHBOURS = 20  # simulated coherent episodes: each next item among the model's 20 most expected
NEIGHBOUR_ADDS = 4  # refinement: at most this many "one more of the order" neighbours


def verdict_parts(kind: str) -> tuple[str, ...]:
    """The single statistics a verdict statistic combines ("either" is "scan|glr")."""
    return ("scan", "glr") if kind == "either" else tuple(kind.split("|"))


def valid_statistic(kind: str) -> bool:
    parts = verdict_parts(kind)
    return len(parts) in (1, 2) and all(part in SINGLE_STATISTICS for part in parts)


@dataclass(frozen=True)
class JointCurve:
    """One member's removal plans with what J needs for any margin (J = likelihood - noise_mean - margin x
    noise_spread), Psi, the top 10 and (calibration only) the JS divergence to the clean distribution."""

    order: IntArray
    flagged: IntArray
    plans: list[IntArray]
    likelihood: FloatArray  # per plan: summed log-probability of the kept interactions from `first` on
    noise_mean: FloatArray  # per plan: summed clean mean surprisal of the removed interactions
    noise_spread: FloatArray  # per plan: summed clean spread of surprisal of the removed interactions
    psi: FloatArray
    tops: list[IntArray]
    distance: FloatArray | None
    passes: int
    scan: float
    explicit_in: FloatArray
    established: FloatArray  # per plan: summed excess surprisal of the removed items under the corrected history
    target_log_prob: FloatArray | None = None  # calibration "next_item" only: log p(held-out next item | plan)

    def values(self, margin: float) -> FloatArray:
        result: FloatArray = self.likelihood - self.noise_mean - margin * self.noise_spread
        return result

    def choose(self, margin: float, depth: int = 0) -> int:
        """Index of the plan maximising J (the first, i.e. nothing removed or the smallest prefix, on ties)."""
        sizes = np.asarray([len(plan) for plan in self.plans])
        value = self.values(margin)
        if depth > 0:
            value = np.where(sizes <= depth, value, -np.inf)
        return int(np.argmax(value))

    def moved(self, index: int) -> bool:
        return not np.array_equal(np.sort(self.tops[0]), np.sort(self.tops[index]))

    def gain(self, index: int, margin: float) -> float:
        """J(plan) - J(nothing) at `margin`."""
        values = self.values(margin)
        return float(values[index] - values[0])

    def statistic(self, index: int, margin: float, kind: str, scales: Sequence[float] = (1.0, 1.0)) -> float:
        """kind "scan": top suspicion sum (+1 per explicit dislike removed); "glr": J gain of the plan;
        "glr_fixed": J gain at VERDICT_MARGIN; "established": the removed items' excess surprisal under the
        corrected history; "a|b" ("either" = "scan|glr"): the larger of the two, each divided by its scale
        (their clean quantiles)."""
        parts = verdict_parts(kind)
        if len(parts) > 1:
            return max(self.statistic(index, margin, part) / scale for part, scale in zip(parts, scales, strict=True))
        if kind == "scan":
            return float(self.scan + self.explicit_in[index])
        if kind == "glr":
            return self.gain(index, margin)
        if kind == "glr_fixed":
            return self.gain(index, VERDICT_MARGIN)
        return float(self.established[index])

    def judged(self, index: int, cutoff: float, margin: float, kind: str, scales: Sequence[float] = (1.0, 1.0)
               ) -> bool:
        return bool(len(self.plans[index]) > 0 and self.statistic(index, margin, kind, scales) > cutoff
                    and self.moved(index))


def joint_curves(
    model: CausalModel, histories: Sequence[History], calibration: TasteCalibration,
    measures: Sequence[TasteMeasure], scores: Sequence[FloatArray], explicit: Sequence[Sequence[int]],
    reference: FloatArray | None = None, refine_margin: float | None = None, targets: Sequence[int] | None = None,
) -> list[JointCurve]:
    """Suspicion order (two rounds, as choice "prefix"), episode plans, and J's parts for each plan; batched.

    With refine_margin, a second pass adds the neighbours of each member's best plan at that margin (one
    interaction of it kept, or one more of the order removed): a genuine interaction ranked among the
    off-taste ones no longer has to go with them. With `targets` (calibration "next_item") each plan also gets
    the log-probability of the member's held-out next item after the history without it."""
    # taste_recourse imports this module for its "joint" choice; its helpers are shared, not copied.
    from .taste_recourse import PLAN_CHUNK, _scan, _search_order, _second_round_order

    threshold, depth = calibration.flag_threshold, calibration.max_changes
    firsts = [_search_order(m, s, e, threshold, depth) for m, s, e in zip(measures, scores, explicit, strict=True)]
    orders, rescored = _second_round_order(model, histories, firsts, calibration, depth)
    curves: list[JointCurve] = []
    for start in range(0, len(histories), PLAN_CHUNK):
        rows = list(range(start, min(start + PLAN_CHUNK, len(histories))))
        plans = {row: joint_plans(orders[row], measures[row], scores[row], calibration.episodes) for row in rows}
        searched = {row: np.unique(np.concatenate(plans[row])).astype(np.int64) for row in rows}
        parts = _score_plans(model, histories, plans, searched, measures, calibration, explicit, reference, targets)
        rounds = max(1, calibration.refine_rounds) if refine_margin is not None else 0
        for _ in range(rounds):
            assert refine_margin is not None
            more = {row: _neighbours(plans[row], parts[row], orders[row], refine_margin,
                                     calibration.removal_depth or calibration.max_changes,
                                     measures[row] if calibration.boundaries else None) for row in rows}
            if not any(more.values()):
                break
            extra = _score_plans(model, histories, more, searched, measures, calibration, explicit, reference,
                                 targets)
            for row in rows:
                plans[row] = plans[row] + more[row]
                parts[row] = parts[row].extended(extra[row])
        for row in rows:
            part = parts[row]
            curves.append(JointCurve(
                order=orders[row], flagged=orders[row][:len(firsts[row][1])], plans=plans[row],
                likelihood=part.likelihood, noise_mean=part.noise_mean, noise_spread=part.noise_spread,
                psi=part.psi, tops=part.tops, distance=part.distance if reference is not None else None,
                passes=len(plans[row]) + 1 + int(rescored[row]), scan=_scan(scores[row], calibration.verdict_top),
                explicit_in=np.asarray([float(np.isin(plan, np.asarray(explicit[row], dtype=np.int64)).sum())
                                        for plan in plans[row]]),
                established=part.established, target_log_prob=part.target if targets is not None else None,
            ))
    return curves


@dataclass(frozen=True)
class _PlanScores:
    likelihood: FloatArray
    noise_mean: FloatArray
    noise_spread: FloatArray
    psi: FloatArray
    distance: FloatArray
    tops: list[IntArray]
    established: FloatArray
    target: FloatArray

    def extended(self, other: _PlanScores) -> _PlanScores:
        return _PlanScores(
            likelihood=np.concatenate([self.likelihood, other.likelihood]),
            noise_mean=np.concatenate([self.noise_mean, other.noise_mean]),
            noise_spread=np.concatenate([self.noise_spread, other.noise_spread]),
            psi=np.concatenate([self.psi, other.psi]), distance=np.concatenate([self.distance, other.distance]),
            tops=self.tops + other.tops, established=np.concatenate([self.established, other.established]),
            target=np.concatenate([self.target, other.target]))


def _score_plans(
    model: CausalModel, histories: Sequence[History], plans: dict[int, list[IntArray]],
    searched: dict[int, IntArray], measures: Sequence[TasteMeasure], calibration: TasteCalibration,
    explicit: Sequence[Sequence[int]], reference: FloatArray | None, targets: Sequence[int] | None = None,
) -> dict[int, _PlanScores]:
    """Per member: J's parts, Psi, top 10 (and the JS divergence to `reference`) of each plan, one batched pass.

    J's likelihood is summed from the oldest interaction any first-pass plan removes, and Psi over the
    visible interactions outside every first-pass plan, so all plans of a member are judged on the same
    interactions (refinement plans only use positions of the first pass)."""
    from .taste_recourse import _established, _js_divergence, _top_k  # see joint_curves

    variants: list[History] = []
    owners: list[int] = []
    starts: list[int] = []
    oldest = {row: int(searched[row].min()) if len(searched[row]) else int(measures[row].positions[-1])
              for row in plans}
    for row, member_plans in plans.items():
        for plan in member_plans:
            variant = without_positions(histories[row], plan.tolist()) if len(plan) else histories[row]
            variants.append(variant)
            owners.append(row)
            starts.append(int(np.searchsorted(visible(variant, model.max_len), oldest[row])))
    log_probs = next_log_probs(model, variants, first=starts)
    final = final_log_probs(model, variants)
    psi = established_likelihood(final, [_established(measures[row], searched[row]) for row in owners])
    tops = _top_k(final, [histories[row].items for row in owners]) if variants else []
    distance = np.zeros(len(variants)) if reference is None else _js_divergence(final, reference[owners])
    likelihood = np.asarray([_kept_likelihood(variant, values, oldest[row], measures[row], model.max_len)
                             for variant, values, row in zip(variants, log_probs, owners, strict=True)])
    target = (final[np.arange(len(owners)), np.asarray([targets[row] for row in owners], dtype=np.int64) - 1]
              if targets is not None and owners else np.zeros(len(owners)))
    removed = [plan for row in plans for plan in plans[row]]
    episode = (_episode_surprisal(model, [histories[row] for row in owners], removed)
               if calibration.noise_model == "episode" else [None] * len(removed))
    established = _established_surprise(final, [histories[row].items for row in owners], removed,
                                        calibration.norm.surprisal_mean[0])
    result: dict[int, _PlanScores] = {}
    cursor = 0
    for row, member_plans in plans.items():
        span = slice(cursor, cursor + len(member_plans))
        cursor += len(member_plans)
        noise = [_noise_cost(plan, measures[row], calibration.norm, explicit[row], surprisal)
                 for plan, surprisal in zip(member_plans, episode[span], strict=True)]
        result[row] = _PlanScores(likelihood[span], np.asarray([n[0] for n in noise], dtype=np.float64),
                                  np.asarray([n[1] for n in noise], dtype=np.float64), psi[span], distance[span],
                                  tops[span], established[span], target[span])
    return result


def _established_surprise(final: FloatArray, items: Sequence[IntArray], removed: Sequence[IntArray],
                          clean_last: float) -> FloatArray:
    """Per plan: sum over its removed interactions of -log p(item | the history without the plan) - clean_last
    (the clean mean surprisal of a last interaction); 0 for the empty plan."""
    return np.asarray([float((-final[row, np.asarray(member_items)[plan] - 1] - clean_last).sum()) if len(plan)
                       else 0.0 for row, (member_items, plan) in enumerate(zip(items, removed, strict=True))])


def _neighbours(plans: list[IntArray], parts: _PlanScores, order: IntArray, margin: float,
                depth: int, measure: TasteMeasure | None = None) -> list[IntArray]:
    """The best plan at `margin` with one of its interactions kept, or with one of the next of the order added;
    with `measure` (boundaries) also with its run boundaries moved (_boundary_moves)."""
    sizes = np.asarray([len(plan) for plan in plans])
    values = parts.likelihood - parts.noise_mean - margin * parts.noise_spread
    best = plans[int(np.argmax(np.where(sizes <= depth, values, -np.inf)))]
    known = {tuple(sorted(int(p) for p in plan)) for plan in plans}
    candidates = [np.delete(best, index) for index in range(len(best))] if len(best) > 1 else []
    if len(best) < depth:
        candidates += [np.append(best, q) for q in order.tolist() if q not in set(best.tolist())][:NEIGHBOUR_ADDS]
    if measure is not None and len(best):
        candidates += [plan for plan in _boundary_moves(best, measure) if len(plan) <= depth]
    return _unseen_plans(candidates, known)


def _boundary_moves(best: IntArray, measure: TasteMeasure) -> list[IntArray]:
    """The plan with the candidate just before its oldest interaction added, and the plan with every candidate
    from its oldest interaction to the end (a run that stopped short of the most recent ones)."""
    candidates = measure.positions[measure.candidates]
    oldest = int(best.min())
    before = candidates[candidates < oldest]
    moves = [np.append(best, before[-1])] if len(before) else []
    moves.append(np.union1d(best, candidates[candidates >= oldest]))
    return moves


def joint_plans(order: IntArray, measure: TasteMeasure, scores: FloatArray, episodes: bool) -> list[IntArray]:
    """Nothing, each prefix of the order and (episodes) the most recent runs and the most suspicious run per
    length among the last EPISODE_REACH candidates; duplicates dropped, first occurrence kept."""
    plans = [order[:size] for size in range(len(order) + 1)]
    if episodes:
        candidates = np.flatnonzero(measure.candidates)[-EPISODE_REACH:]
        positions = measure.positions[candidates]
        suspicion = np.nan_to_num(scores[candidates], nan=0.0, neginf=0.0)
        for length in EPISODE_LENGTHS:
            if length > len(positions):
                break
            plans.append(positions[-length:])
            sums = np.convolve(suspicion, np.ones(length), mode="valid")
            best = int(np.argmax(sums))
            plans.append(positions[best: best + length])
    return _unseen_plans(plans, set())


def _unseen_plans(plans: Sequence[IntArray], known: set[tuple[int, ...]]) -> list[IntArray]:
    """The plans whose set of positions is not in `known` (nor earlier in `plans`), in order; `known` grows."""
    unseen: list[IntArray] = []
    for plan in plans:
        key = tuple(sorted(int(p) for p in plan))
        if key not in known:
            known.add(key)
            unseen.append(np.asarray(plan, dtype=np.int64))
    return unseen


def _kept_likelihood(variant: History, values: FloatArray, oldest: int, measure: TasteMeasure,
                     max_len: int) -> float:
    """Summed log-probability of the member's visible interactions from `oldest` on that the variant keeps."""
    positions = visible(variant, max_len)
    keep = (positions >= oldest) & np.isin(positions, measure.positions) & np.isfinite(values)
    return float(values[keep].sum())


def _episode_surprisal(model: CausalModel, histories: Sequence[History], removed: Sequence[IntArray]
                       ) -> list[FloatArray | None]:
    """Per plan, in the plan's order: -log p(item | the plan's earlier removed interactions only), NaN for its
    oldest one (nothing to predict it from); None for the empty plan. One batched pass."""
    episodes = [History(h.items[np.sort(plan)], h.weights[np.sort(plan)]) for h, plan in zip(histories, removed,
                                                                                            strict=True) if len(plan)]
    values = iter(next_log_probs(model, episodes))
    result: list[FloatArray | None] = []
    for plan in removed:
        if not len(plan):
            result.append(None)
            continue
        in_time_order = -next(values)
        result.append(in_time_order[np.argsort(np.argsort(plan))])
    return result


def _noise_cost(plan: IntArray, measure: TasteMeasure, norm: TasteNorm, explicit: Sequence[int],
                episode: FloatArray | None = None) -> tuple[float, float]:
    """(summed noise surprisal, summed clean spread of surprisal) of the removed interactions. The noise
    surprisal is the clean mean at the interaction's distance from the end or, with `episode` (its surprisal
    given the plan's earlier removed interactions), the smaller of the two; an explicit dislike costs
    nothing to call noise."""
    if not len(plan):
        return 0.0, 0.0
    index = np.searchsorted(measure.positions, plan)
    distance = np.minimum(measure.distance_from_end()[index], len(norm.surprisal_mean) - 1)
    charged = ~np.isin(plan, np.asarray(list(explicit), dtype=np.int64))
    means = np.asarray(norm.surprisal_mean)[distance]
    if episode is not None:
        means = np.fmin(means, episode)
    spreads = np.asarray(norm.surprisal_std)[distance]
    return float(means[charged].sum()), float(spreads[charged].sum())


def calibrate_joint(
    model: CausalModel, fit: Sequence[History], measures: Sequence[TasteMeasure], calibration: TasteCalibration,
    rng: np.random.Generator, *, clean: Sequence[History] | None = None,
    clean_measures: Sequence[TasteMeasure] | None = None, margins: Sequence[float] = NOISE_MARGINS,
) -> None:
    """Choose the margin and depth with simulated drift on `fit` (2-6 uniform unseen items appended,
    interleaved among the last 10 or as a burst), then the verdict cutoff on the clean histories (`clean`,
    default `fit`; more reference histories estimate the quantile better).

    calibration.fix_objective says what the margin and depth are chosen for: "ads" (the default) the fix that
    moves the simulated members' next-item distribution closest back to their clean one; "next_item" (fifth
    measurement) the fix after which the model best predicts the member's own next interaction - each fitting
    history's last interaction is held out and the drift injected before it, what a member gets back measured
    the way the experiment measures it."""
    # Same reason as in joint_curves: taste_recourse imports this module.
    from .taste_recourse import REMOVAL_DEPTHS

    simulated = _simulated_drift(model, list(fit) * calibration.simulated_copies, calibration.fix_objective, rng,
                                 calibration.simulated_episodes)
    none: list[list[int]] = [[] for _ in simulated.drifted]
    drifted_measures = measure_taste(model, simulated.drifted, window=calibration.window)
    drifted_scores = [calibration.norm.scores(m) for m in drifted_measures]

    def curves_at(refine_margin: float | None) -> list[JointCurve]:
        return joint_curves(model, simulated.drifted, calibration, drifted_measures, drifted_scores, none,
                            reference=simulated.reference, refine_margin=refine_margin, targets=simulated.targets)

    curves = curves_at(None)
    quality = [_fix_quality(c) for c in curves]
    untouched = float(np.mean([q[0] for q in quality]))
    reachable = simulated.clean_quality - untouched

    def won_back(chosen: Sequence[float]) -> float:
        return (float(np.mean(chosen)) - untouched) / reachable if abs(reachable) > 1e-12 else 0.0

    best: tuple[float, float, int] | None = None  # (share won back ungated, margin, depth)
    for depth in REMOVAL_DEPTHS:
        for margin in margins:
            won = won_back([q[c.choose(margin, depth)] for c, q in zip(curves, quality, strict=True)])
            if best is None or won > best[0] + 1e-3:
                best = (won, margin, depth)
    assert best is not None
    margin, depth = best[1], best[2]
    calibration.noise_margin, calibration.removal_depth = margin, depth
    refine_margin = margin if calibration.refine else None
    if refine_margin is not None:
        curves = curves_at(refine_margin)
        quality = [_fix_quality(c) for c in curves]
    reference_histories = list(clean if clean is not None else fit)
    reference_measures = list(clean_measures if clean_measures is not None else measures)
    clean_scores = [calibration.norm.scores(m) for m in reference_measures]
    clean_curves = joint_curves(model, reference_histories, calibration, reference_measures, clean_scores,
                                [[] for _ in reference_histories], refine_margin=refine_margin)
    kind = calibration.verdict_statistic
    if len(verdict_parts(kind)) > 1:
        calibration.verdict_scales = [max(float(np.quantile(
            [c.statistic(c.choose(margin, depth), margin, part) for c in clean_curves], calibration.verdict_quantile)),
            1e-6) for part in verdict_parts(kind)]
    scales = calibration.verdict_scales
    clean_statistic = [c.statistic(c.choose(margin, depth), margin, kind, scales) for c in clean_curves]
    cutoff = float(np.quantile(clean_statistic, calibration.verdict_quantile))
    gated, yes = [], []
    for curve, values in zip(curves, quality, strict=True):
        index = curve.choose(margin, depth)
        judged = curve.judged(index, cutoff, margin, kind, scales)
        gated.append(values[index] if judged else values[0])
        yes.append(judged)
    calibration.gain_cutoff = cutoff
    refined = [q[c.choose(margin, depth)] for c, q in zip(curves, quality, strict=True)]
    prefix = "ads" if calibration.fix_objective == "ads" else "next_item"
    calibration.simulated = {f"{prefix}_won_back": won_back(gated), f"{prefix}_won_back_ungated": best[0],
                             f"{prefix}_won_back_refined": won_back(refined),
                             "verdict_yes": float(np.mean(yes)), "members": float(len(curves)),
                             "clean_references": float(len(reference_histories))}
    calibration.notes.append(
        f"noise margin {margin} spreads and at most {depth} removals chosen on {len(curves)} reference members "
        f"with simulated drift: the fix wins back {100 * best[0]:.0f} % of {_OBJECTIVE_WORDS[prefix]} "
        f"({100 * calibration.simulated[f'{prefix}_won_back']:.0f} % with the verdict, which says yes for "
        f"{100 * calibration.simulated['verdict_yes']:.0f} %); verdict cutoff on {kind} from "
        f"{len(reference_histories)} clean histories")


_OBJECTIVE_WORDS = {"ads": "the distance to their clean next-item distribution",
                    "next_item": "the drop in the log-probability of their held-out next interaction"}
FIX_OBJECTIVES = tuple(_OBJECTIVE_WORDS)


@dataclass(frozen=True)
class _SimulatedDrift:
    drifted: list[History]
    reference: FloatArray | None  # "ads": the clean next-item distributions
    targets: list[int] | None  # "next_item": each member's held-out next interaction
    clean_quality: float  # the fix quality of the clean history (what a perfect fix reaches)


def _simulated_drift(model: CausalModel, fit: Sequence[History], objective: str, rng: np.random.Generator,
                     episodes: bool = False) -> _SimulatedDrift:
    """2-6 unseen items injected into each fitting history (cycling through SIMULATED_KINDS): uniform ones or,
    with `episodes`, for every other group of kinds a coherent episode (coherent_episodes). For "next_item"
    the drift goes into the history without its last interaction, which becomes the member's target."""
    from .taste_recourse import SIMULATED_KINDS  # see joint_curves

    if objective == "next_item":
        bases = [History(h.items[:-1], h.weights[:-1]) for h in fit]
        targets: list[int] | None = [int(h.items[-1]) for h in fit]
    else:
        bases, targets = list(fit), None
    forbidden = [np.asarray([] if targets is None else [targets[row]], dtype=np.int64) for row in range(len(bases))]
    coherent = [episodes and (row // len(SIMULATED_KINDS)) % 2 == 1 for row in range(len(bases))]
    # Without episodes the draws come in the order earlier measurements were calibrated with.
    sizes = [int(rng.integers(2, 7)) for _ in bases] if episodes else None
    generated = iter(coherent_episodes(model, [h for h, c in zip(bases, coherent, strict=True) if c],
                                       [s for s, c in zip(sizes, coherent, strict=True) if c], rng,
                                       [f for f, c in zip(forbidden, coherent, strict=True) if c])
                     if sizes is not None else [])
    drifted = []
    for row, history in enumerate(bases):
        kind = SIMULATED_KINDS[row % len(SIMULATED_KINDS)]
        size = sizes[row] if sizes is not None else int(rng.integers(2, 7))
        drifted.append(inject(kind, history, model.num_items, rng, k=size, window=model.max_len,
                              forbidden=forbidden[row], items=next(generated) if coherent[row] else None).history)
    if targets is None:
        return _SimulatedDrift(drifted, final_log_probs(model, fit), None, 0.0)
    clean = final_log_probs(model, bases)[np.arange(len(bases)), np.asarray(targets) - 1]
    return _SimulatedDrift(drifted, None, targets, float(clean.mean()))


def coherent_episodes(model: CausalModel, histories: Sequence[History], sizes: Sequence[int],
                      rng: np.random.Generator, forbidden: Sequence[IntArray]) -> list[IntArray]:
    """Per history, an off-taste episode of sizes[i] items the model itself finds coherent: a uniform unseen
    first item, then each next one drawn uniformly from the EPISODE_NEIGHBOURS items the model most expects
    after the episode so far (never an item of the history, the episode or `forbidden`). A binge of another
    genre looks like this; uniform items do not predict one another. Batched: one pass per episode step."""
    episodes = [[int(rng.choice(np.setdiff1d(np.arange(1, model.num_items + 1), np.union1d(h.items, f))))]
                for h, f in zip(histories, forbidden, strict=True)]
    for step in range(1, max(sizes, default=0)):
        growing = [row for row, size in enumerate(sizes) if size > step]
        final = final_log_probs(model, [History(np.asarray(episodes[row], dtype=np.int64),
                                                np.ones(len(episodes[row]), dtype=np.float32)) for row in growing])
        for values, row in zip(final, growing, strict=True):
            excluded = np.union1d(np.union1d(histories[row].items, forbidden[row]), episodes[row]) - 1
            values = values.copy()
            values[excluded.astype(np.int64)] = -np.inf
            nearest = np.argsort(-values)[:EPISODE_NEIGHBOURS] + 1
            episodes[row].append(int(rng.choice(nearest)))
    return [np.asarray(e, dtype=np.int64) for e in episodes]


def _fix_quality(curve: JointCurve) -> FloatArray:
    """Per plan, higher is better: the held-out next interaction's log-probability ("next_item") or minus the
    JS divergence to the clean next-item distribution ("ads")."""
    if curve.target_log_prob is not None:
        return curve.target_log_prob
    assert curve.distance is not None
    return -curve.distance
