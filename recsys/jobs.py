"""Background jobs: a Job row is the record, a Celery task on the job's queue runs it.

Each kind of job registers one handler, `handler(job, progress) -> dict`, which calls a
service. The runner records start, progress, result, failure and timings on the row.

Surviving faults (the broker alone cannot: the embedded filesystem broker drops a message as soon as
a worker takes it, and Redis re-delivers an unacknowledged one only after its visibility timeout):
- while a job runs, a heartbeat thread stamps `heartbeat_at` every JOB_HEARTBEAT_SECONDS;
- `reap_stale_jobs` (on beat, and when a worker starts) marks a running job whose heartbeat is older
  than JOB_STALE_SECONDS failed with a message saying so, so it can be retried; the kind's
  `on_abandon` hook tidies what the handler left (a model in training is marked failed);
- a run claims its job atomically (queued, or running with a stale heartbeat), so a re-delivered
  message never runs a job twice at once and a finished job is never run again;
- an identical submission (same kind, owner and parameters) while the first is queued or running
  returns the first job instead of a second one.
"""

import hashlib
import json
import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from .models import Job

log = logging.getLogger(__name__)

QUEUES = ("default", "training", "xai")


@dataclass(frozen=True)
class _Kind:
    handler: Callable
    queue: str
    on_abandon: Callable[[Job], None] | None


_kinds: dict[str, _Kind] = {}


class JobCancelled(Exception):
    pass


class JobInputError(Exception):
    """The job's input is wrong (a bad file, say), and the message tells the person who started it what to change:
    the failure is recorded as that message alone, without the exception's class or a traceback."""


# A handler that fans its work out to other tasks returns this: the job stays running and those
# tasks record its progress (and heartbeat) and finish it (see diagnostics.services.run_retrain).
FANNED_OUT = {"fanned_out": True}


def register(kind: str, *, queue: str = "default", on_abandon: Callable[[Job], None] | None = None):
    """Register the handler of a kind; on_abandon(job) tidies up when a job of this kind dies with its worker
    or is cancelled before it started."""
    if queue not in QUEUES:
        raise ValueError(f"Unknown queue {queue!r}; expected one of {QUEUES}")

    def decorator(handler):
        _kinds[kind] = _Kind(handler, queue, on_abandon)
        return handler

    return decorator


def _kind(kind: str) -> _Kind:
    _import_handlers()
    try:
        return _kinds[kind]
    except KeyError:
        raise ValueError(f"Unknown job kind {kind!r}") from None


def handler_for(kind: str) -> Callable:
    return _kind(kind).handler


def queue_for(kind: str) -> str:
    return _kind(kind).queue


def _import_handlers():
    # Handlers live in each app's services; importing them fills the registry.
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("job_handlers")


def heartbeat_seconds() -> float:
    return float(settings.HIKMAX["JOB_HEARTBEAT_SECONDS"])


def stale_seconds() -> float:
    return float(settings.HIKMAX["JOB_STALE_SECONDS"])


class Progress:
    """Writes progress to the job row (outside any open transaction of the handler)."""

    def __init__(self, job: Job, echo: Callable[[float, str], None] | None = None):
        self.job = job
        self.echo = echo

    def __call__(self, percent: float, message: str = "") -> None:
        percent = int(max(0, min(100, percent)))
        Job.objects.filter(pk=self.job.pk).update(progress=percent, message=message[:300],
                                                  heartbeat_at=timezone.now())
        if self.echo:
            self.echo(percent, message)
        if self.cancel_requested():
            raise JobCancelled("Cancelled on request")

    def cancel_requested(self) -> bool:
        return Job.objects.filter(pk=self.job.pk, cancel_requested=True).exists()


