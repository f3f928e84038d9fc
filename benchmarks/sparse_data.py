"""Write a sparse, long-tailed set of the product-review shape as SASRec ``user item`` lines (issue 23).

    .venv/bin/python benchmarks/sparse_data.py                       # var/sparse-30k/sparse.txt
    .venv/bin/python benchmarks/sparse_data.py --users 3000 --items 2400 --interactions 29000 --out var/s.txt

Shape by default: 30,000 users, 24,000 items, ~290,000 interactions (about 9.7 per user, at least 5, as
SASRec's preprocessing keeps), Zipf-like item popularity (exponent 1.0: a long tail of items seen a few times).

The sequences carry structure a sequential model can learn, as review logs do (accessories after a
purchase, the next book of a series): each item has a few "successors", and a user's next item is a
successor of their previous one with probability ``--follow``, otherwise an item of their taste cluster
(by popularity) or, with probability ``--explore``, any item by popularity. A user never repeats an item.
Nothing here is committed: the file goes under var/.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

MIN_LENGTH = 5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=30_000)
    parser.add_argument("--items", type=int, default=26_500)
    parser.add_argument("--interactions", type=int, default=290_000)
    parser.add_argument("--clusters", type=int, default=200, help="taste clusters of items")
    parser.add_argument("--successors", type=int, default=4, help="successors per item")
    parser.add_argument("--follow", type=float, default=0.35, help="P(next item is a successor of the last)")
    parser.add_argument("--explore", type=float, default=0.25, help="P(next item is any item by popularity)")
    parser.add_argument("--zipf", type=float, default=1.0, help="popularity exponent")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="var/sparse-30k/sparse.txt")
    return parser.parse_args(argv)


def history_lengths(users: int, interactions: int, rng: np.random.Generator) -> np.ndarray:
    """At least MIN_LENGTH each, the rest spread log-normally (a few heavy users), summing to ``interactions``."""
    weights = rng.lognormal(0.0, 1.2, users)
    extra = rng.multinomial(interactions - MIN_LENGTH * users, weights / weights.sum())
    return MIN_LENGTH + extra


def generate(args: argparse.Namespace) -> list[np.ndarray]:
    rng = np.random.default_rng(args.seed)
    popularity = 1.0 / np.arange(1, args.items + 1) ** args.zipf
    popularity = rng.permutation(popularity / popularity.sum())
    cluster_of = rng.integers(0, args.clusters, args.items)
    members = [np.flatnonzero(cluster_of == c) for c in range(args.clusters)]
    member_cdf = [np.cumsum(popularity[m]) / popularity[m].sum() for m in members]
    global_cdf = np.cumsum(popularity)
    # Successors: mostly in the item's own cluster, drawn by popularity.
    successors = np.empty((args.items, args.successors), dtype=np.int64)
    for item in range(args.items):
        cluster = cluster_of[item]
        successors[item] = members[cluster][np.searchsorted(member_cdf[cluster], rng.random(args.successors))]
    lengths = history_lengths(args.users, args.interactions, rng)
    taste = rng.integers(0, args.clusters, args.users)
    histories = []
    for user, length in enumerate(lengths):
        seen: set[int] = set()
        items: list[int] = []
        while len(items) < length:
            draw = rng.random()
            if items and draw < args.follow:
                candidate = int(successors[items[-1], rng.integers(args.successors)])
            elif draw < args.follow + args.explore:
                candidate = int(np.searchsorted(global_cdf, rng.random() * global_cdf[-1]))
            else:
                cluster = taste[user]
                candidate = int(members[cluster][np.searchsorted(member_cdf[cluster], rng.random())])
            if candidate not in seen:
                seen.add(candidate)
                items.append(candidate)
        histories.append(np.asarray(items))
    return histories


def write_sasrec(histories: list[np.ndarray], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        for user, items in enumerate(histories, start=1):
            out.writelines(f"{user} {item + 1}\n" for item in items)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    histories = generate(args)
    write_sasrec(histories, Path(args.out))
    lengths = np.array([len(h) for h in histories])
    counts = np.bincount(np.concatenate(histories), minlength=args.items)
    used = counts[counts > 0]
    top_share = np.sort(used)[::-1][: len(used) // 100].sum() / used.sum()
    print(
        f"{args.out}: {len(histories)} users, {len(used)} items with interactions, {lengths.sum()} interactions; "
        f"length median {np.median(lengths):.0f} mean {lengths.mean():.1f} max {lengths.max()}; "
        f"item count median {np.median(used):.0f}, top 1% of items hold {top_share:.0%}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
