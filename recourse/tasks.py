from celery import shared_task

from .services import alerts


@shared_task
def sweep_drift_alerts() -> None:
    """Queue the drift-alert checks of members whose rate limit has passed (see recourse.services.alerts)."""
    alerts.sweep()
