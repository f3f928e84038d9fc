"""Deleting a row that names stored artefacts deletes them through the storage API once the deletion commits
(cascades included: deleting a dataset removes its models' artefacts)."""

from django.db.models.signals import post_delete
from django.dispatch import receiver

from recsys.models import TrainedModel
from recsys.services import registry


@receiver(post_delete, sender=TrainedModel, dispatch_uid="recsys.trained_model_artefacts")
def trained_model_deleted(sender, instance: TrainedModel, **kwargs) -> None:
    registry.remove_artefacts_after_commit(instance)
