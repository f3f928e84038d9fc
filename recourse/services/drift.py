"""A member's drift check: which interactions pull their recommendations away from their usual taste."""

from dataclasses import dataclass

import numpy as np

from recourse.engine import narratives
from recourse.engine.alignment import preference_profile
from recourse.engine.attribution import score_histories
from recourse.engine.drift_detection import detect_drift
from recourse.engine.drift_metrics import drift_metrics_from_logits
from recourse.engine.sequences import History, seen_mask, without_positions
from recourse.models import DriftResult
from recourse.selectors import member_history, model_histories
from recsys.models import Dataset, Interaction, InteractionSequence
from recsys.services.serving import loaded_model

from . import never_flag
from .context import DriftUnavailable, categories_for, drift_calibration


@dataclass
class DriftCheck:
    result: DriftResult
    narrative: str
    flagged: list[Interaction]
    scores: dict[int, float]  # interaction id -> drift score
    heat: dict[int, float]  # interaction id -> 0..1 for the timeline
    dtc: float | None
    target_category: str | None
    category_ads: float | None
    interactions: list[Interaction]


def member_profile(history: History, categories, *, interactions=None, min_rating: float | None = None):
    """The member's stable taste: category distribution of all active interactions (or those rated >= min)."""
    if min_rating is not None and interactions is not None:
        keep = np.array([(row.rating or 0) >= min_rating for row in interactions], dtype=bool)
        if keep.any():
            history = History(history.items[keep], history.weights[keep])
    return preference_profile(history, categories)


def check_drift(*, user, dataset: Dataset) -> DriftCheck:
    model, recommender = loaded_model(dataset)
    categories = categories_for(model, recommender)
    mine = member_history(user, dataset, recommender)
    if len(mine.history) < 3:
        raise DriftUnavailable("A drift check needs at least three interactions in your history.")
    calibration = drift_calibration(model, recommender)
    profile = member_profile(mine.history, categories)
    report = detect_drift(recommender.model, mine.history, profile, categories, calibration)
    flagged_ids = [mine.interactions[p].pk for p in report.flagged_positions.tolist()]
    result = DriftResult.objects.create(
        user=user, trained_model=model, method=report.method, drift=report.drift, reason=report.reason[:300],
        alignment=report.alignment, alignment_without_flagged=report.alignment_without_flagged,
        ads_without_flagged=report.ads_without_flagged, ads_cutoff=report.ads_cutoff,
        interaction_ids=[mine.interactions[p].pk for p in report.positions.tolist()],
        drift_scores=[float(s) for s in report.drift_scores], flagged_interaction_ids=flagged_ids,
        history_fingerprint=mine.fingerprint,
    )
    metrics = _category_metrics(recommender.model, mine.history, report.flagged_positions, categories)
    by_id = {row.pk: row for row in mine.interactions}
    scores = dict(zip(result.interaction_ids, result.drift_scores, strict=True))
    top = max([*scores.values(), 1e-9])
    check = DriftCheck(
        result=result, narrative=narratives.drift_narrative(report, mine.titles),
        flagged=[by_id[pk] for pk in flagged_ids], scores=scores,
        heat={pk: max(0.0, s) / top for pk, s in scores.items()}, interactions=mine.interactions, **metrics,
    )
    return never_flag.respect(check, user=user, dataset=dataset)  # "Don't flag this again" (issue 19 item 5)


def _category_metrics(network, history: History, flagged: np.ndarray, categories) -> dict:
    """DTC and top-10 category ADS between now and without the flagged interactions."""
    if len(flagged) == 0:
        return {"dtc": None, "target_category": None, "category_ads": None}
    logits = score_histories(network, [history, without_positions(history, flagged)])
    exclude = seen_mask([history], network.num_items)
    target = categories.dominant(history.items[flagged])
    metrics = drift_metrics_from_logits(
        logits[:1], logits[1:], exclude_before=exclude, exclude_after=exclude, categories=categories,
        target_categories=[target],
    )
    return {
        "dtc": None if metrics.dtc is None else float(metrics.dtc[0]),
        "target_category": categories.name(target),
        "category_ads": None if metrics.category_ads is None else float(metrics.category_ads[0]),
    }


def first_with_verdict(dataset: Dataset, external_ids: list[str], *, drift: bool) -> str | None:
    """The first of these dataset users whose history the active model judges drifting (or not), if any."""
    model, recommender = loaded_model(dataset)
    categories = categories_for(model, recommender)
    calibration = drift_calibration(model, recommender)
    sequence_of = dict(InteractionSequence.objects.filter(dataset=dataset, external_user_id__in=external_ids)
                       .values_list("external_user_id", "pk"))
    histories = model_histories(sequence_of.values(), recommender.index)
    for external_id in external_ids:
        sequence_id = sequence_of.get(external_id)
        history = None if sequence_id is None else histories.get(sequence_id)
        if history is None or len(history) < 3:
            continue
        report = detect_drift(recommender.model, history, member_profile(history, categories), categories, calibration)
        if report.drift == drift:
            return external_id
    return None
