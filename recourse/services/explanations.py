"""Explanations of a member's recommendations, computed by recourse.engine and cached per history."""

from dataclasses import dataclass, field

import numpy as np
from django.core.cache import cache
from django.db import IntegrityError, transaction

from recourse.engine import attribution as attr
from recourse.engine import narratives
from recourse.engine.explanation import explain_item
from recourse.models import Explanation, ExplanationFeedback
from recourse.selectors import MemberHistory, member_history
from recsys.models import Dataset, Interaction, InteractionSequence, Item
from recsys.services import serving

METHODS = [choice for choice, _ in Explanation.Method.choices]
REASONS_CACHE_SECONDS = 24 * 3600
METHOD_OF_ENGINE = {"integrated_gradients": "ig", "attention": "attention", "occlusion": "occlusion"}


class ExplanationError(Exception):
    """A request that cannot be explained, with a message for the member."""


class NotRecommended(ExplanationError):
    """The item is not among the member's current recommendations."""


@dataclass
class ExplanationView:
    explanation: Explanation
    method_rows: dict[str, Explanation] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    interactions: list[Interaction] = field(default_factory=list)
    rank: int | None = None


def explain(*, user, dataset: Dataset, item_id: int, method: str = "ig") -> ExplanationView:
    if method not in METHODS:
        raise ExplanationError(f"Unknown explanation method {method!r}; choose one of {', '.join(METHODS)}.")
    model, recommender = serving.loaded_model(dataset)
    mine = member_history(user, dataset, recommender)
    if len(mine.history) == 0:
        raise ExplanationError(
            "You have no history the model knows yet, so your recommendations are the most popular items "
            "and there is nothing personal to explain."
        )
    recommendations = serving.recommend_for_member(user, dataset, n=10)
    rank = next((rec.rank for rec in recommendations.items if rec.item.pk == item_id), None)
    if rank is None:
        raise NotRecommended("That item is not among your current recommendations, so there is nothing to explain.")
    target = recommender.index.index_of(str(item_id))
    mine.titles[target] = next(rec.item.title for rec in recommendations.items if rec.item.pk == item_id)
    rows, unavailable = _explanations(user, model, recommender, mine, item_id, target, method)
    if method not in rows:
        raise ExplanationError(unavailable[method])
    return ExplanationView(rows[method], rows, unavailable, mine.interactions, rank)


def _explanations(user, model, recommender, mine, item_id, target, method):
    """Cached rows by method; computes what the requested method needs (occlusion only when asked for)."""
    rows = {
        row.method: row
        for row in Explanation.objects.filter(
            user=user, trained_model=model, target_item_id=item_id, history_fingerprint=mine.fingerprint
        )
    }
    network = recommender.model
    unavailable = {} if network.supports_attention else {"attention": _no_attention(network)}
    if method in rows or method in unavailable:
        return rows, unavailable
    if method == "occlusion" and "ig" in rows:
        occlusion = attr.occlusion_attribution(network, mine.history, target)
        ig_row = rows["ig"]
        rows["occlusion"] = _save_row(user, model, item_id, "occlusion", mine, occlusion, {
            **_shared_details(ig_row.details), **_comparison(occlusion, _stored_attribution(ig_row, mine)),
            **_quality(occlusion),
        })
        return rows, unavailable
    result = explain_item(network, mine.history, target, mine.titles, with_occlusion=method == "occlusion")
    rows.update(_store(user, model, item_id, mine, result))
    return rows, unavailable


def _no_attention(network) -> str:
    return (f"The {network.architecture} model has no attention layer, so attention explanations are "
            "unavailable; use Integrated Gradients or occlusion instead.")


def _store(user, model, item_id, mine: MemberHistory, result) -> dict[str, Explanation]:
    by_method = {"ig": result.integrated_gradients, "attention": result.attention, "occlusion": result.occlusion}
    shared = {
        "reason": result.narrative.reason, "narrative": result.narrative.text,
        "confidence": result.narrative.confidence, "confidence_text": result.narrative.confidence_text,
        "counterfactuals": [_counterfactual_dict(c, mine) for c in result.counterfactuals],
    }
    rows = {}
    for method, attribution in by_method.items():
        if attribution is None:
            continue
        compared = result.compared_with if method == "ig" else result.integrated_gradients
        rows[method] = _save_row(user, model, item_id, method, mine, attribution, {
            **shared, **_comparison(attribution, compared), **_quality(attribution),
        })
    return rows


def _shared_details(details: dict) -> dict:
    keys = ("reason", "narrative", "confidence", "confidence_text", "counterfactuals")
    return {key: details[key] for key in keys}


