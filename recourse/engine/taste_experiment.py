"""Population experiment for drift detection and recourse methods (issue 19), Django-free.

For each sampled member (history H, held-out next item), each drift kind (injection.py) perturbs H
with k off-profile items; each method proposes a corrected history; the held-out item is ranked
after each condition (sampled 1+100 and full protocols). Reported per method:

* share of the drift-caused drop won back: (metric(method) - metric(drifted)) /
  (metric(clean) - metric(drifted)) on member means (oracle = 100 %), with a bootstrap CI;
* detection ROC-AUC and precision@k of each suspicion score for the injected positions;
* verdicts: share of drifted members judged "drift: yes" and of clean members (false alarms);
* changes made; ADS (JS divergence of next-item distributions) to the clean history;
* paired tests (Wilcoxon signed-rank, paired bootstrap CI) of the taste method against the others.

Methods: taste (ours: calibrated flags + pruned fix, applied only when the verdict is "yes", as the
product does; no categories), taste_fix (the same fix applied whatever the verdict), taste_k (our
order, the k most suspicious removed), taste_prefix (the second measurement's "prefix" rule, gated, when
the run's own rule is another one: taste_options={"choice": "joint", ...}), taste_<name> for any other
named rule of taste_recourse.RULES passed as a baseline (e.g. taste_joint, the third measurement's rule),
paper_ig (IG of genre alignment + the paper's greedy eq. 6 search towards R(clean); needs categories), attention_k,
occlusion_k (leave-one-out shift of the next-item distribution), recent_k, random_k, oracle.
Baselines with `_k` are told k, the number of injected items (information the taste method does not get).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.stats import binomtest, rankdata, wilcoxon

from recsys.ml.evaluation import bootstrap_ci, full_ranks, per_user_metrics, sample_negatives, sampled_ranks

from .alignment import CategoryIndex, preference_profile
from .attribution import attention_attribution, score_histories
from .drift_detection import alignment_attributions
from .drift_metrics import algorithmic_drift_score
from .injection import KINDS, Scenario, inject
from .protocol import ExplainerUnavailable
from .recourse_search import search_recourse
from .sequences import History, without_positions
from .taste import CausalModel, measure_taste
from .taste_recourse import RULES, TasteAnalysis, TasteCalibration, analyze_batch, calibrate_taste, suspicion_of

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Progress = Callable[[str], None]

DRIFT_KINDS = ("appended", "interleaved", "burst", "mid")
METHODS = ("taste", "taste_fix", "taste_k", "taste_prefix", "taste_joint", "paper_ig", "attention_k", "occlusion_k",
           "recent_k", "random_k", "oracle")
DETECTORS = ("taste", "ig_alignment", "attention", "occlusion", "recency", "random")
PROTOCOL_METRICS = ("sampled:HR@10", "sampled:NDCG@10", "full:HR@10", "full:NDCG@10")
NUM_NEGATIVES = 100


@dataclass(frozen=True)
class Member:
    history: IntArray  # clean history (model item indices), oldest first
    target: int  # held-out next item
    interacted: IntArray  # every item of the member (negatives are drawn outside it)


@dataclass(frozen=True)
class ExperimentConfig:
    kinds: tuple[str, ...] = DRIFT_KINDS
    k: int = 5
    m: int = 10
    seed: int = 0
    ig_steps: int = 20
    calibration_members: int = 200
    resamples: int = 1000


def run_experiment(
    model: CausalModel,
    members: Sequence[Member],
    categories: CategoryIndex | None,
    config: ExperimentConfig,
    *,
    calibration_histories: Sequence[History] | None = None,
    progress: Progress | None = None,
    taste_options: dict[str, Any] | None = None,
    baselines: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Calibrate on clean histories, then every drift kind on the same members; JSON-ready results.

    taste_options are calibrate_taste's keyword options for "taste" (default: the "prefix" rule); when they
    choose another rule, the "prefix" rule also runs, as the method taste_prefix. `baselines` names the
    taste_recourse.RULES to run beside it instead (method taste_<name>, gated; a rule identical to
    taste_options is skipped)."""
    say = progress or (lambda message: None)
    started = time.monotonic()
    clean = [History(m.history, np.ones(len(m.history), dtype=np.float32)) for m in members]
    say(f"calibrating on {len(calibration_histories or clean)} clean histories")
    options = dict(taste_options or {})
    calibration = calibrate_taste(model, list(calibration_histories or clean), **options)
    names = list(baselines) if baselines is not None else ([] if calibration.choice == "prefix" else ["prefix"])
    others = {name: calibrate_taste(model, list(calibration_histories or clean), **RULES[name]) for name in names
              if _options(RULES[name]) != _options(options)}
    say(f"calibrated: flag threshold {calibration.flag_threshold:.2f}, gain cutoff {calibration.gain_cutoff:.4f}, "
        f"false alarms {calibration.false_alarm_rate:.3f} ({calibration.false_alarm_basis})")
    clean_analyses = analyze_batch(model, clean, calibration)
    results: dict[str, Any] = {
        "config": asdict(config), "n_members": len(members), "architecture": model.architecture,
        "max_len": model.max_len, "num_items": model.num_items, "categories": categories is not None,
        "calibration": {"flag_threshold": calibration.flag_threshold, "gain_cutoff": calibration.gain_cutoff,
                        "false_alarm_rate": calibration.false_alarm_rate, "basis": calibration.false_alarm_basis,
                        "n_reference": calibration.n_reference,
                        "external": calibration_histories is not None, "choice": calibration.choice,
                        "removal_cost": calibration.removal_cost, "suffixes": calibration.suffixes,
                        "removal_depth": calibration.removal_depth,
                        "flag_quantile": calibration.flag_quantile,
                        "verdict_quantile": calibration.verdict_quantile, "simulated": calibration.simulated,
                        "noise_margin": calibration.noise_margin, "episodes": calibration.episodes,
                        "verdict_statistic": calibration.verdict_statistic, "verdict_top": calibration.verdict_top,
                        "options": _options(options)},
        "clean_false_alarms": float(np.mean([a.drift for a in clean_analyses])),
        "kinds": {},
    }
    for name, other in others.items():
        summary = {"choice": other.choice, "removal_cost": other.removal_cost, "removal_depth": other.removal_depth,
                   "noise_margin": other.noise_margin, "verdict_statistic": other.verdict_statistic,
                   "gain_cutoff": other.gain_cutoff, "false_alarm_rate": other.false_alarm_rate,
                   "clean_false_alarms": float(np.mean([a.drift for a in analyze_batch(model, clean, other)]))}
        results.setdefault("baseline_calibrations", {})[name] = summary
        if name == "prefix":
            results["previous_calibration"] = summary
    for kind in config.kinds:
        begin = time.monotonic()
        say(f"{kind}: injecting and analysing {len(members)} members")
        results["kinds"][kind] = run_kind(model, members, categories, calibration, kind, config, others)
        results["kinds"][kind]["seconds"] = round(time.monotonic() - begin, 1)
        say(f"{kind}: done in {results['kinds'][kind]['seconds']} s")
    results["seconds"] = round(time.monotonic() - started, 1)
    return results


