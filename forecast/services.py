"""Writes of the forecast app: start a training job, train and register a forecaster, activate one."""

import io
import time
from typing import Any

import joblib
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Max

from forecast import selectors
from forecast.engine import ForecastConfig, ForecastInputError, train_forecaster
from forecast.engine.card import governance_card
from forecast.models import EmergingTitle, Forecaster
from recsys import jobs
from recsys.models import Dataset, Interaction, Job
from recsys.ratings import STAR_TOP, scale_of
from recsys.services import artefacts

ProgressFn = Any


class ForecastSetupError(jobs.JobInputError):
    """Raised with a message a curator can act on; nothing is lost (a job records the message alone)."""


def settings_from(values: dict[str, Any]) -> ForecastConfig:
    try:
        return ForecastConfig.from_dict(values)
    except (ForecastInputError, TypeError, ValueError) as exc:
        raise ForecastSetupError(str(exc)) from exc


def check_dataset(dataset: Dataset) -> None:
    """The quick checks a curator should hear about before a job is queued."""
    if not dataset.has_timestamps:
        raise ForecastSetupError(
            f"{dataset} has no real timestamps (only the order of interactions); the forecaster needs rating "
            "timestamps to separate the observed past from the future it forecasts."
        )
    rated = Interaction.objects.filter(sequence__dataset=dataset, rating__isnull=False)
    if not rated.exists():
        raise ForecastSetupError(
            f"{dataset} has no ratings (implicit feedback only); the forecaster needs explicit ratings for the "
            "mean-rating part of the policy and for tag sentiment."
        )


def start_training(*, dataset: Dataset, settings: dict[str, Any] | None = None, activate: bool = True,
                   owner=None, enqueue: bool = True) -> Job:
    config = settings_from({"rating_scale": scale_of(dataset).high / STAR_TOP, **(settings or {})})
    check_dataset(dataset)
    with transaction.atomic():
        version = (Forecaster.objects.filter(dataset=dataset).aggregate(Max("version"))["version__max"] or 0) + 1
        forecaster = Forecaster.objects.create(dataset=dataset, version=version, settings=config.to_dict(),
                                               created_by=owner)
        return jobs.start_job(kind=selectors.TRAIN_JOB, owner=owner, enqueue=enqueue,
                              params={"forecaster_id": forecaster.pk, "dataset_id": dataset.pk,
                                      "activate": activate})


def train(forecaster: Forecaster, progress: ProgressFn) -> Forecaster:
    """Run the engine, store the fitted models, the report, the ranking and the card; 'ready' only if all
    of it succeeded. Bad data leaves the forecaster 'failed' with the engine's message."""
    Forecaster.objects.filter(pk=forecaster.pk).update(status=Forecaster.Status.TRAINING, error="")
    started = time.perf_counter()
    try:
        progress(1, "Reading ratings, catalogue and tags")
        data = selectors.forecast_input(forecaster.dataset)
        run = train_forecaster(data, settings_from(forecaster.settings), progress=progress)
    except ForecastInputError as exc:
        Forecaster.objects.filter(pk=forecaster.pk).update(status=Forecaster.Status.FAILED, error=str(exc))
        raise ForecastSetupError(str(exc)) from exc
    except Exception as exc:
        Forecaster.objects.filter(pk=forecaster.pk).update(status=Forecaster.Status.FAILED,
                                                           error=f"{type(exc).__name__}: {exc}")
        raise
    forecaster.report = run.report
    forecaster.threshold = run.report["threshold"]
    forecaster.cutoff_timestamp = run.report["cutoff"]
    forecaster.has_tags = run.report["data"]["has_tags"]
    forecaster.n_candidates = run.report["data"]["candidates"]
    forecaster.n_positives = run.report["data"]["positives"]
    forecaster.training_seconds = round(time.perf_counter() - started, 1)
    forecaster.status = Forecaster.Status.READY
    _save_artefacts(forecaster, run)
    with transaction.atomic():
        EmergingTitle.objects.filter(forecaster=forecaster).delete()
        EmergingTitle.objects.bulk_create(
            (
                EmergingTitle(forecaster=forecaster, item_id=int(row.item_id), rank=int(row.rank),
                              probability=float(row.probability), flagged=bool(row.flagged),
                              explanation=_explanation(run, row.item_id))
                for row in run.ranking.itertuples(index=False)
            ),
            batch_size=2000,
        )
        forecaster.save()
    progress(100, "Ready")
    return forecaster


def _explanation(run, item_id) -> dict:
    found = run.explanations.get(item_id)
    if found is None:
        return {}
    return {"base_value": found.base_value, "contributions": found.contributions, "values": found.values}


def _save_artefacts(forecaster: Forecaster, run) -> None:
    """Store the pipelines and the card through the storage API (each one complete write); a re-run's new files
    replace what an earlier, failed run of the same version stored."""
    previous = [field.name for field in (forecaster.artefact, forecaster.card) if field.name]
    buffer = io.BytesIO()
    joblib.dump({"pipelines": run.pipelines, "sentiment": run.sentiment, "feature_names": run.feature_names,
                 "settings": forecaster.settings}, buffer, compress=3)
    forecaster.artefact.save("model.joblib", ContentFile(buffer.getvalue()), save=False)
    card = governance_card(run.report, name=str(forecaster), dataset=forecaster.dataset.title)
    forecaster.card.save("governance-card.html", ContentFile(card.encode()), save=False)
    stale = [name for name in previous if name not in (forecaster.artefact.name, forecaster.card.name)]
    artefacts.delete_after_commit(stale)


@transaction.atomic
def activate(forecaster: Forecaster) -> Forecaster:
    if forecaster.status != Forecaster.Status.READY:
        raise ForecastSetupError(f"{forecaster} is {forecaster.get_status_display().lower()}; only a ready "
                                 "forecaster can be activated.")
    Forecaster.objects.select_for_update().filter(dataset=forecaster.dataset, is_active=True).update(is_active=False)
    Forecaster.objects.filter(pk=forecaster.pk).update(is_active=True)
    forecaster.is_active = True
    return forecaster


def load_artefact(forecaster: Forecaster) -> dict[str, Any]:
    with forecaster.artefact.open("rb") as handle:
        return joblib.load(handle)
