"""Background jobs: a Job row is the record, a Celery task on the job's queue runs it.

Each kind of job registers one handler, `handler(job, progress) -> dict`, which calls a
service. The runner records start, progress, result, failure and timings on the row, so a
job that fails or whose worker dies is visible and can be retried.
"""

import logging
import traceback
from collections.abc import Callable

from django.db import transaction
from django.utils import timezone

from .models import Job

log = logging.getLogger(__name__)

QUEUES = ("default", "training", "xai")
_handlers: dict[str, tuple[Callable, str]] = {}


class JobCancelled(Exception):
    pass


# A handler that fans its work out to other tasks returns this: the job stays running and those
# tasks record its progress and finish it (see diagnostics.services.run_retrain).
FANNED_OUT = {"fanned_out": True}


def register(kind: str, *, queue: str = "default"):
    if queue not in QUEUES:
        raise ValueError(f"Unknown queue {queue!r}; expected one of {QUEUES}")

    def decorator(handler):
        _handlers[kind] = (handler, queue)
        return handler

    return decorator


def handler_for(kind: str) -> Callable:
    _import_handlers()
    try:
        return _handlers[kind][0]
    except KeyError:
        raise ValueError(f"Unknown job kind {kind!r}") from None


def queue_for(kind: str) -> str:
    _import_handlers()
    if kind not in _handlers:
        raise ValueError(f"Unknown job kind {kind!r}")
    return _handlers[kind][1]


def _import_handlers():
    # Handlers live in each app's services; importing them fills the registry.
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("job_handlers")


class Progress:
    """Writes progress to the job row (outside any open transaction of the handler)."""

    def __init__(self, job: Job, echo: Callable[[float, str], None] | None = None):
        self.job = job
        self.echo = echo

    def __call__(self, percent: float, message: str = "") -> None:
        percent = int(max(0, min(100, percent)))
        Job.objects.filter(pk=self.job.pk).update(progress=percent, message=message[:300])
        if self.echo:
            self.echo(percent, message)
        if Job.objects.filter(pk=self.job.pk, cancel_requested=True).exists():
            raise JobCancelled("Cancelled on request")

    def cancel_requested(self) -> bool:
        return Job.objects.filter(pk=self.job.pk, cancel_requested=True).exists()


def start_job(*, kind: str, params: dict | None = None, owner=None, enqueue: bool = True) -> Job:
    """Record a job and send it to its queue; enqueue=False when the caller runs it in-process with run()."""
    queue = queue_for(kind)
    job = Job.objects.create(kind=kind, queue=queue, params=params or {}, owner=owner)
    if enqueue:
        transaction.on_commit(lambda: _send(job))
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
        finished_at=None,
    )
    transaction.on_commit(lambda: _send(job))
    job.refresh_from_db()
    return job


def cancel_job(job: Job) -> None:
    if job.is_finished:
        return
    if job.status == Job.Status.QUEUED:
        Job.objects.filter(pk=job.pk).update(
            status=Job.Status.CANCELLED, message="Cancelled before it started", finished_at=timezone.now()
        )
    else:
        Job.objects.filter(pk=job.pk).update(cancel_requested=True, message="Cancelling…")


def _send(job: Job) -> None:
    from .tasks import run_job  # here: tasks imports this module to run jobs

    run_job.apply_async(args=[job.pk], queue=job.queue)


def run(job_id: int, on_progress: Callable[[float, str], None] | None = None) -> None:
    """Run a job to its end, recording the outcome. Re-running a finished job does nothing.

    Workers call this; a management command may call it in-process with on_progress for a progress bar.
    """
    job = Job.objects.filter(pk=job_id).first()
    if job is None or job.is_finished:
        return
    Job.objects.filter(pk=job.pk).update(
        status=Job.Status.RUNNING,
        started_at=timezone.now(),
        attempts=job.attempts + 1,
        message="Started",
        progress=0,
        error="",
    )
    job.refresh_from_db()
    try:
        result = handler_for(job.kind)(job, Progress(job, echo=on_progress))
    except JobCancelled as exc:
        _finish(job, Job.Status.CANCELLED, message=str(exc))
    except KeyboardInterrupt:  # Ctrl-C in a management command: leave the job retryable, not "running"
        _finish(job, Job.Status.CANCELLED, message="Interrupted")
        raise
    except Exception as exc:
        log.exception("Job %s failed", job.pk)
        _finish(job, Job.Status.FAILED, message=_short(exc), error=traceback.format_exc())
    else:
        if result is FANNED_OUT:
            return
        _finish(job, Job.Status.SUCCEEDED, message="Done", result=result or {}, progress=100)


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
    Job.objects.filter(pk=job.pk).update(**fields)
