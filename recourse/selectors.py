"""Reads of the recourse app shared by pages, API, jobs and the account export.

Histories and categories come from recsys.selectors (the only place they are read) and are turned
into what the engine works on: Histories over a model's item indices and a CategoryIndex.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from django.db.models import F, Q

from recourse.engine.alignment import CategoryIndex
from recourse.engine.sequences import History, as_history
from recsys import selectors as recsys_selectors
from recsys.models import Dataset, Interaction, Item
from recsys.ratings import model_weight, scale_of
from recsys.selectors import dataset_time
from recsys.vocabulary import words_for

from .models import (
    DriftAlert,
    DriftResult,
    DriftWatch,
    Experiment,
    Explanation,
    ExplanationFeedback,
    NeverFlag,
    RecourseResult,
)


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


def member_history(user, dataset: Dataset, recommender, *, fingerprint: str | None = None) -> MemberHistory:
    """The member's active history restricted to the items the model knows, oldest first.

    ``fingerprint``: the history's fingerprint when the caller has just computed it (saves two queries)."""
    rows = recsys_selectors.member_history(user, dataset)
    known = [row for row in rows if str(row.item_id) in recommender.index]
    items = np.array([recommender.index.index_of(str(row.item_id)) for row in known], dtype=np.int64)
    scale = scale_of(dataset)
    weights = np.array([model_weight(row.weight, row.rating, scale=scale) for row in known], dtype=np.float32)
    titles = {int(i): row.item.title for i, row in zip(items, known, strict=True)}
    return MemberHistory(known, History(items, weights), titles,
                         fingerprint or history_fingerprint(user, dataset))


history_fingerprint = recsys_selectors.history_fingerprint


def model_histories(sequence_ids: Iterable[int], index) -> dict[int, History]:
    """{sequence id: History over the model's item indices} of active interactions the model knows, oldest first."""
    histories = {}
    for sequence_key, entries in recsys_selectors.sequence_histories(sequence_ids=sequence_ids).items():
        known = [(index.index_of(item), weight) for item, weight in entries if item in index]
        if known:
            histories[int(sequence_key)] = as_history([i for i, _ in known], [w for _, w in known])
    return histories


def category_index(dataset: Dataset, index) -> CategoryIndex:
    """Multi-hot [N+1, C] of the categories of the model's items (row 0 = padding)."""
    by_pk = recsys_selectors.item_categories(dataset)
    return CategoryIndex.of_items([by_pk.get(int(key), []) for key in index.keys])


# --- proactive drift alerts ---------------------------------------------------------------------------


def never_flag_interaction_ids(user, dataset: Dataset) -> set[int]:
    """The member's interactions in this dataset they asked drift checks never to flag (not undone)."""
    return set(NeverFlag.objects.filter(user=user, interaction__sequence__dataset=dataset, undone_at__isnull=True)
               .values_list("interaction_id", flat=True))


def never_flags_of(user):
    """Every "Don't flag this again" of the member, newest first, with titles (My corrections)."""
    return NeverFlag.objects.filter(user=user).select_related("interaction__item", "interaction__sequence__dataset")


def interaction_occasions(user, interaction_ids: Iterable[int]) -> dict[int, str]:
    """What tells each of the member's interactions apart from other plays of the same title (My corrections):
    "watched 2024-03-05, 2nd of 3 times" in the words of its dataset (``recsys.vocabulary``); a step instead
    of a date where the dataset has no time. Counted over the whole history, removed entries included, oldest
    first (ties in source order). Interactions no longer held (or not the member's) are left out."""
    rows = list(Interaction.objects.filter(pk__in=set(interaction_ids), sequence__user=user)
                .select_related("sequence__dataset"))
    pairs = {(row.sequence_id, row.item_id) for row in rows}
    plays: dict[tuple[int, int], list[int]] = {}
    if pairs:
        same_title = Q()
        for sequence_id, item_id in pairs:
            same_title |= Q(sequence_id=sequence_id, item_id=item_id)
        for pk, sequence_id, item_id in (Interaction.objects.filter(same_title).chronological()
                                         .values_list("pk", "sequence_id", "item_id")):
            plays.setdefault((sequence_id, item_id), []).append(pk)
    occasions = {}
    for row in rows:
        dataset = row.sequence.dataset
        words = words_for(dataset)
        if dataset.has_timestamps:
            text = f"{words.verb} {datetime.fromtimestamp(row.timestamp, UTC):%Y-%m-%d}"
        else:
            text = f"{words.verb} at step {row.timestamp}"
        same = plays.get((row.sequence_id, row.item_id), [row.pk])
        if len(same) > 1:
            text += f", {_ordinal(same.index(row.pk) + 1)} of {len(same)} times"
        occasions[row.pk] = text
    return occasions


def _ordinal(number: int) -> str:
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


