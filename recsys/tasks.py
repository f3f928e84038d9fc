from celery import shared_task
from celery.signals import worker_ready

from . import jobs
from .services.training import schedule_retraining


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_job(job_id: int) -> None:
    jobs.run(job_id)


@shared_task
def retrain_stale_models() -> None:
    schedule_retraining()


@shared_task
def reap_stale_jobs() -> None:
    jobs.reap_stale_jobs()


@worker_ready.connect
def reap_when_a_worker_starts(**kwargs) -> None:
    """A worker that starts after a crash finds the jobs its predecessor left running."""
    jobs.reap_stale_jobs()
