"""Issue 22 research runs on ML-100K: exact deletion influences with seed noise, the fast approximation
against them, and the pruning experiment. Results go to var/diagnostics-research/<phase>-<arch>.json.

    nice -n 10 .venv/bin/python benchmarks/deletion_diagnostics.py exact --architecture mf --users 100 --items 100
    nice -n 10 .venv/bin/python benchmarks/deletion_diagnostics.py prune --architecture mf --ks 10 20 50
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from diagnostics.engine.approximate import als_warm_start, tracin_scores  # noqa: E402
from diagnostics.engine.exact import (  # noqa: E402
    MF,
    DiagnosticData,
    RetrainSpec,
    als_config,
    mf_ranks,
    retrain,
    train_sequential,
)
from diagnostics.engine.influence import influences, mean_metric, spearman  # noqa: E402
from diagnostics.engine.mf import fit_als  # noqa: E402
from diagnostics.engine.removal import Removal, user_mask, without_users  # noqa: E402
from recsys.importers.movielens import parse_ml100k  # noqa: E402
from recsys.ml.evaluation import compute_ranks  # noqa: E402
from recsys.ml.sequences import LeaveOneOutSplit, histories_from_frame  # noqa: E402

DATA = Path("/work/shared/data/ml-100k")
OUT = Path(__file__).resolve().parent.parent / "var" / "diagnostics-research"
SPECS = {
    MF: {"factors": 16, "sweeps": 10, "regularization": 10.0, "alpha": 10.0},
    "sasrec": {"hidden": 32, "blocks": 1, "max_len": 50, "epochs": 5, "dropout": 0.2, "lr": 0.002,
               "length_buckets": 2, "batch_size": 128, "jit_compile": False},
}


def load() -> DiagnosticData:
    return DiagnosticData.from_histories(histories_from_frame(parse_ml100k(DATA).interactions))


def sample(data: DiagnosticData, users: int, items: int, seed: int) -> list[Removal]:
    rng = np.random.default_rng(seed)
    chosen_users = sorted(rng.choice(data.split.train.users, users, replace=False).tolist())
    chosen_items = sorted(rng.choice(data.index.keys, items, replace=False).tolist())
    return Removal.users(chosen_users) + [Removal("item", key) for key in chosen_items]


def exact(args: argparse.Namespace) -> None:
    data, spec = load(), RetrainSpec(args.architecture, SPECS[args.architecture])
    removals = sample(data, args.users, args.items, args.sample_seed)
    base, ablated, seconds = {}, {}, []
    started = time.perf_counter()
    for seed in range(args.seeds):
        outcome = retrain(data, spec, Removal(), seed)
        base[seed] = outcome.ranks
        for number, removal in enumerate(removals):
            outcome = retrain(data, spec, removal, seed)
            ablated[(removal, seed)] = outcome.ranks
            seconds.append(outcome.seconds)
            print(f"seed {seed} {number + 1}/{len(removals)} {removal.label} {outcome.seconds:.1f}s", flush=True)
    exact_seconds = time.perf_counter() - started
    approx, approx_seconds = approximate(data, spec, removals, args.seeds)
    result = {"architecture": args.architecture, "spec": SPECS[args.architecture], "seeds": args.seeds,
              "load": os.getloadavg(), "exact_seconds": exact_seconds, "retrain_seconds": seconds,
              "approx_seconds": approx_seconds, "metrics": {}}
    for metric in ("NDCG@10", "MAP@10"):
        found = influences(data.evaluated_users, base, ablated, metric)
        rows = [{**i.to_dict(), "approx": approx[metric][i.removal]} for i in found]
        summary = {}
        for kind in ("user", "item", "all"):
            chosen = [r for r in rows if kind in ("all", r["kind"])]
            summary[kind] = {
                "spearman": spearman([r["influence"] for r in chosen], [r["approx"] for r in chosen]),
                "within_noise": sum(r["within_noise"] for r in chosen), "n": len(chosen),
                "max_abs": max(abs(r["influence"]) for r in chosen),
                "seed_agreement": seed_agreement([r["per_seed"] for r in chosen]),
            }
        result["metrics"][metric] = {"noise": found[0].noise, "summary": summary, "rows": rows,
                                     "baseline": float(np.mean([mean_metric(r, np.ones(len(r), bool), metric)
                                                                for r in base.values()]))}
        print(metric, json.dumps(summary), flush=True)
    write(f"exact-{args.architecture}", result)


def seed_agreement(per_seed: list[list[float]]) -> float:
    """Spearman between seed 0's and seed 1's influences: how reproducible one seed's ranking is."""
    if len(per_seed[0]) < 2:
        return float("nan")
    return spearman([p[0] for p in per_seed], [p[1] for p in per_seed])


