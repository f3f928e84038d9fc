"""User recourse (eq. 6): minimise ||H - H'|| subject to R(H') >= R(H_baseline)."""
from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .alignment import CategoryIndex, alignment_from_logits, as_categories
from .attribution import DEFAULT_STEPS, attention_attribution, occlusion_effects, score_histories
from .drift_detection import (
    DETECTION_BASELINE,
    DriftCalibration,
    DriftReport,
    alignment_attributions,
    alignment_drift_scores,
    suspicion_order,
)
from .drift_metrics import drift_metrics_from_logits
from .protocol import ExplainerUnavailable, ScoringModel
from .sequences import History, Positions, as_history, seen_mask, visible_positions
from .wording import counted

DEFAULT_LEVELS = (0.5, 0.25, 0.0)
DEFAULT_MAX_CHANGES = 10
DEFAULT_MARGIN = 0.02
TOLERANCE = 1e-6  # float noise when a corrected history equals the baseline exactly


@dataclass(frozen=True)
class Change:
    position: int  # caller interaction index
    item: int
    action: str  # "remove" or "down_weight"
    weight: float  # new weight (0 for remove)


@dataclass(frozen=True)
class RecoursePlan:
    changes: list[Change]
    satisfied: bool
    alignment_before: float
    alignment_after: float
    alignment_target: float  # R(baseline) - slack
    baseline: str  # "reference history" or "current alignment + margin"
    ads_before: float | None  # ADS(reference, current); None without a reference history
    ads_after: float | None  # ADS(reference, corrected)
    ads_shift: float  # ADS(current, corrected)
    dtc_before: float | None  # |target share in top-k: current - reference|
    dtc_after: float | None  # |target share in top-k: corrected - reference|
    target_category: int | None
    top_before: np.ndarray  # [k]
    top_after: np.ndarray  # [k]
    corrected: History
    tried_order: np.ndarray  # positions in the order they were considered
    candidates_scored: int
    reason: str = ""

    @property
    def distance(self) -> float:
        """||H - H'||_1 over interaction weights."""
        return float(sum(1.0 - c.weight for c in self.changes))


def _levels_with_removal(levels: Sequence[float]) -> tuple[float, ...]:
    """Milder levels first, removal (0) always last."""
    return tuple(sorted({float(level) for level in levels if 0.0 < level < 1.0}, reverse=True)) + (0.0,)


def _change(history: History, position: int, weight: float) -> Change:
    action = "remove" if weight == 0.0 else "down_weight"
    return Change(int(position), int(history.items[position]), action, float(weight))


@dataclass
class _Outcome:
    changes: list[Change]
    corrected: History
    logits: np.ndarray  # [N+1]
    alignment: float
    satisfied: bool
    tried: list[int]
    scored: int


def _alignment_of(
    model: ScoringModel, histories: Sequence[History], profile: np.ndarray, categories: CategoryIndex,
) -> tuple[np.ndarray, np.ndarray]:
    logits = score_histories(model, histories)
    return logits, alignment_from_logits(logits, np.atleast_2d(profile), categories)


def _search_fixed_order(
    model: ScoringModel, history: History, order: np.ndarray, levels: Sequence[float], target: float,
    profile: np.ndarray, categories: CategoryIndex, stop_early: bool,
) -> _Outcome:
    """Step j = order[:j] removed and order[j] at each level: all steps built and scored in one pass."""
    candidates: list[History] = []
    plans: list[tuple[int, float]] = []
    for step, position in enumerate(order):
        removed = {int(p): 0.0 for p in order[:step]}
        for level in levels:
            candidates.append(history.reweighted({**removed, int(position): level}))
            plans.append((step, level))
    logits, values = _alignment_of(model, candidates, profile, categories)
    meets = values >= target - TOLERANCE
    chosen = len(candidates) - 1  # nothing met the target: everything in order removed
    if stop_early and meets.any():
        first_step = plans[int(np.argmax(meets))][0]
        in_step = [i for i, (step, _) in enumerate(plans) if step == first_step and meets[i]]
        chosen = max(in_step, key=lambda i: plans[i][1])  # mildest level that works
    step, level = plans[chosen]
    changes = [_change(history, p, 0.0) for p in order[:step]] + [_change(history, order[step], level)]
    return _Outcome(changes, candidates[chosen], logits[chosen], float(values[chosen]), bool(meets[chosen]),
                    [int(p) for p in order[: step + 1]], len(candidates))


