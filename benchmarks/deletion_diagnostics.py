"""Issue 22 research runs on ML-100K: exact deletion influences with seed noise, the fast approximation
against them, and the pruning experiment. Results go to var/diagnostics-research/<phase>-<arch>.json.

    nice -n 10 .venv/bin/python benchmarks/deletion_diagnostics.py exact --architecture mf --users 100 --items 100
    nice -n 10 .venv/bin/python benchmarks/deletion_diagnostics.py prune --architecture mf --ks 10 20 50

Second measurement (reliability of the exact influences, approximations scored against the seed mean):

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/deletion_diagnostics.py sweeps --seeds 5
    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/deletion_diagnostics.py reliability \
        --architecture mf --seeds 8 --sweeps 40 --half-sweeps 1 2 4
    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/deletion_diagnostics.py reliability \
        --architecture sasrec --users 10 --items 10 --seeds 2

Third measurement (sequential retrains on the full model's batch layout; one process per seed, merged by analyse):

    HIKMAX_TF_THREADS=1 OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/deletion_diagnostics.py reliability \
        --architecture sasrec --users 100 --items 100 --seed-list 0 --warm-epochs --tag sasrec-crn   # and 1
    .venv/bin/python benchmarks/deletion_diagnostics.py analyse --tag sasrec-crn
    ... extend --tag sasrec-crn --entities 60 --seed-list 0 --warm-epochs 1                            # and 1
    ... prune --architecture sasrec --influences reliability-sasrec-crn-raw --ks 10 --seeds 5 --tag sasrec-k10
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sparse
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from diagnostics.engine.approximate import (  # noqa: E402
    als_closed_form,
    als_warm_start,
    als_warm_sweeps,
    sequential_warm_start,
    tracin_checkpoints,
    tracin_scores,
)
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
from diagnostics.engine.mf import ALSModel, alternate, fit_als, initial_item_factors, interaction_matrix  # noqa: E402
from diagnostics.engine.paired import PairedRetrainer  # noqa: E402
from diagnostics.engine.reliability import (  # noqa: E402
    bootstrap_rank_correlation,
    disattenuated,
    pairwise_seed_agreement,
    rank_correlation,
    seed_confidence_excludes_zero,
    split_half,
)
from diagnostics.engine.removal import Removal, user_mask, without_users  # noqa: E402
from recsys.importers.movielens import parse_ml100k  # noqa: E402
from recsys.ml.sequences import histories_from_frame  # noqa: E402

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
                "within_noise": sum(bool(r["within_noise"]) for r in chosen), "n": len(chosen),
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


def ranks_without(data: DiagnosticData, spec: RetrainSpec, removed: set[str], seed: int,
                  retrainers: dict[int, PairedRetrainer]) -> np.ndarray:
    """Ranks of the model of ``seed`` trained without the users ``removed``; a sequential model keeps one
    retrainer per seed, so every condition of a seed trains on the same batches minus its removed users."""
    if spec.architecture == MF:
        train = without_users(data.split.train, removed)
        return mf_ranks(fit_als(train, len(data.index), als_config(spec, seed)), data.split.test)
    retrainer = retrainers.setdefault(seed, PairedRetrainer(data, spec, seed))
    retrainer.fit(Removal(), removed_users=removed)
    return retrainer.ranks()


def prune(args: argparse.Namespace) -> None:
    """Remove the k least influential sampled users (by exact MAP@10 influence) vs k random sampled users vs none.

    Fresh seeds (100, 101, ...) that were not used to estimate the influences, so the choice cannot
    be fitted to one seed's noise; the evaluated users are those never removed in any condition.
    """
    data, spec = load(), spec_for(args)
    pool = users_by_influence(args.influences or f"exact-{args.architecture}")
    seeds = [100 + s for s in range(args.seeds)]
    rng = np.random.default_rng(7)
    result = {"architecture": args.architecture, "spec": dict(spec.hyperparameters), "seeds": seeds,
              "pool": len(pool), "influences": args.influences, "load": os.getloadavg(), "ks": {}}
    unablated: dict[int, np.ndarray] = {}  # the no-removal model of a seed serves every k
    retrainers: dict[int, PairedRetrainer] = {}
    for k in args.ks:
        least = set(pool[:k])
        randoms = [set(rng.choice(pool, k, replace=False).tolist()) for _ in seeds]
        conditions = ("none", "least", "random")
        table: dict[str, dict[str, list[float]]] = {c: {"MAP@10": [], "NDCG@10": []} for c in conditions}
        for seed, random_users in zip(seeds, randoms, strict=True):
            mask = np.asarray([u not in least | random_users for u in data.evaluated_users])
            for condition, removed in (("none", set()), ("least", least), ("random", random_users)):
                if not removed and seed in unablated:
                    ranks = unablated[seed]
                else:
                    ranks = ranks_without(data, spec, removed, seed, retrainers)
                    if not removed:
                        unablated[seed] = ranks
                for metric in table[condition]:
                    table[condition][metric].append(mean_metric(ranks, mask, metric))
            print(k, seed, {c: round(v["MAP@10"][-1], 5) for c, v in table.items()}, flush=True)
        result["ks"][str(k)] = {"values": table, "comparisons": compare(table)}
        print(k, json.dumps(result["ks"][str(k)]["comparisons"]), flush=True)
        result["load_end"] = os.getloadavg()
        write(f"prune-{args.tag or args.architecture}", result)


def users_by_influence(name: str) -> list[str]:
    """Sampled users, least exact MAP@10 influence first, from an ``exact`` or a ``reliability`` raw result."""
    found = json.loads((OUT / f"{name}.json").read_text())
    if "rows" in found.get("metrics", {}).get("MAP@10", {}):
        rows = [(r["influence"], r["key"]) for r in found["metrics"]["MAP@10"]["rows"] if r["kind"] == "user"]
    else:
        means = np.asarray(found["exact"]["MAP@10"]).mean(1)
        rows = [(float(v), key) for (kind, key), v in zip(found["removals"], means, strict=True) if kind == "user"]
    return [key for _, key in sorted(rows)]


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


def clocks() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def since(started: tuple[float, float]) -> tuple[float, float]:
    return time.perf_counter() - started[0], time.process_time() - started[1]


def spec_for(args: argparse.Namespace) -> RetrainSpec:
    hyperparameters = dict(SPECS[args.architecture])
    if args.architecture == MF and args.sweeps:
        hyperparameters["sweeps"] = args.sweeps
    if args.architecture != MF and args.epochs:
        hyperparameters["epochs"] = args.epochs
    return RetrainSpec(args.architecture, hyperparameters)


def sweeps(args: argparse.Namespace) -> None:
    """How the full MF model settles with more sweeps: metric mean and seed-to-seed SD, last sweep's change."""
    data = load()
    spec = RetrainSpec(MF, SPECS[MF])
    weights = sparse.csr_matrix(interaction_matrix(data.split.train, len(data.index)))
    result: dict[str, object] = {"load_start": os.getloadavg(), "by_sweeps": {}}
    checkpoints = sorted(args.checkpoints)
    per_seed: dict[int, dict[str, list[float]]] = {c: {"NDCG@10": [], "MAP@10": [], "change": []} for c in checkpoints}
    for seed in range(args.seeds):
        config = als_config(spec, seed)
        items = initial_item_factors(len(data.index), config)
        users = np.zeros((len(data.split.train), config.factors))
        done = 0
        for checkpoint in checkpoints:
            users, items = alternate(weights, users, items, config, 2 * (checkpoint - done - 1), users_first=True)
            before = users @ items.T
            users, items = alternate(weights, users, items, config, 2, users_first=True)
            after = users @ items.T
            done = checkpoint
            model = ALSModel(users, items, list(data.split.train.users), config)
            ranks = mf_ranks(model, data.split.test)
            mask = np.ones(len(ranks), bool)
            for metric in ("NDCG@10", "MAP@10"):
                per_seed[checkpoint][metric].append(mean_metric(ranks, mask, metric))
            per_seed[checkpoint]["change"].append(float(np.linalg.norm(after - before) / np.linalg.norm(after)))
        print(seed, {c: round(v["NDCG@10"][-1], 5) for c, v in per_seed.items()}, flush=True)
    for checkpoint, values in per_seed.items():
        result["by_sweeps"][str(checkpoint)] = {  # type: ignore[index]
            metric: {"mean": float(np.mean(v)), "sd": float(np.std(v, ddof=1)), "values": v}
            for metric, v in values.items()
        }
    result["load_end"] = os.getloadavg()
    print(json.dumps({c: {m: (round(v["mean"], 5), round(v["sd"], 5)) for m, v in by.items()}
                      for c, by in result["by_sweeps"].items()}))  # type: ignore[attr-defined]
    write("sweeps-mf", result)


