"""Cost of one taste drift check per named rule (issue 19): forward passes, wall and CPU ms per check.

Development users of the seed-0 split (benchmarks/drift_dev.py), clean and with 5 interleaved uniform items;
the model must be cached by drift_recourse.py / drift_dev.py (var/drift/models/<name>-sasrec-L50).

    nice -n 10 .venv/bin/python benchmarks/drift_check_cost.py --data /work/shared/data/ml-100k-recbole \
        --format recbole --name ml100k --rules threshold,prefix,joint_scan --out var/drift/dev/cost.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.drift_dev import split_users  # noqa: E402
from benchmarks.drift_recourse import MODEL_ROOT, histories_of, load_dataset  # noqa: E402
from recourse.engine.injection import inject  # noqa: E402
from recourse.engine.sequences import History  # noqa: E402
from recourse.engine.taste_recourse import RULES, analyze_batch, calibrate_taste  # noqa: E402
from recsys.ml.pipeline import TrainedRecommender, prepare_data  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--format", default=None)
    parser.add_argument("--name", required=True)
    parser.add_argument("--drop-categories", action="store_true")
    parser.add_argument("--rules", default="threshold,prefix,joint_scan")
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--out")
    args = parser.parse_args()
    parsed = load_dataset(args.data, args.format, args.drop_categories)
    recommender = TrainedRecommender.load(MODEL_ROOT / f"{args.name}-sasrec-L50")
    recommender.split = prepare_data(histories_of(parsed)).split
    reference, members = split_users(recommender.split, 0)
    clean = [History(m.history, np.ones(len(m.history), np.float32)) for m in members[:args.members]]
    rng = np.random.default_rng(0)
    drifted = [inject("interleaved", h, recommender.model.num_items, rng, k=5, m=10, window=50).history
               for h in clean]
    result: dict[str, dict[str, float]] = {}
    for name in args.rules.split(","):
        calibration = calibrate_taste(recommender.model, reference, **RULES[name])
        for label, histories in (("clean", clean), ("drifted", drifted)):
            wall, cpu = time.monotonic(), time.process_time()
            analyses = analyze_batch(recommender.model, histories, calibration)
            result[f"{name}/{label}"] = {
                "passes": float(np.mean([a.candidates_scored for a in analyses])),
                "wall_ms_per_check": 1000 * (time.monotonic() - wall) / len(histories),
                "cpu_ms_per_check": 1000 * (time.process_time() - cpu) / len(histories)}
        print(name, json.dumps({k: v for k, v in result.items() if k.startswith(name)}), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
