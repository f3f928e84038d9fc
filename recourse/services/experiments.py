"""Population drift/recourse experiment (paper Tables 3-4), scored in batches across users.

Protocol (leave-one-out): each sampled member's last active interaction the model knows is the
held-out target; the rest is the clean history H. The preference profile comes from H only. For each
drift strategy, 5 off-profile items are injected into a copy of H (never into the database), then the
target is ranked after each condition:

    clean       H
    drifted     H + injected items
    recourse    engine search (IG-of-alignment drift scores, remove/down-weight) to R(H') >= R(H)
    random_5    drifted minus 5 random interactions
    recent_5    drifted minus the 5 most recent interactions
    attention   the same search as recourse, positions ordered by attention (SASRec only)
    occlusion   the same search, ordered by the alignment gain of leaving each position out
    oracle      drifted minus exactly the injected items (== H by construction)

With appended drift (random, category) and 5 injected items, recent_5 removes exactly the injected
items, so recent_5, oracle and clean coincide.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module

import numpy as np
from django.db.models import Count, Q
from scipy.stats import wilcoxon

from recourse.engine.alignment import CategoryIndex, preference_profile
from recourse.engine.detection import alignment_attributions
from recourse.engine.protocol import ExplainerUnavailable
from recourse.engine.recourse import search_recourse
from recourse.engine.sequences import History, seen_mask, visible_positions, without_positions
from recourse.models import Experiment
from recourse.selectors import category_index, model_histories
from recsys import jobs
from recsys import selectors as recsys_selectors
from recsys.ml.evaluation import bootstrap_ci, full_ranks, per_user_metrics, sample_negatives, sampled_ranks
from recsys.models import Dataset, Interaction, TrainedModel
from recsys.services import serving

# The engine package re-exports functions named like its modules (alignment, recourse), so modules by path:
alignment_engine = import_module("recourse.engine.alignment")
attribution_engine = import_module("recourse.engine.attribution")
drift_engine = import_module("recourse.engine.drift")
detection_engine = import_module("recourse.engine.evaluation")

STRATEGIES = drift_engine.STRATEGIES
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
COMPARISONS = (
    ("drifted", "clean"), ("recourse", "drifted"), ("recourse", "random_5"), ("recourse", "recent_5"),
    ("recourse", "attention"), ("recourse", "occlusion"), ("recourse", "oracle"), ("recourse", "clean"),
    ("oracle", "random_5"),
)
DEFAULT_USERS = 500
NUM_INJECTED = 5
NUM_NEGATIVES = 100
MIN_LENGTH = 3  # at least two history items and the held-out target
ProgressFn = Callable[[float, str], None]


class ExperimentError(Exception):
    """An experiment that cannot run, with a message for the analyst."""


@dataclass
class Member:
    sequence_id: int
    history: History  # clean training history (model indices)
    target: int  # held-out next item


@dataclass
class Setup:
    model_row: TrainedModel
    network: object  # RecommenderModel
    categories: CategoryIndex
    members: list[Member]


# --- entry points --------------------------------------------------------------------------------


def start_experiment(
    *, dataset: Dataset, n_users: int = DEFAULT_USERS, strategies: list[str] | None = None, seed: int = 0,
    name: str = "", ig_steps: int = 20, owner=None,
) -> Experiment:
    """Validate, create the Experiment row and queue the job on the xai queue."""
    experiment = create_experiment(dataset=dataset, n_users=n_users, strategies=strategies, seed=seed, name=name,
                                   ig_steps=ig_steps, owner=owner)
    # dataset_id and model_id let recsys see which dataset the job reads (e.g. before deleting a dataset).
    params = {"experiment_id": experiment.pk, "dataset_id": dataset.pk, "model_id": experiment.trained_model_id}
    job = jobs.start_job(kind="population_experiment", params=params, owner=owner)
    Experiment.objects.filter(pk=experiment.pk).update(job=job)
    experiment.job = job
    return experiment


def create_experiment(
    *, dataset: Dataset, n_users: int = DEFAULT_USERS, strategies: list[str] | None = None, seed: int = 0,
    name: str = "", ig_steps: int = 20, owner=None,
) -> Experiment:
    strategies = validate_strategies(strategies)
    if seed < 0:
        raise ExperimentError("The seed must be a whole number of 0 or more.")
    model_row = _active_ready_model(dataset)
    eligible = len(eligible_sequence_ids(dataset))
    _check_users(n_users, eligible)
    params = {"n_users": n_users, "strategies": strategies, "seed": seed, "ig_steps": ig_steps,
              "num_injected": NUM_INJECTED, "num_negatives": NUM_NEGATIVES}
    return Experiment.objects.create(
        name=name or f"{model_row.get_architecture_display()} · {n_users} users · seed {seed}",
        dataset=dataset, trained_model=model_row, params=params, created_by=owner,
    )


def run_experiment(*, experiment: Experiment, progress: ProgressFn | None = None) -> Experiment:
    """Run a created experiment and store its results (status done or failed)."""
    Experiment.objects.filter(pk=experiment.pk).update(status=Experiment.Status.RUNNING, error="")
    params = experiment.params
    try:
        results = population_experiment(
            dataset=experiment.dataset, n_users=params["n_users"], strategies=params["strategies"],
            seed=params["seed"], ig_steps=params.get("ig_steps", 20), progress=progress,
        )
    except BaseException as exc:
        Experiment.objects.filter(pk=experiment.pk).update(status=Experiment.Status.FAILED, error=str(exc)[:2000])
        raise
    Experiment.objects.filter(pk=experiment.pk).update(status=Experiment.Status.DONE, results=results)
    experiment.refresh_from_db()
    return experiment


def population_experiment(
    *, dataset: Dataset, n_users: int = DEFAULT_USERS, strategies: list[str] | None = None, seed: int = 0,
    ig_steps: int = 20, progress: ProgressFn | None = None,
) -> dict:
    """Run every strategy on the same sampled members; returns JSON-ready results."""
    progress = progress or (lambda percent, message="": None)
    strategies = validate_strategies(strategies)
    started = time.monotonic()
    progress(1, "Loading the model and the members' histories")
    setup = prepare(dataset=dataset, n_users=n_users, seed=seed)
    by_strategy, timings = {}, {}
    for number, strategy in enumerate(strategies):
        begin = time.monotonic()
        span = (5 + 90 * number / len(strategies), 90 / len(strategies))
        per_user = strategy_run(setup=setup, strategy=strategy, seed=seed, ig_steps=ig_steps,
                                progress=lambda f, m, s=span: progress(s[0] + s[1] * f, m))
        by_strategy[strategy] = summarize_strategy(per_user, seed=seed)
        timings[strategy] = round(time.monotonic() - begin, 2)
    progress(99, "Summarising")
    return _results_document(setup, by_strategy, timings, time.monotonic() - started, n_users, seed, ig_steps)


# --- validation and data -------------------------------------------------------------------------


def validate_strategies(strategies: list[str] | None) -> list[str]:
    strategies = list(strategies or STRATEGIES)
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown:
        raise ExperimentError(f"Unknown drift strategy {unknown[0]!r}; choose from {', '.join(STRATEGIES)}.")
    if not strategies:
        raise ExperimentError("Choose at least one drift strategy.")
    return strategies


def _active_ready_model(dataset: Dataset) -> TrainedModel:
    model_row = recsys_selectors.active_model(dataset)
    if model_row is None:
        raise ExperimentError(f"No model is active for {dataset}; train and activate one before running experiments.")
    return model_row


def _check_users(n_users: int, eligible: int) -> None:
    if n_users < 1:
        raise ExperimentError("The number of users must be at least 1.")
    if n_users > eligible:
        raise ExperimentError(
            f"Asked for {n_users} users but only {eligible} members have at least {MIN_LENGTH} interactions; "
            f"choose N <= {eligible}."
        )


def eligible_sequence_ids(dataset: Dataset) -> list[int]:
    rows = (
        dataset.sequences.annotate(active=Count("interactions", filter=Q(interactions__state=Interaction.State.ACTIVE)))
        .filter(active__gte=MIN_LENGTH).order_by("pk").values_list("pk", flat=True)
    )
    return list(rows)


def prepare(*, dataset: Dataset, n_users: int, seed: int) -> Setup:
    model_row = _active_ready_model(dataset)
    eligible = eligible_sequence_ids(dataset)
    _check_users(n_users, len(eligible))
    _, recommender = serving.loaded_model(dataset)
    chosen = sorted(np.random.default_rng(seed).choice(eligible, size=n_users, replace=False).tolist())
    histories = model_histories(chosen, recommender.index)
    members = [_member(sid, histories.get(sid, History(np.zeros(0, np.int64), np.zeros(0, np.float32))))
               for sid in chosen]
    members = [m for m in members if m is not None]
    if not members:
        raise ExperimentError("None of the sampled members has enough interactions the model knows.")
    return Setup(model_row, recommender.model, category_index(dataset, recommender.index), members)


def _member(sequence_id: int, full: History) -> Member | None:
    if len(full) < MIN_LENGTH:
        return None
    return Member(sequence_id, History(full.items[:-1], full.weights[:-1]), int(full.items[-1]))


# --- one strategy --------------------------------------------------------------------------------


def strategy_run(*, setup: Setup, strategy: str, seed: int, ig_steps: int, progress: ProgressFn) -> dict:
    """Per-user arrays of every metric for every condition, plus detection quality."""
    network, categories, members = setup.network, setup.categories, setup.members
    clean = [m.history for m in members]
    profiles = np.stack([preference_profile(h, categories) for h in clean])
    progress(0.02, f"{strategy}: injecting drift")
    injections = [_inject(m, strategy, network, categories, seed + i) for i, m in enumerate(members)]
    drifted = [inj.history for inj in injections]
    progress(0.08, f"{strategy}: attributions (IG of alignment) for {len(members)} members")
    ig = alignment_attributions(network, drifted, profiles, categories, ig_steps)
    progress(0.45, f"{strategy}: occlusion and attention")
    scores = {name: [] for name in DETECTORS}
    for row, history in enumerate(drifted):
        for name, value in _detector_scores(network, history, profiles[row], categories, ig[row], seed + row).items():
            scores[name].append(value)
    progress(0.65, f"{strategy}: recourse searches")
    conditions, changes = _conditions(network, members, injections, profiles, categories, scores, seed)
    progress(0.9, f"{strategy}: ranking the held-out items")
    per_user = _evaluate_conditions(network, members, injections, conditions, profiles, categories, seed)
    satisfied = changes.pop("_satisfied")
    for name, counts in changes.items():
        if per_user[name] is not None:
            per_user[name]["changes"] = np.asarray(counts, dtype=np.float64)
    return {"per_user": per_user, "detection": _detection_quality(scores, injections),
            "coincide": _coincidence(conditions, clean), "satisfied": satisfied}


def _inject(member: Member, strategy: str, network, categories, seed: int) -> drift_engine.Injection:
    """Inject 5 items; never the held-out target (re-drawn with another seed if it was picked)."""
    for attempt in range(10):
        injection = drift_engine.inject_drift(
            member.history, strategy, num_items=network.num_items, categories=categories, n=NUM_INJECTED,
            seed=seed * 31 + attempt, window=network.max_len,
        )
        if member.target not in injection.injected_items:
            return injection
    return injection


def _detector_scores(network, history, profile, categories, ig, seed) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(positions, suspicion score) per detector; higher = more likely injected."""
    visible = visible_positions(history, network.max_len)
    positions, full, without = attribution_engine.occlusion_effects(
        network, history, lambda logits: alignment_engine.alignment_from_logits(logits, profile[None], categories),
        positions=visible,
    )
    result = {
        "ig_alignment": (ig.positions, -ig.scores),
        "occlusion": (positions, without - full),
        "recency": (visible, visible.astype(np.float64)),
        "random": (visible, np.random.default_rng(seed).random(len(visible))),
    }
    try:
        attention = attribution_engine.attention_attribution(network, history)
        result["attention"] = (attention.positions, attention.scores)
    except ExplainerUnavailable:
        result["attention"] = None
    return result


