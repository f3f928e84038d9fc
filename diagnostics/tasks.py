from celery import shared_task

from . import services


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True)
def run_retrain(self, retrain_id: int) -> None:
    services.run_retrain(retrain_id, worker=self.request.hostname or "")
