"""The population drift/recourse experiment's numbers (paper Tables 3-4), scored in batches across members.

Protocol (leave-one-out): each sampled member's last active interaction the model knows is the
held-out target; the rest is the clean history H. The preference profile comes from H only. For each
drift strategy, 5 off-profile items are injected into a copy of H, then the target is ranked after
each condition:

    clean       H
    drifted     H + injected items
    recourse    engine search (IG-of-alignment drift scores, remove/down-weight) to R(H') >= R(H)
    random_5    drifted minus 5 random interactions
    recent_5    drifted minus the 5 most recent interactions
    attention   the same search as recourse, positions ordered by attention (SASRec only)
    occlusion   the same search, ordered by the alignment gain of leaving each position out
    oracle      drifted minus exactly the injected items (== H by construction)

With appended drift (random, category) and 5 injected items, recent_5 removes exactly the injected
items, so recent_5, oracle and clean coincide. Reading members from the database and storing results
is recourse.services.experiments' job.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from recsys.ml.evaluation import (
    full_ranks,
    mean_with_ci,
    paired_test,
    per_user_metrics,
    sample_negatives,
    sampled_ranks,
)

from .alignment import CategoryIndex, alignment_from_logits, preference_profile
from .attribution import score_histories
from .detection_quality import Scores, detector_scores, quality_of
from .drift_detection import alignment_attributions
from .drift_injection import Injection, inject_drift
from .drift_metrics import drift_metrics_from_logits
from .protocol import ExplainerUnavailable, ScoringModel
from .recourse_search import search_recourse
from .sequences import History, seen_mask, without_positions

CONDITIONS = ("clean", "drifted", "recourse", "random_5", "recent_5", "attention", "occlusion", "oracle")
CONDITION_LABELS = {
    "clean": "(a) clean history",
    "drifted": "(b) after drift",
    "recourse": "(c) after recourse",
    "random_5": "(d) remove 5 random",
    "recent_5": "(e) remove 5 most recent",
    "attention": "(f) attention-guided",
    "occlusion": "(g) occlusion-guided",
    "oracle": "(h) oracle (injected items)",
}
RANKING_METRICS = ("Accuracy", "HR@10", "NDCG@10", "Precision@10", "Recall@10")
DRIFT_METRICS = ("ADS", "DTC", "alignment", "changes")
PROTOCOLS = ("sampled", "full")
DETECTORS = ("ig_alignment", "attention", "occlusion", "recency", "random")
GUIDED = (("recourse", "ig_alignment"), ("attention", "attention"), ("occlusion", "occlusion"))
COMPARISONS = (
    ("drifted", "clean"), ("recourse", "drifted"), ("recourse", "random_5"), ("recourse", "recent_5"),
    ("recourse", "attention"), ("recourse", "occlusion"), ("recourse", "oracle"), ("recourse", "clean"),
    ("oracle", "random_5"),
)
NUM_INJECTED = 5
NUM_NEGATIVES = 100
MIN_LENGTH = 3  # at least two history items and the held-out target
StepProgress = Callable[[float, str], None]  # (fraction of this strategy done, message)
PerUser = dict[str, dict[str, np.ndarray] | None]  # condition -> metric -> value per member (None: n/a)
Json = dict[str, Any]


@dataclass
class Member:
    sequence_id: int
    history: History  # clean training history (model indices)
    target: int  # held-out next item


def split_member(sequence_id: int, full: History) -> Member | None:
    """Leave-one-out: the last interaction is the target; None when the history is too short."""
    if len(full) < MIN_LENGTH:
        return None
    return Member(sequence_id, History(full.items[:-1], full.weights[:-1]), int(full.items[-1]))


@dataclass
class StrategyRun:
    per_user: PerUser
    detection: dict[str, Json | None]
    coincide: dict[str, float]
    satisfied: dict[str, float | None]


# --- one strategy --------------------------------------------------------------------------------


def strategy_run(network: ScoringModel, categories: CategoryIndex, members: Sequence[Member], *, strategy: str,
                 seed: int, ig_steps: int, progress: StepProgress) -> StrategyRun:
    """Per-user arrays of every metric for every condition, plus detection quality."""
    clean = [m.history for m in members]
    profiles = np.stack([preference_profile(h, categories) for h in clean])
    progress(0.02, f"{strategy}: injecting drift")
    injections = [_inject(m, strategy, network, categories, seed + i) for i, m in enumerate(members)]
    drifted = [inj.history for inj in injections]
    progress(0.08, f"{strategy}: attributions (IG of alignment) for {len(members)} members")
    ig = alignment_attributions(network, drifted, profiles, categories, ig_steps)
    progress(0.45, f"{strategy}: occlusion and attention")
    scores = {name: _scores_or_none(name, network, drifted, profiles, categories, ig, seed) for name in DETECTORS}
    progress(0.65, f"{strategy}: recourse searches")
    conditions, changes, satisfied = _conditions(network, members, injections, profiles, categories, scores)
    progress(0.9, f"{strategy}: ranking the held-out items")
    per_user = _evaluate_conditions(network, members, injections, conditions, profiles, categories, seed)
    for name, counts in changes.items():
        metrics = per_user[name]
        if metrics is not None:
            metrics["changes"] = np.asarray(counts, dtype=np.float64)
    detection = {name: None if per_member is None else _quality_json(name, per_member, injections)
                 for name, per_member in scores.items()}
    return StrategyRun(per_user, detection, _coincidence(conditions, clean), satisfied)


def _inject(member: Member, strategy: str, network: ScoringModel, categories: CategoryIndex, seed: int) -> Injection:
    """Inject 5 items; never the held-out target (re-drawn with another seed if it was picked)."""
    for attempt in range(10):
        injection = inject_drift(
            member.history, strategy, num_items=network.num_items, categories=categories, n=NUM_INJECTED,
            seed=seed * 31 + attempt, window=network.max_len,
        )
        if member.target not in injection.injected_items:
            return injection
    return injection


def _scores_or_none(name: str, network: ScoringModel, drifted: Sequence[History], profiles: np.ndarray,
                    categories: CategoryIndex, ig: Sequence[Any], seed: int) -> list[Scores] | None:
    try:
        return detector_scores(name, network, drifted, profiles, categories, alignment_ig=ig, seed=seed)
    except ExplainerUnavailable:
        return None


def _quality_json(name: str, per_member: Sequence[Scores], injections: Sequence[Injection]) -> Json:
    quality = quality_of(name, per_member, injections, k=NUM_INJECTED)
    return {"roc_auc": quality.roc_auc, f"precision_at_{NUM_INJECTED}": quality.precision_at_k,
            "members": quality.members}


def _order(entry: Scores) -> np.ndarray:
    positions, score = entry
    return positions[np.argsort(-score, kind="stable")]


def _conditions(
    network: ScoringModel, members: Sequence[Member], injections: Sequence[Injection], profiles: np.ndarray,
    categories: CategoryIndex, scores: Mapping[str, list[Scores] | None],
) -> tuple[dict[str, list[History | None]], dict[str, list[float]], dict[str, float | None]]:
    """Histories per condition, the number of changes each made and how often the guided searches met R(H)."""
    conditions: dict[str, list[History | None]] = {name: [] for name in CONDITIONS}
    changes: dict[str, list[float]] = {name: [] for name in CONDITIONS}
    met: dict[str, list[bool | None]] = {name: [] for name, _ in GUIDED}
    random_scores, recency_scores = scores["random"], scores["recency"]
    assert random_scores is not None and recency_scores is not None  # always available
    for row, (member, injection) in enumerate(zip(members, injections, strict=True)):
        drifted = injection.history
        fixed = {
            "clean": (member.history, 0),
            "drifted": (drifted, 0),
            "random_5": _without(drifted, _order(random_scores[row])[:NUM_INJECTED]),
            "recent_5": _without(drifted, _order(recency_scores[row])[:NUM_INJECTED]),
            "oracle": _without(drifted, injection.injected_positions),
        }
        for name, (history, count) in fixed.items():
            conditions[name].append(history)
            changes[name].append(count)
        for name, detector in GUIDED:
            per_member = scores[detector]
            entry = None if per_member is None else per_member[row]
            guided, guided_count, ok = _guided(network, drifted, member.history, profiles[row], categories, entry)
            conditions[name].append(guided)
            changes[name].append(guided_count)
            met[name].append(ok)
    satisfied = {name: float(np.mean([v for v in values if v is not None]))
                 if any(v is not None for v in values) else None for name, values in met.items()}
    return conditions, changes, satisfied


def _without(history: History, positions: np.ndarray) -> tuple[History, int]:
    return without_positions(history, [int(p) for p in positions]), len(positions)


def _guided(network: ScoringModel, drifted: History, clean: History, profile: np.ndarray, categories: CategoryIndex,
            detector_entry: Scores | None) -> tuple[History | None, float, bool | None]:
    """The engine's greedy search along a detector's order, baseline R(clean)."""
    if detector_entry is None:
        return None, np.nan, None
    result = search_recourse(network, drifted, profile, categories, _order(detector_entry), reference=clean)
    return result.corrected, len(result.changes), bool(result.satisfied)


def _coincidence(conditions: Mapping[str, Sequence[History | None]], clean: Sequence[History]) -> dict[str, float]:
    """Share of members for whom two conditions give the very same history."""
    def same(a: History | None, b: History | None) -> bool:
        if a is None or b is None:
            return False
        keep_a, keep_b = a.weights > 0, b.weights > 0
        return bool(np.array_equal(a.items[keep_a], b.items[keep_b])
                    and np.allclose(a.weights[keep_a], b.weights[keep_b]))

    pairs = {"recent_5 = oracle": ("recent_5", "oracle"), "oracle = clean": ("oracle", None),
             "recourse = oracle": ("recourse", "oracle")}
    shares = {}
    for label, (first, second) in pairs.items():
        others = clean if second is None else conditions[second]
        shares[label] = float(np.mean([same(a, b) for a, b in zip(conditions[first], others, strict=True)]))
    return shares


# --- scoring -------------------------------------------------------------------------------------


def _evaluate_conditions(
    network: ScoringModel, members: Sequence[Member], injections: Sequence[Injection],
    conditions: Mapping[str, Sequence[History | None]], profiles: np.ndarray, categories: CategoryIndex, seed: int,
) -> PerUser:
    """Ranking metrics (both protocols), ADS/DTC vs clean and alignment, per user and condition."""
    targets = np.asarray([m.target for m in members], dtype=np.int64)
    seen = [inj.history.items for inj in injections]  # the member saw clean + injected items either way
    interacted = [np.append(inj.history.items, m.target) for m, inj in zip(members, injections, strict=True)]
    negatives = sample_negatives(interacted, network.num_items, NUM_NEGATIVES, np.random.default_rng(seed))
    exclude = seen_mask([inj.history for inj in injections], network.num_items)
    target_categories = [inj.target_category if inj.target_category is not None else 0 for inj in injections]
    clean_logits = score_histories(network, [m.history for m in members])
    per_user: PerUser = {}
    for name in CONDITIONS:
        histories = conditions[name]
        if any(h is None for h in histories):
            per_user[name] = None
            continue
        logits = clean_logits if name == "clean" else score_histories(network, [h for h in histories if h is not None])
        ranks = {"full": full_ranks(logits, targets, seen), "sampled": sampled_ranks(logits, targets, negatives)}
        values = {}
        for protocol, protocol_ranks in ranks.items():
            all_metrics = per_user_metrics(protocol_ranks, ks=(1, 10))
            values.update({f"{protocol}:{metric}": all_metrics[metric] for metric in RANKING_METRICS})
        drift = drift_metrics_from_logits(clean_logits, logits, exclude_before=exclude, exclude_after=exclude,
                                          categories=categories, target_categories=target_categories)
        values["ADS"] = np.asarray(drift.ads, dtype=np.float64)
        values["DTC"] = np.asarray(drift.dtc, dtype=np.float64)
        values["alignment"] = alignment_from_logits(logits, profiles, categories)
        per_user[name] = values
    return per_user


# --- statistics ----------------------------------------------------------------------------------


def summarize_strategy(run: StrategyRun, *, seed: int, resamples: int = 1000) -> Json:
    """Mean and bootstrap CI per condition and metric, the paired tests, detection quality."""
    conditions = {
        name: None if values is None else {
            metric: mean_with_ci(v, seed=seed, resamples=resamples) for metric, v in values.items()
        }
        for name, values in run.per_user.items()
    }
    return {"conditions": conditions, "tests": paired_tests(run.per_user, seed=seed, resamples=resamples),
            "detection": run.detection, "coincide": run.coincide, "satisfied": run.satisfied}


def paired_tests(per_user: PerUser, *, seed: int = 0, resamples: int = 1000) -> Json:
    """Wilcoxon signed-rank p-value and a paired bootstrap CI of the mean difference, per compared pair and metric."""
    tests = {}
    for first, second in COMPARISONS:
        a, b = per_user.get(first), per_user.get(second)
        if a is None or b is None:
            continue
        tests[f"{first} vs {second}"] = {
            metric: paired_test(a[metric], b[metric], seed=seed, resamples=resamples) for metric in a if metric in b
        }
    return tests


def results_document(*, model_id: int, network: ScoringModel, members: int, by_strategy: Json,
                     timings: dict[str, float], seconds: float, n_users: int, seed: int, ig_steps: int) -> Json:
    """The JSON stored with an experiment: protocol, notes, model, per-strategy summaries and timings."""
    return {
        "protocol": {
            "split": "leave-one-out: last active interaction is the held-out target, the rest is the clean history",
            "profile": "category distribution of the clean history (never the held-out item)",
            "sampled": f"target vs {NUM_NEGATIVES} never-interacted negatives, seeded, same for every condition",
            "full": "target vs the whole catalogue minus the items of the drifted history (clean + injected)",
            "injected": NUM_INJECTED,
            "guided_search": "engine greedy search, mildest weight first (0.5, 0.25, remove), max 10 changes, "
                             "baseline R(clean history)",
            "ads_dtc": "ADS = JS divergence (bits) of next-item distributions vs clean; DTC = |target-category "
                       "share of the top-10| vs clean, target = dominant category of the injected items",
        },
        "notes": [
            "The oracle removes exactly the injected items, which restores the clean history by construction.",
            "With appended drift (random, category) the 5 most recent interactions are the injected ones, so "
            "(e) remove 5 most recent and (h) oracle coincide (and equal the clean history).",
            "P@10 = HR@10 / 10 and R@10 = HR@10 with one held-out item; Accuracy (HR@1) <= HR@10.",
        ] + ([] if network.supports_attention else [f"(f) attention-guided is n/a: {network.architecture} "
                                                    "has no attention layer."]),
        "model": {"id": model_id, "architecture": network.architecture, "max_len": network.max_len,
                  "num_items": network.num_items},
        "n_users": members, "requested_users": n_users, "seed": seed, "ig_steps": ig_steps,
        "strategies": by_strategy, "seconds": round(seconds, 2), "seconds_per_strategy": timings,
        "conditions": {name: CONDITION_LABELS[name] for name in CONDITIONS},
    }
