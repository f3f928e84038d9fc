"""Train and evaluate sequential recommenders; print a Markdown report.

    .venv/bin/python benchmarks/train.py --data /work/shared/data/ml-100k-recbole --format recbole
    .venv/bin/python benchmarks/train.py --synthetic 6040,3706,1000209 --arch sasrec --epochs 3 \
        --no-early-stopping --skip-eval

Options set every architecture's config; ``--set ARCH.FIELD=VALUE`` overrides one
(e.g. ``--set sasrec.dropout=0.5 --set gru4rec.blocks=1``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys.ml.config import ModelConfig  # noqa: E402
from recsys.ml.evaluation import PROTOCOLS, evaluate  # noqa: E402
from recsys.ml.models import build_model  # noqa: E402
from recsys.ml.popularity import MostPopular  # noqa: E402
from recsys.ml.runtime import device_description  # noqa: E402
from recsys.ml.sequences import build_sequences, histories_from_frame, leave_one_out  # noqa: E402
from recsys.ml.training import fit  # noqa: E402

KEY_METRICS = ("HR@10", "NDCG@10", "MRR", "Accuracy")
ALL_METRICS = [f"{name}@{k}" for name in ("HR", "NDCG", "Precision", "Recall") for k in (1, 5, 10, 20)] + [
    "MRR",
    "Accuracy",
]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="dataset file or directory")
    source.add_argument("--synthetic", help="USERS,ITEMS,INTERACTIONS random set (speed runs)")
    parser.add_argument("--format", default=None, help="importer format (default: detect)")
    parser.add_argument("--arch", default="sasrec,gru4rec,tcn")
    defaults = ModelConfig()
    for name in (
        "max_len",
        "hidden",
        "blocks",
        "heads",
        "batch_size",
        "epochs",
        "patience",
        "eval_every",
        "num_sampled",
        "seed",
        "length_buckets",
    ):
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(defaults, name))
    for name in ("dropout", "lr", "l2"):
        parser.add_argument(f"--{name}", type=float, default=getattr(defaults, name))
    parser.add_argument("--loss", choices=("full", "sampled"), default=defaults.loss)
    parser.add_argument("--set", action="append", default=[], metavar="ARCH.FIELD=VALUE")
    parser.add_argument("--no-early-stopping", action="store_true", help="no validation")
    parser.add_argument("--skip-eval", action="store_true", help="only time training")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples")
    parser.add_argument("--json", help="write every figure to this JSON file")
    return parser.parse_args(argv)


# -- data ------------------------------------------------------------------------------


def load_interactions(path: str, data_format: str | None) -> pd.DataFrame:
    try:
        from recsys.importers import parse
    except ImportError:
        return read_recbole_inter(Path(path))
    return parse(path, data_format).interactions


def read_recbole_inter(path: Path) -> pd.DataFrame:
    """Fallback reader for a RecBole ``.inter`` file (or a directory holding one)."""
    file = path if path.is_file() else next(path.glob("*.inter"))
    frame = pd.read_csv(file, sep="\t", dtype=str)
    frame.columns = [column.split(":")[0] for column in frame.columns]
    frame["timestamp"] = frame["timestamp"].astype(float).astype("int64")
    frame["position"] = np.arange(len(frame), dtype=np.int64)
    return frame


def synthetic_histories(spec: str, seed: int = 0) -> dict[str, list[str]]:
    """ML-1M-shaped random data: log-normal lengths (>= 20), Zipf-like item popularity."""
    users, items, interactions = (int(part) for part in spec.split(","))
    rng = np.random.default_rng(seed)
    lengths = np.maximum(20, rng.lognormal(np.log(96), 1.0, users)).astype(int)
    lengths = np.minimum(items, np.round(lengths * interactions / lengths.sum()).astype(int))
    popularity = 1.0 / np.arange(1, items + 1) ** 0.8
    popularity /= popularity.sum()
    return {
        f"u{user}": [f"i{item}" for item in rng.choice(items, length, replace=False, p=popularity)]
        for user, length in enumerate(lengths)
    }


# -- run -------------------------------------------------------------------------------


def architecture_config(args, architecture: str, num_items: int) -> ModelConfig:
    values = {
        field.name: getattr(args, field.name) for field in dataclasses.fields(ModelConfig) if hasattr(args, field.name)
    }
    values["num_items"] = num_items
    if args.no_early_stopping:
        values["patience"] = args.epochs + 1
    config = ModelConfig(**values)
    for override in args.set:
        target, _, value = override.partition("=")
        arch, _, field = target.partition(".")
        if arch == architecture:
            current = getattr(config, field)
            parsed = json.loads(value) if not isinstance(current, str) else value
            config = config.replace(**{field: parsed})
    return config


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_architecture(architecture, config, split, args) -> dict:
    model = build_model(architecture, config)

    def report(epoch, loss, valid, seconds, valid_seconds):
        shown = f" valid NDCG@10 {valid['NDCG@10']:.4f} ({valid_seconds:.1f}s)" if valid else ""
        print(f"  [{architecture}] epoch {epoch} loss {loss:.4f} {seconds:.1f}s{shown}", file=sys.stderr, flush=True)

    valid = None if args.no_early_stopping else split.valid
    result = fit(model, split.train, valid, on_epoch=report)
    row = {
        "architecture": architecture,
        "config": config.to_dict(),
        "epochs_run": result.epochs_run,
        "best_epoch": result.best_epoch,
        "stopped": result.stopped,
        "seconds_per_epoch": result.seconds_per_epoch,
        "cpu_seconds_per_epoch": result.cpu_seconds_per_epoch,
        "later_epochs_cpu_seconds": float(np.mean([r.cpu_seconds for r in result.curve[1:]]))
        if len(result.curve) > 1
        else None,
        "load_average_after": os.getloadavg(),
        "first_epoch_seconds": result.curve[0].seconds,
        "later_epochs_seconds": float(np.mean([r.seconds for r in result.curve[1:]]))
        if len(result.curve) > 1
        else None,
        "total_seconds": result.total_seconds,
        "final_loss": result.final_loss,
        "peak_memory_mb": peak_memory_mb(),
        "device": result.device,
    }
    if not args.skip_eval:
        row["evaluation"] = evaluate_all(model, split, args)
    return row


def evaluate_all(scorer, split, args) -> dict:
    return {
        protocol: evaluate(scorer, split.test, protocol, seed=args.seed, resamples=args.resamples).to_dict()
        for protocol in PROTOCOLS
    }


# -- report ----------------------------------------------------------------------------


def rounded(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def cell(report: dict, metric: str, with_ci: bool = True) -> str:
    value = report["metrics"][metric]
    if not with_ci or metric not in report["ci"]:
        return f"{value:.4f}"
    low, high = report["ci"][metric]
    return f"{value:.4f} [{low:.4f}, {high:.4f}]"


def markdown(summary: dict) -> str:
    lines = [
        f"Data: {summary['data']} — {summary['users']} users, {summary['items']} items, "
        f"{summary['interactions']} interactions, {summary['evaluated_users']} evaluated users",
        f"Machine: {summary['machine']}, {summary['device']}; date {summary['date']}",
        "",
        "| model | epochs (best) | wall s/epoch: mean (first / later) | CPU s/epoch later | total s "
        "| peak RSS MB | load avg after |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in summary["runs"]:
        lines.append(
            f"| {row['architecture']} | {row['epochs_run']} ({row['best_epoch']}) | "
            f"{row['seconds_per_epoch']:.1f} ({row['first_epoch_seconds']:.1f} / "
            f"{rounded(row['later_epochs_seconds'])}) | {rounded(row['later_epochs_cpu_seconds'])} | "
            f"{row['total_seconds']:.0f} | {row['peak_memory_mb']:.0f} | "
            f"{row['load_average_after'][0]:.1f} |"
        )
    evaluated = [row for row in summary["runs"] if "evaluation" in row]
    if summary.get("most_popular"):
        evaluated.append({"architecture": "most-popular", "evaluation": summary["most_popular"]})
    for protocol in PROTOCOLS if evaluated else ():
        lines += [
            "",
            f"**{protocol} protocol** (mean [95% bootstrap CI])",
            "",
            "| model | " + " | ".join(KEY_METRICS) + " |",
            "|---" * (len(KEY_METRICS) + 1) + "|",
        ]
        for row in evaluated:
            report = row["evaluation"][protocol]
            lines.append(f"| {row['architecture']} | " + " | ".join(cell(report, m) for m in KEY_METRICS) + " |")
        lines += ["", "| model | " + " | ".join(ALL_METRICS) + " |", "|---" * (len(ALL_METRICS) + 1) + "|"]
        for row in evaluated:
            report = row["evaluation"][protocol]
            lines.append(f"| {row['architecture']} | " + " | ".join(cell(report, m, False) for m in ALL_METRICS) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    if args.synthetic:
        histories, data_name = synthetic_histories(args.synthetic, args.seed), f"synthetic {args.synthetic}"
    else:
        histories = histories_from_frame(load_interactions(args.data, args.format))
        data_name = args.data
    sequences, index, _ = build_sequences(histories)
    split = leave_one_out(sequences)
    print(f"data ready in {time.perf_counter() - started:.1f}s", file=sys.stderr)
    summary = {
        "data": data_name,
        "users": len(sequences),
        "items": len(index),
        "interactions": int(sequences.lengths().sum()),
        "evaluated_users": len(split.test),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "device": device_description(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "runs": [],
    }
    for architecture in args.arch.split(","):
        config = architecture_config(args, architecture, len(index))
        summary["runs"].append(run_architecture(architecture, config, split, args))
    if not args.skip_eval:
        summary["most_popular"] = evaluate_all(MostPopular.fit(split.train, len(index)), split, args)
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    print(markdown(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
