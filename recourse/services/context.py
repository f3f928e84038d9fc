"""The active model of a dataset with what the engine needs beside it: item categories and drift calibration."""

import threading

import numpy as np

from recourse.engine.alignment import CategoryIndex, preference_profile
from recourse.engine.drift_detection import DriftCalibration, calibrate_drift
from recourse.engine.sequences import History
from recourse.selectors import category_index, model_histories
from recsys import jobs
from recsys.models import Dataset, InteractionSequence, Job, TrainedModel

REFERENCE_USERS = 200
_lock = threading.Lock()
_categories: dict[str, CategoryIndex] = {}  # model artefact name -> categories over its item index


class DriftUnavailable(Exception):
    """Drift features cannot run for this dataset or model; the message says why."""


def categories_for(model: TrainedModel, recommender) -> CategoryIndex:
    if not model.dataset.has_categories:
        raise DriftUnavailable(
            f"{model.dataset} has no item categories, so drift checks and recourse (which compare your "
            "recommendations with the categories you usually choose) are unavailable for it."
        )
    with _lock:
        if model.artefact_path not in _categories:
            _categories[model.artefact_path] = category_index(model.dataset, recommender.index)
        return _categories[model.artefact_path]


def drift_calibration(model: TrainedModel, recommender) -> DriftCalibration:
    """The model's stored calibration; when missing, a calibration job is queued and the caller told to wait."""
    model.refresh_from_db(fields=["calibration"])
    if "drift" in model.calibration:
        return DriftCalibration.from_json(model.calibration["drift"])
    start_calibration(model)
    raise DriftUnavailable(
        "Drift detection for this model version is being calibrated on reference histories; "
        "this takes about a minute. Please try again shortly."
    )


def start_calibration(model: TrainedModel):
    """Queue a calibration job unless one is already waiting or running for this model."""
    pending = Job.objects.filter(kind="calibrate_drift", params__model_id=model.pk,
                                 status__in=[Job.Status.QUEUED, Job.Status.RUNNING])
    if not pending.exists():
        jobs.start_job(kind="calibrate_drift", params={"model_id": model.pk})


def calibrate(model: TrainedModel, recommender) -> DriftCalibration:
    """Fit drift detection on clean-looking reference histories and store it with the model."""
    categories = categories_for(model, recommender)
    histories = reference_histories(model.dataset, recommender)
    if len(histories) < 5:
        raise DriftUnavailable("Too few histories in this dataset to calibrate drift detection.")
    profiles = np.stack([preference_profile(h, categories) for h in histories])
    calibration = calibrate_drift(recommender.model, histories, profiles, categories)
    model.calibration = {**model.calibration, "drift": calibration.to_json()}
    TrainedModel.objects.filter(pk=model.pk).update(calibration=model.calibration)
    return calibration


def reference_histories(dataset: Dataset, recommender, limit: int = REFERENCE_USERS) -> list[History]:
    """Histories of dataset users without an account (imported ones), a seeded sample."""
    ids = list(InteractionSequence.objects.filter(dataset=dataset, user__isnull=True).values_list("pk", flat=True))
    rng = np.random.default_rng(0)
    chosen = sorted(rng.choice(ids, size=min(limit, len(ids)), replace=False).tolist()) if ids else []
    return [h for h in model_histories(chosen, recommender.index).values() if len(h) >= 3]
