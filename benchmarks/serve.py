"""Serving latency: top-10 for one member with a warm model, at the engine and through the service.

    .venv/bin/python benchmarks/serve.py                        # both parts, default sizes
    .venv/bin/python benchmarks/serve.py --sequences 300 --rounds 10

Target (issue 10): top-10 for one member, warm model, p50 <= 10 ms.
(a) engine: ``recsys.ml.serving.recommend`` (through the loaded TrainedRecommender) on a history already in
    memory: parse the history, encode the last L items, ``score_last``, top-10 without the seen items.
    Over ``--sequences`` distinct sequences with >= 200 active interactions; ``score_last`` alone is timed too.
(b) service: ``recsys.services.serving.recommend_for_member``: active-model lookup, the member's active history
    read from the database, scoring, exclusion of seen items, the top-10's Item rows. Over the world's members
    (bench-00..), ``--rounds`` times each, round-robin; the history read alone is timed too.
The world (database hikmax_bench_xai, SASRec L=200 artefact, members) comes from benchmarks/_world.py and is
built on first use. Wall and process-CPU milliseconds per call are printed and written to
var/bench/serve-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _world  # noqa: E402
from _world import log, percentiles  # noqa: E402

P50_TARGET = 10.0
WARM_UP_CALLS = 5


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("engine", "service", "all"), default="all")
    parser.add_argument("--sequences", type=int, default=300, help="engine part: distinct long sequences")
    parser.add_argument("--rounds", type=int, default=10, help="service part: calls per member")
    parser.add_argument("--epochs", type=int, default=3, help="if the world must be built: SASRec epochs")
    parser.add_argument("--train-minutes", type=float, default=25.0, help="if the world must be built")
    return parser.parse_args(argv)


class Timer:
    """Wall and process-CPU milliseconds per call, by name."""

    def __init__(self, *names: str):
        self.wall = {name: [] for name in names}
        self.cpu = {name: [] for name in names}

    def time(self, name: str, call, *args, **kwargs):
        started, cpu_started = time.perf_counter(), time.process_time()
        result = call(*args, **kwargs)
        self.wall[name].append(1000.0 * (time.perf_counter() - started))
        self.cpu[name].append(1000.0 * (time.process_time() - cpu_started))
        return result

    def summary(self) -> dict:
        return {"timings_ms": {name: percentiles(values) for name, values in self.wall.items()},
                "cpu_ms": {name: percentiles(values) for name, values in self.cpu.items()}}


def log_summary(summary: dict) -> None:
    for kind, stats_by_name in (("wall", summary["timings_ms"]), ("CPU ", summary["cpu_ms"])):
        for name, stats in stats_by_name.items():
            log(f"  {kind} {name:<16} p50 {stats['p50']:6.2f} ms  p95 {stats['p95']:6.2f} ms  "
                f"mean {stats['mean']:6.2f} ms  (n={stats['n']})")


def lengths(histories) -> dict:
    values = [len(history) for history in histories]
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


# --- part (a): engine -------------------------------------------------------------------------------


def engine_part(args, recommender) -> dict:
    from recsys.ml.serving import parse_history
    from recsys.selectors import sequence_histories

    dataset = _world.bench_dataset()
    sequence_ids = _world.long_sequence_ids(dataset, args.sequences)
    by_sequence = sequence_histories(sequence_ids=sequence_ids)
    histories = [by_sequence.get(str(sequence_id), []) for sequence_id in sequence_ids]
    network = recommender.model
    log(f"Engine part: {len(histories)} sequences, history lengths {lengths(histories)} (L={network.max_len}), "
        f"{network.num_items} items; load {_world.load_average()}")
    for history in histories[:WARM_UP_CALLS]:
        recommender.recommend([history], n=10)
    timer = Timer("recommend", "score_last")
    load_before = _world.load_average()
    for history in histories:
        timer.time("recommend", recommender.recommend, [history], n=10)
        parsed = parse_history(history, recommender.index)
        ids, w = network.encode_inputs([parsed.items], [parsed.weights])
        timer.time("score_last", network.score_last, ids, w)
    result = {"sequences": len(histories), "history_lengths": lengths(histories), "max_len": network.max_len,
              "load_average_before": load_before, "load_average_after": _world.load_average(), **timer.summary()}
    log_summary(result)
    return result


# --- part (b): service ------------------------------------------------------------------------------


def service_part(args, recommender) -> dict:
    from recsys.selectors import member_history_entries
    from recsys.services.serving import recommend_for_member

    dataset = _world.bench_dataset()
    members = _world.member_users()
    histories = {user.pk: member_history_entries(user, dataset) for user in members}
    log(f"Service part: {len(members)} members x {args.rounds} rounds, history lengths "
        f"{lengths(histories.values())}; load {_world.load_average()}")
    for user in members:  # warm (first calls) and check: the service agrees with the engine
        served = [str(rec.item.pk) for rec in recommend_for_member(user, dataset, n=10).items]
        [engine] = recommender.recommend([histories[user.pk]], n=10)
        if served != engine.items:
            raise RuntimeError(f"service and engine disagree for {user.username}: {served} != {engine.items}")
    timer = Timer("recommend_for_member", "history_read")
    load_before = _world.load_average()
    for _ in range(args.rounds):
        for user in members:
            timer.time("recommend_for_member", recommend_for_member, user, dataset, n=10)
            timer.time("history_read", member_history_entries, user, dataset)
    result = {"members": len(members), "rounds": args.rounds, "history_lengths": lengths(histories.values()),
              "load_average_before": load_before, "load_average_after": _world.load_average(), **timer.summary()}
    log_summary(result)
    return result


def verdict(name: str, stats: dict) -> str:
    passed = "PASS" if stats["p50"] <= P50_TARGET else "FAIL"
    return f"{name}: p50 {stats['p50']:.2f} ms (target <= {P50_TARGET:.0f}) {passed}; p95 {stats['p95']:.2f} ms"


def main(argv=None) -> None:
    args = parse_args(argv)
    _, header = _world.open_world(args.epochs, args.train_minutes, calibration=False)
    from recsys.services.serving import loaded_model

    _, recommender = loaded_model(_world.bench_dataset())  # the instance the service uses, cached per process
    cpu_started = time.process_time()
    results = {**header, "target_p50_ms": P50_TARGET}
    if args.part in ("engine", "all"):
        results["engine"] = engine_part(args, recommender)
    if args.part in ("service", "all"):
        results["service"] = service_part(args, recommender)
    results["process_cpu_seconds"] = time.process_time() - cpu_started
    if "engine" in results:
        log(verdict("engine recommend", results["engine"]["timings_ms"]["recommend"]))
    if "service" in results:
        log(verdict("service recommend_for_member", results["service"]["timings_ms"]["recommend_for_member"]))
    path = _world.BENCH_VAR / f"serve-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    path.write_text(json.dumps(results, indent=2))
    log(f"Wrote {path}")


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    main()
