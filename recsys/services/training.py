"""Training model versions from a dataset's active histories, as background jobs."""

import logging
import tempfile
import time
from pathlib import Path

from django.db import transaction
from django.db.models import Count, Max

from recsys import jobs, selectors
from recsys.ml.config import ModelConfig
from recsys.ml.pipeline import train_recommender
from recsys.ml.sequences import MIN_EVAL_LENGTH, TooShortHistories, build_sequences, leave_one_out
from recsys.models import Dataset, Interaction, Job, TrainedModel, TrainingExclusion
from recsys.services import artefacts
from recsys.services.registry import artefact_prefix
from recsys.services.serving import load_recommender

ARCHITECTURES = [choice for choice, _ in TrainedModel.Architecture.choices]
log = logging.getLogger(__name__)


class TrainingError(Exception):
    pass


def data_snapshot(dataset: Dataset) -> dict:
    active = Interaction.objects.filter(sequence__dataset=dataset, state=Interaction.State.ACTIVE)
    active = active.exclude(sequence__in=selectors.excluded_from_training(dataset))
    summary = active.aggregate(interactions=Count("id"), last_timestamp=Max("timestamp"))
    summary["changed_at"] = _history_version(dataset)
    summary["excluded_members"] = TrainingExclusion.objects.filter(
        sequence__dataset=dataset, lifted_at__isnull=True).count()
    return summary


def _history_version(dataset: Dataset) -> int:
    # Any correction or addition bumps the highest id touched; cheap and monotonic enough for staleness.
    return Interaction.objects.filter(sequence__dataset=dataset).aggregate(m=Max("id"))["m"] or 0


class _Duplicate(Exception):
    def __init__(self, job: Job):
        self.job = job


def start_training(
    *, dataset: Dataset, architecture: str, hyperparameters: dict | None = None, owner=None, activate: bool = False,
    enqueue: bool = True,
) -> Job:
    """Queue a training job for a new model version; the same request while one is queued or running returns it."""
    if architecture not in ARCHITECTURES:
        raise TrainingError(f"Unknown architecture {architecture!r}; choose one of {', '.join(ARCHITECTURES)}.")
    if not Interaction.objects.filter(sequence__dataset=dataset).exists():
        raise TrainingError(f"Dataset {dataset.name} has no interactions to train on.")
    _validate_hyperparameters(hyperparameters or {})
    if not _has_a_history_to_split(dataset):
        raise TrainingError(_too_short(dataset))
    request = {"dataset": dataset.pk, "architecture": architecture, "hyperparameters": hyperparameters or {},
               "activate": activate}
    try:
        with transaction.atomic():
            model = TrainedModel.objects.create(
                dataset=dataset, architecture=architecture, hyperparameters=hyperparameters or {}, created_by=owner
            )
            job = jobs.start_job(kind="train_model", params={"model_id": model.pk, "activate": activate},
                                 owner=owner, enqueue=enqueue, same_as=request)
            if job.duplicate:
                raise _Duplicate(job)  # undoes the model row created for it
    except _Duplicate as duplicate:
        return duplicate.job
    return job


def _has_a_history_to_split(dataset: Dataset) -> bool:
    """What leave-one-out needs: a history of at least 3 (its last two validate and test), and one that keeps two
    interactions to learn from (4 or more, or exactly 2, which is trained on whole)."""
    lengths = set(Interaction.objects.active().filter(sequence__dataset=dataset)
                  .exclude(sequence__in=selectors.excluded_from_training(dataset))
                  .order_by().values("sequence").annotate(n=Count("pk")).values_list("n", flat=True).distinct())
    return any(n >= MIN_EVAL_LENGTH for n in lengths) and any(n >= MIN_EVAL_LENGTH + 1 or n == 2 for n in lengths)


def _too_short(dataset: Dataset) -> str:
    return (f"The histories in {dataset.name} are too short to train on: a model is checked on the last two "
            f"interactions of each history of {MIN_EVAL_LENGTH} or more and learns from what is left, so it needs a "
            f"history of at least {MIN_EVAL_LENGTH + 1} interactions (or histories of {MIN_EVAL_LENGTH} beside some of "
            "2): import longer histories first.")


def abandon(*, model_id: int, reason: str) -> None:
    """A training run died with its worker: the model it was writing is failed, never ready."""
    TrainedModel.objects.filter(
        pk=model_id, status__in=[TrainedModel.Status.PENDING, TrainedModel.Status.TRAINING]
    ).update(status=TrainedModel.Status.FAILED, error=reason[:2000])


def _validate_hyperparameters(hyperparameters: dict) -> None:
    try:
        ModelConfig.check_given(hyperparameters)
        ModelConfig.from_dict(hyperparameters)
    except (TypeError, ValueError) as exc:
        raise TrainingError(f"Invalid hyper-parameters: {exc}") from exc


