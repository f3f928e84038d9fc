"""Explanations of a member's recommendations, computed by recourse.engine and cached per history."""

from dataclasses import dataclass, field

import numpy as np
from django.core.cache import cache
from django.db import IntegrityError, transaction

from recourse.engine import attribution as attr
from recourse.engine import faithful
from recourse.models import Explanation, ExplanationFeedback
from recourse.selectors import MemberHistory, interaction_occasions, member_history
from recsys import selectors
from recsys.models import Dataset, Interaction, InteractionSequence, Item
from recsys.ratings import scale_of
from recsys.services import serving
from recsys.vocabulary import FILMS, Words, words_for

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


def explain(*, user, dataset: Dataset, item_id: int, method: str = "ig",
            fingerprint: str | None = None) -> ExplanationView:
    """``fingerprint``: the member's history fingerprint when the caller has just computed it."""
    if method not in METHODS:
        raise ExplanationError(f"Unknown explanation method {method!r}; choose one of {', '.join(METHODS)}.")
    model, recommender = serving.loaded_model(dataset)
    mine = member_history(user, dataset, recommender, fingerprint=fingerprint)
    if not (mine.history.weights > 0).any():  # as For you: then its list is the most popular one
        # A member whose only film is rated 1 star got a "Why?" of an empty history: "any one of the 0 films".
        rated_out = (f"Nothing in your history counts for the model yet ({words_for(dataset).items} rated "
                     f"{scale_of(dataset).disliked_words} do not count)" if len(mine.history) else
                     "You have no history the model knows yet")
        raise ExplanationError(f"{rated_out}, so your recommendations are the most popular {words_for(dataset).items} "
                               "and there is nothing personal to explain.")
    recommendations = serving.recommend_for_member(user, dataset, n=10, fingerprint=mine.fingerprint,
                                                   loaded=(model, recommender))
    rank = next((rec.rank for rec in recommendations.items if rec.item.pk == item_id), None)
    if rank is None:
        raise NotRecommended(_why_not_recommended(user, dataset, item_id))
    target = recommender.index.index_of(str(item_id))
    mine.titles[target] = next(rec.item.title for rec in recommendations.items if rec.item.pk == item_id)
    rows, unavailable = _explanations(user, model, recommender, mine, item_id, target, method)
    if method not in rows:
        raise ExplanationError(unavailable[method])
    return ExplanationView(rows[method], rows, unavailable, mine.interactions, rank)


def _explanations(user, model, recommender, mine, item_id, target, method):
    """Cached rows by method; computes the requested one (and the method it is compared with) when missing."""
    words = words_for(model.dataset)
    rows = {
        row.method: row
        for row in Explanation.objects.filter(
            user=user, trained_model=model, target_item_id=item_id, history_fingerprint=mine.fingerprint
        )
        # rows stored before reasons were verified, worded for another kind of data (film words were once used
        # for every dataset) or by older templates are recomputed
        if "change" in row.details and row.details.get("verb", FILMS.verb) == words.verb
        and row.details.get("wording", 1) == WORDING
    }
    network = recommender.model
    unavailable = {} if network.supports_attention else {"attention": _no_attention(network)}
    if method in rows or method in unavailable:
        return rows, unavailable
    attribution = _attribution(network, mine, target, method)
    other_method = COMPARED_WITH[method] if COMPARED_WITH[method] not in unavailable else "occlusion"
    other = (_stored_attribution(rows[other_method], mine) if other_method in rows
             else _attribution(network, mine, target, other_method))
    exclude = never_recommended_mask(user, model.dataset, recommender)
    checked = faithful.check_why(network, mine.history, attribution, target, exclude, fallback=recommender.popularity)
    popular = _is_popular(recommender, target)
    rows[method] = _save_row(user, model, item_id, method, mine, attribution, {
        **_words(checked, mine, popular, words, user), **_comparison(attribution, other, words),
        **_quality(attribution), "wording": WORDING,
    })
    return rows, unavailable


# Raise when the stored sentences change (confidence, narrative, "what would change it", For you's one-line reasons):
# a member whose history has not changed since would otherwise keep reading the old ones.
WORDING = 5


def wording_key() -> str:
    """The part of a cache key that names the wording: Why? pages, For you's one-line reasons and the For you
    fragment that shows them are computed anew when WORDING is raised, so the two pages never disagree."""
    return f"wording{WORDING}"


