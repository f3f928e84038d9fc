"""Cost of one SASRec training step by loss and catalogue size: where the full softmax stops paying (issue 23).

    nice -n 10 .venv/bin/python benchmarks/loss_cost.py --items 2000,6000,12000,24000,48000

One fixed batch (``--batch`` sequences x ``--length`` real positions, items drawn at random), the
default SASRec width (d = 128, 2 heads, 2 blocks), XLA on; each (loss, catalogue) pair is compiled,
warmed up, then timed over ``--steps`` steps. Process CPU seconds are reported next to wall seconds
because the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recsys.ml.config import ModelConfig  # noqa: E402
from recsys.ml.models import build_model  # noqa: E402
from recsys.ml.sequences import Sequences  # noqa: E402
from recsys.ml.training import Trainer  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", default="2000,6000,12000,24000,48000")
    parser.add_argument("--losses", default="full,sampled,gbce")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--length", type=int, default=50)
    parser.add_argument("--steps", type=int, default=10)
    return parser.parse_args(argv)


def time_step(loss: str, items: int, args: argparse.Namespace) -> tuple[float, float]:
    config = ModelConfig(num_items=items, max_len=args.length, hidden=128, heads=2, loss=loss)
    trainer = Trainer(build_model("sasrec", config))
    rng = np.random.default_rng(0)
    ids = rng.integers(1, items + 1, (args.batch, args.length)).astype(np.int32)
    weights = np.ones_like(ids, dtype=np.float32)
    positions = np.arange(args.batch * args.length, dtype=np.int32)
    targets = rng.integers(1, items + 1, args.batch * args.length).astype(np.int32)
    trainer._set_proposal(Sequences(["u"], [ids.reshape(-1)], [weights.reshape(-1)]))
    for _ in range(2):  # compile and warm up
        trainer._train_step(ids, weights, positions, targets, trainer._sample_negatives(rng)).numpy()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(args.steps):
        trainer._train_step(ids, weights, positions, targets, trainer._sample_negatives(rng)).numpy()
    return (time.perf_counter() - wall) / args.steps, (time.process_time() - cpu) / args.steps


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print("| items | loss | wall ms/step | CPU ms/step | load |\n|---|---|---|---|---|")
    for items in (int(value) for value in args.items.split(",")):
        for loss in args.losses.split(","):
            wall, cpu = time_step(loss, items, args)
            print(f"| {items:,} | {loss} | {wall * 1000:.0f} | {cpu * 1000:.0f} | {os.getloadavg()[0]:.1f} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
