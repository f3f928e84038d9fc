from celery import shared_task

from . import jobs
from .services.training import schedule_retraining


@shared_task(acks_late=True, reject_on_worker_lost=True)
def run_job(job_id: int) -> None:
    jobs.run(job_id)


@shared_task
def retrain_stale_models() -> None:
    schedule_retraining()