def _order(entry) -> np.ndarray:
    positions, score = entry
    return positions[np.argsort(-score, kind="stable")]


def _conditions(network, members, injections, profiles, categories, scores, seed):
    """Histories per condition and the number of changes each made."""
    conditions = {name: [] for name in CONDITIONS}
    changes = {name: [] for name in CONDITIONS}
    satisfied = {"recourse": [], "attention": [], "occlusion": []}
    for row, (member, injection) in enumerate(zip(members, injections, strict=True)):
        drifted = injection.history
        fixed = {
            "clean": (member.history, 0),
            "drifted": (drifted, 0),
            "random_5": _without(drifted, _order(scores["random"][row])[:NUM_INJECTED]),
            "recent_5": _without(drifted, _order(scores["recency"][row])[:NUM_INJECTED]),
            "oracle": _without(drifted, injection.injected_positions),
        }
        for name, (history, count) in fixed.items():
            conditions[name].append(history)
            changes[name].append(count)
        for name, detector in (("recourse", "ig_alignment"), ("attention", "attention"), ("occlusion", "occlusion")):
            history, count, ok = _guided(network, drifted, member.history, profiles[row], categories,
                                         scores[detector][row])
            conditions[name].append(history)
            changes[name].append(count)
            satisfied[name].append(ok)
    changes["_satisfied"] = {k: float(np.mean([v for v in vals if v is not None])) if any(
        v is not None for v in vals) else None for k, vals in satisfied.items()}
    return conditions, changes