def run_kind(
    model: CausalModel, members: Sequence[Member], categories: CategoryIndex | None,
    calibration: TasteCalibration, kind: str, config: ExperimentConfig,
    baselines: dict[str, TasteCalibration] | None = None,
) -> dict[str, Any]:
    rng = np.random.default_rng(config.seed)
    clean = [History(m.history, np.ones(len(m.history), dtype=np.float32)) for m in members]
    scenarios = [
        inject(kind, h, model.num_items, rng, k=config.k, m=config.m, window=model.max_len, categories=categories,
               forbidden=np.asarray([m.target], dtype=np.int64))
        for h, m in zip(clean, members, strict=True)
    ]
    drifted = [s.history for s in scenarios]
    measures = measure_taste(model, drifted, window=calibration.window)
    analyses = analyze_batch(model, drifted, calibration, measures=measures)
    detectors = detector_scores(model, drifted, measures, analyses, clean, categories, config)
    conditions = corrected_histories(model, members, scenarios, analyses, detectors, clean, categories, config)
    for name, other in (baselines or {}).items():
        conditions[f"taste_{name}"] = [(a.corrected, len(a.changes)) if a.drift else (s.history, 0) for a, s in
                                       zip(analyze_batch(model, drifted, other), scenarios, strict=True)]
    per_member = evaluate_conditions(model, members, scenarios, conditions, config.seed)
    return summarise(per_member, conditions, scenarios, detectors, analyses, config)