def _quality(attribution) -> dict:
    return {"converged": attribution.converged, "note": attribution.note,
            "output": attribution.output, "baseline_output": attribution.baseline_output}


def _comparison(attribution, other) -> dict:
    """Agreement of two engine Attributions of the same history, as stored with an explanation."""
    agreement = attr.method_agreement(attribution, other)
    return {"agreement": {"with": Explanation.Method(METHOD_OF_ENGINE[other.method]).label,
                          "spearman": agreement.spearman, "top_k_overlap": agreement.top_k_overlap, "k": agreement.k}}


def _stored_attribution(row: Explanation, mine: MemberHistory):
    """A stored explanation back as an engine Attribution over the member's history positions."""
    position_of = {interaction.pk: position for position, interaction in enumerate(mine.interactions)}
    positions = np.array([position_of[pk] for pk in row.interaction_ids], dtype=np.int64)
    method = next(engine for engine, stored in METHOD_OF_ENGINE.items() if stored == row.method)
    return attr.Attribution(method=method, positions=positions, items=mine.history.items[positions],
                            scores=np.asarray(row.raw_scores), normalized=np.asarray(row.normalized_scores))


def _counterfactual_dict(c, mine: MemberHistory) -> dict:
    return {"interaction_id": mine.interactions[c.position].pk, "sentence": narratives.counterfactual_sentence(
        c, mine.titles), "rank_before": c.rank_before, "rank_after": c.rank_after}


def _save_row(user, model, item_id, method, mine, attribution, details) -> Explanation:
    fields = {
        "interaction_ids": [mine.interactions[p].pk for p in attribution.positions.tolist()],
        "raw_scores": [float(s) for s in attribution.scores],
        "normalized_scores": [float(s) for s in attribution.normalized],
        "completeness_gap": attribution.completeness_gap, "steps": attribution.steps, "details": details,
    }
    try:
        with transaction.atomic():
            row, _ = Explanation.objects.update_or_create(
                user=user, trained_model=model, target_item_id=item_id, method=method,
                history_fingerprint=mine.fingerprint, defaults=fields,
            )
    except IntegrityError:  # computed concurrently by another request: theirs is as good as ours
        row = Explanation.objects.get(user=user, trained_model=model, target_item_id=item_id, method=method,
                                      history_fingerprint=mine.fingerprint)
    return row


def one_line_reasons(*, user, dataset: Dataset, items: list[Item]) -> dict[int, str]:
    """'Because you watched X and Y' for each recommended item, from one batched IG pass.

    Cached per member, model version, history and items: the pass explains ten targets at once.
    """
    model, recommender = serving.loaded_model(dataset)
    mine = member_history(user, dataset, recommender)
    if len(mine.history) == 0 or not items:
        return {}
    key = f"reasons:{user.pk}:{model.pk}:{mine.fingerprint}:{','.join(str(item.pk) for item in items)}"
    reasons = cache.get(key)
    if reasons is None:
        targets = [recommender.index.index_of(str(item.pk)) for item in items]
        attributions = attr.integrated_gradients_batch(recommender.model, [mine.history] * len(items), targets)
        reasons = {
            item.pk: narratives.explain_recommendation(a, mine.titles).reason
            for item, a in zip(items, attributions, strict=True)
        }
        cache.set(key, reasons, timeout=REASONS_CACHE_SECONDS)
    return reasons


def record_feedback(*, user, explanation: Explanation, helpful: bool, comment: str = "") -> ExplanationFeedback:
    if explanation.user_id != user.pk:
        raise Explanation.DoesNotExist("No such explanation.")
    return ExplanationFeedback.objects.create(explanation=explanation, user=user, helpful=helpful,
                                              comment=comment.strip()[:2000])


def explain_members(*, dataset: Dataset, top_k: int = 3, progress=None) -> dict:
    """Precompute and cache explanations of each linked member's top-k recommendations (a batch job)."""
    users = [s.user for s in InteractionSequence.objects.filter(dataset=dataset, user__isnull=False)
             .select_related("user").order_by("pk")]
    explained = skipped = 0
    for done, user in enumerate(users, start=1):
        recommendations = serving.recommend_for_member(user, dataset, n=top_k)
        if recommendations.fallback:
            skipped += 1
        else:
            for rec in recommendations.items:
                explain(user=user, dataset=dataset, item_id=rec.item.pk)
                explained += 1
        if progress:
            progress(100 * done / len(users), f"Explained {done} of {len(users)} members")
    return {"members": len(users), "explanations": explained, "members_without_history": skipped}
