"""Training vs validation seconds per epoch with the platform's defaults (issue 23).

    nice -n 10 .venv/bin/python benchmarks/epoch_cost.py --data var/sparse-30k/sparse.txt --format sasrec \
        --epochs 4 --minutes 10 --json var/bench/epoch-cost-sparse.json

Trains SASRec through ``train_recommender`` with no hyper-parameters at all (what a user gets without
options), stopping after ``--epochs`` epochs or ``--minutes`` of training (cancellation, so the
configuration stays the default one). Validation seconds are the wall time between two epoch reports
minus the epoch's training seconds, so the same script measures code that does not record them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.train import load_interactions  # noqa: E402
from recsys.ml.pipeline import prepare_data, train_recommender  # noqa: E402
from recsys.ml.sequences import histories_from_frame  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--format", default=None)
    parser.add_argument("--arch", default="sasrec")
    parser.add_argument("--epochs", type=int, default=4, help="stop after this many epochs")
    parser.add_argument("--minutes", type=float, default=10.0, help="stop after this much training")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="a hyper-parameter the user sets (JSON value); none: the defaults")
    parser.add_argument("--evaluate", action="store_true", help="test both protocols on every user at the end")
    parser.add_argument("--json", help="write the figures to this file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    data = prepare_data(histories_from_frame(load_interactions(args.data, args.format)))
    rows: list[dict] = []
    started = time.perf_counter()
    last = [started]

    def on_epoch(epoch: int, loss: float, valid: dict | None, seconds: float, *_: float) -> None:
        now = time.perf_counter()
        validation = now - last[0] - seconds
        last[0] = now
        rows.append({"epoch": epoch, "loss": loss, "train_s": seconds, "valid_s": validation,
                     "valid_ndcg10": None if valid is None else valid["NDCG@10"], "load": os.getloadavg()[0]})
        shown = "-" if valid is None else f"{valid['NDCG@10']:.4f}"
        print(f"epoch {epoch}: train {seconds:.1f}s, validation {validation:.1f}s, loss {loss:.4f}, "
              f"valid NDCG@10 {shown}, load {rows[-1]['load']:.1f}", file=sys.stderr, flush=True)

    def should_stop() -> bool:
        return len(rows) >= args.epochs or time.perf_counter() - started > args.minutes * 60

    given = {field: json.loads(value) for field, _, value in (pair.partition("=") for pair in args.set)}
    trained = train_recommender(data, args.arch, given or None, on_epoch=on_epoch, should_stop=should_stop)
    config = trained.model.config.to_dict()
    later = rows[1:] or rows
    train_s = float(np.mean([row["train_s"] for row in later]))
    valid_s = float(np.mean([row["valid_s"] for row in later]))
    summary = {
        "data": args.data, "users": len(data.split.train), "items": len(data.index),
        "evaluated_users": len(data.split.valid), "config": config, "epochs": rows,
        "later_epochs_train_s": train_s, "later_epochs_valid_s": valid_s,
        "validation_share": valid_s / (train_s + valid_s) if train_s + valid_s else None,
        "training_result": trained.training_result.to_dict() if trained.training_result else None,
    }
    if args.evaluate:
        reports = trained.evaluate()
        summary["test"] = {protocol: {name: report.to_dict() for name, report in by_name.items()}
                           for protocol, by_name in reports.items()}
        for protocol, by_name in reports.items():
            for name, report in by_name.items():
                cells = ", ".join(f"{metric} {report.metrics[metric]:.4f} [{report.ci[metric][0]:.4f}, "
                                  f"{report.ci[metric][1]:.4f}]" for metric in ("HR@10", "NDCG@10"))
                print(f"test {protocol:<7} {name:<12} {cells}")
    print(f"{args.data}: {len(data.index)} items, {len(data.split.valid)} validation users; later epochs: "
          f"train {train_s:.1f}s + validation {valid_s:.1f}s per epoch, validation share "
          f"{summary['validation_share']:.0%}; loss {config['loss']}, L {config['max_len']}, "
          f"dropout {config['dropout']}, eval_every {config['eval_every']}; {len(rows)} epochs, best "
          f"{trained.training_result.best_epoch}, {trained.training_result.stopped}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
