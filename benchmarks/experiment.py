"""Time (and record) the population drift/recourse experiment end to end on a real database.

    createdb -h 127.0.0.1 -U postgres hikmax_exp
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hikmax_exp MEDIA_ROOT=var/exp-media \
      .venv/bin/python benchmarks/experiment.py --synthetic-ml1m --arch sasrec --max-len 200 --epochs 1 \
      --users 500 --out var/exp/ml1m-sasrec.json

    ... --data /work/shared/data/ml-100k-recbole --format recbole --name ml100k --arch sasrec --max-len 50

Steps: import (skipped when the dataset exists), train + activate (skipped when an active model with the
same architecture and max_len exists), then the experiment, timed; results JSON written to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hikmax_site.settings")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--synthetic-ml1m", action="store_true", help="generated 6,040 x 3,706 x 1,000,209 set")
    source.add_argument("--data", help="dataset file or folder")
    source.add_argument("--render", help="print Markdown tables of a results JSON written by --out")
    parser.add_argument("--format", default=None)
    parser.add_argument("--name", default=None, help="dataset name in the database")
    parser.add_argument("--arch", default="sasrec")
    parser.add_argument("--max-len", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--hyper", default="{}", help="extra ModelConfig fields as JSON")
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--strategies", default="random,category,temporal")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ig-steps", type=int, default=20)
    parser.add_argument("--out")
    return parser.parse_args(argv)


def ensure_dataset(args):
    from recsys.importers import synthetic
    from recsys.models import Dataset
    from recsys.services.imports import import_dataset, load_parsed

    name = args.name or ("ml1m-synthetic" if args.synthetic_ml1m else Path(args.data).name)
    existing = Dataset.objects.filter(name=name).first()
    if existing:
        return existing, 0.0
    started = time.monotonic()
    if args.synthetic_ml1m:
        with tempfile.TemporaryDirectory() as folder:
            catalogue = Path("/work/shared/data/ml-1m/movies.dat")
            parsed = synthetic.generate_movielens_1m_like(
                folder, seed=args.seed, catalogue_path=catalogue if catalogue.exists() else None)
            dataset = load_parsed(name=name, parsed=parsed, title="ML-1M-shaped synthetic")
    else:
        dataset = import_dataset(name=name, path=args.data, format=args.format, title=name)
    _analyze()
    return dataset, time.monotonic() - started


def _analyze() -> None:
    """Fresh planner statistics after a bulk load: without them PostgreSQL picked a plan that kept the
    1M-row history read running for over 10 minutes."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def ensure_model(dataset, args):
    from recsys import jobs
    from recsys.models import Job, TrainedModel
    from recsys.services import registry, training

    for model in TrainedModel.objects.filter(dataset=dataset, architecture=args.arch, status="ready"):
        if model.hyperparameters.get("max_len") == args.max_len:
            registry.activate(model)
            return model, 0.0
    hyper = {"max_len": args.max_len, "epochs": args.epochs, **json.loads(args.hyper)}
    started = time.monotonic()
    job = training.start_training(dataset=dataset, architecture=args.arch, hyperparameters=hyper, activate=True,
                                  enqueue=False)
    jobs.run(job.pk, on_progress=lambda percent, message: print(f"  train {percent:3.0f}% {message}", flush=True))
    job.refresh_from_db()
    if job.status != Job.Status.SUCCEEDED:
        raise SystemExit(f"training failed: {job.error}")
    model = TrainedModel.objects.get(pk=job.params["model_id"])
    registry.activate(model)
    return model, time.monotonic() - started


CONDITION_ORDER = ("clean", "drifted", "recourse", "random_5", "recent_5", "attention", "occlusion", "oracle")
RANKING = ("Accuracy", "HR@10", "NDCG@10", "Precision@10", "Recall@10")


def _cell(stats) -> str:
    if not stats or stats.get("mean") is None:
        return "n/a"
    return f"{stats['mean']:.4f} [{stats['low']:.4f}, {stats['high']:.4f}]"


