"""Job kinds of the recsys app: each calls one service."""

from . import jobs
from .models import TrainedModel
from .services import datasets, imports, registry, training
from .signals import model_trained


@jobs.register("import_dataset", queue="default")
def import_dataset(job, progress):
    params = job.params
    dataset = imports.import_dataset(
        name=params["name"],
        path=params["path"],
        format=params.get("format") or None,
        title=params.get("title", ""),
        progress=progress,
    )
    return {
        "dataset": dataset.name,
        "users": dataset.n_users,
        "items": dataset.n_items,
        "interactions": dataset.n_interactions,
    }


@jobs.register("train_model", queue="training")
def train_model(job, progress):
    model = TrainedModel.objects.select_related("dataset").get(pk=job.params["model_id"])
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
