"""The active model of a dataset with what the engine needs beside it: item categories and drift calibration."""

import hashlib
import threading
from dataclasses import dataclass

import numpy as np

from recourse.engine.alignment import CategoryIndex, preference_profile
from recourse.engine.detection import DriftCalibration, calibrate_drift
from recourse.engine.sequences import History
from recsys import selectors
from recsys.models import Dataset, Interaction, InteractionSequence, Item, TrainedModel
from recsys.ratings import model_weight
from recsys.services import history as history_service
from recsys.services import serving

REFERENCE_USERS = 200
_lock = threading.Lock()
_categories: dict[str, CategoryIndex] = {}  # model artefact path -> categories over its item index


class DriftUnavailable(Exception):
    """Drift features cannot run for this dataset or model; the message says why."""


@dataclass
class MemberHistory:
    """The member's active interactions the model knows, as a History over model item indices.

    Weights are what each interaction counts for in the model (its weight and the rating policy of
    ``recsys.ratings``), exactly as ``recsys.services.serving`` feeds them to the model.
    """

    interactions: list[Interaction]
    history: History
    titles: dict[int, str]  # model index -> title
    fingerprint: str


def member_history(user, dataset: Dataset, recommender) -> MemberHistory:
    rows = history_service.chronological(
        Interaction.objects.filter(sequence__user=user, sequence__dataset=dataset, state=Interaction.State.ACTIVE)
        .select_related("item")
    )
    known = [row for row in rows if str(row.item_id) in recommender.index]
    items = np.array([recommender.index.index_of(str(row.item_id)) for row in known], dtype=np.int64)
    weights = np.array([model_weight(row.weight, row.rating) for row in known], dtype=np.float32)
    titles = {int(i): row.item.title for i, row in zip(items, known, strict=True)}
    return MemberHistory(known, History(items, weights), titles, history_fingerprint(user, dataset))


def history_fingerprint(user, dataset: Dataset) -> str:
    """Changes whenever any of the member's interactions is added, removed, excluded, re-weighted or re-rated,
    or an item is hidden ("Not interested") or shown again: anything that changes their top 10."""
    rows = Interaction.objects.filter(sequence__user=user, sequence__dataset=dataset).order_by("pk")
    state = list(rows.values_list("pk", "state", "weight", "rating"))
    hidden = sorted(selectors.not_interested_item_ids(user, dataset))
    return hashlib.sha256(repr((state, hidden)).encode()).hexdigest()


def categories_for(model: TrainedModel, recommender) -> CategoryIndex:
    if not model.dataset.has_categories:
        raise DriftUnavailable(
            f"{model.dataset} has no item categories, so drift checks and recourse (which compare your "
            "recommendations with the categories you usually choose) are unavailable for it."
        )
    with _lock:
        if model.artefact_path not in _categories:
            _categories[model.artefact_path] = _build_categories(model.dataset, recommender.index)
        return _categories[model.artefact_path]


def _build_categories(dataset: Dataset, index) -> CategoryIndex:
    by_pk = dict(Item.objects.filter(dataset=dataset).values_list("pk", "categories"))
    per_index = [[] for _ in range(len(index) + 1)]
    for position, key in enumerate(index.keys, start=1):
        per_index[position] = [c for c in by_pk.get(int(key), "").split("|") if c]
    names = sorted({c for cats in per_index for c in cats})
    column = {name: c for c, name in enumerate(names)}
    matrix = np.zeros((len(per_index), len(names)), dtype=np.float32)
    for row, cats in enumerate(per_index):
        matrix[row, [column[c] for c in cats]] = 1.0
    return CategoryIndex(matrix, names)


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
    from recsys import jobs
    from recsys.models import Job

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
    return [h for h in histories_of_sequences(chosen, recommender).values() if len(h) >= 3]


def histories_of_sequences(sequence_ids, recommender) -> dict[int, History]:
    """{sequence id: History over the model's item indices} of active interactions, oldest first."""
    rows = history_service.chronological(
        Interaction.objects.filter(sequence_id__in=sequence_ids, state=Interaction.State.ACTIVE)
    ).values_list("sequence_id", "item_id", "weight")
    grouped: dict[int, list[tuple[int, float]]] = {}
    for sequence_id, item_id, weight in rows:
        if str(item_id) in recommender.index:
            grouped.setdefault(sequence_id, []).append((recommender.index.index_of(str(item_id)), weight))
    return {
        sequence_id: History(np.array([i for i, _ in pairs], dtype=np.int64),
                             np.array([w for _, w in pairs], dtype=np.float32))
        for sequence_id, pairs in grouped.items()
    }


def active_context(dataset: Dataset):
    """(TrainedModel, TrainedRecommender) of the dataset's active, ready model."""
    model, recommender = serving.loaded_model(dataset)
    if model.status != TrainedModel.Status.READY:
        raise serving.NoActiveModel("The active model is not ready yet.")
    return model, recommender
