"""Development runner for the taste check's "joint" rule (issue 19): variants on development users only.

Protocol (docs/research-report.md, issue 19): the test users of the leave-one-out split in the seed-0
permutation; the first 500 are the experiment members (never touched here), the next 200 the calibration
users (`benchmarks/drift_recourse.py` calibrates on the same ones, in the same order), the rest the
development users. For each variant (calibrate_taste options, or a name of taste_recourse.RULES) the
runner calibrates, injects k = 5 off-taste items into every development user (rare-genre items with
categories, uniform without; the harness's injection), and reports:

* the fix alone: share of the sampled / full HR@10 drop won back, precision / recall of its removals;
* per verdict statistic: ROC-AUC clean vs drifted development users per kind, and at the calibration
  users' clean quantile (the rule's own reference histories, cut-short ones included) the development
  users' false-alarm rate, the "yes" rate on drifted users and the gated share won back;
* the calibrated rule's own verdict (its statistic and stored cutoff).

    nice -n 10 .venv/bin/python benchmarks/drift_dev.py --data /work/shared/data/ml-100k-recbole \
        --format recbole --name ml100k --variants '["joint"]' --out var/drift/dev/ml100k-joint.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.drift_recourse import (  # noqa: E402
    _test_metrics,
    category_index,
    histories_of,
    load_dataset,
    trained_model,
)
from recourse.engine.injection import inject  # noqa: E402
from recourse.engine.sequences import History, without_positions  # noqa: E402
from recourse.engine.taste import CausalModel, measure_taste  # noqa: E402
from recourse.engine.taste_experiment import Member, evaluate_conditions, roc_auc, won_back  # noqa: E402
from recourse.engine.taste_joint import JointCurve, joint_curves  # noqa: E402
from recourse.engine.taste_recourse import RULES, TasteCalibration, calibrate_taste  # noqa: E402

STATISTICS = ("scan", "glr", "glr_fixed", "glr_fixed_best", "established", "established_mean")
COMBINED = ("scan|glr", "established|glr", "established|scan", "scan|glr_fixed")
EXPERIMENT_MEMBERS, CALIBRATION_MEMBERS = 500, 200


def model_arguments(description: str) -> argparse.ArgumentParser:
    """The dataset and (cached) model arguments the development runners share."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data")
    parser.add_argument("--format", default=None)
    parser.add_argument("--name", default=None)
    parser.add_argument("--drop-categories", action="store_true")
    parser.add_argument("--arch", default="sasrec")
    parser.add_argument("--max-len", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--hyper", default="{}")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = model_arguments(__doc__.splitlines()[0])
    parser.add_argument("--variants", default='["joint"]',
                        help="JSON list: names of taste_recourse.RULES or calibrate_taste option objects")
    parser.add_argument("--kinds", default="interleaved,appended")
    parser.add_argument("--quantiles", default="0.96,0.97")
    parser.add_argument("--experiment-members", type=int, default=EXPERIMENT_MEMBERS,
                        help="skipped at the front of the permutation (smoke runs only change these)")
    parser.add_argument("--calibration-members", type=int, default=CALIBRATION_MEMBERS)
    parser.add_argument("--out")
    parser.add_argument("--analyse", help="a results JSON of this runner: print --gates from its per-member data")
    parser.add_argument("--gates", default="", help="comma-separated statistic@quantile, e.g. 'scan|glr@0.97'")
    return parser.parse_args(argv)


def split_users(model_split: Any, seed: int, experiment: int = EXPERIMENT_MEMBERS,
                calibration_members: int = CALIBRATION_MEMBERS) -> tuple[list[History], list[Member]]:
    """(calibration histories in the harness's order, development members)."""
    test = model_split.test
    order = np.random.default_rng(seed).permutation(len(test)).tolist()
    calibration = order[experiment:experiment + calibration_members]
    development = sorted(order[experiment + calibration_members:])
    reference = [History(test.histories.items[r].astype(np.int64), test.histories.weights[r].astype(np.float32))
                 for r in calibration]
    members = [Member(test.histories.items[r].astype(np.int64), int(test.targets[r]),
                      test.interacted[r].astype(np.int64)) for r in development]
    return reference, members


def reference_histories(histories: Sequence[History], options: dict[str, Any]) -> list[History]:
    """The clean histories calibrate_taste sets the verdict cutoff on (fitting part + cut-short copies)."""
    usable = [h for h in histories if (h.weights > 0).sum() >= 3]
    n_fit = len(usable) - int(len(usable) * 0.3) if len(usable) >= 10 else len(usable)
    fit = usable[:n_fit]
    shorter = [History(h.items[:-cut], h.weights[:-cut]) for cut in options.get("reference_prefixes", ())
               for h in fit if (h.weights[:-cut] > 0).sum() >= 3]
    return fit + shorter


def curves_of(model: CausalModel, histories: Sequence[History], calibration: TasteCalibration) -> list[JointCurve]:
    measures = measure_taste(model, histories, window=calibration.window, candidates_only=True)
    scores = [calibration.norm.scores(m) for m in measures]
    return joint_curves(model, histories, calibration, measures, scores, [[] for _ in histories],
                        refine_margin=calibration.noise_margin if calibration.refine else None)


def fix_index(curve: JointCurve, calibration: TasteCalibration) -> int:
    return curve.choose(calibration.noise_margin, calibration.removal_depth)


def statistics_of(curve: JointCurve, calibration: TasteCalibration) -> dict[str, float]:
    margin, index = calibration.noise_margin, fix_index(curve, calibration)
    size = max(len(curve.plans[index]), 1)
    fixed_best = curve.choose(0.0, calibration.max_changes)
    return {"scan": curve.statistic(index, margin, "scan"), "glr": curve.gain(index, margin),
            "glr_fixed": curve.statistic(index, margin, "glr_fixed"),
            "glr_fixed_best": curve.gain(fixed_best, 0.0),
            "established": curve.statistic(index, margin, "established"),
            "established_mean": curve.statistic(index, margin, "established") / size}


def eligible(curve: JointCurve, calibration: TasteCalibration) -> bool:
    """What "yes" needs besides the statistic: a non-empty fix that moves the top 10 and raises J."""
    index = fix_index(curve, calibration)
    return bool(len(curve.plans[index]) and curve.moved(index) and curve.gain(index, calibration.noise_margin) > 0)


def table(values: Sequence[dict[str, float]]) -> dict[str, np.ndarray]:
    return {name: np.asarray([v[name] for v in values]) for name in values[0]}


def combined(stats: dict[str, np.ndarray], reference: dict[str, np.ndarray], name: str, quantile: float
             ) -> np.ndarray:
    """Statistic `name` per member; "a|b" = max(a / q_a, b / q_b), q = the reference quantile of each part."""
    parts = name.split("|")
    if len(parts) == 1:
        return stats[name]
    scales = [max(float(np.quantile(reference[part], quantile)), 1e-6) for part in parts]
    larger: np.ndarray = np.max([stats[part] / scale for part, scale in zip(parts, scales, strict=True)], axis=0)
    return larger


def verdict_row(variant: dict[str, Any], kind: dict[str, Any], name: str, quantile: float, seed: int
                ) -> dict[str, Any]:
    """ROC-AUC (clean vs drifted development users), the development users' false alarms and "yes" at the
    reference histories' `quantile`, and the share won back when the fix is applied on "yes" only."""
    reference = {k: np.asarray(v) for k, v in variant["per_member"]["reference"].items()}
    clean = combined({k: np.asarray(v) for k, v in variant["per_member"]["clean"].items()}, reference, name, quantile)
    drifted = combined({k: np.asarray(v) for k, v in kind["per_member"]["stats"].items()}, reference, name, quantile)
    cutoff = float(np.quantile(combined(reference, reference, name, quantile), quantile))
    clean_ok, ok = np.asarray(variant["per_member"]["clean_ok"]), np.asarray(kind["per_member"]["ok"])
    gate = ok & (drifted > cutoff)
    labels = np.concatenate([np.zeros(len(clean), bool), np.ones(len(drifted), bool)])
    return {"roc_auc": roc_auc(np.concatenate([clean, drifted]), labels), "cutoff": cutoff,
            "clean_false_alarms": float(np.mean(clean_ok & (clean > cutoff))), "yes": float(np.mean(gate)),
            **gated_shares(kind["per_member"]["metrics"], gate, seed)}


def gated_shares(metrics: dict[str, dict[str, list[float]]], gate: np.ndarray, seed: int) -> dict[str, float | None]:
    result: dict[str, float | None] = {}
    for label, metric in (("won_back_sampled", "sampled:HR@10"), ("won_back_full", "full:HR@10")):
        fix, drifted, clean = (np.asarray(metrics[c][metric]) for c in ("fix", "drifted", "clean"))
        mean = won_back(np.where(gate, fix, drifted), drifted, clean, seed, 200)["mean"]
        result[label] = None if mean is None else float(mean)
    return result


def run_variant(model: CausalModel, reference: list[History], members: list[Member], options: dict[str, Any],
                categories: Any, kinds: Sequence[str], quantiles: Sequence[float], seed: int) -> dict[str, Any]:
    started = time.monotonic()
    calibration = calibrate_taste(model, reference, **options)
    calibrated = time.monotonic() - started
    reference_curves = curves_of(model, reference_histories(reference, options), calibration)
    clean = [History(m.history, np.ones(len(m.history), dtype=np.float32)) for m in members]
    clean_curves = curves_of(model, clean, calibration)
    clean_ok = np.asarray([eligible(c, calibration) for c in clean_curves])
    result: dict[str, Any] = {
        "options": options, "calibration_seconds": round(calibrated, 1),
        "calibration": {"noise_margin": calibration.noise_margin, "removal_depth": calibration.removal_depth,
                        "gain_cutoff": calibration.gain_cutoff, "statistic": calibration.verdict_statistic,
                        "false_alarm_rate": calibration.false_alarm_rate, "simulated": calibration.simulated,
                        "reference_histories": len(reference_curves)},
        "clean_passes": float(np.mean([c.passes for c in clean_curves])),
        "clean_plans": float(np.mean([len(c.plans) for c in clean_curves])),
        "rule_clean_false_alarms": float(np.mean(
            clean_ok & (rule_statistic(clean_curves, calibration) > calibration.gain_cutoff))),
        "per_member": {"reference": _lists(table([statistics_of(c, calibration) for c in reference_curves])),
                       "clean": _lists(table([statistics_of(c, calibration) for c in clean_curves])),
                       "clean_ok": clean_ok.tolist()},
        "kinds": {},
    }
    for kind in kinds:
        begin = time.monotonic()
        result["kinds"][kind] = run_kind(model, members, clean, calibration, categories, kind, seed)
        result["kinds"][kind]["verdicts"] = {
            f"{name}@{quantile}": verdict_row(result, result["kinds"][kind], name, quantile, seed)
            for quantile in quantiles for name in (*STATISTICS, *COMBINED)}
        result["kinds"][kind]["seconds"] = round(time.monotonic() - begin, 1)
    result["seconds"] = round(time.monotonic() - started, 1)
    return result


def _lists(values: dict[str, np.ndarray]) -> dict[str, list[float]]:
    return {name: array.tolist() for name, array in values.items()}


def rule_statistic(curves: Sequence[JointCurve], calibration: TasteCalibration) -> np.ndarray:
    """The calibrated rule's own verdict statistic at its fix."""
    return np.asarray([c.statistic(fix_index(c, calibration), calibration.noise_margin,
                                   calibration.verdict_statistic, calibration.verdict_scales) for c in curves])


def run_kind(model: CausalModel, members: list[Member], clean: list[History], calibration: TasteCalibration,
             categories: Any, kind: str, seed: int) -> dict[str, Any]:
    """The fix of every drifted development user, its figures, and per member what verdict_row needs."""
    rng = np.random.default_rng(seed)
    scenarios = [inject(kind, h, model.num_items, rng, k=5, m=10, window=model.max_len, categories=categories,
                        forbidden=np.asarray([m.target], dtype=np.int64)) for h, m in zip(clean, members, strict=True)]
    drifted = [s.history for s in scenarios]
    curves = curves_of(model, drifted, calibration)
    plans = [c.plans[fix_index(c, calibration)] for c in curves]
    fixed = [without_positions(h, plan) for h, plan in zip(drifted, plans, strict=True)]
    precise = [plan[np.isin(plan, s.injected_positions)] for plan, s in zip(plans, scenarios, strict=True)]
    complete = [np.union1d(plan, s.injected_positions) for plan, s in zip(plans, scenarios, strict=True)]
    conditions: dict[str, list[tuple[History, int]] | None] = {
        "clean": [(h, 0) for h in clean], "drifted": [(h, 0) for h in drifted],
        "fix": [(h, len(p)) for h, p in zip(fixed, plans, strict=True)],
        "precise": [(h.reweighted({int(q): 0.0 for q in p}) if len(p) else h, len(p))
                    for h, p in zip(drifted, precise, strict=True)],
        "complete": [(h.reweighted({int(q): 0.0 for q in p}), len(p)) for h, p in zip(drifted, complete, strict=True)],
    }
    per_member = evaluate_conditions(model, members, scenarios, conditions, seed)
    metrics = {name: {metric: np.asarray(values[metric]).tolist() for metric in ("sampled:HR@10", "full:HR@10")}
               for name, values in per_member.items() if values is not None}
    rule_gate = np.asarray([eligible(c, calibration) for c in curves]) & (
        rule_statistic(curves, calibration) > calibration.gain_cutoff)
    hits = sum(int(np.isin(p, s.injected_positions).sum()) for p, s in zip(plans, scenarios, strict=True))
    removed, injected = sum(len(p) for p in plans), sum(len(s.injected_positions) for s in scenarios)
    everything = np.ones(len(plans), dtype=bool)
    genuine_after = [int((~np.isin(np.arange(q + 1, len(s.history.items)), s.injected_positions)).sum())
                     for p, s in zip(plans, scenarios, strict=True) for q in p.tolist()
                     if q not in set(s.injected_positions.tolist())]
    return {
        "genuine_removed_after": np.bincount(genuine_after, minlength=1).tolist(),
        "precise": gated_shares({**metrics, "fix": metrics["precise"]}, everything, seed),
        "complete": gated_shares({**metrics, "fix": metrics["complete"]}, everything, seed),
        "fix": {**gated_shares(metrics, everything, seed), "precision": hits / removed if removed else None,
                "recall": hits / injected, "changes": removed / len(plans),
                "passes": float(np.mean([c.passes for c in curves]))},
        "rule": {"yes": float(np.mean(rule_gate)), **gated_shares(metrics, rule_gate, seed)},
        "per_member": {"stats": _lists(table([statistics_of(c, calibration) for c in curves])),
                       "ok": [eligible(c, calibration) for c in curves], "metrics": metrics},
    }


def render(results: dict[str, Any]) -> str:
    lines: list[str] = []
    for variant in results["variants"]:
        cal = variant["calibration"]
        lines.append(f"\n## {json.dumps(variant['options'])}\nmargin {cal['noise_margin']}, depth "
                     f"{cal['removal_depth']}, cutoff {cal['gain_cutoff']:.2f} ({cal['statistic']}), stored false "
                     f"alarms {cal['false_alarm_rate']:.3f}; dev clean false alarms of the rule "
                     f"{_pct(variant['rule_clean_false_alarms'])}; passes / plans per clean check "
                     f"{variant['clean_passes']:.1f} / {variant['clean_plans']:.1f}; {variant['seconds']} s "
                     f"(calibration {variant['calibration_seconds']} s)")
        for kind, summary in variant["kinds"].items():
            fix, rule = summary["fix"], summary["rule"]
            lines.append(f"\n{kind}: fix alone {_pct(fix['won_back_sampled'])} sampled / "
                         f"{_pct(fix['won_back_full'])} full, precision {fix['precision']:.2f} recall "
                         f"{fix['recall']:.2f}, changes {fix['changes']:.2f}, passes {fix['passes']:.1f}; rule: yes "
                         f"{_pct(rule['yes'])}, gated {_pct(rule['won_back_sampled'])} sampled / "
                         f"{_pct(rule['won_back_full'])} full; the fix without its genuine removals "
                         f"{_pct(summary['precise']['won_back_sampled'])} sampled / "
                         f"{_pct(summary['precise']['won_back_full'])} full; with its missed injected ones added "
                         f"{_pct(summary['complete']['won_back_sampled'])} sampled; genuine removals by genuine "
                         f"interactions after them {summary['genuine_removed_after'][:8]}")
            lines += ["| statistic@q | ROC-AUC | dev clean FA | yes | gated sampled | gated full |",
                      "|---|---|---|---|---|---|"]
            for key, v in summary["verdicts"].items():
                lines.append(f"| {key} | {_num(v['roc_auc'])} | {_pct(v['clean_false_alarms'])} | {_pct(v['yes'])} "
                             f"| {_pct(v['won_back_sampled'])} | {_pct(v['won_back_full'])} |")
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def analyse(path: str, gates: Sequence[str], seed: int) -> str:
    """Verdict rows for other statistics / quantiles from a saved run (no model needed)."""
    results = json.loads(Path(path).read_text())
    for variant in results["variants"]:
        for kind in variant["kinds"].values():
            kind["verdicts"] = {}
            for gate in gates:
                name, quantile = gate.rsplit("@", 1)
                kind["verdicts"][gate] = verdict_row(variant, kind, name, float(quantile), seed)
    return render(results)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.analyse:
        print(analyse(args.analyse, [g for g in args.gates.split(",") if g], args.seed))
        return
    name = args.name or Path(args.data).name
    parsed = load_dataset(args.data, args.format, args.drop_categories)
    recommender, train_seconds = trained_model(histories_of(parsed), args, name)
    assert recommender.split is not None
    if train_seconds:
        print(json.dumps({"train_seconds": round(train_seconds, 1), "test_metrics": _test_metrics(recommender)}),
              flush=True)
    reference, members = split_users(recommender.split, args.seed, args.experiment_members,
                                     args.calibration_members)
    categories = category_index(parsed, recommender)
    variants = [dict(RULES[v]) if isinstance(v, str) else v for v in json.loads(args.variants)]
    results: dict[str, Any] = {"data": args.data, "name": name, "drop_categories": args.drop_categories,
                               "development_members": len(members), "train_seconds": round(train_seconds, 1),
                               "variants": []}
    for options in variants:
        print(f"variant {json.dumps(options)}", flush=True)
        results["variants"].append(run_variant(recommender.model, reference, members, options, categories,
                                               args.kinds.split(","), [float(q) for q in args.quantiles.split(",")],
                                               args.seed))
        if args.out:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(json.dumps(results, indent=1, default=_jsonable))
        print(render({"variants": results["variants"][-1:]}), flush=True)


def _jsonable(value: Any) -> Any:
    return value.tolist() if isinstance(value, np.ndarray) else str(value)


if __name__ == "__main__":
    main()