def reliability(args: argparse.Namespace) -> None:
    """Exact influences over R seeds (ranks kept), the approximations computed from each seed's full model.

    The exact retrain of seed r and the approximation of seed r start from the same full model / the same
    initialisation (common random numbers; sequential models also share the full model's batches, minus the
    entity); both are compared with the R-seed mean and seed by seed. ``--seed-list`` runs some seeds only
    (one process per seed, merged by ``analyse``). ``--resume`` continues a stopped run from its raw result:
    the full models are refitted and must reproduce the run's full-model metrics exactly (retrains of a seed
    depend only on its full model), the done entities are kept, and only the others are approximated and retrained.
    """
    data, spec = load(), spec_for(args)
    sampled = sample(data, args.users, args.items, args.sample_seed)
    # users and items alternate, so a run stopped early has both kinds
    removals = sorted(sampled, key=lambda r: ([x for x in sampled if x.kind == r.kind].index(r), r.kind))
    users = data.evaluated_users
    metrics = ("NDCG@10", "MAP@10")
    seeds = args.seed_list or list(range(args.seeds))
    entities = len(removals)
    base_metric = {m: np.zeros(len(seeds)) for m in metrics}
    exact_influence = {m: np.zeros((entities, len(seeds))) for m in metrics}
    approx_influence: dict[str, dict[str, np.ndarray]] = {}
    times: dict[str, dict[str, float]] = {}
    loads = [os.getloadavg()]
    masks = [user_mask(users, removal) for removal in removals]
    shard = f"-seed{'-'.join(map(str, seeds))}" if args.seed_list else ""
    result_name = f"reliability-{args.tag or spec.architecture}{shard}"
    names = [name for name, _ in approximations(spec, args.half_sweeps, args.warm_epochs)]
    previous = None
    if args.resume:
        previous = stopped_run(f"{result_name}-raw", spec, removals, seeds, args.sample_seed, names)
    start = previous["entities_done"] if previous else 0
    if previous:
        times.update(previous["times"])
        loads[:0] = previous["loads"]
        for m in metrics:
            exact_influence[m][:start] = previous["exact"][m]

    def add_time(name: str, seconds: tuple[float, float], count: int = 1) -> None:
        entry = times.setdefault(name, {"wall": 0.0, "cpu": 0.0, "count": 0})
        entry["wall"] += seconds[0]
        entry["cpu"] += seconds[1]
        entry["count"] += count

    bases, models = [], []
    for column, seed in enumerate(seeds):
        started = clocks()
        model, base = full_model(data, spec, seed)
        add_time("full model", since(started))
        bases.append(base)
        models.append(model)
        for m in metrics:
            base_metric[m][column] = mean_metric(base, np.ones(len(users), bool), m)
            if previous and base_metric[m][column] != previous["base_metric"][m][column]:
                raise SystemExit(f"--resume: seed {seed}'s refitted full model has {m} {base_metric[m][column]!r}, "
                                 f"the stopped run's has {previous['base_metric'][m][column]!r}; its retrains would "
                                 "not be those of the run (start a new run instead)")
        for approximation, run in approximations(spec, args.half_sweeps, args.warm_epochs):
            started = clocks()
            found = run(model, data, removals[start:])
            add_time(approximation, since(started), len(found))
            table = approx_influence.setdefault(approximation, {m: np.zeros((entities, len(seeds))) for m in metrics})
            for m in metrics:
                table[m][start:, column] = approximate_influences(found, base, masks[start:], m)
                if previous:
                    table[m][:start] = previous["approx"][approximation][m]
        print(f"seed {seed}: full model NDCG@10 {base_metric['NDCG@10'][column]:.4f} and approximations, "
              f"{json.dumps(times)}, load {os.getloadavg()[0]:.1f}", flush=True)
    # entity by entity, every seed: a run stopped early still has complete R-seed influences for the done ones
    for row, removal in enumerate(removals[start:], start):
        for column, seed in enumerate(seeds):
            started = clocks()
            ranks = exact_ranks(data, spec, removal, seed, models[column])
            elapsed = since(started)
            add_time("exact retrain", elapsed)
            for m in metrics:
                exact_influence[m][row, column] = (mean_metric(bases[column], masks[row], m)
                                                   - mean_metric(ranks, masks[row], m))
            if spec.architecture != MF:
                print(f"{row + 1}/{entities} {removal.label} seed {seed} {elapsed[0]:.1f}s wall {elapsed[1]:.1f}s cpu "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)
        if spec.architecture != MF or (row + 1) % 20 == 0 or row + 1 == entities:
            loads.append(os.getloadavg())
            done = row + 1
            partial = {"architecture": spec.architecture, "spec": dict(spec.hyperparameters), "seeds_done": len(seeds),
                       "seeds": seeds, "entities_done": done, "removals": [[r.kind, r.key] for r in removals[:done]],
                       "loads": loads, "times": times, "sample_seed": args.sample_seed,
                       "base_metric": {m: v.tolist() for m, v in base_metric.items()},
                       "exact": {m: v[:done].tolist() for m, v in exact_influence.items()},
                       "approx": {n: {m: v[:done].tolist() for m, v in t.items()} for n, t in approx_influence.items()}}
            write(f"{result_name}-raw", partial)
            print(f"{done}/{entities} entities x {len(seeds)} seeds, load {os.getloadavg()[0]:.1f}", flush=True)
    if len(seeds) > 1:
        summary = analyse(partial)
        print(json.dumps(summary["metrics"], indent=1), flush=True)
        write(result_name, summary)


