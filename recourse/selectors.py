"""Reads of the recourse app shared by pages, API and the account export (accounts.export)."""

from recsys.models import Interaction, Item
from recsys.selectors import watched_at

from .models import DriftResult, Experiment, Explanation, ExplanationFeedback, RecourseResult

EXPORTED_MODELS = {
    "recourse.Explanation": "explanations",
    "recourse.ExplanationFeedback": "explanation_feedback",
    "recourse.DriftResult": "drift_checks",
    "recourse.RecourseResult": "corrections",
    "recourse.Experiment": "experiments",
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
                "watched_at": watched_at(row.sequence.dataset, row.timestamp), **extra}


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