def fingerprint(*, kind: str, owner=None, params: dict | None = None) -> str:
    """What makes two submissions the same job: kind, owner and parameters."""
    text = json.dumps([kind, getattr(owner, "pk", None), params or {}], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def active_duplicate(key: str) -> Job | None:
    """The queued or running job submitted with this fingerprint, if any."""
    return Job.objects.filter(fingerprint=key, status__in=Job.ACTIVE).first()


def start_job(*, kind: str, params: dict | None = None, owner=None, enqueue: bool = True,
              same_as: dict | None = None, countdown: float = 0.0) -> Job:
    """Record a job and send it to its queue; enqueue=False when the caller runs it in-process with run().

    An identical job (same kind, owner and `same_as`, by default the parameters) still queued or
    running is returned instead of a new one; `job.duplicate` tells which happened. countdown: a worker
    starts it no sooner than this many seconds after commit (submissions meanwhile coalesce into it).
    """
    queue = queue_for(kind)
    key = fingerprint(kind=kind, owner=owner, params=params if same_as is None else same_as)
    try:
        with transaction.atomic():
            job = Job.objects.create(kind=kind, queue=queue, params=params or {}, owner=owner, fingerprint=key)
    except IntegrityError:
        existing = active_duplicate(key)
        if existing is None:  # it finished between the insert and this read: submit again
            return start_job(kind=kind, params=params, owner=owner, enqueue=enqueue, same_as=same_as,
                             countdown=countdown)
        existing.duplicate = True
        return existing
    job.duplicate = False
    if enqueue:
        # Only a delayed job passes countdown, so replacements of _send(job) (tests) keep working.
        transaction.on_commit(lambda: _send(job, countdown) if countdown else _send(job))
    return job


def retry_job(job: Job) -> Job:
    if job.status not in (Job.Status.FAILED, Job.Status.CANCELLED):
        raise ValueError(f"Only failed or cancelled jobs can be retried; this one is {job.status}.")
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.QUEUED,
        progress=0,
        message="Retry queued",
        error="",
        cancel_requested=False,
        started_at=None,
        heartbeat_at=None,
        finished_at=None,
    )
    transaction.on_commit(lambda: _send(job))
    job.refresh_from_db()
    return job


def cancel_job(job: Job) -> bool:
    """Cancel at once when nothing runs it (queued, or its worker is gone); else ask the running handler to stop.
    False when the job had already ended (nothing to cancel; ``job`` is read again, so its status says how)."""
    job.refresh_from_db()
    if job.is_finished:
        return False
    if job.status == Job.Status.QUEUED:
        cancelled = Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED).update(
            status=Job.Status.CANCELLED, message="Cancelled before it started", finished_at=timezone.now()
        )
        if cancelled:  # what the job was to fill (a model version waiting to be trained) will never be
            job.message = "Cancelled before it started"
            _abandon(job)
            return True
        return cancel_job(job)  # started (or ended) since it was read
    Job.objects.filter(pk=job.pk).update(cancel_requested=True, message="Cancelling…")
    reap_stale_jobs(ids=[job.pk])
    return True


def nothing_to_cancel(job: Job) -> str:
    """What a Cancel of a job that had already ended (``cancel_job`` answered False) tells the analyst."""
    return f"Job #{job.pk} has already ended ({job.get_status_display().lower()}); there is nothing to cancel."


def _send(job: Job, countdown: float = 0.0) -> None:
    from .tasks import run_job  # here: tasks imports this module to run jobs

    run_job.apply_async(args=[job.pk], queue=job.queue, countdown=countdown or None)


def _stale(now) -> Q:
    cutoff = now - timedelta(seconds=stale_seconds())
    # A fanned-out job's own tasks record its life and end (FANNED_OUT); its handler's heartbeat stops by design.
    return Q(status=Job.Status.RUNNING) & ~Q(result__has_key="fanned_out") & (
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff)
    )


def reap_stale_jobs(*, ids: list[int] | None = None) -> list[int]:
    """Mark running jobs whose worker stopped sending heartbeats failed (or cancelled, if asked), retryable."""
    now = timezone.now()
    found = Job.objects.filter(_stale(now))
    if ids is not None:
        found = found.filter(pk__in=ids)
    reaped = []
    for job in found:
        cancelled = job.cancel_requested
        message = (f"The worker running this job stopped (no heartbeat for over {stale_seconds():.0f} s); "
                   + ("cancelled." if cancelled else "marked failed — retry it to run it again."))
        claimed = Job.objects.filter(_stale(now), pk=job.pk, attempts=job.attempts).update(
            status=Job.Status.CANCELLED if cancelled else Job.Status.FAILED,
            message=message[:300], error=message, finished_at=now,
        )
        if claimed:
            log.warning("Job %s: %s", job.pk, message)
            job.message = message
            _abandon(job)
            reaped.append(job.pk)
    return reaped


