"""Job kinds of the forecast app."""

from recsys import jobs

from . import selectors, services
from .models import Forecaster


@jobs.register(selectors.TRAIN_JOB, queue="training")
def train_forecaster(job, progress):
    forecaster = Forecaster.objects.select_related("dataset").get(pk=job.params["forecaster_id"])
    forecaster = services.train(forecaster, progress)
    if job.params.get("activate"):
        services.activate(forecaster)
    test = forecaster.primary_metrics
    return {"forecaster_id": forecaster.pk, "version": forecaster.version, "roc_auc": test.get("roc_auc"),
            "auprc": test.get("auprc"), "positives": forecaster.n_positives, "active": forecaster.is_active}
