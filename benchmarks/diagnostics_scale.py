"""Issue 22 scale check: the same deletion diagnostic run with 1 and with 2 training workers, each pinned
to its own core (taskset) with one BLAS/TensorFlow thread. Prints wall times and the machine load.

    DATABASE_URL=postgres://.../hikmax_diag_dev CELERY_BROKER_URL=redis://127.0.0.1:6379/8 \
        nice -n 10 .venv/bin/python benchmarks/diagnostics_scale.py --dataset ml-100k --users 10 --items 5
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hikmax_site.settings")

import django  # noqa: E402

django.setup()

from diagnostics import services  # noqa: E402
from hikmax_site.celery import app  # noqa: E402
from recsys.models import Dataset, Job  # noqa: E402

SINGLE_THREAD = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                 "HIKMAX_TF_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def start_workers(count: int, logs: Path) -> list[subprocess.Popen]:
    workers = []
    for core in range(count):
        log = logs / f"scale-{count}-{core}.log"
        command = ["taskset", "-c", str(core), "nice", "-n", "10", sys.executable, "-m", "celery", "-A", "hikmax_site",
                   "worker", "-Q", "default,training", "-P", "solo", "-n", f"scale{count}-{core}@%h",
                   "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "INFO"]
        with open(log, "w") as out:
            workers.append(subprocess.Popen(command, cwd=ROOT, env={**os.environ, **SINGLE_THREAD}, stdout=out,
                                            stderr=subprocess.STDOUT))
    for core in range(count):
        while "ready" not in (logs / f"scale-{count}-{core}.log").read_text():
            time.sleep(0.5)
    return workers


def measure(count: int, args: argparse.Namespace, logs: Path) -> dict:
    app.control.purge()
    workers = start_workers(count, logs)
    try:
        load_before = os.getloadavg()
        started = time.perf_counter()
        run = services.start_run(dataset=Dataset.objects.get(name=args.dataset), architecture="mf",
                                 hyperparameters={"factors": 16, "sweeps": 10, "regularization": 10.0, "alpha": 10.0},
                                 seeds=args.seeds, users=args.users, items=args.items)
        job = run.job
        while True:
            job.refresh_from_db()
            if job.status in Job.FINISHED:
                break
            time.sleep(0.5)
        wall = time.perf_counter() - started
        per_worker = {}
        for worker, seconds in run.retrains.values_list("worker", "seconds"):
            per_worker.setdefault(worker, []).append(seconds)
        return {"workers": count, "status": job.status, "retrains": run.retrains.count(), "wall_seconds": wall,
                "load_before": load_before, "load_after": os.getloadavg(),
                "per_worker": {w: (len(s), sum(s)) for w, s in per_worker.items()}}
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dataset", default="ml-100k")
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--items", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=1)
    args = parser.parse_args()
    logs = ROOT / "var" / "diagnostics-research"
    logs.mkdir(parents=True, exist_ok=True)
    for count in (1, 2):
        print(measure(count, args, logs), flush=True)


if __name__ == "__main__":
    main()
