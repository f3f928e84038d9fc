"""Deleting a diagnostic run (or its dataset) deletes its stored histories once the deletion commits."""

from django.db.models.signals import post_delete
from django.dispatch import receiver

from diagnostics.models import DiagnosticRun
from diagnostics.services import data_prefix
from recsys.services import artefacts


@receiver(post_delete, sender=DiagnosticRun, dispatch_uid="diagnostics.run_artefacts")
def run_deleted(sender, instance: DiagnosticRun, **kwargs) -> None:
    artefacts.delete_after_commit([instance.data_path], prefixes=[data_prefix(instance.pk)])
