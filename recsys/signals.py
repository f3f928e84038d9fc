from django.dispatch import Signal

# Sent with `model` (a ready TrainedModel) after a training job succeeded.
model_trained = Signal()