def render(results: dict) -> str:
    lines = []
    for strategy, summary in results["strategies"].items():
        for protocol in ("full", "sampled"):
            lines += [f"\n**{strategy} drift, {protocol} protocol** (mean [95% bootstrap CI], "
                      f"{results['n_users']} users)\n",
                      "| condition | " + " | ".join(RANKING) + " |", "|---" * (len(RANKING) + 1) + "|"]
            for condition in CONDITION_ORDER:
                metrics = summary["conditions"].get(condition)
                cells = [_cell(metrics and metrics.get(f"{protocol}:{m}")) for m in RANKING]
                lines.append(f"| {results['conditions'][condition]} | " + " | ".join(cells) + " |")
        lines += [f"\n**{strategy} drift: drift metrics vs the clean history**\n",
                  "| condition | ADS | DTC | alignment R | changes |", "|---|---|---|---|---|"]
        for condition in CONDITION_ORDER:
            metrics = summary["conditions"].get(condition)
            cells = [_cell(metrics and metrics.get(m)) for m in ("ADS", "DTC", "alignment", "changes")]
            lines.append(f"| {results['conditions'][condition]} | " + " | ".join(cells) + " |")
        lines += _detection_lines(strategy, summary) + _test_lines(strategy, summary)
    return "\n".join(lines)


def _detection_lines(strategy, summary) -> list[str]:
    lines = [f"\n**{strategy} drift: detecting the injected items** (per-member mean)\n",
             "| detector | ROC-AUC | precision@5 |", "|---|---|---|"]
    for name, quality in summary["detection"].items():
        if quality:
            auc = "n/a" if quality["roc_auc"] is None else f"{quality['roc_auc']:.3f}"
            lines.append(f"| {name} | {auc} | {quality['precision_at_5']:.3f} |")
        else:
            lines.append(f"| {name} | n/a | n/a |")
    lines.append(f"\nShare of members with identical histories: {summary['coincide']}; "
                 f"guided searches reaching R(clean): {summary['satisfied']}")
    return lines


def _test_lines(strategy, summary) -> list[str]:
    lines = [f"\n**{strategy} drift: paired differences** (mean [95% CI], Wilcoxon p)\n",
             "| comparison | full HR@10 | full NDCG@10 | alignment | ADS |", "|---|---|---|---|---|"]
    for name, tests in summary["tests"].items():
        cells = []
        for metric in ("full:HR@10", "full:NDCG@10", "alignment", "ADS"):
            t = tests.get(metric)
            cells.append("n/a" if not t or t["mean"] is None else
                         f"{t['mean']:+.4f} [{t['low']:+.4f}, {t['high']:+.4f}] p={t['p_value']:.3g}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def main(argv=None):
    args = parse_args(argv)
    if args.render:
        print(render(json.loads(Path(args.render).read_text())))
        return
    import django

    django.setup()
    from recourse.services import experiments

    dataset, import_seconds = ensure_dataset(args)
    model, train_seconds = ensure_model(dataset, args)
    print(f"dataset {dataset.name}: import {import_seconds:.0f}s; model #{model.pk} {model.architecture} "
          f"L={model.hyperparameters.get('max_len')}: train {train_seconds:.0f}s", flush=True)
    load_before = os.getloadavg()
    started = time.monotonic()
    results = experiments.population_experiment(
        dataset=dataset, n_users=args.users, strategies=args.strategies.split(","), seed=args.seed,
        ig_steps=args.ig_steps,
        progress=lambda percent, message="": print(f"  experiment {percent:3.0f}% {message}", flush=True),
    )
    wall = time.monotonic() - started
    results["benchmark"] = {
        "dataset": dataset.name, "users": dataset.sequences.count(), "items": dataset.items.count(),
        "interactions": dataset.n_interactions, "import_seconds": import_seconds, "train_seconds": train_seconds,
        "experiment_wall_seconds": wall, "load_average_before": load_before, "load_average_after": os.getloadavg(),
        "cpu_count": os.cpu_count(), "machine": platform.processor() or
        platform.machine(), "model_metrics": model.metrics, "hyperparameters": model.hyperparameters,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1))
    print(f"experiment: {wall:.1f}s wall for {results['n_users']} users x {len(results['strategies'])} strategies "
          f"({results['seconds_per_strategy']}); written to {args.out}")


if __name__ == "__main__":
    main()