def open_alert_row(user, dataset: Dataset) -> DriftAlert | None:
    return DriftAlert.objects.filter(user=user, dataset=dataset, dismissed_at__isnull=True,
                                     closed_at__isnull=True).select_related("drift_result").first()


@dataclass
class AlertNotice:
    """An open drift alert as the member's pages show it: what still pulls them, oldest alert data dropped."""

    alert: DriftAlert
    flagged: list[Interaction]  # still active, not marked "Don't flag this again"; most suspicious first


def open_drift_alert(user, dataset: Dataset | None) -> AlertNotice | None:
    """The member's open alert in this dataset, naming only interactions that still pull (none: no notice)."""
    if dataset is None or not getattr(user, "is_authenticated", False):
        return None
    alert = open_alert_row(user, dataset)
    if alert is None:
        return None
    latest = _latest_check_since(user, dataset, alert)
    if latest is not None and not latest[0]:  # the member's own later check found no drift
        return None
    # A later check of the member's (the drift check page, a suggestion) names what pulls now: the notice beside it
    # named the background check's list, so the Drift check page listed a title under the notice whose own table
    # said leaving it out would not help, and "Preview the fix" posted another fix than "Preview this fix".
    flagged_ids = alert.flagged_interaction_ids if latest is None else latest[1]
    ids = [pk for pk in flagged_ids if isinstance(pk, int)]
    rows = Interaction.objects.filter(pk__in=ids, sequence__user=user).active().select_related("item").in_bulk()
    muted = never_flag_interaction_ids(user, dataset)
    flagged = [rows[pk] for pk in ids if pk in rows and pk not in muted]
    return AlertNotice(alert, flagged) if flagged else None


def _latest_check_since(user, dataset: Dataset, alert: DriftAlert) -> tuple[bool, list] | None:
    """(drift, flagged interaction ids) of the member's latest drift check run after the check the alert carries.
    Not after the alert's last update: "Don't flag this again" updates the alert too, and the member's own check
    from just before it would stop counting (the notice went back to the background check's list)."""
    since = alert.drift_result.created_at if alert.drift_result is not None else alert.updated_at
    return (DriftResult.objects.filter(user=user, trained_model__dataset=dataset, created_at__gt=since)
            .order_by("-created_at").values_list("drift", "flagged_interaction_ids").first())


def dismissed_flagged_ids(user, dataset: Dataset) -> set[int]:
    """Interactions named by alerts the member dismissed: a later alert naming only these is not raised."""
    lists = DriftAlert.objects.filter(user=user, dataset=dataset, dismissed_at__isnull=False).values_list(
        "flagged_interaction_ids", flat=True)
    return {pk for ids in lists for pk in ids}


def due_drift_watches(dataset: Dataset, checked_before: datetime):
    """Members of the dataset with interactions not checked yet whose last check is older than the rate limit."""
    return (DriftWatch.objects.filter(dataset=dataset, arrivals__gt=F("checked_arrivals"))
            .filter(Q(last_checked_at__isnull=True) | Q(last_checked_at__lte=checked_before))
            .select_related("user", "dataset"))


def datasets_with_due_watches(checked_before: datetime) -> list[int]:
    return sorted(set(DriftWatch.objects.filter(arrivals__gt=F("checked_arrivals"))
                      .filter(Q(last_checked_at__isnull=True) | Q(last_checked_at__lte=checked_before))
                      .values_list("dataset_id", flat=True)))


EXPORTED_MODELS = {
    "recourse.Explanation": "explanations",
    "recourse.ExplanationFeedback": "explanation_feedback",
    "recourse.DriftResult": "drift_checks",
    "recourse.RecourseResult": "corrections",
    "recourse.Experiment": "experiments",
    "recourse.DriftAlert": "drift_alerts",
    "recourse.DriftWatch": "drift_alert_checks",
    "recourse.NeverFlag": "never_flag",
}


