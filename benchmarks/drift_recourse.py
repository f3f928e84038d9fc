"""Drift detection and recourse benchmark (issue 19): the taste-consistency method against the paper's.

Django-free: parses a dataset file with recsys.importers, trains (or reloads) a model with
recsys.ml.pipeline and runs `recourse.engine.taste_experiment` on sampled test members.

    nice -n 10 .venv/bin/python benchmarks/drift_recourse.py \
        --data /work/shared/data/ml-100k-recbole --format recbole --name ml100k --arch sasrec \
        --users 500 --out var/drift/ml100k-sasrec.json
    .venv/bin/python benchmarks/drift_recourse.py --render var/drift/ml100k-sasrec.json

`--drop-categories` exports the dataset as a `sasrec` text file (user item lines, time order),
parses that file back (no categories) and runs on it: the paper's method is then not applicable.
Trained models are cached under var/drift/models/<name>-<arch>-L<max_len>/.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recourse.engine.alignment import CategoryIndex  # noqa: E402
from recourse.engine.sequences import History  # noqa: E402
from recourse.engine.taste_experiment import (  # noqa: E402
    DRIFT_KINDS,
    ExperimentConfig,
    Member,
    render_markdown,
    render_report,
    run_experiment,
)
from recsys.importers import ParsedDataset, parse  # noqa: E402
from recsys.ml.pipeline import TrainedRecommender, prepare_data, train_recommender  # noqa: E402

MODEL_ROOT = Path("var/drift/models")
DEFAULT_HYPER = {"blocks": 2, "hidden": 64, "heads": 1, "dropout": 0.2, "loss": "full", "lr": 0.001,
                 "batch_size": 128, "patience": 10}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="dataset file or folder")
    source.add_argument("--render", help="print the Markdown tables of a results JSON")
    source.add_argument("--report", help="print a results JSON as the research report's tables")
    parser.add_argument("--format", default=None)
    parser.add_argument("--name", default=None)
    parser.add_argument("--drop-categories", action="store_true",
                        help="round-trip through a sasrec text export, categories dropped")
    parser.add_argument("--arch", default="sasrec")
    parser.add_argument("--max-len", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--hyper", default="{}", help="extra ModelConfig fields as JSON")
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--kinds", default=",".join(DRIFT_KINDS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ig-steps", type=int, default=20)
    parser.add_argument("--taste", default="{}",
                        help='calibrate_taste options for "taste" as JSON, e.g. {"choice": "joint", "episodes": true}')
    parser.add_argument("--baselines", default=None,
                        help='comma-separated names of taste_recourse.RULES run beside "taste" on the same members '
                             '(default: "prefix" when --taste chooses another rule)')
    parser.add_argument("--train-only", action="store_true", help="train (or find) the cached model and stop")
    parser.add_argument("--out")
    return parser.parse_args(argv)


def load_dataset(path: str, fmt: str | None, drop_categories: bool) -> ParsedDataset:
    parsed = parse(path, fmt)
    if not drop_categories:
        return parsed
    with tempfile.TemporaryDirectory() as folder:
        export = Path(folder) / "interactions.txt"
        export.write_text(sasrec_lines(parsed))
        return parse(export, "sasrec")


def sasrec_lines(parsed: ParsedDataset) -> str:
    """`user item` lines in time order with integer ids (the sasrec format has no categories)."""
    frame = parsed.interactions.sort_values(["timestamp", "position"], kind="stable")
    users = {u: n for n, u in enumerate(dict.fromkeys(frame["user_id"]), start=1)}
    items = {i: n for n, i in enumerate(dict.fromkeys(frame["item_id"]), start=1)}
    return "".join(f"{users[u]} {items[i]}\n" for u, i in zip(frame["user_id"], frame["item_id"], strict=True))


def histories_of(parsed: ParsedDataset) -> dict[str, list[str]]:
    frame = parsed.interactions.sort_values(["user_id", "timestamp", "position"], kind="stable")
    histories: dict[str, list[str]] = {}
    for user, item in zip(frame["user_id"], frame["item_id"], strict=True):
        histories.setdefault(str(user), []).append(str(item))
    return histories


def trained_model(histories: dict[str, list[str]], args: argparse.Namespace, name: str) -> tuple[
        TrainedRecommender, float]:
    folder = MODEL_ROOT / f"{name}-{args.arch}-L{args.max_len}"
    data = prepare_data(histories)
    if (folder / "items.json").exists():
        recommender = TrainedRecommender.load(folder)
        recommender.split = data.split
        return recommender, 0.0
    hyper = {**DEFAULT_HYPER, "max_len": args.max_len, "epochs": args.epochs, **json.loads(args.hyper)}
    started = time.monotonic()
    recommender = train_recommender(
        data, args.arch, hyper,
        on_epoch=lambda epoch, loss, metrics, *_: print(f"  epoch {epoch} loss {loss:.3f} {metrics}", flush=True),
    )
    recommender.save(folder)
    return recommender, time.monotonic() - started


def category_index(parsed: ParsedDataset, recommender: TrainedRecommender) -> CategoryIndex | None:
    if not parsed.has_categories:
        return None
    by_item = dict(zip(parsed.items["external_id"].astype(str), parsed.items["categories"], strict=True))
    keys = recommender.index.keys
    names = sorted({c for key in keys for c in by_item.get(key, ())})
    column = {c: n for n, c in enumerate(names)}
    matrix = np.zeros((len(keys) + 1, len(names)), dtype=np.float32)
    for row, key in enumerate(keys, start=1):
        for category in by_item.get(key, ()):
            matrix[row, column[category]] = 1.0
    return CategoryIndex(matrix, names)


def sampled_members(recommender: TrainedRecommender, users: int, seed: int, calibration: int = 200) -> tuple[
        list[Member], list[History]]:
    """Test users of the leave-one-out split (history = all but the last item, target = the last), and
    up to `calibration` clean histories of OTHER users for the calibration (all users when none are left)."""
    assert recommender.split is not None
    test = recommender.split.test
    order = np.random.default_rng(seed).permutation(len(test))
    chosen, others = sorted(order[:users].tolist()), order[users:][:calibration].tolist()
    members = [Member(test.histories.items[r].astype(np.int64), int(test.targets[r]),
                      test.interacted[r].astype(np.int64)) for r in chosen]
    reference = [History(test.histories.items[r].astype(np.int64), test.histories.weights[r].astype(np.float32))
                 for r in (others if len(others) >= 50 else order[:calibration].tolist())]
    return members, reference


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.render:
        print(render_markdown(json.loads(Path(args.render).read_text())))
        return
    if args.report:
        print(render_report(json.loads(Path(args.report).read_text()), args.report))
        return
    name = args.name or Path(args.data).name
    parsed = load_dataset(args.data, args.format, args.drop_categories)
    recommender, train_seconds = trained_model(histories_of(parsed), args, name)
    if args.train_only:
        metrics = _test_metrics(recommender) if train_seconds else None
        print(json.dumps({"name": name, "train_seconds": round(train_seconds, 1), "test_metrics": metrics}))
        return
    members, reference = sampled_members(recommender, args.users, args.seed)
    config = ExperimentConfig(kinds=tuple(args.kinds.split(",")), seed=args.seed, ig_steps=args.ig_steps)
    started = time.monotonic()
    results = run_experiment(recommender.model, members, category_index(parsed, recommender), config,
                             calibration_histories=reference, progress=lambda message: print(message, flush=True),
                             taste_options=json.loads(args.taste),
                             baselines=None if args.baselines is None else args.baselines.split(","))
    results["run"] = {"data": args.data, "format": args.format, "name": name, "drop_categories": args.drop_categories,
                      "arch": args.arch, "max_len": args.max_len, "train_seconds": round(train_seconds, 1),
                      "experiment_seconds": round(time.monotonic() - started, 1),
                      "test_metrics": _test_metrics(recommender) if train_seconds else None}
    text = json.dumps(results, indent=1)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
    print(render_markdown(results))


def _test_metrics(recommender: TrainedRecommender) -> dict[str, float]:
    reports = recommender.evaluate(resamples=200)
    return {f"{protocol}:{metric}": float(value) for protocol, by_name in reports.items()
            for metric, value in by_name["model"].metrics.items()}


if __name__ == "__main__":
    main()
