"""Latency of the engine on SASRec at the target size: python -m benchmarks.engine_latency

Default: L=200, N=3,706, d=64, 2 blocks, random (untrained) weights, random item categories.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np


def _percentiles(fn, repeats: int) -> tuple[float, float, float]:
    """Wall-clock p50 / p95 and mean CPU time (all threads) per call, in ms."""
    fn()
    fn()  # traces and warms caches
    times = []
    cpu_start = time.process_time()
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    cpu = (time.process_time() - cpu_start) / repeats
    return float(np.percentile(times, 50) * 1e3), float(np.percentile(times, 95) * 1e3), cpu * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=3706)
    parser.add_argument("--max-len", type=int, default=200)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--reference-members", type=int, default=12)
    parser.add_argument("--history-len", type=int, default=None, help="default: max-len (no padding)")
    args = parser.parse_args()

    from recourse.engine.alignment import CategoryIndex, preference_profile
    from recourse.engine.attribution import attention_attribution, integrated_gradients, occlusion_attribution
    from recourse.engine.drift_detection import calibrate_drift, detect_drift
    from recourse.engine.recourse_search import plan_recourse
    from recourse.engine.sequences import as_history
    from recsys.ml.config import ModelConfig
    from recsys.ml.models import build_model

    model = build_model("sasrec", ModelConfig(num_items=args.items, max_len=args.max_len, hidden=args.hidden))
    model.is_trained = True
    rng = np.random.default_rng(0)
    matrix = (rng.random((args.items + 1, 18)) < 0.12).astype(np.float32)
    matrix[0] = 0
    categories = CategoryIndex(matrix)

    def member():
        length = args.history_len or args.max_len
        return rng.choice(np.arange(1, args.items + 1), length, replace=False).tolist()

    history = member()
    profile = preference_profile(as_history(history), categories)
    clean = [member() for _ in range(args.reference_members)]
    profiles = np.stack([preference_profile(as_history(h), categories) for h in clean])
    start = time.perf_counter()
    calibration = calibrate_drift(model, clean, profiles, categories)
    print(f"calibration on {len(clean)} members: {time.perf_counter() - start:.1f} s")
    report = detect_drift(model, history, profile, categories, calibration)

    cases = {
        "integrated gradients (50 steps)": lambda: integrated_gradients(model, history, 5),
        "drift check (IG of R + flags + ADS)": lambda: detect_drift(model, history, profile, categories, calibration),
        "recourse search (given drift report)": lambda: plan_recourse(
            model, history, profile, categories, report=report, margin=0.05
        ),
        "recourse including IG": lambda: plan_recourse(model, history, profile, categories, calibration=calibration,
                                                   margin=0.05),
        "occlusion (all removals, one batch)": lambda: occlusion_attribution(model, history, 5),
        "attention": lambda: attention_attribution(model, history),
    }
    print(f"load average before timing: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    for name, fn in cases.items():
        p50, p95, cpu = _percentiles(fn, args.repeats)
        print(f"{name:40s} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   cpu/call {cpu:7.1f} ms")


if __name__ == "__main__":
    main()