def _without(history: History, positions) -> tuple[History, int]:
    return without_positions(history, [int(p) for p in positions]), len(positions)


def _guided(network, drifted, clean, profile, categories, detector_entry):
    """The engine's greedy search along a detector's order, baseline R(clean)."""
    if detector_entry is None:
        return None, np.nan, None
    result = search_recourse(
        network, drifted, profile, categories, _order(detector_entry), reference=clean,
    )
    return result.corrected, len(result.changes), bool(result.satisfied)


def _coincidence(conditions: dict, clean: list[History]) -> dict:
    """Share of members for whom two conditions give the very same history."""
    def same(a: History, b: History) -> bool:
        keep_a, keep_b = a.weights > 0, b.weights > 0
        return np.array_equal(a.items[keep_a], b.items[keep_b]) and np.allclose(a.weights[keep_a], b.weights[keep_b])

    pairs = {"recent_5 = oracle": ("recent_5", "oracle"), "oracle = clean": ("oracle", None),
             "recourse = oracle": ("recourse", "oracle")}
    shares = {}
    for label, (first, second) in pairs.items():
        others = clean if second is None else conditions[second]
        shares[label] = float(np.mean([same(a, b) for a, b in zip(conditions[first], others, strict=True)]))
    return shares


# --- scoring -------------------------------------------------------------------------------------