def _outcome(
    history: History, plan: dict[int, float], logits: np.ndarray, value: float, target: float, tried: Sequence[int],
    scored: int,
) -> _Outcome:
    """Outcome of applying plan {position: new weight} (insertion order = order of the changes)."""
    changes = [_change(history, p, w) for p, w in plan.items()]
    return _Outcome(changes, history.reweighted(plan), logits, float(value), bool(value >= target - TOLERANCE),
                    list(tried), scored)


def _best_meeting(plans: Sequence[dict[int, float]], values: np.ndarray, target: float) -> int | None:
    meeting = [i for i in range(len(plans)) if values[i] >= target - TOLERANCE]
    return max(meeting, key=lambda i: values[i]) if meeting else None


def _repair_one_skip(
    model: ScoringModel, history: History, order: np.ndarray, target: float, profile: np.ndarray,
    categories: CategoryIndex, failed: _Outcome,
) -> _Outcome:
    """A fixed order cannot undo an early wrong removal: try every prefix minus one of its positions.

    One batched pass; the smallest working set wins (ties: highest alignment).
    """
    plans = [
        {int(p): 0.0 for j, p in enumerate(order[:size]) if j != skip}
        for size in range(2, len(order) + 1)
        for skip in range(size - 1)
    ]
    if not plans:
        return failed
    logits, values = _alignment_of(model, [history.reweighted(plan) for plan in plans], profile, categories)
    scored = failed.scored + len(plans)
    meeting = [i for i in range(len(plans)) if values[i] >= target - TOLERANCE]
    if not meeting:
        return _Outcome(**{**failed.__dict__, "scored": scored})
    best = min(meeting, key=lambda i: (len(plans[i]), -values[i]))
    return _outcome(history, plans[best], logits[best], float(values[best]), target, [int(p) for p in order], scored)


def _prune(
    model: ScoringModel, history: History, outcome: _Outcome, target: float, profile: np.ndarray,
    categories: CategoryIndex,
) -> _Outcome:
    """Minimise ||H - H'||: drop removals that are not needed (each round one batched pass)."""
    while outcome.satisfied:
        plan = {c.position: c.weight for c in outcome.changes}
        droppable = [c.position for c in outcome.changes[:-1] if c.weight == 0.0]  # keep the deciding change
        if not droppable:
            return outcome
        plans = [{p: w for p, w in plan.items() if p != drop} for drop in droppable]
        logits, values = _alignment_of(model, [history.reweighted(x) for x in plans], profile, categories)
        best = _best_meeting(plans, values, target)
        if best is None:
            return outcome
        outcome = _outcome(history, plans[best], logits[best], float(values[best]), target, outcome.tried,
                           outcome.scored + len(plans))
    return outcome