def train(model: TrainedModel, progress: jobs.Progress) -> TrainedModel:
    """Train, evaluate under both protocols, save the artefact; the row is 'ready' only when all succeeded."""
    TrainedModel.objects.filter(pk=model.pk).update(status=TrainedModel.Status.TRAINING, error="", training_curve=[])
    started = time.monotonic()
    epochs = model.hyperparameters.get("epochs", 200)
    curve: list[dict] = []

    def on_epoch(epoch: int, loss: float, valid: dict | None, seconds: float, valid_seconds: float) -> None:
        curve.append({"epoch": epoch, "loss": loss, "valid": valid, "seconds": seconds,
                      "valid_seconds": valid_seconds})
        TrainedModel.objects.filter(pk=model.pk).update(training_curve=curve)
        ndcg = f", valid NDCG@10 {valid['NDCG@10']:.4f} ({valid_seconds:.1f} s)" if valid else ""
        progress(5 + 80 * epoch / max(epochs, 1), f"Epoch {epoch}: loss {loss:.4f}, training {seconds:.1f} s{ndcg}")

    try:
        progress(2, "Reading histories")
        snapshot = data_snapshot(model.dataset)
        trained = train_recommender(
            selectors.sequence_histories(dataset=model.dataset, for_training=True), model.architecture,
            dict(model.hyperparameters), on_epoch=on_epoch, should_stop=progress.cancel_requested,
        )
        if progress.cancel_requested():
            raise jobs.JobCancelled("Training cancelled")
        progress(88, "Evaluating on the held-out items")
        reports = trained.evaluate()
        artefact = _save_artefact(model, trained)
    except BaseException as exc:
        # histories shortened since it was queued: the data, said so (the registry shows this error beside the job)
        too_short = _too_short(model.dataset) if isinstance(exc, TooShortHistories) else None
        TrainedModel.objects.filter(pk=model.pk).update(status=TrainedModel.Status.FAILED,
                                                        error=(too_short or str(exc))[:2000])
        if too_short:
            raise jobs.JobInputError(too_short) from exc
        raise
    result = trained.training_result
    assert result is not None  # set by training
    TrainedModel.objects.filter(pk=model.pk).update(
        status=TrainedModel.Status.READY, artefact_path=artefact, data_snapshot=snapshot,
        metrics=_metrics_of(reports),
        training_curve=result.to_dict()["curve"], device=result.device,
        hyperparameters=trained.model.config.to_dict(), training_seconds=time.monotonic() - started,
    )
    model.refresh_from_db()
    return model


def user_hyperparameters(hyperparameters: dict) -> dict:
    """The fields a user chose: a retrained version chooses the automatic ones again from the new data."""
    automatic = set(hyperparameters.get("auto", {})) | {"auto", "num_items"}
    return {name: value for name, value in hyperparameters.items() if name not in automatic}


def _metrics_of(reports: dict) -> dict:
    """{protocol: {scorer: report dict}}, the shape of TrainedModel.metrics."""
    return {protocol: {name: report.to_dict() for name, report in by_name.items()}
            for protocol, by_name in reports.items()}


def start_evaluation(*, model: TrainedModel, owner=None) -> Job:
    _require_ready(model)
    return jobs.start_job(kind="evaluate_model", params={"model_id": model.pk}, owner=owner)


def _require_ready(model: TrainedModel) -> None:
    if model.status != TrainedModel.Status.READY:
        raise TrainingError(f"{model} is {model.get_status_display().lower()}; only a ready model can be evaluated.")


def evaluate(model: TrainedModel, progress: jobs.Progress) -> dict:
    """Re-evaluate a ready model on the dataset's current active histories, both protocols.

    Same leave-one-out rule, seeds and baseline as the evaluation after training; items added since
    training are unknown to the model and left out. The model's metrics are replaced; the returned
    summary (the job's result) keeps the data snapshot and the previous full-protocol metrics.
    """
    _require_ready(model)
    progress(5, "Reading histories")
    snapshot = data_snapshot(model.dataset)
    recommender = load_recommender(model)
    histories = selectors.sequence_histories(dataset=model.dataset)
    sequences, _, unknown = build_sequences(histories, index=recommender.index)
    recommender.split = leave_one_out(sequences)
    progress(30, "Evaluating on the held-out items")
    metrics = _metrics_of(recommender.evaluate())
    TrainedModel.objects.filter(pk=model.pk).update(metrics=metrics)
    return {"model_id": model.pk, **headline(metrics), "previous": headline(model.metrics),
            "test_users": len(recommender.split.test), "unknown_interactions": len(unknown), "data": snapshot}


def headline(metrics: dict) -> dict:
    """HR@10 and NDCG@10 of the model under the full protocol (empty when not evaluated)."""
    full = metrics.get("full", {}).get("model", {}).get("metrics", {})
    return {f"{name} (full)": full[name] for name in ("NDCG@10", "HR@10") if name in full}


def _save_artefact(model: TrainedModel, trained) -> str:
    """Save into a temporary folder, then store it as one archive through the storage API; returns its name.

    The row turns 'ready' with the name only after the store accepted the whole archive, so a crash never
    leaves a ready model with a half-written artefact."""
    with tempfile.TemporaryDirectory(prefix="hikmax-model-") as scratch:
        folder = Path(scratch) / "model"
        trained.save(folder)
        return artefacts.save_directory(artefact_prefix(model.pk), folder)


def schedule_retraining() -> list[Job]:
    """Beat: retrain each dataset's active model when its histories changed since it was trained."""
    started = []
    for model in TrainedModel.objects.filter(is_active=True).select_related("dataset"):
        if model.data_snapshot.get("changed_at") != _history_version(model.dataset) or (
            model.data_snapshot.get("interactions") != data_snapshot(model.dataset)["interactions"]
        ):
            try:
                started.append(start_training(
                    dataset=model.dataset, architecture=model.architecture,
                    hyperparameters=user_hyperparameters(model.hyperparameters),
                    activate=True,
                ))
            except TrainingError as exc:  # one dataset that cannot train (histories since cut short) stops no other
                log.warning("Not retraining %s: %s", model, exc)
    return started