COMPARED_WITH = {"ig": "attention", "attention": "ig", "occlusion": "ig"}
POPULAR_SHARE = 0.05  # "one of the most popular films": in the top 5% of the catalogue by training interactions


def _attribution(network, mine: MemberHistory, target: int, method: str):
    if method == "ig":
        return attr.integrated_gradients(network, mine.history, target)
    if method == "attention":
        return attr.attention_attribution(network, mine.history)
    return attr.occlusion_attribution(network, mine.history, target)


def _why_not_recommended(user, dataset: Dataset, item_id: int) -> str:
    """Why there is no "Why?" for this item: a title the member hid or has in their history is never recommended,
    which "not among your current recommendations" left them to guess after clicking "Not interested"."""
    words = words_for(dataset)
    title = Item.objects.filter(pk=item_id, dataset=dataset).values_list("title", flat=True).first()
    if title is not None and item_id in selectors.not_interested_item_ids(user, dataset):
        return (f"You marked “{title}” “Not interested”, so it is not recommended to you; you can undo that on "
                "My corrections.")
    if title is not None and Interaction.objects.filter(sequence__user=user, sequence__dataset=dataset,
                                                        item_id=item_id).exists():
        return (f"“{title}” is in your history, removed or not, and nothing you {words.verb} is recommended to "
                "you again.")
    return f"That {words.item} is not among your current recommendations, so there is nothing to explain."


def _is_popular(recommender, target: int) -> bool:
    counts = np.asarray(recommender.popularity.counts, dtype=np.float64)
    return bool(counts[target - 1] >= np.quantile(counts, 1 - POPULAR_SHARE)) if len(counts) else False


def _words(checked, mine: MemberHistory, popular: bool, vocabulary: Words, user) -> dict:
    words = faithful.why_words(checked, mine.titles, popular=popular, verb=vocabulary.verb, items=vocabulary.items,
                               occasions=_repeat_occasions(user, mine))
    return {
        "reason": words.reason, "narrative": words.narrative, "change": words.change, "drops": words.drops,
        "rank": checked.rank, "candidates_scored": checked.candidates_scored, "verb": vocabulary.verb,
        "reasons": [{"interaction_id": mine.interactions[r.positions[0]].pk, "rank_after": r.rank_after}
                    for r in checked.reasons],
        "smallest_removal": None if checked.smallest is None else {
            "interaction_ids": [mine.interactions[p].pk for p in checked.smallest.positions],
            "rank_after": checked.smallest.rank_after},
    }


def _repeat_occasions(user, mine: MemberHistory) -> dict[int, str]:
    """{history position: "played 2024-03-05, 2nd of 4 times"} for the titles the history holds more than once (a
    song played again, a product bought twice), so a sentence about one of those interactions says which it is."""
    items, counts = np.unique(mine.history.items, return_counts=True)
    repeated = set(items[counts > 1].tolist())
    positions = [p for p, item in enumerate(mine.history.items.tolist()) if item in repeated]
    if not positions:
        return {}
    texts = interaction_occasions(user, [mine.interactions[p].pk for p in positions])
    return {p: texts[mine.interactions[p].pk] for p in positions if mine.interactions[p].pk in texts}


def never_recommended_mask(user, dataset: Dataset, recommender) -> np.ndarray:
    """[N+1] True for the items For you never shows this member: their history (removed entries included)
    and what they are not interested in; ranks in "Why?" are counted among the rest, as on For you."""
    keys = [key for key, _ in selectors.member_history_entries(user, dataset)]
    keys += [str(pk) for pk in selectors.not_interested_item_ids(user, dataset)]
    mask = np.zeros(recommender.model.num_items + 1, dtype=bool)
    mask[0] = True
    mask[[recommender.index.index_of(key) for key in keys if key in recommender.index]] = True
    return mask


def _no_attention(network) -> str:
    return (f"The {network.architecture} model has no attention layer, so this way of explaining is "
            "unavailable here; use one of the others.")


def _quality(attribution) -> dict:
    return {"converged": attribution.converged, "note": attribution.note,
            "output": attribution.output, "baseline_output": attribution.baseline_output}