def _evaluate_conditions(network, members, injections, conditions, profiles, categories, seed) -> dict:
    """Ranking metrics (both protocols), ADS/DTC vs clean and alignment, per user and condition."""
    targets = np.asarray([m.target for m in members], dtype=np.int64)
    seen = [inj.history.items for inj in injections]  # the member saw clean + injected items either way
    interacted = [np.append(inj.history.items, m.target) for m, inj in zip(members, injections, strict=True)]
    negatives = sample_negatives(interacted, network.num_items, NUM_NEGATIVES, np.random.default_rng(seed))
    exclude = seen_mask([inj.history for inj in injections], network.num_items)
    target_categories = [inj.target_category if inj.target_category is not None else 0 for inj in injections]
    clean_logits = attribution_engine.score_histories(network, conditions["clean"])
    per_user = {}
    for name in CONDITIONS:
        histories = conditions[name]
        if any(h is None for h in histories):
            per_user[name] = None
            continue
        logits = clean_logits if name == "clean" else attribution_engine.score_histories(network, histories)
        per_user[name] = _metrics_of(logits, clean_logits, targets, seen, negatives, exclude, profiles,
                                     categories, target_categories)
    return per_user


def _metrics_of(logits, clean_logits, targets, seen, negatives, exclude, profiles, categories, target_categories):
    values = {}
    ranks = {"full": full_ranks(logits, targets, seen), "sampled": sampled_ranks(logits, targets, negatives)}
    for protocol, protocol_ranks in ranks.items():
        all_metrics = per_user_metrics(protocol_ranks, ks=(1, 10))
        for metric in RANKING_METRICS:
            values[f"{protocol}:{metric}"] = all_metrics[metric]
    drift = drift_engine.drift_metrics_from_logits(
        clean_logits, logits, exclude_before=exclude, exclude_after=exclude, categories=categories,
        target_categories=target_categories,
    )
    values["ADS"] = np.asarray(drift.ads, dtype=np.float64)
    values["DTC"] = np.asarray(drift.dtc, dtype=np.float64)
    values["alignment"] = alignment_engine.alignment_from_logits(logits, profiles, categories)
    return values