# --- suspicion scores per detector -------------------------------------------------------------


def detector_scores(
    model: CausalModel, drifted: Sequence[History], measures: Sequence[Any], analyses: Sequence[TasteAnalysis],
    clean: Sequence[History], categories: CategoryIndex | None, config: ExperimentConfig,
) -> dict[str, list[tuple[IntArray, FloatArray]] | None]:
    """Per detector and member: (visible positions, suspicion), higher = more likely injected."""
    scores: dict[str, list[tuple[IntArray, FloatArray]] | None] = {
        "taste": [suspicion_of(a) for a in analyses],
        "recency": [(m.positions, np.arange(len(m.positions), dtype=np.float64)) for m in measures],
    }
    rng = np.random.default_rng(config.seed + 1)
    scores["random"] = [(m.positions, rng.random(len(m.positions))) for m in measures]
    scores["occlusion"] = [_occlusion(model, h, m.positions) for h, m in zip(drifted, measures, strict=True)]
    attention: list[tuple[IntArray, FloatArray]] = []
    with contextlib.suppress(ExplainerUnavailable):
        for history in drifted:
            attribution = attention_attribution(model, history)
            attention.append((attribution.positions, attribution.scores.astype(np.float64)))
    scores["attention"] = attention if attention and len(attention) == len(drifted) else None
    if categories is None:
        scores["ig_alignment"] = None
    else:
        profiles = np.stack([preference_profile(h, categories) for h in clean])
        attributions = alignment_attributions(model, list(drifted), profiles, categories, config.ig_steps)
        scores["ig_alignment"] = [(a.positions, -a.scores.astype(np.float64)) for a in attributions]
    return scores


def _occlusion(model: CausalModel, history: History, positions: IntArray) -> tuple[IntArray, FloatArray]:
    """How far leaving each interaction out moves the next-item distribution (JS divergence)."""
    variants = [history] + [without_positions(history, [int(p)]) for p in positions]
    logits = score_histories(model, variants)
    shift = algorithmic_drift_score(np.repeat(logits[:1], len(positions), axis=0), logits[1:])
    return positions, np.asarray(shift, dtype=np.float64)


def _order(entry: tuple[IntArray, FloatArray]) -> IntArray:
    positions, score = entry
    return positions[np.argsort(-score, kind="stable")]


# --- conditions --------------------------------------------------------------------------------


def corrected_histories(
    model: CausalModel, members: Sequence[Member], scenarios: Sequence[Scenario], analyses: Sequence[TasteAnalysis],
    detectors: dict[str, list[tuple[IntArray, FloatArray]] | None], clean: Sequence[History],
    categories: CategoryIndex | None, config: ExperimentConfig,
) -> dict[str, list[tuple[History, int]] | None]:
    """(history, number of changes) per method and member; None = method not applicable."""
    k = config.k
    conditions: dict[str, list[tuple[History, int]] | None] = {
        "clean": [(h, 0) for h in clean],
        "drifted": [(s.history, 0) for s in scenarios],
        "taste": [(a.corrected, len(a.changes)) if a.drift else (s.history, 0)
                  for a, s in zip(analyses, scenarios, strict=True)],
        "taste_fix": [(a.corrected, len(a.changes)) for a in analyses],
        "oracle": [(without_positions(s.history, s.injected_positions.tolist()), len(s.injected_positions))
                   for s in scenarios],
    }
    for method, detector in (("taste_k", "taste"), ("attention_k", "attention"), ("occlusion_k", "occlusion"),
                             ("recent_k", "recency"), ("random_k", "random")):
        entries = detectors.get(detector)
        conditions[method] = None if entries is None else [
            (without_positions(s.history, _order(e)[:k].tolist()), min(k, len(e[0])))
            for s, e in zip(scenarios, entries, strict=True)
        ]
    ig = detectors.get("ig_alignment")
    if ig is None or categories is None:
        conditions["paper_ig"] = None
    else:
        paper = []
        for scenario, entry, reference in zip(scenarios, ig, clean, strict=True):
            profile = preference_profile(reference, categories)
            order = _order(entry).tolist()
            result = search_recourse(model, scenario.history, profile, categories, order, reference=reference)
            paper.append((result.corrected, len(result.changes)))
        conditions["paper_ig"] = paper
    return conditions


