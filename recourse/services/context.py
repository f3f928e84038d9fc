"""The active model of a dataset with what the engine needs beside it: item categories and drift calibrations.

Two calibrations are stored with a model (``TrainedModel.calibration``): "taste" for the member's drift check
(category-free, every dataset) and "drift" for the paper's genre method (datasets with categories; the
research dashboard's named variant).
"""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from recourse.engine.alignment import CategoryIndex, preference_profile
from recourse.engine.drift_detection import DriftCalibration, calibrate_drift
from recourse.engine.sequences import History, as_history
from recourse.engine.taste_recourse import RULES as TASTE_RULES
from recourse.engine.taste_recourse import TasteCalibration, calibrate_taste
from recourse.selectors import category_index, model_histories
from recsys import jobs
from recsys import selectors as recsys_selectors
from recsys.models import Dataset, InteractionSequence, Job, TrainedModel
from recsys.ratings import RatingScale, model_weight, scale_of

from . import taste_policy

REFERENCE_USERS = 200
MIN_REFERENCE = 5  # fewer reference histories than this calibrate nothing
# The removal rule members get: the first measurement's "threshold" rule. The engine's newer "prefix" rule (the
# research default) calibrated a removal cost of 0.2 nats on the category-free test world
# (tests/web/sasrec_world.py) and then offered no fix for its planted 4-title burst (removing the most unusual
# title gained 0.13 nats); switch when the prefix rule is shown to give members their fixes. Any name of
# TASTE_RULES can be chosen, including "joint" (issue 19's third measurement, docs/research-report.md).
PRODUCT_CHOICE = "threshold"
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
    return DriftCalibration.from_json(_stored_calibration(model, "drift", "Drift detection"))


def taste_calibration(model: TrainedModel, recommender, *, just_read: bool = False) -> TasteCalibration:
    """The model's stored taste calibration; when missing, a calibration job is queued and the caller told to wait.

    ``just_read``: the row was read in this request (``loaded_model``), so it holds the current calibrations."""
    return TasteCalibration.from_json(_stored_calibration(model, "taste", "The drift check", just_read))


def _stored_calibration(model: TrainedModel, key: str, what: str, just_read: bool = False) -> str:
    if not just_read:
        model.refresh_from_db(fields=["calibration"])
    if key in model.calibration:
        return model.calibration[key]
    if _unavailable(key) in model.calibration:  # its calibration failed for the data: say why, queue nothing
        raise DriftUnavailable(model.calibration[_unavailable(key)])
    start_calibration(model)
    raise DriftUnavailable(
        f"{what} for this model version is being calibrated on reference histories; "
        "this takes about a minute. Please try again shortly."
    )


def needs_calibration(model: TrainedModel) -> list[str]:
    """The calibrations this model still lacks: "taste" always applies, "drift" needs item categories."""
    wanted = ["taste"] + (["drift"] if model.dataset.has_categories else [])
    return [name for name in wanted if name not in model.calibration]


def start_calibration(model: TrainedModel):
    """Queue a calibration job unless one is already waiting or running for this model."""
    pending = Job.objects.filter(kind="calibrate_drift", params__model_id=model.pk,
                                 status__in=[Job.Status.QUEUED, Job.Status.RUNNING])
    if not pending.exists():
        jobs.start_job(kind="calibrate_drift", params={"model_id": model.pk})


def calibrate_all(model: TrainedModel, recommender) -> dict:
    """Every calibration this model lacks (see needs_calibration), stored; returns what was fitted. DriftUnavailable
    (too few histories) after trying them all."""
    fitted: dict = {}
    refused: list[DriftUnavailable] = []
    fits: dict[str, Callable[[TrainedModel, Any], object]] = {"taste": calibrate_taste_check, "drift": calibrate}
    for name in needs_calibration(model):
        try:  # each is tried (and a refusal stored) even when another cannot be fitted
            fitted[name] = fits[name](model, recommender)
        except DriftUnavailable as exc:
            refused.append(exc)
    if refused:
        raise refused[0]
    return fitted