def stopped_run(name: str, spec: RetrainSpec, removals: list[Removal], seeds: list[int], sample_seed: int,
                approximation_names: list[str]) -> dict:
    """The raw result of the stopped run ``name``, refused unless these arguments would have produced it."""
    path = OUT / f"{name}.json"
    if not path.exists():
        raise SystemExit(f"--resume: no stopped run {path}")
    previous = json.loads(path.read_text())
    done = previous["entities_done"]
    wanted = {"architecture": spec.architecture, "spec": dict(spec.hyperparameters), "seeds": seeds,
              "sample_seed": sample_seed, "removals": [[r.kind, r.key] for r in removals[:done]],
              "approx": sorted(approximation_names)}
    for key, ours in wanted.items():
        theirs = sorted(previous[key]) if key == "approx" else previous[key]
        if theirs != ours:
            raise SystemExit(f"--resume: {path.name} has other {key} than these arguments: {theirs} vs {ours}")
    return previous


def full_model(data: DiagnosticData, spec: RetrainSpec, seed: int) -> tuple[object, np.ndarray]:
    """The seed's full model and its ranks; for a sequential model the retrainer holding it (the seed's
    retrains reuse its batch layout and compiled step)."""
    if spec.architecture == MF:
        model = fit_als(data.split.train, len(data.index), als_config(spec, seed))
        return model, mf_ranks(model, data.split.test)
    retrainer = PairedRetrainer(data, spec, seed)
    checkpoints = retrainer.fit_with_checkpoints(Removal())
    return (retrainer, checkpoints), retrainer.ranks()