def export_for_user(user) -> dict:
    explanations = list(Explanation.objects.filter(user=user).select_related("target_item", "trained_model")
                        .order_by("created_at"))
    checks = list(DriftResult.objects.filter(user=user).select_related("trained_model").order_by("created_at"))
    corrections = list(RecourseResult.objects.filter(user=user).select_related("sequence__dataset", "trained_model")
                       .order_by("created_at"))
    referenced = _Interactions(user, [e.interaction_ids for e in explanations] + [c.interaction_ids for c in checks])
    items = _item_titles(corrections)
    return {
        "explanations": [_explanation(e, referenced) for e in explanations],
        "explanation_feedback": [
            {"explanation": f"{f.explanation.get_method_display()} of {f.explanation.target_item.title}",
             "helpful": f.helpful, "comment": f.comment, "created_at": f.created_at.isoformat()}
            for f in ExplanationFeedback.objects.filter(user=user).select_related("explanation__target_item")
            .order_by("created_at")
        ],
        "drift_checks": [_drift_check(check, referenced) for check in checks],
        "corrections": [_correction(c, items) for c in corrections],
        "experiments": [
            {"name": x.name, "dataset": x.dataset.name, "model": str(x.trained_model), "status": x.status,
             "params": x.params, "results": x.results, "created_at": x.created_at.isoformat()}
            for x in Experiment.objects.filter(created_by=user).select_related("dataset", "trained_model__dataset")
            .order_by("created_at")
        ],
        **_alert_sections(user),
    }


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def _alert_sections(user) -> dict:
    alerts = list(DriftAlert.objects.filter(user=user).select_related("dataset").order_by("created_at"))
    flags = list(NeverFlag.objects.filter(user=user).select_related("interaction__item").order_by("created_at"))
    referenced = _Interactions(user, [a.flagged_interaction_ids for a in alerts])
    return {
        "drift_alerts": [
            {"dataset": a.dataset.name, "state": a.state, "narrative": a.narrative,
             "flagged": [referenced.describe(pk) for pk in a.flagged_interaction_ids],
             "created_at": a.created_at.isoformat(), "updated_at": a.updated_at.isoformat(),
             "dismissed_at": _iso(a.dismissed_at), "closed_at": _iso(a.closed_at), "closed_reason": a.closed_reason}
            for a in alerts
        ],
        "drift_alert_checks": [
            {"dataset": w.dataset.name, "new_interaction_batches": w.arrivals, "checked_batches": w.checked_arrivals,
             "last_checked_at": _iso(w.last_checked_at), "last_outcome": w.last_outcome}
            for w in DriftWatch.objects.filter(user=user).select_related("dataset").order_by("pk")
        ],
        "never_flag": [
            {"interaction_id": f.interaction_id, "title": f.interaction.item.title,
             "created_at": f.created_at.isoformat(), "undone_at": _iso(f.undone_at)}
            for f in flags
        ],
    }


class _Interactions:
    """The member's interactions that stored results refer to by id, as readable rows."""

    def __init__(self, user, id_lists: list[list[int]]):
        ids = {pk for ids in id_lists for pk in ids}
        rows = Interaction.objects.filter(pk__in=ids, sequence__user=user).select_related("item", "sequence__dataset")
        self.rows = {row.pk: row for row in rows}

    def describe(self, pk: int, **extra) -> dict:
        row = self.rows.get(pk)
        if row is None:
            return {"interaction_id": pk, "title": None, "note": "no longer in your history", **extra}
        return {"interaction_id": pk, "title": row.item.title,
                "interacted_at": dataset_time(row.sequence.dataset, row.timestamp), **extra}


def _explanation(e: Explanation, referenced: _Interactions) -> dict:
    scores = list(e.raw_scores) + [None] * max(0, len(e.interaction_ids) - len(e.raw_scores))
    return {
        "item": e.target_item.title, "method": e.method, "method_name": e.get_method_display(),
        "model": str(e.trained_model), "created_at": e.created_at.isoformat(), "details": e.details,
        "contributions": [referenced.describe(pk, score=score) for pk, score in zip(e.interaction_ids, scores)],
    }


def _drift_check(check: DriftResult, referenced: _Interactions) -> dict:
    return {
        "model": str(check.trained_model), "created_at": check.created_at.isoformat(), "method": check.method,
        "drifting": check.drift, "reason": check.reason, "alignment": check.alignment,
        "alignment_without_flagged": check.alignment_without_flagged,
        "ads_without_flagged": check.ads_without_flagged, "ads_cutoff": check.ads_cutoff,
        "checked_interactions": len(check.interaction_ids),
        "flagged": [referenced.describe(pk) for pk in check.flagged_interaction_ids],
        "suggested_fix": [referenced.describe(int(pk), weight=weight)
                          for pk, weight in check.details.get("changes", {}).items()],
        "measurements": {key: value for key, value in check.details.items()
                         if isinstance(value, int | float | str | bool) or value is None},
    }


def _item_titles(corrections: list[RecourseResult]) -> dict[int, str]:
    pks = {pk for c in corrections for key in ("top_before", "top_after") for pk in c.metrics.get(key, [])}
    return dict(Item.objects.filter(pk__in=pks).values_list("pk", "title"))


def _correction(c: RecourseResult, items: dict[int, str]) -> dict:
    metrics = dict(c.metrics)
    for key in ("top_before", "top_after"):
        if key in metrics:
            metrics[key] = [items.get(pk, f"item #{pk}") for pk in metrics[key]]
    return {
        "dataset": c.sequence.dataset.name, "model": str(c.trained_model) if c.trained_model else None,
        "created_at": c.created_at.isoformat(), "undone_at": c.undone_at.isoformat() if c.undone_at else None,
        "suggested_by_hikmax": c.suggested_by_engine,
        "changes": c.changes, "metrics": metrics,  # each change names its title, state and weight before/after
    }