def _comparison(attribution, other, words: Words) -> dict:
    """Agreement of two engine Attributions of the same history, and the confidence it gives."""
    agreement = attr.method_agreement(attribution, other)
    level = faithful.confidence(agreement)
    return {"agreement": {"with": Explanation.Method(METHOD_OF_ENGINE[other.method]).label,
                          "spearman": agreement.spearman, "top_k_overlap": agreement.top_k_overlap, "k": agreement.k,
                          "same_direction": agreement.same_direction},
            "confidence": level, "confidence_text": faithful.confidence_text(level, agreement, words.items, words.item)}


def _stored_attribution(row: Explanation, mine: MemberHistory):
    """A stored explanation back as an engine Attribution over the member's history positions."""
    position_of = {interaction.pk: position for position, interaction in enumerate(mine.interactions)}
    positions = np.array([position_of[pk] for pk in row.interaction_ids], dtype=np.int64)
    method = next(engine for engine, stored in METHOD_OF_ENGINE.items() if stored == row.method)
    return attr.Attribution(method=method, positions=positions, items=mine.history.items[positions],
                            scores=np.asarray(row.raw_scores), normalized=np.asarray(row.normalized_scores))


def _save_row(user, model, item_id, method, mine, attribution, details) -> Explanation:
    fields = {
        "interaction_ids": [mine.interactions[p].pk for p in attribution.positions.tolist()],
        "raw_scores": [float(s) for s in attribution.scores],
        "normalized_scores": [float(s) for s in faithful.signed_scale(attribution.scores)],
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


def one_line_reasons(*, user, dataset: Dataset, items: list[Item], fingerprint: str | None = None) -> dict[int, str]:
    """'Because you watched X and Y' (in the dataset's words) for each recommended item, naming only interactions
    whose removal lowers that item (one batched IG pass, then one batched re-scoring of every candidate removal).

    Cached per member, model version, history fingerprint (pass ``fingerprint`` when it was just computed)
    and items; the history itself is read only when the reasons have to be computed.
    """
    if not items:
        return {}
    model, recommender = serving.loaded_model(dataset)
    fingerprint = fingerprint or selectors.history_fingerprint(user, dataset)
    key = serving.member_cache_key("reasons", user, dataset, model, fingerprint,
                                   ",".join(str(item.pk) for item in items), wording_key())
    reasons = cache.get(key)
    if reasons is None:
        mine = member_history(user, dataset, recommender, fingerprint=fingerprint)
        if len(mine.history) == 0:
            return {}
        targets = [recommender.index.index_of(str(item.pk)) for item in items]
        attributions = attr.integrated_gradients_batch(recommender.model, [mine.history] * len(items), targets)
        exclude = never_recommended_mask(user, dataset, recommender)
        verified = faithful.verified_reasons(recommender.model, mine.history, attributions, targets, exclude,
                                              fallback=recommender.popularity)
        words = words_for(dataset)
        distinct_items = len(set(mine.history.items[mine.history.weights > 0].tolist()))
        reasons = {
            # an item picked twice is one reason, named once
            item.pk: faithful.reason_line(list(dict.fromkeys(mine.titles.get(int(i), "") for i in found)),
                                          words.verb, words.items, distinct_items=distinct_items,
                                          item=words.item)
            for item, found in zip(items, verified, strict=True)
        }
        cache.set(key, reasons, timeout=REASONS_CACHE_SECONDS)
    return reasons


def record_feedback(*, user, explanation: Explanation, helpful: bool, comment: str = "") -> ExplanationFeedback:
    """One answer per member and explanation: answering again (a double-click, a later visit) replaces it, so the
    analysts' helpful rate counts members, not clicks."""
    if explanation.user_id != user.pk:
        raise Explanation.DoesNotExist("No such explanation.")
    with transaction.atomic():
        Explanation.objects.select_for_update().filter(pk=explanation.pk).first()  # concurrent answers queue here
        answers = ExplanationFeedback.objects.filter(explanation=explanation, user=user)
        feedback = answers.first()  # the latest
        if feedback is None:
            return ExplanationFeedback.objects.create(explanation=explanation, user=user, helpful=helpful,
                                                      comment=comment.strip()[:2000])
        answers.exclude(pk=feedback.pk).delete()  # repeats stored before one answer was kept
        feedback.helpful, feedback.comment = helpful, comment.strip()[:2000]
        feedback.save(update_fields=["helpful", "comment"])
    return feedback


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
