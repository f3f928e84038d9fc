from django.dispatch import receiver

from recsys.signals import interactions_added, model_trained

from .services import alerts
from .services.context import start_calibration


@receiver(model_trained)
def calibrate_new_model(sender, model, **kwargs):
    start_calibration(model)  # the taste check needs no categories


@receiver(interactions_added)
def check_for_drift_soon(sender, dataset, user_ids, **kwargs):
    alerts.note_arrivals(dataset=dataset, user_ids=user_ids)