def exact_ranks(data: DiagnosticData, spec: RetrainSpec, removal: Removal, seed: int, model: object) -> np.ndarray:
    if spec.architecture == MF:
        return retrain(data, spec, removal, seed).ranks
    retrainer, _ = model  # type: ignore[misc]
    retrainer.fit(removal)  # the same as retrain(), without building and tracing a new model
    return np.asarray(retrainer.ranks())


def merged_shards(tag: str) -> dict:
    """One raw result from the per-seed runs of ``reliability --seed-list``: the entities every shard finished."""
    shards = [json.loads(path.read_text()) for path in sorted(OUT.glob(f"reliability-{tag}-seed*-raw.json"))]
    if not shards:
        raise FileNotFoundError(f"no reliability-{tag}-raw.json nor per-seed shards in {OUT}")
    done = min(shard["entities_done"] for shard in shards)

    def columns(tables: list) -> list:
        return np.hstack([np.asarray(t)[:done] for t in tables]).tolist()

    times: dict[str, dict[str, float]] = {}
    for shard in shards:
        for name, entry in shard["times"].items():
            total = times.setdefault(name, {"wall": 0.0, "cpu": 0.0, "count": 0})
            for clock in total:
                total[clock] += entry[clock]
    first = shards[0]
    return {**first, "seeds": sum((s["seeds"] for s in shards), []), "seeds_done": sum(s["seeds_done"] for s in shards),
            "entities_done": done, "removals": first["removals"][:done], "times": times,
            "loads": sum((s["loads"] for s in shards), []),
            "base_metric": {m: sum((s["base_metric"][m] for s in shards), []) for m in first["base_metric"]},
            "exact": {m: columns([s["exact"][m] for s in shards]) for m in first["exact"]},
            "approx": {n: {m: columns([s["approx"][n][m] for s in shards]) for m in first["approx"][n]}
                       for n in first["approx"]}}


