"""A run on real Celery workers: a worker killed in the middle of a retrain loses only that retrain."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from diagnostics import services
from diagnostics.models import Retrain
from recsys.models import Job
from tests.conftest import ROOT, _database_url
from tests.helpers import wait_for_job

from .conftest import make_films

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def start_worker(name: str, log_path: Path) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": _database_url(), "PYTHONUNBUFFERED": "1",
           "MEDIA_ROOT": str(settings.MEDIA_ROOT),  # the storage the runs' histories are in
           "HIKMAX_VISIBILITY_TIMEOUT": "3"}  # a lost task goes to another worker after 3 s (+ its 10 s check)
    with open(log_path, "w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "hikmax_site", "worker", "-Q", "default,training", "-P", "solo",
             "-n", f"{name}@%h", "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "INFO"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_ready(worker: subprocess.Popen, log_path: Path) -> None:
    deadline = time.time() + 150
    while "ready" not in log_path.read_text():
        if worker.poll() is not None or time.time() > deadline:
            worker.kill()
            pytest.fail(f"A worker did not start:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.3)


def stop(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()


def test_a_killed_worker_loses_only_its_own_retrain_and_every_retrain_counts_once(tmp_path):
    from hikmax_site.celery import app

    app.control.purge()
    dataset = make_films(users=40, items=30)
    first, second = start_worker("diag-a", tmp_path / "a.log"), start_worker("diag-b", tmp_path / "b.log")
    try:
        wait_ready(first, tmp_path / "a.log")
        wait_ready(second, tmp_path / "b.log")
        run = services.start_run(dataset=dataset, architecture="mf", seeds=2, users=2, items=1,
                                 hyperparameters={"factors": 16, "sweeps": 1500})  # about a second per retrain
        deadline = time.time() + 120
        while not (victim := run.retrains.filter(status=Retrain.Status.RUNNING, worker__startswith="diag-a").first()):
            assert time.time() < deadline, "worker diag-a never started a retrain"
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)  # dies mid-retrain, without acknowledging its task
        first.wait(timeout=10)
        job = wait_for_job(run.job, timeout=240)
    finally:
        stop(first)
        stop(second)
    assert job.status == Job.Status.SUCCEEDED, job.message
    rows = list(run.retrains.all())
    assert len(rows) == 8 and all(row.status == Retrain.Status.DONE for row in rows)
    assert job.result["retrains_done"] == 8 and job.message == "8 of 8 retrains" and job.progress == 100
    victim.refresh_from_db()
    assert victim.attempts == 2 and victim.worker.startswith("diag-b")  # redelivered to the other worker
    assert sorted(row.attempts for row in rows if row.pk != victim.pk) == [1] * 7  # nobody else re-ran
