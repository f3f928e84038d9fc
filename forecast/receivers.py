"""Deleting a forecaster (or its dataset) deletes its stored pipelines and card once the deletion commits."""

from django.db.models.signals import post_delete
from django.dispatch import receiver

from forecast.models import Forecaster
from recsys.services import artefacts


@receiver(post_delete, sender=Forecaster, dispatch_uid="forecast.forecaster_artefacts")
def forecaster_deleted(sender, instance: Forecaster, **kwargs) -> None:
    artefacts.delete_after_commit([instance.artefact.name, instance.card.name])
