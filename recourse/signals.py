from django.dispatch import receiver

from recsys.signals import model_trained

from .services.context import start_calibration


@receiver(model_trained)
def calibrate_new_model(sender, model, **kwargs):
    start_calibration(model)  # the taste check needs no categories