def approximate_influences(found: list, base: np.ndarray, masks: list[np.ndarray], metric: str) -> np.ndarray:
    values = []
    for item, mask in zip(found, masks, strict=True):
        if item.ranks is None:
            values.append(item.score)
            continue
        reference = base if item.reference_ranks is None else item.reference_ranks
        values.append(mean_metric(reference, mask, metric) - mean_metric(item.ranks, mask, metric))
    return np.asarray(values)


def extend(args: argparse.Namespace) -> None:
    """More approximations on a ``reliability`` run (its per-seed shards merged if it has them): the full models
    are refitted (deterministic for a seed, checked against the run) and only the approximations not in the run
    yet are computed and timed. ``--entities N`` / ``--seed-list`` keep the run's first N entities / some seeds
    and write a new run ``<tag>-first<N>`` (per-seed shards with ``--seed-list``), leaving the original alone."""
    tag = args.tag
    raw = merged_shards(tag) if list(OUT.glob(f"reliability-{tag}-seed*-raw.json")) else json.loads(
        (OUT / f"reliability-{tag}-raw.json").read_text())
    raw = subset(raw, args.entities or raw["entities_done"], args.seed_list)
    if args.entities:
        tag = f"{tag}-first{args.entities}"
    name = f"reliability-{tag}" + (f"-seed{'-'.join(map(str, args.seed_list))}" if args.seed_list else "")
    data, spec = load(), RetrainSpec(raw["architecture"], raw["spec"])
    removals = [Removal(kind, key) for kind, key in raw["removals"]]
    masks = [user_mask(data.evaluated_users, removal) for removal in removals]
    wanted = [(n, run) for n, run in approximations(spec, args.half_sweeps, args.warm_epochs) if n not in raw["approx"]]
    tables = {n: {m: np.zeros((len(removals), raw["seeds_done"])) for m in raw["exact"]} for n, _ in wanted}
    raw["loads"].append(os.getloadavg())
    for column, seed in enumerate(raw["seeds"]):
        model, base = full_model(data, spec, seed)
        refitted = mean_metric(base, np.ones(len(base), bool), "NDCG@10")
        if abs(refitted - raw["base_metric"]["NDCG@10"][column]) > 1e-12:
            raise RuntimeError(f"seed {seed}: the refitted full model differs from the run's")
        for approximation, run in wanted:
            started = clocks()
            found = run(model, data, removals)
            wall, cpu = since(started)
            entry = raw["times"].setdefault(approximation, {"wall": 0.0, "cpu": 0.0, "count": 0})
            entry["wall"] += wall
            entry["cpu"] += cpu
            entry["count"] += len(found)
            for m in tables[approximation]:
                tables[approximation][m][:, column] = approximate_influences(found, base, masks, m)
        print(f"seed {seed} load {os.getloadavg()[0]:.1f}", flush=True)
    raw["loads"].append(os.getloadavg())
    raw["approx"].update({n: {m: v.tolist() for m, v in t.items()} for n, t in tables.items()})
    write(f"{name}-raw", raw)
    if raw["seeds_done"] > 1:
        write(name, analyse(raw))