def _detection_quality(scores: dict, injections) -> dict:
    quality = {}
    for name in DETECTORS:
        aucs, precisions = [], []
        for entry, injection in zip(scores[name], injections, strict=True):
            if entry is None:
                break
            positions, score = entry
            labels = np.isin(positions, injection.injected_positions)
            auc = detection_engine.roc_auc(score, labels)
            if auc is not None:
                aucs.append(auc)
            precisions.append(detection_engine.precision_at_k(score, labels, k=NUM_INJECTED))
        quality[name] = None if not precisions else {
            "roc_auc": float(np.mean(aucs)) if aucs else None, "precision_at_5": float(np.mean(precisions)),
            "members": len(precisions),
        }
    return quality


# --- statistics ----------------------------------------------------------------------------------


def summarize_strategy(run: dict, *, seed: int, resamples: int = 1000) -> dict:
    per_user = run["per_user"]
    conditions = {}
    for name, values in per_user.items():
        if values is None:
            conditions[name] = None
            continue
        conditions[name] = {metric: mean_with_ci(v, seed=seed, resamples=resamples) for metric, v in values.items()}
    return {"conditions": conditions, "tests": paired_tests(per_user, seed=seed, resamples=resamples),
            "detection": run["detection"], "coincide": run["coincide"], "satisfied": run["satisfied"]}


def mean_with_ci(values, *, seed: int = 0, resamples: int = 1000) -> dict:
    values = np.asarray(values, dtype=np.float64)
    values = values[~np.isnan(values)]
    if len(values) == 0:
        return {"mean": None, "low": None, "high": None, "n": 0}
    low, high = bootstrap_ci(values, resamples=resamples, seed=seed)
    return {"mean": float(values.mean()), "low": low, "high": high, "n": int(len(values))}


def paired_tests(per_user: dict, *, seed: int = 0, resamples: int = 1000) -> dict:
    """Wilcoxon signed-rank p-value and a paired bootstrap CI of the mean difference, per metric."""
    tests = {}
    for first, second in COMPARISONS:
        if per_user.get(first) is None or per_user.get(second) is None:
            continue
        tests[f"{first} vs {second}"] = {
            metric: paired_test(per_user[first][metric], per_user[second][metric], seed=seed, resamples=resamples)
            for metric in per_user[first] if metric in per_user[second]
        }
    return tests


def paired_test(first, second, *, seed: int = 0, resamples: int = 1000) -> dict:
    difference = np.asarray(first, dtype=np.float64) - np.asarray(second, dtype=np.float64)
    difference = difference[~np.isnan(difference)]
    summary = mean_with_ci(difference, seed=seed, resamples=resamples)
    summary["p_value"] = wilcoxon_p(difference)
    return summary


def wilcoxon_p(difference: np.ndarray) -> float | None:
    if len(difference) == 0:
        return None
    if not np.any(difference != 0):
        return 1.0
    return float(wilcoxon(difference, zero_method="zsplit").pvalue)


def _results_document(setup: Setup, by_strategy, timings, seconds, n_users, seed, ig_steps) -> dict:
    network = setup.network
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
        "model": {"id": setup.model_row.pk, "architecture": network.architecture, "max_len": network.max_len,
                  "num_items": network.num_items},
        "n_users": len(setup.members), "requested_users": n_users, "seed": seed, "ig_steps": ig_steps,
        "strategies": by_strategy, "seconds": round(seconds, 2), "seconds_per_strategy": timings,
        "conditions": {name: CONDITION_LABELS[name] for name in CONDITIONS},
    }


# --- export --------------------------------------------------------------------------------------


def result_rows(experiment: Experiment) -> list[dict]:
    """Flat rows (strategy, condition, metric, mean, CI) for CSV export and tables."""
    rows = []
    for strategy, summary in (experiment.results.get("strategies") or {}).items():
        for condition, metrics in summary["conditions"].items():
            for metric, stats in (metrics or {}).items():
                protocol, _, name = metric.rpartition(":")
                rows.append({"strategy": strategy, "condition": condition, "protocol": protocol or "-",
                             "metric": name, "mean": stats["mean"], "ci_low": stats["low"],
                             "ci_high": stats["high"], "n": stats["n"]})
    return rows

