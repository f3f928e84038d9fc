from django.dispatch import receiver

from recsys.signals import model_trained


@receiver(model_trained)
def calibrate_new_model(sender, model, **kwargs):
    # Imported here: the engine loads TensorFlow, which web start-up and management commands should not pay for.
    from .services.context import start_calibration

    if model.dataset.has_categories:
        start_calibration(model)