def subset(raw: dict, entities: int, seeds: list[int]) -> dict:
    """The run's first ``entities`` entities, and only ``seeds`` (all when empty)."""
    run_seeds = raw.get("seeds") or list(range(raw["seeds_done"]))
    columns = [run_seeds.index(seed) for seed in seeds] if seeds else list(range(len(run_seeds)))

    def cut(table: list) -> list:
        return np.asarray(table)[:entities][:, columns].tolist()

    return {**raw, "seeds": [run_seeds[c] for c in columns], "seeds_done": len(columns), "entities_done": entities,
            "removals": raw["removals"][:entities], "loads": list(raw["loads"]),
            "times": {n: dict(entry) for n, entry in raw["times"].items()},
            "base_metric": {m: [v[c] for c in columns] for m, v in raw["base_metric"].items()},
            "exact": {m: cut(v) for m, v in raw["exact"].items()},
            "approx": {n: {m: cut(v) for m, v in t.items()} for n, t in raw["approx"].items()}}


def approximations(spec: RetrainSpec, half_sweeps: list[int], warm_epochs: list[int] = ()) -> list[tuple[str, object]]:
    if spec.architecture != MF:
        # the model is (retrainer holding the full model, its checkpoints after each epoch)
        found = [("TracIn", lambda model, data, removals: tracin_scores(model[0].model, data, removals)),
                 ("TracIn-CP", lambda model, data, removals: tracin_checkpoints(*model, data, removals))]
        for count in warm_epochs:
            found.append((f"warm {count} epoch{'s' if count > 1 else ''}",
                          lambda model, data, removals, count=count: sequential_warm_start(
                              model[0], removals, count)))
        return found
    found: list[tuple[str, object]] = [("block re-solve", als_warm_start), ("closed form", als_closed_form)]
    for count in half_sweeps:
        found.append((f"warm {count} half-sweep{'s' if count > 1 else ''}",
                      lambda model, data, removals, count=count: als_warm_sweeps(model, data, removals, count)))
    return found