# --- evaluation --------------------------------------------------------------------------------


def evaluate_conditions(
    model: CausalModel, members: Sequence[Member], scenarios: Sequence[Scenario],
    conditions: dict[str, list[tuple[History, int]] | None], seed: int,
) -> dict[str, dict[str, FloatArray] | None]:
    """Per condition: per-member ranking metrics (both protocols), ADS to clean and changes."""
    targets = np.asarray([m.target for m in members], dtype=np.int64)
    seen = [s.history.items for s in scenarios]  # the member saw clean + injected items either way
    interacted = [np.union1d(m.interacted, s.injected_items) for m, s in zip(members, scenarios, strict=True)]
    negatives = sample_negatives(interacted, model.num_items, NUM_NEGATIVES, np.random.default_rng(seed))
    clean_entries = conditions["clean"]
    assert clean_entries is not None
    clean_logits = score_histories(model, [h for h, _ in clean_entries])
    per_member: dict[str, dict[str, FloatArray] | None] = {}
    for name, entries in conditions.items():
        if entries is None:
            per_member[name] = None
            continue
        logits = clean_logits if name == "clean" else score_histories(model, [h for h, _ in entries])
        values: dict[str, FloatArray] = {}
        for protocol, ranks in (("full", full_ranks(logits, targets, seen)),
                                ("sampled", sampled_ranks(logits, targets, negatives))):
            metrics = per_user_metrics(ranks, ks=(10,))
            values[f"{protocol}:HR@10"] = metrics["HR@10"]
            values[f"{protocol}:NDCG@10"] = metrics["NDCG@10"]
        values["ADS"] = np.asarray(algorithmic_drift_score(clean_logits, logits), dtype=np.float64)
        values["changes"] = np.asarray([c for _, c in entries], dtype=np.float64)
        per_member[name] = values
    return per_member


def roc_auc(scores: FloatArray, labels: npt.NDArray[np.bool_]) -> float | None:
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if positives == 0 or negatives == 0:
        return None
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def precision_at(scores: FloatArray, labels: npt.NDArray[np.bool_], k: int) -> float:
    top = np.argsort(-scores, kind="stable")[:k]
    return float(labels[top].mean()) if len(top) else 0.0


# --- statistics --------------------------------------------------------------------------------


def mean_ci(values: FloatArray, seed: int, resamples: int) -> dict[str, float | None]:
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if not len(values):
        return {"mean": None, "low": None, "high": None}
    low, high = bootstrap_ci(values, resamples=resamples, seed=seed)
    return {"mean": float(values.mean()), "low": low, "high": high}


