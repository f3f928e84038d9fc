"""The glass-box forecaster of emerging hits (issue 21, paper 002) on real MovieLens files.

    .venv/bin/python benchmarks/forecast.py --data /work/shared/data/ml-latest-small --count 10 --scale 0.1667
    .venv/bin/python benchmarks/forecast.py --data /work/shared/data/ml-100k --check-only

Runs the whole training and audit (four models with the paper's grids, TreeSHAP, LIME, ICE, fairness and
the 27-policy sensitivity), prints a Markdown summary and writes the full report to artifacts/.
``--check-only`` counts candidates and positives under the policy without training.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forecast.engine import ForecastConfig, ForecastInput, Policy, TooFewPositivesError, train_forecaster  # noqa: E402
from forecast.engine.labels import emerging, future_hit  # noqa: E402
from forecast.engine.pipeline import observe_past  # noqa: E402
from forecast.engine.sensitivity import run_sensitivity  # noqa: E402
from recsys.importers import parse  # noqa: E402


def load(path: str) -> ForecastInput:
    parsed = parse(path)
    ratings = parsed.interactions.rename(columns={})[["user_id", "item_id", "rating", "timestamp"]]
    items = parsed.items.rename(columns={"external_id": "item_id", "categories": "genres"})
    tags = parsed.tags
    return ForecastInput(ratings=ratings, items=items[["item_id", "title", "year", "genres"]], tags=tags,
                         has_timestamps=parsed.has_timestamps)


def check(data: ForecastInput, config: ForecastConfig) -> dict:
    past = observe_past(data, config)
    candidates = emerging(past.table.features, config.policy)
    labels = future_hit(past.outcomes.loc[candidates], past.table.sentiment, config.policy)
    return {"cutoff": str(pd.Timestamp(past.cutoff, unit="s")), "candidates": len(candidates),
            "positives": int(labels.sum()), "sentiment": past.sentiment.reason}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--count", type=int, default=60)
    parser.add_argument("--avg", type=float, default=3.0)
    parser.add_argument("--neg", type=float, default=0.6)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies the sensitivity grid's counts")
    parser.add_argument("--no-sensitivity", action="store_true")
    parser.add_argument("--check-only", action="store_true")
    parser.add_argument("--sensitivity-only", metavar="REPORT",
                        help="time only the 27-policy analysis, with the tuned setting from a full run's report")
    parser.add_argument("--out", default="artifacts")
    args = parser.parse_args()
    config = ForecastConfig(policy=Policy(args.count, args.avg, args.neg), sensitivity=not args.no_sensitivity,
                            sensitivity_count_scale=args.scale)
    load_average = os.getloadavg()
    data = load(args.data)
    name = Path(args.data).name
    if args.check_only:
        print(json.dumps({"data": name, "policy": vars(config.policy), **check(data, config)}))
        return
    if args.sensitivity_only:
        print(sensitivity_only(data, config, json.loads(Path(args.sensitivity_only).read_text())))
        return
    phases: list[tuple[float, float, str]] = []
    started = time.perf_counter()
    try:
        run = train_forecaster(data, config, progress=lambda p, m: phases.append((time.perf_counter() - started,
                                                                                   p, m)))
    except TooFewPositivesError as exc:
        print(f"{name}: {exc}")
        return
    report = run.report
    report["timing"] = {"load_before": load_average, "load_after": os.getloadavg(), "phases": phases,
                        "cpus": os.cpu_count(), "cpu_seconds": time.process_time()}
    Path(args.out).mkdir(exist_ok=True)
    out = Path(args.out) / f"forecast-{name}-c{args.count}.json"
    out.write_text(json.dumps(report, indent=1, default=str))
    print(summary(name, report))
    print(f"CPU {time.process_time():.0f} s; load average before {load_average}, after {os.getloadavg()}")
    print(f"\nFull report: {out}")


def sensitivity_only(data: ForecastInput, config: ForecastConfig, report: dict) -> str:
    load_before = os.getloadavg()
    started, cpu_started = time.perf_counter(), time.process_time()
    past = observe_past(data, config)
    primary = report["primary_model"]
    rows = run_sensitivity(past.table.features, past.outcomes, past.table.sentiment, model=primary,
                           params=report["models"][primary]["best_params"], config=config)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return summary_of_sensitivity(rows) + (f"\n\nWall {wall:.0f} s, CPU {cpu:.0f} s; load average before "
                                           f"{load_before}, after {os.getloadavg()}; setting "
                                           f"{report['models'][primary]['best_params']}")


def summary_of_sensitivity(rows: list[dict]) -> str:
    lines = ["| count | avg | neg | AUC | recall | F1 | threshold | support |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r["status"] == "ok":
            lines.append(f"| {r['count']} | {r['avg']} | {r['neg']} | {r['roc_auc']:.3f} | {r['recall']:.3f} "
                         f"| {r['f1']:.3f} | {r['threshold']:.3f} | {r['support']} |")
        else:
            lines.append(f"| {r['count']} | {r['avg']} | {r['neg']} | — | — | — | — "
                         f"| {r['support']} ({r['status']}) |")
    return "\n".join(lines)


def summary(name: str, report: dict) -> str:
    d = report["data"]
    lines = [f"## {name}: cutoff {pd.Timestamp(report['cutoff'], unit='s')}, {d['candidates']} candidates, "
             f"{d['positives']} positives ({d['prevalence']:.2%}), test {d['test']} ({d['test_positives']} positives)",
             "", "| model | ROC-AUC [95% CI] | AUPRC [95% CI] | threshold | P | R | F1 | s |",
             "|---|---|---|---|---|---|---|---|"]
    for model in report["models"].values():
        t = model["test"]
        auc, auprc = t["ci"]["roc_auc"], t["ci"]["auprc"]
        lines.append(f"| {model['label']} | {t['roc_auc']:.3f} [{auc[0]:.3f}, {auc[1]:.3f}] "
                     f"| {t['auprc']:.3f} [{auprc[0]:.3f}, {auprc[1]:.3f}] | {t['threshold']:.3f} "
                     f"| {t['precision']:.3f} | {t['recall']:.3f} | {t['f1']:.3f} | {model['seconds']:.0f} |")
    lines.append(f"\nComparisons (primary − other ROC-AUC): {json.dumps(report['comparisons'])}")
    lines.append(f"SHAP additivity max error: {report['shap']['additivity_max_error']:.2e}; top features: "
                 + ", ".join(f"{e['feature']} {e['mean_abs_shap']:.3f}" for e in report["shap"]["importance"][:6]))
    lines.append(f"LIME vs SHAP: {json.dumps(report['lime']['summary'])}")
    flagged = [g for kind in ("genre", "decade") for g in report["fairness"][kind]["groups"] if g["flagged"]]
    lines.append(f"Fairness: global recall {report['fairness']['genre']['global_recall']}; flagged: "
                 + ", ".join(f"{g['group']} {g['recall']} [{g['ci'][0]}, {g['ci'][1]}] n+={g['positives']}"
                             for g in flagged))
    if report["sensitivity"]:
        secs = sum(r["seconds"] for r in report["sensitivity"])
        lines += ["", f"Sensitivity ({secs:.0f} s):", "", summary_of_sensitivity(report["sensitivity"])]
    lines.append(f"\nTotal {report['seconds']} s")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