def search_recourse(
    model: ScoringModel,
    history: History | Sequence[int],
    profile: np.ndarray,
    categories: CategoryIndex,
    order: Positions,
    *,
    reference: History | Sequence[int] | None = None,
    margin: float = DEFAULT_MARGIN,
    levels: Sequence[float] = DEFAULT_LEVELS,
    max_changes: int = DEFAULT_MAX_CHANGES,
    slack: float = 0.0,
    k: int = 10,
    stop_early: bool = True,
    refine: bool = True,
) -> RecoursePlan:
    """Greedy eq. 6 over positions in `order` (most suspicious first).

    Step j: order[:j] removed and order[j] at each level (mildest first); every step is scored in
    one batched pass and the first step meeting the target wins, with its mildest working level.
    refine: if no step does, prefixes with one position skipped are tried (one more pass); then
    unneeded removals are dropped again (minimising ||H - H'||). refine=False: plain prefixes.
    Baseline: R(reference) when a reference history is given, else R(current) + margin; the target
    is that minus `slack` (0 = eq. 6 exactly).
    stop_early=False applies the whole order (fixed removal sets such as the oracle).
    """
    categories = as_categories(categories)
    current = as_history(history)
    baseline = None if reference is None else as_history(reference)
    positions = np.asarray(order, dtype=np.int64)
    steps = _levels_with_removal(levels)
    fixed = [current] + ([baseline] if baseline is not None else [])
    fixed_logits, fixed_values = _alignment_of(model, fixed, profile, categories)
    before = float(fixed_values[0])
    target = (float(fixed_values[1]) if baseline is not None else before + margin) - slack
    if len(positions) == 0 or (stop_early and before >= target - TOLERANCE):
        outcome = _Outcome([], current, fixed_logits[0], before, before >= target - TOLERANCE, [], 0)
    elif not stop_early:
        outcome = _search_fixed_order(model, current, positions, steps, target, profile, categories, stop_early)
    else:
        positions = positions[:max_changes]
        outcome = _search_fixed_order(model, current, positions, steps, target, profile, categories, stop_early)
        if refine and not outcome.satisfied:
            outcome = _repair_one_skip(model, current, positions, target, profile, categories, outcome)
        if refine:
            outcome = _prune(model, current, outcome, target, profile, categories)
    return _result(model, current, baseline, fixed_logits, outcome, before, target, categories, k)


def _result(
    model: ScoringModel, history: History, reference: History | None, fixed_logits: np.ndarray, outcome: _Outcome,
    before: float, target: float, categories: CategoryIndex, k: int,
) -> RecoursePlan:
    exclude = seen_mask([history], model.num_items)  # the member has seen these whatever the weights
    changes, corrected_logits, logits = outcome.changes, outcome.logits, fixed_logits
    changed_items = [c.item for c in changes]
    target_category = categories.dominant(changed_items) if changed_items else None
    targets = None if target_category is None else [target_category]
    current_vs_fixed = drift_metrics_from_logits(
        logits[:1], corrected_logits[None], exclude_before=exclude, exclude_after=exclude,
        categories=categories, target_categories=targets, k=k,
    )
    ads_before = ads_after = dtc_before = dtc_after = None
    if reference is not None:
        vs_reference = drift_metrics_from_logits(
            np.repeat(logits[1:2], 2, axis=0), np.stack([logits[0], corrected_logits]),
            exclude_before=np.repeat(exclude, 2, axis=0), exclude_after=np.repeat(exclude, 2, axis=0),
            categories=categories, target_categories=None if targets is None else targets * 2, k=k,
        )
        ads_before, ads_after = map(float, vs_reference.ads)
        if vs_reference.dtc is not None:
            dtc_before, dtc_after = map(float, vs_reference.dtc)
    reason = "" if outcome.satisfied else f"alignment target not reached within {counted(len(changes), 'change')}"
    return RecoursePlan(
        changes=changes,
        satisfied=outcome.satisfied,
        alignment_before=before,
        alignment_after=outcome.alignment,
        alignment_target=target,
        baseline="reference history" if reference is not None else "current alignment + margin",
        ads_before=ads_before,
        ads_after=ads_after,
        ads_shift=float(current_vs_fixed.ads[0]),
        dtc_before=dtc_before,
        dtc_after=dtc_after,
        target_category=target_category,
        top_before=current_vs_fixed.top_before[0],
        top_after=current_vs_fixed.top_after[0],
        corrected=outcome.corrected,
        tried_order=np.asarray(outcome.tried, dtype=np.int64),
        candidates_scored=outcome.scored,
        reason=reason,
    )


def plan_recourse(
    model: ScoringModel,
    history: History | Sequence[int],
    profile: np.ndarray,
    categories: CategoryIndex,
    *,
    report: DriftReport | None = None,
    calibration: DriftCalibration | None = None,
    steps: int = DEFAULT_STEPS,
    **options: Any,
) -> RecoursePlan:
    """Drift-score-guided recourse: positions in order of how much they pull alignment down."""
    categories = as_categories(categories)
    current = as_history(history)
    order = drift_order(model, current, profile, categories, report=report, calibration=calibration, steps=steps)
    return search_recourse(model, current, profile, categories, order, **options)


