"""The model registry: which trained model version serves each dataset."""

import shutil
from pathlib import Path

from django.conf import settings
from django.db import transaction

from recsys.models import Dataset, TrainedModel


class RegistryError(Exception):
    pass


@transaction.atomic
def activate(model: TrainedModel) -> TrainedModel:
    if model.status != TrainedModel.Status.READY:
        raise RegistryError(
            f"{model} is {model.get_status_display().lower()}, not ready; only a ready model can be activated."
        )
    TrainedModel.objects.select_for_update().filter(dataset=model.dataset, is_active=True).update(is_active=False)
    TrainedModel.objects.filter(pk=model.pk).update(is_active=True)
    model.is_active = True
    return model


def deactivate(model: TrainedModel) -> TrainedModel:
    """Stop serving this version; the dataset has no active model until another one is activated."""
    TrainedModel.objects.filter(pk=model.pk).update(is_active=False)
    model.is_active = False
    return model


@transaction.atomic
def make_default(dataset: Dataset) -> Dataset:
    """The site-wide default dataset: where new members and members without a history land."""
    Dataset.objects.select_for_update().filter(is_default=True).exclude(pk=dataset.pk).update(is_default=False)
    Dataset.objects.filter(pk=dataset.pk).update(is_default=True)
    dataset.is_default = True
    return dataset


def delete(model: TrainedModel) -> None:
    """Delete an inactive version and its artefact folder; the active one must be replaced first."""
    if model.is_active:
        raise RegistryError(f"{model} is active; activate another version before deleting it.")
    artefact = Path(model.artefact_path) if model.artefact_path else None
    model.delete()
    remove_artefact_after_commit(artefact)


def remove_artefact_after_commit(artefact: Path | None) -> None:
    """Remove an artefact folder once the deletion is committed (only inside ARTEFACT_ROOT)."""
    if artefact is not None and artefact.resolve().is_relative_to(Path(settings.ARTEFACT_ROOT).resolve()):
        transaction.on_commit(lambda: shutil.rmtree(artefact, ignore_errors=True))
