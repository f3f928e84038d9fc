"""Job kinds of the recsys app: each calls one service."""

from . import jobs
from .models import TrainedModel
from .services import datasets, imports, registry, training
from .signals import model_trained


@jobs.register("import_dataset", queue="default")
def import_dataset(job, progress):
    params = job.params
    options: imports.ImportOptions = {
        "name": params["name"], "format": params.get("format") or None, "title": params.get("title", ""),
        "progress": progress, "source_name": params.get("source_name", ""),
        "item_kind": params.get("item_kind") or None}
    if params.get("uploads"):
        dataset, report = imports.import_uploaded_dataset(uploads=params["uploads"], **options)
    else:
        dataset, report = imports.import_dataset_reported(path=params["path"], **options)
    return {
        "dataset": dataset.name,
        "users": dataset.n_users,
        "items": dataset.n_items,
        "interactions": dataset.n_interactions,
        **report.as_result(),
    }


def _model_not_trained(job):
    training.abandon(model_id=job.params["model_id"], reason=job.message)


@jobs.register("train_model", queue="training", on_abandon=_model_not_trained)
def train_model(job, progress):
    model = TrainedModel.objects.select_related("dataset").get(pk=job.params["model_id"])
    # A re-run after an earlier run trained the model but died before recording it keeps that model.
    if model.status != TrainedModel.Status.READY:
        model = training.train(model, progress)
        model_trained.send(sender=TrainedModel, model=model)
    if job.params.get("activate"):
        registry.activate(model)
    return {"model_id": model.pk, **training.headline(model.metrics), "epochs": len(model.training_curve),
            "active": model.is_active}


@jobs.register("evaluate_model", queue="training")
def evaluate_model(job, progress):
    model = TrainedModel.objects.select_related("dataset").get(pk=job.params["model_id"])
    return training.evaluate(model, progress)


@jobs.register("delete_dataset", queue="default")
def delete_dataset(job, progress):
    return datasets.delete_dataset(job.params["dataset_id"], progress)
