"""Throughput of the proactive drift-alert batch check (issue 19, item 5): members re-scored per second.

    nice -n 10 .venv/bin/python benchmarks/drift_alerts.py                  # 200 members, 3 rounds
    nice -n 10 .venv/bin/python benchmarks/drift_alerts.py --members 100 --rounds 2

What it measures: the ``drift_alerts`` job exactly as the xai worker runs it (``recsys.jobs.run`` in this
process: the Job row, claiming, heartbeat, ``recourse.services.alerts.check_due``), over members who all have
new interactions waiting (as after a dataset import touching every linked member). Each member costs one
``recourse.services.drift.check_drift`` (history read, detection, DriftResult row) plus the alert bookkeeping.
Per-member latency is timed around ``alerts.check_member``. Between rounds the members are made due again
(their last check moved back past the rate limit); round 1 raises alerts, later rounds update them.

The world (its own PostgreSQL database ``hikmax_alerts_bench``, override ``HIKMAX_BENCH_ALERTS_DB``;
``HIKMAX_VAR_DIR=var/bench-alerts``): ``manage.py setup_demo``'s synthetic demo set (400 users, 600 items,
30,000 interactions, a late off-taste burst for a quarter of the users), its SASRec (L=50, d=64, 2 blocks) and
drift calibration, built once; then ``--members`` accounts ``alerts-bench-NNN`` linked to its histories.
Results: printed and written to var/bench-alerts/drift_alerts.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import _world  # noqa: E402
from _world import log, machine, percentiles  # noqa: E402

DB_NAME = os.environ.get("HIKMAX_BENCH_ALERTS_DB", "hikmax_alerts_bench")
VAR = ROOT / "var" / "bench-alerts"
RESULTS = VAR / "drift_alerts.json"
PREFIX = "alerts-bench-"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=200, help="member accounts checked per round")
    parser.add_argument("--rounds", type=int, default=3)
    return parser.parse_args(argv)


def setup_django() -> None:
    import psycopg2

    VAR.mkdir(parents=True, exist_ok=True)
    os.environ.update(DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{DB_NAME}", HIKMAX_VAR_DIR=str(VAR),
                      DJANGO_SETTINGS_MODULE="hikmax_site.settings", CELERY_BROKER_URL="filesystem://")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    connection = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME])
        if cursor.fetchone() is None:
            log(f"Creating database {DB_NAME}")
            cursor.execute(f"CREATE DATABASE {DB_NAME}")
    connection.close()
    import django

    django.setup()


def ensure_world():
    from django.conf import settings
    from django.core.management import call_command

    from recsys.models import Dataset, TrainedModel

    call_command("migrate", verbosity=0, interactive=False)
    name = settings.HIKMAX["DEMO_DATASET"]
    if not TrainedModel.objects.filter(dataset__name=name, is_active=True, status="ready").exists():
        log("Building the demo world (setup_demo: generate, import, train SASRec, calibrate)")
        started = time.monotonic()
        call_command("setup_demo")
        log(f"Built in {time.monotonic() - started:.0f} s")
    dataset = Dataset.objects.get(name=name)
    model = TrainedModel.objects.get(dataset=dataset, is_active=True)
    if "drift" not in model.calibration:
        call_command("calibrate_drift", dataset.name)
        model.refresh_from_db()
    return dataset, model


def ensure_members(dataset, count: int):
    from django.contrib.auth import get_user_model

    from recsys.models import InteractionSequence

    User = get_user_model()
    linked = list(User.objects.filter(username__startswith=PREFIX).order_by("username"))
    free = list(InteractionSequence.objects.filter(dataset=dataset, user__isnull=True).order_by("pk")
                .values_list("pk", flat=True))
    for n in range(len(linked), count):
        if not free:
            break
        user = User.objects.create_user(username=f"{PREFIX}{n:03d}", password=None)
        InteractionSequence.objects.filter(pk=free.pop(0)).update(user=user)
        linked.append(user)
    return linked[:count]


def main(argv=None) -> dict:
    args = parse_args(argv)
    setup_django()
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    from recourse.models import DriftAlert, DriftWatch
    from recourse.services import alerts
    from recsys import jobs
    from recsys.models import Job
    from recsys.services import serving

    jobs._send = lambda job, countdown=0.0: None  # the job runs below, in this process, as a worker would run it
    dataset, model = ensure_world()
    members = ensure_members(dataset, args.members)
    log(f"Machine: {machine()}")
    log(f"World: {dataset.n_users} users x {dataset.n_items} items x {dataset.n_interactions} interactions; "
        f"{model} {({k: model.hyperparameters.get(k) for k in ('max_len', 'hidden', 'blocks')})}; "
        f"{len(members)} members")
    serving.loaded_model(dataset)  # load once, as a running worker has
    timings: list[float] = []
    real_check = alerts.check_member

    def timed(watch):
        started = time.perf_counter()
        try:
            return real_check(watch)
        finally:
            timings.append(time.perf_counter() - started)

    alerts.check_member = timed
    ids = [user.pk for user in members]
    DriftAlert.objects.filter(user_id__in=ids).delete()  # a fresh start: round 1 raises, later rounds update
    DriftWatch.objects.filter(user_id__in=ids).delete()
    rounds = []
    for number in range(1, args.rounds + 1):
        Job.objects.filter(kind=alerts.JOB_KIND, status__in=Job.ACTIVE).delete()
        DriftWatch.objects.filter(user_id__in=ids).update(
            last_checked_at=timezone.now() - timedelta(minutes=settings.HIKMAX["DRIFT_ALERT_MINUTES"] + 1))
        job = alerts.note_arrivals(dataset=dataset, user_ids=ids)
        timings.clear()
        load_before = _world.load_average()
        started = time.perf_counter()
        jobs.run(job.pk)
        wall = time.perf_counter() - started
        job.refresh_from_db()
        if job.status != Job.Status.SUCCEEDED:
            raise SystemExit(f"The drift_alerts job failed: {job.error or job.message}")
        row = {"round": number, "members": job.result["members"], "job_wall_seconds": round(wall, 3),
               "members_per_second": round(job.result["members"] / wall, 2),
               "check_due_members_per_second": job.result["members_per_second"],
               "outcomes": job.result["outcomes"], "per_member_ms": percentiles([1000 * t for t in timings]),
               "load_average_before": load_before, "load_average_after": _world.load_average()}
        rounds.append(row)
        log(f"Round {number}: {row['members']} members in {wall:.1f} s = {row['members_per_second']} members/s "
            f"(per member p50 {row['per_member_ms']['p50']:.0f} ms, p95 {row['per_member_ms']['p95']:.0f} ms); "
            f"{row['outcomes']}; load {load_before} -> {row['load_average_after']}")
    open_alerts = DriftAlert.objects.filter(user_id__in=ids, dismissed_at__isnull=True, closed_at__isnull=True).count()
    results = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "git": _world.git_revision(),
               "machine": machine(), "dataset": {"users": dataset.n_users, "items": dataset.n_items,
                                                 "interactions": dataset.n_interactions},
               "model": {"id": model.pk, "config": {k: model.hyperparameters.get(k)
                                                    for k in ("max_len", "hidden", "blocks")}},
               "members": len(ids), "rounds": rounds, "open_alerts_after": open_alerts}
    RESULTS.write_text(json.dumps(results, indent=2))
    log(f"Written {RESULTS}")
    return results


if __name__ == "__main__":
    main()