def analyse(raw: dict) -> dict:
    """Reliability of the exact influences, and each approximation against the seed mean and seed by seed."""
    rng = np.random.default_rng(0)
    kinds = np.asarray([kind for kind, _ in raw["removals"]])
    times = raw["times"]
    entities = len(raw["removals"])
    out: dict = {key: raw.get(key) for key in ("architecture", "spec", "seeds_done", "entities_done", "loads", "times")}

    def per(name: str, clock: str) -> float:
        return float(times[name][clock] / times[name]["count"])

    # a run over E entities: the exact one fits the full model and E retrains per seed, an approximation
    # fits the full model and approximates E entities per seed
    out["timing"] = {"exact retrain": {"seconds_per_entity": per("exact retrain", "wall"),
                                       "cpu_per_entity": per("exact retrain", "cpu"),
                                       "full_model_seconds": per("full model", "wall"),
                                       "full_model_cpu": per("full model", "cpu")}}
    for name in times:
        if name in ("exact retrain", "full model"):
            continue
        out["timing"][name] = {"seconds_per_entity": per(name, "wall"), "cpu_per_entity": per(name, "cpu")}
        for clock, label in (("wall", "speed_up_wall"), ("cpu", "speed_up_cpu")):
            exact_run = per("full model", clock) + entities * per("exact retrain", clock)
            out["timing"][name][label] = exact_run / (per("full model", clock) + entities * per(name, clock))
        out["timing"][name]["speed_up_per_entity_wall"] = per("exact retrain", "wall") / per(name, "wall")
    out["metrics"] = {}
    for metric, per_seed_list in raw["exact"].items():
        exact = np.asarray(per_seed_list)
        base = np.asarray(raw["base_metric"][metric])
        noise = float(np.std(base, ddof=1)) if len(base) > 1 else float("nan")
        summary: dict = {"baseline": float(base.mean()), "noise": noise}
        for kind in ("user", "item", "all"):
            rows = np.ones(len(kinds), bool) if kind == "all" else kinds == kind
            if rows.sum() < 3:
                continue
            per_seed = exact[rows]
            mean = per_seed.mean(1)
            halves = split_half(per_seed, rng)
            entry: dict = {
                "n": int(rows.sum()), "max_abs": float(np.abs(mean).max()),
                "within_noise": int((np.abs(mean) <= noise).sum()),
                "ci_excludes_zero": int(seed_confidence_excludes_zero(per_seed).sum()),
                "pairwise_seed_agreement": pairwise_seed_agreement(per_seed),
                "split_half": halves.to_dict(), "approx": {},
            }
            for name, tables in raw["approx"].items():
                approx = np.asarray(tables[metric])[rows]
                observed, low, high = bootstrap_rank_correlation(approx.mean(1), mean, rng)
                approx_halves = split_half(approx, rng)
                same_seed = [rank_correlation(approx[:, s], per_seed[:, s]) for s in range(per_seed.shape[1])]
                entry["approx"][name] = {
                    "spearman_vs_seed_mean": observed, "ci": [low, high],
                    "disattenuated_exact": disattenuated(observed, halves.reliability),
                    "disattenuated_both": disattenuated(observed, halves.reliability, approx_halves.reliability),
                    "approx_split_half": approx_halves.to_dict(),
                    "same_seed_spearman_mean": float(np.nanmean(same_seed)),
                }
            summary[kind] = entry
        out["metrics"][metric] = summary
    return out


def write(name: str, result: dict) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    partial = OUT / f"{name}.json.partial"  # a run stopped while writing keeps its last complete result
    partial.write_text(json.dumps(result, indent=1))
    partial.replace(OUT / f"{name}.json")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("phase", choices=["exact", "prune", "sweeps", "reliability", "analyse", "extend"])
    parser.add_argument("--architecture", default=MF, choices=sorted(SPECS))
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--sample-seed", type=int, default=0)
    parser.add_argument("--ks", type=int, nargs="+", default=[10, 25])
    parser.add_argument("--sweeps", type=int, default=0, help="MF: ALS sweeps instead of the spec's")
    parser.add_argument("--epochs", type=int, default=0, help="sequential: epochs instead of the spec's")
    parser.add_argument("--half-sweeps", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--entities", type=int, default=0, help="extend: only the run's first N entities")
    parser.add_argument("--seed-list", type=int, nargs="+", default=[], help="reliability: only these seeds")
    parser.add_argument("--warm-epochs", type=int, nargs="*", default=[1], help="sequential warm-start epochs")
    parser.add_argument("--checkpoints", type=int, nargs="+", default=[10, 20, 40, 80])
    parser.add_argument("--influences", default="", help="prune: result file ranking the users (no .json)")
    parser.add_argument("--tag", default="", help="name of the result files (default: the architecture)")
    parser.add_argument("--resume", action="store_true", help="reliability: continue the stopped run's raw result")
    args = parser.parse_args()
    if args.phase == "analyse":
        tag = args.tag or args.architecture
        if list(OUT.glob(f"reliability-{tag}-seed*-raw.json")):
            write(f"reliability-{tag}-raw", merged_shards(tag))  # prune --influences reads the merged ranking
        raw = json.loads((OUT / f"reliability-{tag}-raw.json").read_text())
        write(f"reliability-{args.tag or args.architecture}", analyse(raw))
        return
    {"exact": exact, "prune": prune, "sweeps": sweeps, "reliability": reliability, "extend": extend}[args.phase](args)


if __name__ == "__main__":
    main()