def won_back(method: FloatArray, drifted: FloatArray, clean: FloatArray, seed: int, resamples: int
             ) -> dict[str, float | None]:
    """Share of the drift-caused drop of the mean won back, with a paired bootstrap CI over members."""
    drop = float(clean.mean() - drifted.mean())
    if abs(drop) < 1e-12:
        return {"mean": None, "low": None, "high": None, "drop": drop}
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, len(method), (resamples, len(method)))
    resampled_drop = clean[rows].mean(1) - drifted[rows].mean(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = (method[rows].mean(1) - drifted[rows].mean(1)) / resampled_drop
    shares = shares[np.isfinite(shares)]
    low, high = np.percentile(shares, [2.5, 97.5]) if len(shares) else (np.nan, np.nan)
    return {"mean": float((method.mean() - drifted.mean()) / drop), "low": float(low), "high": float(high),
            "drop": drop}


def paired(first: FloatArray, second: FloatArray, seed: int, resamples: int) -> dict[str, float | None]:
    difference = np.asarray(first, dtype=np.float64) - np.asarray(second, dtype=np.float64)
    summary: dict[str, float | None] = dict(mean_ci(difference, seed, resamples))
    summary["p_value"] = None if not len(difference) else (
        1.0 if not np.any(difference != 0) else float(wilcoxon(difference, zero_method="zsplit").pvalue))
    summary["p_mcnemar"] = mcnemar_p(first, second)
    return summary


def mcnemar_p(first: FloatArray, second: FloatArray) -> float | None:
    """Exact McNemar test for paired hit / miss outcomes (None unless both are 0/1 per member).

    The Wilcoxon test above ranks the many tied zero differences with the rest ("zsplit"), which keeps it valid
    but costs it most of its power on hit rates; McNemar's test, the textbook test for paired binary outcomes,
    looks only at the members where the two methods disagree.
    """
    first, second = np.asarray(first), np.asarray(second)
    if not len(first) or not (np.isin(first, (0, 1)).all() and np.isin(second, (0, 1)).all()):
        return None
    wins, losses = int(((first == 1) & (second == 0)).sum()), int(((first == 0) & (second == 1)).sum())
    return 1.0 if wins + losses == 0 else float(binomtest(wins, wins + losses).pvalue)


def summarise(
    per_member: dict[str, dict[str, FloatArray] | None], conditions: dict[str, Any], scenarios: Sequence[Scenario],
    detectors: dict[str, list[tuple[IntArray, FloatArray]] | None], analyses: Sequence[TasteAnalysis],
    config: ExperimentConfig,
) -> dict[str, Any]:
    seed, resamples = config.seed, config.resamples
    clean, drifted = per_member["clean"], per_member["drifted"]
    assert clean is not None and drifted is not None
    methods: dict[str, Any] = {}
    for name, values in per_member.items():
        if values is None:
            methods[name] = None
            continue
        methods[name] = {metric: mean_ci(v, seed, resamples) for metric, v in values.items()}
        methods[name]["won_back"] = {metric: won_back(values[metric], drifted[metric], clean[metric], seed, resamples)
                                     for metric in PROTOCOL_METRICS}
    tests: dict[str, Any] = {}
    ours = per_member["taste"]
    assert ours is not None
    named_baselines = sorted(set(per_member) - set(METHODS) - {"clean", "drifted"})
    for other in ("drifted", "taste_fix", "taste_prefix", "taste_joint", *named_baselines, "recent_k", "paper_ig",
                  "attention_k", "occlusion_k", "random_k", "taste_k", "oracle"):
        values = per_member.get(other)
        if values is not None:
            tests[f"taste vs {other}"] = {metric: paired(ours[metric], values[metric], seed, resamples)
                                          for metric in PROTOCOL_METRICS + ("ADS",)}
    return {
        "methods": methods, "tests": tests, "ceiling": _ceiling(per_member, seed, resamples),
        "detection": detection_quality(detectors, scenarios, config.k),
        "verdict_yes": float(np.mean([a.drift for a in analyses])),
        "flagged_precision": _flagged_precision(analyses, scenarios),
    }


def _ceiling(per_member: dict[str, dict[str, FloatArray] | None], seed: int,
             resamples: int) -> dict[str, Any] | None:
    """The oracle (exactly the injected interactions removed) minus the paper's IG-greedy: the most any method can
    beat IG-greedy by on these members, and whether even that passes a paired test."""
    oracle, paper = per_member.get("oracle"), per_member.get("paper_ig")
    if oracle is None or paper is None:
        return None
    return {metric: paired(oracle[metric], paper[metric], seed, resamples) for metric in PROTOCOL_METRICS}


def detection_quality(
    detectors: dict[str, list[tuple[IntArray, FloatArray]] | None], scenarios: Sequence[Scenario], k: int
) -> dict[str, dict[str, float | None] | None]:
    quality: dict[str, dict[str, float | None] | None] = {}
    for name in DETECTORS:
        entries = detectors.get(name)
        if entries is None:
            quality[name] = None
            continue
        aucs, precisions = [], []
        for (positions, scores), scenario in zip(entries, scenarios, strict=True):
            labels = np.isin(positions, scenario.injected_positions)
            auc = roc_auc(scores, labels)
            if auc is not None:
                aucs.append(auc)
            precisions.append(precision_at(scores, labels, k))
        quality[name] = {"roc_auc": float(np.mean(aucs)) if aucs else None,
                         "precision_at_k": float(np.mean(precisions)), "members": len(precisions)}
    return quality


def _flagged_precision(analyses: Sequence[TasteAnalysis], scenarios: Sequence[Scenario]) -> dict[str, float | None]:
    """Of the interactions the taste fix changes: the share that were injected; and the recall."""
    changed = sum(len(a.changes) for a in analyses)
    hits = sum(int(np.isin([c.position for c in a.changes], s.injected_positions).sum())
               for a, s in zip(analyses, scenarios, strict=True))
    injected = sum(len(s.injected_positions) for s in scenarios)
    return {"precision": hits / changed if changed else None, "recall": hits / injected if injected else None}


# --- report ------------------------------------------------------------------------------------


LABELS = {
    "clean": "clean history", "drifted": "after drift", "taste": "**taste (ours), fix applied when \"yes\"**",
    "taste_fix": "taste fix, applied whatever the verdict",
    "taste_k": "taste order, k removed", "taste_prefix": "second measurement's prefix rule, when \"yes\"",
    "taste_joint": "third measurement's joint rule, when \"yes\"",
    "paper_ig": "paper IG-greedy (eq. 6)", "attention_k": "attention, k removed",
    "occlusion_k": "occlusion, k removed", "recent_k": "k most recent removed", "random_k": "k random removed",
    "oracle": "oracle (injected removed)",
}


def _options(options: dict[str, Any]) -> dict[str, Any]:
    """calibrate_taste options as JSON would store them (tuples as lists), for comparing and reporting."""
    return {key: list(value) if isinstance(value, tuple) else value for key, value in options.items()}


def _cell(stats: dict[str, Any] | None, percent: bool = False) -> str:
    if not stats or stats.get("mean") is None:
        return "n/a"
    scale, unit = (100.0, " %") if percent else (1.0, "")
    return f"{stats['mean'] * scale:.{0 if percent else 3}f}{unit} [{stats['low'] * scale:.{0 if percent else 3}f}, " \
           f"{stats['high'] * scale:.{0 if percent else 3}f}]"


def render_markdown(results: dict[str, Any]) -> str:
    run = results.get("run", {})
    lines = [f"\n### {run.get('name', '')} · {results['architecture']} · L={results['max_len']} · "
             f"{results['n_members']} members" + (" · no categories" if not results["categories"] else ""),
             f"\nCalibration: flag threshold {results['calibration']['flag_threshold']:.2f}, gain cutoff "
             f"{results['calibration']['gain_cutoff']:.4f}, stored false-alarm rate "
             f"{results['calibration']['false_alarm_rate']:.3f} ({results['calibration']['basis']}); "
             f"clean members of the experiment judged \"drift: yes\": {results['clean_false_alarms']:.3f}."
             + _choice_line(results["calibration"])]
    for kind, summary in results["kinds"].items():
        lines += [f"\n**{kind} drift** — won back (oracle = 100 %), mean [95 % CI]; verdict \"yes\" on drifted "
                  f"members {summary['verdict_yes']:.3f}; changes by the taste fix that were injected: "
                  f"{_number(summary['flagged_precision']['precision'])}, injected items changed: "
                  f"{_number(summary['flagged_precision']['recall'])}\n",
                  "| method | sampled HR@10 | won back (sampled HR@10) | full HR@10 | won back (full HR@10) | "
                  "won back (sampled NDCG@10) | ADS to clean | changes |",
                  "|---|---|---|---|---|---|---|---|"]
        for name, label in LABELS.items():
            stats = summary["methods"].get(name)
            if stats is None:
                lines.append(f"| {label} | not applicable | | | | | | |")
                continue
            won = stats["won_back"]
            lines.append(f"| {label} | {_cell(stats['sampled:HR@10'])} | {_cell(won['sampled:HR@10'], True)} | "
                         f"{_cell(stats['full:HR@10'])} | {_cell(won['full:HR@10'], True)} | "
                         f"{_cell(won['sampled:NDCG@10'], True)} | {_cell(stats['ADS'])} | "
                         f"{stats['changes']['mean']:.2f} |")
        lines += ["\n| detector | ROC-AUC | precision@k |", "|---|---|---|"]
        for name, quality in summary["detection"].items():
            if quality is None:
                lines.append(f"| {name} | not applicable | |")
            else:
                lines.append(f"| {name} | {_number(quality['roc_auc'])} | {_number(quality['precision_at_k'])} |")
        lines += ["\n| paired test | sampled HR@10 | full HR@10 | sampled NDCG@10 | ADS |", "|---|---|---|---|---|"]
        for comparison, metrics in summary["tests"].items():
            cells = [_test(metrics[m]) for m in ("sampled:HR@10", "full:HR@10", "sampled:NDCG@10", "ADS")]
            lines.append(f"| {comparison} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


REPORT_ROWS = (("taste", "**taste (ours), fix when \"yes\"**"), ("taste_fix", "taste fix, whatever the verdict"),
               ("taste_joint", "third measurement's joint rule, when \"yes\""),
               ("taste_prefix", "second measurement's prefix rule, when \"yes\""),
               ("taste_k", "taste order, k told"), ("paper_ig", "paper IG-greedy (eq. 6)"),
               ("attention_k", "attention, k told"), ("occlusion_k", "occlusion, k told"),
               ("recent_k", "k most recent"), ("random_k", "k random"))


def render_report(results: dict[str, Any], path: str = "") -> str:
    """The research report's tables (docs/research-report.md, issue 19): won back per method, detection, paired."""
    run, calibration = results.get("run", {}), results["calibration"]
    simulated = calibration.get("simulated") or {}
    title = (f"\n#### {run.get('name', '')} · {results['architecture']} · L={results['max_len']} · "
             f"{results['n_members']} members" + ("" if results["categories"] else " · no categories")
             + (f" (`{path}`)" if path else ""))
    baselines = "; ".join(f"{name}: {100 * b['clean_false_alarms']:.1f} %"
                          for name, b in results.get("baseline_calibrations", {}).items())
    lines = [title, "", f"Calibration on {calibration['n_reference']} reference members: rule "
             f"{calibration.get('choice')}, noise margin {calibration.get('noise_margin')} spreads, at most "
             f"{calibration.get('removal_depth')} removals, verdict {calibration.get('verdict_statistic')} at the "
             f"clean {calibration.get('verdict_quantile')} quantile, cutoff {calibration['gain_cutoff']:.2f}; stored "
             f"false-alarm rate {calibration['false_alarm_rate']:.3f} ({calibration['basis']}); simulated drift: fix "
             f"wins back {100 * simulated.get('ads_won_back_ungated', float('nan')):.0f} % of the ADS, "
             f"{100 * simulated.get('ads_won_back', float('nan')):.0f} % gated. **Clean experiment members judged "
             f"\"drift: yes\": {100 * results['clean_false_alarms']:.1f} %**"
             + (f" (baseline rules on the same members: {baselines})." if baselines else ".")]
    for kind, summary in results["kinds"].items():
        methods = summary["methods"]
        clean, drifted = methods["clean"], methods["drifted"]
        precision = summary["flagged_precision"]
        lines += ["", f"*{kind}* — sampled HR@10 clean {clean['sampled:HR@10']['mean']:.3f} → drifted "
                  f"{drifted['sampled:HR@10']['mean']:.3f}; full HR@10 {clean['full:HR@10']['mean']:.3f} → "
                  f"{drifted['full:HR@10']['mean']:.3f}. Verdict \"yes\" on drifted members "
                  f"{100 * summary['verdict_yes']:.1f} %; of the fix's removals {_share(precision['precision'])} were "
                  f"injected, {_share(precision['recall'])} of injected items removed. {summary.get('seconds')} s.",
                  "", "| method | won back: sampled HR@10 | full HR@10 | sampled NDCG@10 | ADS to clean | changes |",
                  "|---|---|---|---|---|---|"]
        for name, label in REPORT_ROWS:
            if name not in methods:
                continue
            stats = methods[name]
            if stats is None:
                lines.append(f"| {label} | not applicable | | | | |")
                continue
            won = stats["won_back"]
            lines.append(f"| {label} | {_won(won['sampled:HR@10'])} | {_won(won['full:HR@10'])} | "
                         f"{_won(won['sampled:NDCG@10'])} | {stats['ADS']['mean']:.3f} | "
                         f"{stats['changes']['mean']:.2f} |")
        detection = summary["detection"]
        taste = detection["taste"]
        others = ", ".join(f"{name} {quality['roc_auc']:.3f}" for name, quality in detection.items()
                           if name != "taste" and quality is not None and quality["roc_auc"] is not None)
        lines += ["", f"Detection ROC-AUC / precision@5: **taste {taste['roc_auc']:.3f} / "
                  f"{taste['precision_at_k']:.3f}**; {others}", "",
                  "| paired (taste when \"yes\" minus …) | sampled HR@10 | full HR@10 | sampled NDCG@10 | ADS |",
                  "|---|---|---|---|---|"]
        for comparison, metrics in summary["tests"].items():
            other = comparison.removeprefix("taste vs ")
            if other in ("oracle", "random_k", "taste_k"):
                continue
            cells = [_test(metrics[m]) for m in ("sampled:HR@10", "full:HR@10", "sampled:NDCG@10", "ADS")]
            lines.append(f"| {other} | " + " | ".join(cells) + " |")
        if summary.get("ceiling"):
            ceiling = summary["ceiling"]
            lines += ["", "Ceiling against the paper (oracle minus IG-greedy, the most any method can beat it by): "
                      f"sampled HR@10 {_test(ceiling['sampled:HR@10'])}; full HR@10 {_test(ceiling['full:HR@10'])}."]
    return "\n".join(lines)


def _won(stats: dict[str, Any]) -> str:
    if stats.get("mean") is None:
        return "n/a"
    return f"{100 * stats['mean']:.0f} % [{100 * stats['low']:.0f}, {100 * stats['high']:.0f}]"


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f} %"


def _choice_line(calibration: dict[str, Any]) -> str:
    if calibration.get("choice") == "joint":
        return (f" Removal set: the plan (prefixes of the suspicion order"
                f"{', runs of consecutive interactions' if calibration.get('episodes') else ''}) that best explains "
                f"the recent history as taste plus noise, noise margin {calibration.get('noise_margin')} spreads, "
                f"at most {calibration.get('removal_depth')} removals; verdict statistic "
                f"{calibration.get('verdict_statistic')}.")
    if calibration.get("choice", "threshold") != "prefix":
        return " Removal set: every flag, pruned by Psi (first measurement's rule)."
    simulated = calibration.get("simulated") or {}
    won = simulated.get("ads_won_back")
    family = " or run of most recent interactions" if calibration.get("suffixes") else ""
    where = f", where it won back {100 * won:.0f} % of the ADS to clean" if won is not None else ""
    return (f" Removal set: the prefix of the suspicion order{family} maximising Psi - "
            f"{calibration['removal_cost']} x removals, at most {calibration.get('removal_depth') or 'max'} "
            f"removals (cost and depth chosen on the reference members' simulated drift{where}).")


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _test(stats: dict[str, Any]) -> str:
    if stats.get("mean") is None:
        return "n/a"
    p, exact = stats["p_value"], stats.get("p_mcnemar")
    mcnemar = "" if exact is None else f" (McNemar {exact:.2g})"
    return f"{stats['mean']:+.3f} [{stats['low']:+.3f}, {stats['high']:+.3f}] p={p:.2g}{mcnemar}"


__all__ = ["DRIFT_KINDS", "KINDS", "METHODS", "ExperimentConfig", "Member", "render_markdown", "render_report",
           "run_experiment"]