def drift_order(
    model: ScoringModel, history: History, profile: np.ndarray, categories: CategoryIndex, *,
    report: DriftReport | None = None, calibration: DriftCalibration | None = None, steps: int = DEFAULT_STEPS,
) -> np.ndarray:
    if report is not None:
        return report.ranked_positions()
    baseline = calibration.baseline if calibration is not None else DETECTION_BASELINE
    attribution = alignment_attributions(model, [history], profile, categories, steps, baseline)[0]
    if calibration is not None:
        scores = alignment_drift_scores(attribution, calibration.alignment_norm)
    else:
        scores = np.maximum(-attribution.scores, 0.0)
    return np.asarray(attribution.positions[suspicion_order(scores, attribution.scores)])


# --- comparison orders for experiments ------------------------------------------------------------


def most_recent_order(model: ScoringModel, history: History) -> np.ndarray:
    return visible_positions(history, model.max_len)[::-1]


def random_order(model: ScoringModel, history: History, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).permutation(visible_positions(history, model.max_len))


def attention_order(model: ScoringModel, history: History) -> np.ndarray:
    attribution = attention_attribution(model, history)
    return attribution.positions[np.argsort(-attribution.scores, kind="stable")]


def occlusion_order(
    model: ScoringModel, history: History, profile: np.ndarray, categories: CategoryIndex,
) -> np.ndarray:
    """Positions whose removal raises alignment most come first."""
    positions, full, without = occlusion_effects(
        model, history, lambda logits: alignment_from_logits(logits, np.atleast_2d(profile), categories)
    )
    gain = without - full
    return positions[np.argsort(-gain, kind="stable")]


def comparison_orders(
    model: ScoringModel,
    history: History | Sequence[int],
    profile: np.ndarray,
    categories: CategoryIndex,
    *,
    injected_positions: Positions | None = None,
    calibration: DriftCalibration | None = None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Removal orders: drift score (ours), most recent, random, attention, occlusion, oracle."""
    categories = as_categories(categories)
    history = as_history(history)
    orders = {
        "drift_score": drift_order(model, history, profile, categories, calibration=calibration),
        "most_recent": most_recent_order(model, history),
        "random": random_order(model, history, seed),
        "occlusion": occlusion_order(model, history, profile, categories),
    }
    with contextlib.suppress(ExplainerUnavailable):
        orders["attention"] = attention_order(model, history)
    if injected_positions is not None:
        orders["oracle"] = np.asarray(injected_positions, dtype=np.int64)
    return orders


def compare_removal_strategies(
    model: ScoringModel,
    history: History | Sequence[int],
    profile: np.ndarray,
    categories: CategoryIndex,
    orders: dict[str, np.ndarray],
    *,
    reference: History | Sequence[int] | None = None,
    margin: float = DEFAULT_MARGIN,
    max_changes: int = DEFAULT_MAX_CHANGES,
    fixed_k: int | None = None,
    slack: float = 0.0,
    refine: bool = False,
) -> dict[str, RecoursePlan]:
    """Removal-only recourse along each order.

    Default: stop at the first prefix meeting the baseline (changes needed per strategy).
    fixed_k: remove exactly the first k of every order (random-k, most-recent-k, ...).
    "oracle" always removes its whole order (exactly the injected interactions).
    refine=False (default) keeps the baselines plain "remove along the order until it works".
    """
    categories = as_categories(categories)
    results = {}
    for name, order in orders.items():
        order = np.asarray(order, dtype=np.int64)
        if name == "oracle":
            limit, stop_early = len(order), False
        elif fixed_k is not None:
            limit, stop_early = fixed_k, False
        else:
            limit, stop_early = max_changes, True
        results[name] = search_recourse(
            model, history, profile, categories, order[:limit], reference=reference, margin=margin,
            levels=(0.0,), max_changes=limit, stop_early=stop_early, slack=slack,
            refine=refine,
        )
    return results