def calibrate_taste_check(model: TrainedModel, recommender, **options) -> TasteCalibration:
    """Fit the taste check on reference histories (recourse.engine.taste_recourse.calibrate_taste: thresholds,
    removal cost and verdict cutoff) and store it with the model. The stored false-alarm rate is then measured
    the way members are checked, with the ratings policy (``taste_policy``), on the held-out 30 %; the engine's
    own figure (without ratings) is kept in the notes."""
    members = reference_members(model.dataset, recommender)
    if len(members) < MIN_REFERENCE:
        _cannot_calibrate(model, "taste", _too_few("the drift check", len(members)))
    network = recommender.model
    calibration = calibrate_taste(network, [m.history for m in members], **{**TASTE_RULES[PRODUCT_CHOICE], **options})
    n_fit = len(members) - int(len(members) * 0.3) if len(members) >= 10 else len(members)
    held_out = members[n_fit:] or members[:n_fit]
    verdicts = [analysis.drift for analysis in taste_policy.analyze_rated_batch(
        network, [m.history for m in held_out], calibration, [m.explicit for m in held_out],
        [m.protected for m in held_out], scale=scale_of(model.dataset))]
    calibration.notes = [*calibration.notes, f"engine false-alarm rate without the ratings policy: "
                         f"{calibration.false_alarm_rate:.3f}; stored rate: with it, on {len(held_out)} histories"]
    calibration.false_alarm_rate = float(np.mean(verdicts))
    _store(model, "taste", calibration.to_json())
    return calibration


@dataclass
class ReferenceMember:
    """A reference history as the check reads a member's: rating-policy weights, explicit dislikes, liked films."""

    history: History
    explicit: taste_policy.Dislikes
    protected: set[int]


def reference_members(dataset: Dataset, recommender, limit: int = REFERENCE_USERS) -> list[ReferenceMember]:
    """The seeded sample of reference_histories, read with ratings (histories with >= 3 counted interactions)."""
    ids = list(InteractionSequence.objects.filter(dataset=dataset, user__isnull=True).values_list("pk", flat=True))
    rng = np.random.default_rng(0)
    chosen = sorted(rng.choice(ids, size=min(limit, len(ids)), replace=False).tolist()) if ids else []
    rated = rated_histories(chosen, recommender, scale_of(dataset))
    return [rated[pk] for pk in chosen if pk in rated]


def rated_histories(sequence_ids, recommender, scale: RatingScale) -> dict[int, ReferenceMember]:
    """{sequence id: history read as the check reads a member's} for sequences with >= 3 counted interactions;
    ``scale``: their dataset's rating scale."""
    members = {}
    for sequence_id, entries in recsys_selectors.sequence_ratings(sequence_ids).items():
        known = [(recommender.index.index_of(item), weight, rating) for item, weight, rating in entries
                 if item in recommender.index]
        if not known:
            continue
        ratings = [rating for _, _, rating in known]
        history = as_history([i for i, _, _ in known], [model_weight(w, r, scale=scale) for _, w, r in known])
        if (history.weights > 0).sum() >= 3:
            members[sequence_id] = ReferenceMember(history, taste_policy.dislikes(ratings, scale=scale),
                                                   taste_policy.protected_positions(ratings, scale=scale))
    return members


def calibrate(model: TrainedModel, recommender) -> DriftCalibration:
    """Fit drift detection on clean-looking reference histories and store it with the model."""
    categories = categories_for(model, recommender)
    histories = reference_histories(model.dataset, recommender)
    if len(histories) < MIN_REFERENCE:
        _cannot_calibrate(model, "drift", _too_few("drift detection", len(histories)))
    profiles = np.stack([preference_profile(h, categories) for h in histories])
    calibration = calibrate_drift(recommender.model, histories, profiles, categories)
    _store(model, "drift", calibration.to_json())
    return calibration


def _unavailable(key: str) -> str:
    return f"{key}_unavailable"


def _too_few(what: str, found: int) -> str:
    return (f"Too few histories in this dataset to calibrate {what}: it learns what a usual history looks like from "
            f"at least {MIN_REFERENCE} other histories of 3 or more interactions, and this dataset has {found}.")


def _cannot_calibrate(model: TrainedModel, key: str, message: str) -> None:
    """Stored with the model, so its members are told why instead of "being calibrated", and no calibration job is
    queued on each visit; retrying the failed job (more histories imported since) tries again."""
    _store(model, _unavailable(key), message)
    raise DriftUnavailable(message)


def _store(model: TrainedModel, key: str, value: str) -> None:
    """One calibration (or why it could not be fitted) stored with the model; a fitted one replaces the reason."""
    kept = {name: stored for name, stored in model.calibration.items() if name != _unavailable(key)}
    model.calibration = {**kept, key: value}
    TrainedModel.objects.filter(pk=model.pk).update(calibration=model.calibration)


def reference_histories(dataset: Dataset, recommender, limit: int = REFERENCE_USERS) -> list[History]:
    """Histories of dataset users without an account (imported ones), a seeded sample."""
    ids = list(InteractionSequence.objects.filter(dataset=dataset, user__isnull=True).values_list("pk", flat=True))
    rng = np.random.default_rng(0)
    chosen = sorted(rng.choice(ids, size=min(limit, len(ids)), replace=False).tolist()) if ids else []
    return [h for h in model_histories(chosen, recommender.index).values() if len(h) >= 3]