def _abandon(job: Job) -> None:
    try:
        hook = _kind(job.kind).on_abandon
    except ValueError:
        return
    if hook is None:
        return
    try:
        hook(job)
    except Exception:
        log.exception("Tidying up after job %s failed", job.pk)


def _claim(job_id: int) -> Job | None:
    """Take the job for this run: it must be queued, or running on a worker that stopped heartbeating."""
    now = timezone.now()
    claimed = Job.objects.filter(Q(status=Job.Status.QUEUED) | _stale(now), pk=job_id).update(
        status=Job.Status.RUNNING,
        started_at=now,
        heartbeat_at=now,
        attempts=F("attempts") + 1,
        message="Started",
        progress=0,
        error="",
        result={},
    )
    return Job.objects.get(pk=job_id) if claimed else None


class _Heartbeat(threading.Thread):
    """Stamps the job's heartbeat while the handler runs, even inside a long step that reports no progress."""

    def __init__(self, job: Job):
        super().__init__(name=f"job-{job.pk}-heartbeat", daemon=True)
        self.job = job
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(heartbeat_seconds()):
                Job.objects.filter(pk=self.job.pk, status=Job.Status.RUNNING, attempts=self.job.attempts).update(
                    heartbeat_at=timezone.now())
        except Exception:
            log.exception("Heartbeat of job %s stopped", self.job.pk)
        finally:
            connection.close()

    def stop(self) -> None:
        self.stopped.set()
        if self.is_alive():
            self.join(timeout=10)


def run(job_id: int, on_progress: Callable[[float, str], None] | None = None) -> None:
    """Run a job to its end, recording the outcome.

    Running a finished job, or one another live worker is running, does nothing. Workers call this;
    a management command may call it in-process with on_progress for a progress bar.
    """
    job = _claim(job_id)
    if job is None:
        return
    heartbeat = _Heartbeat(job)
    if not connection.in_atomic_block:  # inside a transaction no other process can see the job anyway
        heartbeat.start()
    try:
        result = handler_for(job.kind)(job, Progress(job, echo=on_progress))
    except JobCancelled as exc:
        _finish(job, Job.Status.CANCELLED, message=str(exc))
    except JobInputError as exc:
        log.info("Job %s refused its input: %s", job.pk, exc)
        _finish(job, Job.Status.FAILED, message=str(exc))
    except KeyboardInterrupt:  # Ctrl-C in a management command: leave the job retryable, not "running"
        _finish(job, Job.Status.CANCELLED, message="Interrupted")
        raise
    except Exception as exc:
        log.exception("Job %s failed", job.pk)
        _finish(job, Job.Status.FAILED, message=_short(exc), error=traceback.format_exc())
    else:
        if result is FANNED_OUT:
            Job.objects.filter(pk=job.pk, attempts=job.attempts).update(result=FANNED_OUT)
            return
        result = result or {}
        # A handler may sum its outcome up in one line (an import: rows read, rows without a rating).
        done = f"Done: {result['summary']}" if isinstance(result.get("summary"), str) else "Done"
        _finish(job, Job.Status.SUCCEEDED, message=done, result=result, progress=100)
    finally:
        heartbeat.stop()


def finish(job: Job, status: str, *, message: str, result=None, error: str = "", progress=None) -> None:
    """Record the end of a fanned-out job; its last task calls this."""
    _finish(job, status, message=message, result=result, error=error, progress=progress)


def _short(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]


def _finish(job: Job, status: str, *, message: str, result=None, error: str = "", progress=None):
    fields = dict(status=status, message=message[:300], error=error, finished_at=timezone.now())
    if result is not None:
        fields["result"] = result
    if progress is not None:
        fields["progress"] = progress
    # Only this attempt may record its outcome: a retry started after a reap is not overwritten.
    Job.objects.filter(pk=job.pk, attempts=job.attempts).update(**fields)
