"""Cut real histories into short, review-like ones and write them as SASRec ``user item`` lines (issue 23).

    .venv/bin/python benchmarks/review_like.py --data /work/shared/data/ml-latest-small --format ml-latest \
        --out var/s23/mlsmall-review.txt

The product-review data of issue 23 (~9 actions per user, at least 5, a catalogue of tens of thousands
of items, density ~0.04 %) stays outside the project, and the generated set of that shape
(``sparse_data.py``) has no real signal. This keeps the real signal of a MovieLens log and gives it the
review shape: each user's chronological history is cut into consecutive pieces of at least ``MIN_LENGTH``
items, the rest of each length log-normal like ``sparse_data.history_lengths`` (mean ``--mean``), and
every piece becomes a user of its own. A remainder shorter than ``MIN_LENGTH`` joins the previous piece.
Pieces of one person share that person's taste, as two accounts of one shopper would; the items of a
piece are never in another piece of the same person (a MovieLens user rates a title once), so no test
item is seen in training. Nothing is committed: the file goes under var/.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.train import load_interactions  # noqa: E402
from recsys.ml.sequences import histories_from_frame  # noqa: E402

MIN_LENGTH = 5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--format", default=None)
    parser.add_argument("--mean", type=float, default=9.5, help="mean piece length (>= MIN_LENGTH)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="var/s23/review-like.txt")
    return parser.parse_args(argv)


def piece_lengths(total: int, mean: float, rng: np.random.Generator) -> list[int]:
    """Consecutive piece lengths summing to ``total``, each >= MIN_LENGTH (one piece if total is short)."""
    if total < 2 * MIN_LENGTH:
        return [total]
    lengths: list[int] = []
    left = total
    while left >= MIN_LENGTH:
        extra = int(round(rng.lognormal(np.log(max(mean - MIN_LENGTH, 0.5)) - 0.5, 1.0)))
        size = min(left, MIN_LENGTH + extra)
        lengths.append(size)
        left -= size
    if left:
        lengths[-1] += left
    return lengths


def cut(histories: dict[str, list[str]], mean: float, seed: int) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    pieces: list[list[str]] = []
    for user in sorted(histories):
        items = histories[user]
        start = 0
        for size in piece_lengths(len(items), mean, rng):
            pieces.append(items[start:start + size])
            start += size
    return pieces


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    histories = histories_from_frame(load_interactions(args.data, args.format))
    pieces = cut(histories, args.mean, args.seed)
    items = sorted({item for piece in pieces for item in piece})
    number = {item: position for position, item in enumerate(items, start=1)}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w") as handle:
        for user, piece in enumerate(pieces, start=1):
            handle.writelines(f"{user} {number[item]}\n" for item in piece)
    lengths = np.array([len(piece) for piece in pieces])
    print(f"{out}: {len(histories)} people -> {len(pieces)} users, {len(items)} items, {lengths.sum()} "
          f"interactions; length median {np.median(lengths):.0f} mean {lengths.mean():.1f} max {lengths.max()}; "
          f"density {lengths.sum() / (len(pieces) * len(items)):.3%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
