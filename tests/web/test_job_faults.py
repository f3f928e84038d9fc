"""Jobs survive faults: a worker killed mid-job, stale heartbeats, cancelling a dead job, double submissions.

The kill test runs on whichever broker the suite is configured with: Redis in bin/test's first leg,
the embedded filesystem broker in its second.
"""

import os
import signal
import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from recsys import jobs
from recsys.models import Job, TrainedModel
from recsys.services import artefacts, training
from tests.conftest import start_worker, stop_worker
from tests.helpers import wait_for_job

from .conftest import TINY
from .factories import make_dataset, make_history

pytestmark = pytest.mark.django_db(transaction=True)

FAST_REAPING = {"HIKMAX_JOB_HEARTBEAT_SECONDS": "0.5", "HIKMAX_JOB_STALE_SECONDS": "3"}


@pytest.fixture
def fast_reaping(settings):
    settings.HIKMAX = {**settings.HIKMAX, "JOB_HEARTBEAT_SECONDS": 0.5, "JOB_STALE_SECONDS": 3}


def _trainable_dataset():
    dataset = make_dataset(n_items=30)
    for u in range(25):
        make_history(dataset, external_user_id=f"u{u}", item_ids=[(u + k) % 30 + 1 for k in range(8)])
    return dataset


def _wait(condition, what: str, timeout: float = 90, poll: float = 0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(poll)
    raise AssertionError(f"Timed out waiting for {what}")


@pytest.mark.worker
def test_a_worker_killed_mid_training_leaves_a_failed_retryable_job_and_never_a_ready_model(
        fast_reaping, settings):
    media = settings.MEDIA_ROOT  # the default storage, shared with the worker processes below
    dataset = _trainable_dataset()
    job = training.start_training(dataset=dataset, architecture="sasrec",
                                  hyperparameters={**TINY, "epochs": 40, "patience": 40},
                                  enqueue=False)  # long enough on a quiet machine to be killed mid-training
    queue = f"faults-{uuid.uuid4().hex[:8]}"  # a queue of its own: no other test worker takes the job
    Job.objects.filter(pk=job.pk).update(queue=queue)
    job.refresh_from_db()
    model = TrainedModel.objects.get(pk=job.params["model_id"])
    env = {**FAST_REAPING, "MEDIA_ROOT": str(media)}

    first = start_worker(queue, f"faults-first-{queue}.log", **env)
    try:
        jobs._send(job)
        _wait(lambda: Job.objects.get(pk=job.pk).message.startswith("Epoch"), "the first training epoch", poll=0.05)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    finally:
        if first.poll() is None:
            first.kill()
    model.refresh_from_db()
    assert model.status == TrainedModel.Status.TRAINING and not model.artefact_path
    assert Job.objects.get(pk=job.pk).status == Job.Status.RUNNING  # nothing noticed yet

    time.sleep(3.5)  # the heartbeat is now older than the limit
    second = start_worker(queue, f"faults-second-{queue}.log", **env)  # reaps at start
    try:
        _wait(lambda: Job.objects.get(pk=job.pk).is_finished, "the reaper")
        job.refresh_from_db()
        model.refresh_from_db()
        assert job.status == Job.Status.FAILED, job.message
        assert "stopped" in job.message and "retry" in job.message
        assert model.status == TrainedModel.Status.FAILED and not model.artefact_path

        job = wait_for_job(jobs.retry_job(job), timeout=180)
        assert job.status == Job.Status.SUCCEEDED, job.error
        assert job.attempts == 2
        model.refresh_from_db()
        assert model.status == TrainedModel.Status.READY
        assert artefacts.storage().exists(model.artefact_path)
        assert any(artefacts.local_directory(model.artefact_path).iterdir())
        assert not list(media.rglob(".partial-*"))
    finally:
        stop_worker(second)


def _running_job(*, seconds_silent: float, **fields) -> Job:
    beat = timezone.now() - timedelta(seconds=seconds_silent)
    return Job.objects.create(kind="import_dataset", status=Job.Status.RUNNING, started_at=beat,
                              heartbeat_at=beat, attempts=1, **fields)


def test_a_job_silent_past_the_limit_is_reaped_failed_and_can_be_retried(fast_reaping):
    stale = _running_job(seconds_silent=10)
    alive = _running_job(seconds_silent=1)
    assert jobs.reap_stale_jobs() == [stale.pk]
    stale.refresh_from_db()
    alive.refresh_from_db()
    assert stale.status == Job.Status.FAILED and stale.finished_at
    assert "no heartbeat for over 3 s" in stale.message
    assert alive.status == Job.Status.RUNNING
    assert jobs.retry_job(stale).status == Job.Status.QUEUED


def test_a_model_whose_training_worker_died_is_marked_failed(fast_reaping):
    dataset = make_dataset()
    model = TrainedModel.objects.create(dataset=dataset, architecture="sasrec", status=TrainedModel.Status.TRAINING)
    beat = timezone.now() - timedelta(seconds=10)
    Job.objects.create(kind="train_model", queue="training", status=Job.Status.RUNNING, params={"model_id": model.pk},
                       started_at=beat, heartbeat_at=beat, attempts=1)
    jobs.reap_stale_jobs()
    model.refresh_from_db()
    assert model.status == TrainedModel.Status.FAILED and "stopped" in model.error


def test_a_model_whose_training_was_cancelled_before_it_started_is_failed_not_pending_forever():
    dataset = make_dataset()
    make_history(dataset, item_ids=(1, 2, 3, 4))
    job = training.start_training(dataset=dataset, architecture="sasrec", hyperparameters=TINY, enqueue=False)
    jobs.cancel_job(job)
    model = TrainedModel.objects.get(pk=job.params["model_id"])
    assert model.status == TrainedModel.Status.FAILED and model.error == "Cancelled before it started"
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED


def test_cancelling_a_job_whose_worker_died_cancels_it_at_once(fast_reaping):
    dead = _running_job(seconds_silent=10)
    jobs.cancel_job(dead)
    dead.refresh_from_db()
    assert dead.status == Job.Status.CANCELLED and dead.finished_at
    live = _running_job(seconds_silent=0)
    jobs.cancel_job(live)
    live.refresh_from_db()
    assert live.status == Job.Status.RUNNING and live.cancel_requested  # the handler stops at its next step


def test_a_redelivered_message_does_not_run_a_job_a_live_worker_is_running(fast_reaping):
    alive = _running_job(seconds_silent=0, params={"name": "x", "path": "/nonexistent"})
    jobs.run(alive.pk)
    alive.refresh_from_db()
    assert alive.status == Job.Status.RUNNING and alive.attempts == 1


def test_a_redelivered_message_takes_over_a_job_whose_worker_died(fast_reaping, tmp_path):
    from .conftest_data import write_generic_csv

    dead = _running_job(seconds_silent=10, params={"name": "tiny", "path": str(write_generic_csv(tmp_path))})
    jobs.run(dead.pk)
    dead.refresh_from_db()
    assert dead.status == Job.Status.SUCCEEDED and dead.attempts == 2


def test_the_same_training_request_twice_returns_the_first_job():
    dataset = _trainable_dataset()
    first = training.start_training(dataset=dataset, architecture="sasrec", hyperparameters=TINY, enqueue=False)
    again = training.start_training(dataset=dataset, architecture="sasrec", hyperparameters=TINY, enqueue=False)
    other = training.start_training(dataset=dataset, architecture="gru4rec", hyperparameters=TINY, enqueue=False)
    assert again.pk == first.pk and again.duplicate
    assert other.pk != first.pk
    assert TrainedModel.objects.count() == 2 and Job.objects.count() == 2


def test_two_simultaneous_identical_submissions_make_one_job_and_one_model():
    dataset = _trainable_dataset()
    barrier = threading.Barrier(2)
    results, errors = [], []

    def submit():
        try:
            barrier.wait()
            results.append(training.start_training(dataset=dataset, architecture="sasrec", hyperparameters=TINY,
                                                   enqueue=False).pk)
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(set(results)) == 1
    assert Job.objects.filter(kind="train_model").count() == 1 and TrainedModel.objects.count() == 1


def test_a_finished_identical_job_does_not_block_a_new_submission():
    dataset = _trainable_dataset()
    first = training.start_training(dataset=dataset, architecture="sasrec", hyperparameters=TINY, enqueue=False)
    Job.objects.filter(pk=first.pk).update(status=Job.Status.SUCCEEDED)
    again = training.start_training(dataset=dataset, architecture="sasrec", hyperparameters=TINY, enqueue=False)
    assert again.pk != first.pk and not again.duplicate


def test_cancelling_a_queued_job_that_a_worker_starts_meanwhile_asks_it_to_stop(monkeypatch):
    """Read as queued, started by its worker before the 'cancel if still queued' update: the cancel was dropped
    while the Jobs page said 'Cancellation of job #N requested'."""
    job = Job.objects.create(kind="import_dataset", status=Job.Status.QUEUED)
    reads = []

    def read_then_started(self, *args, **kwargs):
        if not reads:  # the worker starts the job just after cancel_job read it
            Job.objects.filter(pk=self.pk).update(status=Job.Status.RUNNING, started_at=timezone.now(),
                                                  heartbeat_at=timezone.now(), attempts=1)
            reads.append(self.status)
            return
        return original(self, *args, **kwargs)

    original = Job.refresh_from_db
    monkeypatch.setattr(Job, "refresh_from_db", read_then_started)
    requested = jobs.cancel_job(job)
    job = Job.objects.get(pk=job.pk)
    assert job.status == Job.Status.RUNNING and job.cancel_requested and requested
