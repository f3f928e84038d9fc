"""The model registry: which trained model version serves each dataset."""

from django.db import transaction

from recsys.models import Dataset, TrainedModel
from recsys.services import artefacts


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
    """Delete an inactive version and its stored artefacts; the active one must be replaced first."""
    if model.is_active:
        raise RegistryError(f"{model} is active; activate another version before deleting it.")
    model.delete()  # recsys.receivers deletes the artefacts once the deletion is committed


def artefact_prefix(model_id: int) -> str:
    """Where a model version's artefacts are stored (deleting the model deletes everything under it)."""
    return f"models/model-{model_id}"


def remove_artefacts_after_commit(model: TrainedModel) -> None:
    """Delete a model version's artefacts through the storage API once its deletion is committed: the one it
    names and anything else under its prefix (e.g. left by a run that died before recording its artefact)."""
    artefacts.delete_after_commit([model.artefact_path], prefixes=[artefact_prefix(model.pk)])
