"""Deleting a dataset with everything built on it (models, their stored artefacts, histories), as a job."""

from django.db import models, transaction

from recsys import jobs
from recsys.models import Dataset, Interaction, InteractionSequence, Item, Job, TrainedModel


class DeletionRefused(Exception):
    """The dataset cannot be deleted now; the message says why and what to do."""


def blocking_jobs(dataset: Dataset) -> list[Job]:
    """Unfinished jobs that read or write this dataset (a deletion under them would break them)."""
    model_ids = set(dataset.models.values_list("pk", flat=True))
    unfinished = Job.objects.exclude(status__in=Job.FINISHED).order_by("pk")
    return [job for job in unfinished if _uses(job, dataset, model_ids)]


def _uses(job: Job, dataset: Dataset, model_ids: set[int]) -> bool:
    params = job.params or {}
    return (params.get("dataset_id") == dataset.pk or params.get("model_id") in model_ids
            or (job.kind == "import_dataset" and params.get("name") == dataset.name))


def impact(dataset: Dataset) -> dict:
    """What a deletion removes, for the confirmation page."""
    return {
        "models": dataset.models.count(),
        "active_model": dataset.models.filter(is_active=True).first(),
        "histories": dataset.sequences.count(),
        "member_histories": dataset.sequences.filter(user__isnull=False).count(),
        "interactions": Interaction.objects.filter(sequence__dataset=dataset).count(),
        "items": dataset.items.count(),
        "also": built_on(dataset),
    }


LISTED = {Item, InteractionSequence, TrainedModel}  # impact() counts these itself


def built_on(dataset: Dataset) -> list[str]:
    """The other rows deleted with the dataset (other apps' forecasters, diagnostic runs, experiments: every
    relation that cascades from it), as "2 forecasters", read from the relations so recsys imports none of them."""
    found = []
    for relation in Dataset._meta.related_objects:
        model = relation.related_model
        if not isinstance(model, type) or model in LISTED or relation.on_delete is not models.CASCADE:
            continue
        count = model._default_manager.filter(**{relation.field.name: dataset}).count()
        if count:
            name = model._meta.verbose_name if count == 1 else model._meta.verbose_name_plural
            found.append(f"{count:,} {name}")
    return found


def start_deletion(dataset: Dataset, owner=None) -> Job:
    blockers = blocking_jobs(dataset)
    if blockers:
        listed = ", ".join(f"#{job.pk} ({job.kind.replace('_', ' ')}, {job.get_status_display().lower()})"
                           for job in blockers)
        raise DeletionRefused(f"{dataset} is in use by unfinished job(s) {listed}; wait for them to finish or "
                              "cancel them, then delete it.")
    return jobs.start_job(kind="delete_dataset", owner=owner, params={"dataset_id": dataset.pk, "name": dataset.name})


def delete_dataset(dataset_id: int, progress) -> dict:
    dataset = Dataset.objects.filter(pk=dataset_id).first()
    if dataset is None:
        return {"deleted": None, "note": "already deleted"}
    summary = {"deleted": dataset.name, **{k: v for k, v in impact(dataset).items() if k != "active_model"}}
    progress(10, "Deleting the trained models")
    with transaction.atomic():
        for model in TrainedModel.objects.filter(dataset=dataset):
            model.delete()  # its stored artefacts go once committed (recsys.receivers)
    progress(30, "Deleting the interactions")
    Interaction.objects.filter(sequence__dataset=dataset).delete()
    progress(80, "Deleting the histories and the catalogue")
    dataset.delete()
    return summary