def approximate(
    data: DiagnosticData, spec: RetrainSpec, removals: list[Removal], seeds: int
) -> tuple[dict[str, dict[Removal, float]], float]:
    """Mean over seeds of the approximate influence (MF warm start) or TracIn score (sequential)."""
    scores: dict[str, dict[Removal, list[float]]] = {"NDCG@10": {}, "MAP@10": {}}
    elapsed = 0.0
    for seed in range(seeds):
        started = time.perf_counter()
        if spec.architecture == MF:
            model = fit_als(data.split.train, len(data.index), als_config(spec, seed))
            full = mf_ranks(model, data.split.test)
            for found in als_warm_start(model, data, removals):
                mask = user_mask(data.evaluated_users, found.removal)
                for metric in scores:
                    value = mean_metric(full, mask, metric) - mean_metric(found.ranks, mask, metric)
                    scores[metric].setdefault(found.removal, []).append(value)
        else:
            model = train_sequential(data.split.train, data, spec, seed)
            for found in tracin_scores(model, data, removals):
                for metric in scores:
                    scores[metric].setdefault(found.removal, []).append(found.score)
        elapsed += time.perf_counter() - started
    return {m: {r: float(np.mean(v)) for r, v in by.items()} for m, by in scores.items()}, elapsed


def ranks_without(data: DiagnosticData, spec: RetrainSpec, removed: set[str], seed: int) -> np.ndarray:
    split = data.split
    train = without_users(split.train, removed)
    pruned = DiagnosticData(LeaveOneOutSplit(train, split.valid, split.test, split.train_only_users), data.index)
    if spec.architecture == MF:
        return mf_ranks(fit_als(train, len(data.index), als_config(spec, seed)), split.test)
    return np.asarray(compute_ranks(train_sequential(train, pruned, spec, seed), split.test, "full"))


def prune(args: argparse.Namespace) -> None:
    """Remove the k least influential sampled users (by exact MAP@10 influence) vs k random sampled users vs none.

    Fresh seeds (100, 101, ...) that were not used to estimate the influences, so the choice cannot
    be fitted to one seed's noise; the evaluated users are those never removed in any condition.
    """
    data, spec = load(), RetrainSpec(args.architecture, SPECS[args.architecture])
    exact_rows = json.loads((OUT / f"exact-{args.architecture}.json").read_text())["metrics"]["MAP@10"]["rows"]
    users = sorted((r for r in exact_rows if r["kind"] == "user"), key=lambda r: r["influence"])
    pool = [r["key"] for r in users]
    seeds = [100 + s for s in range(args.seeds)]
    rng = np.random.default_rng(7)
    result = {"architecture": args.architecture, "seeds": seeds, "pool": len(pool), "load": os.getloadavg(), "ks": {}}
    for k in args.ks:
        least = set(pool[:k])
        randoms = [set(rng.choice(pool, k, replace=False).tolist()) for _ in seeds]
        conditions = ("none", "least", "random")
        table: dict[str, dict[str, list[float]]] = {c: {"MAP@10": [], "NDCG@10": []} for c in conditions}
        for seed, random_users in zip(seeds, randoms, strict=True):
            mask = np.asarray([u not in least | random_users for u in data.evaluated_users])
            for condition, removed in (("none", set()), ("least", least), ("random", random_users)):
                ranks = ranks_without(data, spec, removed, seed)
                for metric in table[condition]:
                    table[condition][metric].append(mean_metric(ranks, mask, metric))
            print(k, seed, {c: round(v["MAP@10"][-1], 5) for c, v in table.items()}, flush=True)
        result["ks"][str(k)] = {"values": table, "comparisons": compare(table)}
        print(k, json.dumps(result["ks"][str(k)]["comparisons"]), flush=True)
    write(f"prune-{args.architecture}", result)


def compare(table: dict[str, dict[str, list[float]]]) -> dict[str, dict[str, dict[str, float]]]:
    out: dict[str, dict[str, dict[str, float]]] = {}
    for left, right in (("least", "none"), ("random", "none"), ("least", "random")):
        out[f"{left} vs {right}"] = {}
        for metric in ("MAP@10", "NDCG@10"):
            a, b = np.asarray(table[left][metric]), np.asarray(table[right][metric])
            diff = a - b
            half = stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff))
            out[f"{left} vs {right}"][metric] = {
                "mean_diff": float(diff.mean()), "ci_low": float(diff.mean() - half),
                "ci_high": float(diff.mean() + half), "relative_pct": float(100 * diff.mean() / b.mean()),
                "p_paired_t": float(stats.ttest_rel(a, b).pvalue), "left_mean": float(a.mean()),
                "right_mean": float(b.mean()),
            }
    return out


def write(name: str, result: dict) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(result, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("phase", choices=["exact", "prune"])
    parser.add_argument("--architecture", default=MF, choices=sorted(SPECS))
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--sample-seed", type=int, default=0)
    parser.add_argument("--ks", type=int, nargs="+", default=[10, 25])
    args = parser.parse_args()
    exact(args) if args.phase == "exact" else prune(args)


if __name__ == "__main__":
    main()
