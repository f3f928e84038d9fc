"""A member's drift check: which interactions pull their recommendations away from their usual taste.

The check is the category-free taste analysis of ``recourse.engine.taste_recourse`` (issue 19): the model's own
surprisal flags interactions the rest of the history does not predict, and the analysis proposes the fix (which of
them to leave out). ONE analysis answers the drift check, names the flagged interactions and is the fix
"Suggest the smallest fix" offers (``recourse.services.corrections.suggest`` reads it back by history fingerprint).

"Yes" needs three things at once: the evidence the fix removes exceeds what clean reference histories show (the
calibrated cutoff), the fix raises the likelihood of the member's established taste, and the fix brings
recommendations back into the member's top 10 as For you computes it (``serving.recommend_for_member`` with the
fix as ``changes``: the same code path as the preview and the applied fix).

Ratings follow ``recsys.ratings`` and ``taste_policy``, on the dataset's rating scale: an item marked "Not interested"
is passed to the engine as explicit evidence, and so is an interaction rated 2.5 stars or lower (half the scale's top)
when the check also finds it unusual (a low-rated film the rest of the history predicts is established history, not
drift); one rated 4 stars or more (80 % of the top) is never suggested for removal (the member said it is their
taste). Categories, where the dataset has them, only describe the result in words.
"""

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from recourse.engine.taste_recourse import TasteAnalysis, TasteCalibration
from recourse.models import DriftResult
from recourse.selectors import MemberHistory, member_history, never_flag_interaction_ids
from recsys import selectors as recsys_selectors
from recsys.models import Dataset, Interaction, InteractionSequence, Item
from recsys.ratings import RatingScale, scale_of
from recsys.services import serving
from recsys.services.serving import loaded_model

from . import never_flag, taste_policy
from .context import DriftUnavailable, rated_histories, taste_calibration

METHOD = "taste"
MIN_INTERACTIONS = 3


@dataclass
class DriftCheck:
    result: DriftResult
    narrative: str  # plain words: the verdict's one-paragraph explanation
    flagged: list[Interaction]  # what the check names as pulling away (= the suggested fix), most suspicious first
    scores: dict[int, float]  # interaction id -> suspicion (how much less predictable than usual at that point)
    heat: dict[int, float]  # interaction id -> 0..1 for the timeline
    interactions: list[Interaction]
    scale: RatingScale  # the dataset's rating scale, which the narrative names thresholds on
    scored: int  # how many of the latest interactions the check scores (all of a short history)
    scored_are_latest: bool  # they are the latest ones (no title rated too low to count among them)
    changes: dict[int, float] = field(default_factory=dict)  # the suggested fix: interaction id -> weight
    top_now: list[Item] = field(default_factory=list)  # For you now
    top_after: list[Item] = field(default_factory=list)  # For you after the fix (the preview's list)
    unusual: list[Interaction] = field(default_factory=list)  # unusual, not in the fix: leaving them out would not help
    # unusual, never in a fix because the member rated them 4+ or asked never to flag them: (interaction, why)
    kept: list[tuple[Interaction, str]] = field(default_factory=list)
    described: str = ""  # "mostly Horror", when categories exist

    @property
    def returning(self) -> list[Item]:
        """What the fix brings (back) into the top 10."""
        return [item for item in self.top_after if item not in self.top_now]

    @property
    def leaving(self) -> list[Item]:
        return [item for item in self.top_now if item not in self.top_after]

    @property
    def matching(self) -> int:
        """How many of the current top 10 would stay without the interactions that do not fit (match the taste)."""
        return len(self.top_now) - len(self.leaving)

    @property
    def headline(self) -> str:
        if self.result.drift:
            return "Yes — your recommendations are drifting"
        if self.changes and self.leaving:
            return "Some of your recommendations come from picks that are unusual for you"
        return "No drift found"


def analyze_member(network, mine: MemberHistory, calibration: TasteCalibration, hidden: set[int],
                   kept: dict[int, str], scale: RatingScale) -> TasteAnalysis:
    """The taste analysis of a member's history under the ratings policy (see recourse.services.taste_policy);
    the ``kept`` positions (kept_by_member: liked titles and those the member asked never to flag) are never
    chosen for the fix."""
    ratings = [row.rating for row in mine.interactions]
    hidden_at = [row.item_id in hidden for row in mine.interactions]
    return taste_policy.analyze_rated(network, mine.history, calibration,
                                      taste_policy.dislikes(ratings, hidden_at, scale=scale), set(kept), scale=scale)


def kept_by_member(mine: MemberHistory, muted: set[int], scale: RatingScale) -> dict[int, str]:
    """Positions never left out, with the member's reason: rated 4 stars or more (80 % of the scale's top), or
    asked never to flag."""
    ratings = [row.rating for row in mine.interactions]
    liked = taste_policy.protected_positions(ratings, scale=scale)
    kept = {position: scale.rated(rating) for position, rating in enumerate(ratings)
            if position in liked and rating is not None}
    kept.update({position: "you asked never to flag it" for position, row in enumerate(mine.interactions)
                 if row.pk in muted})
    return kept


def too_short(mine: MemberHistory) -> bool:
    """Fewer than three interactions count in the model's input (removed ones and those a rating keeps out do not)."""
    return int((mine.history.weights > 0).sum()) < MIN_INTERACTIONS


def too_short_message(subject: str, user, dataset: Dataset) -> str:
    """Why ``subject`` (the drift check, or the suggested fix, which is the check's) cannot run, the same on every
    page: a member with three films, one rated 1 star, read "needs at least three interactions" on Fix."""
    rated = (f" (titles rated {scale_of(dataset).disliked_words} do not count)"
             if recsys_selectors.member_has_ratings(user, dataset) else "")
    return f"{subject} needs at least three interactions in your history that the recommender knows{rated}."


def check_drift(*, user, dataset: Dataset, loaded: tuple | None = None, mine: MemberHistory | None = None
                ) -> DriftCheck:
    """Run the member's drift check, store it (with its fix) and return it with what it means for For you.

    ``loaded`` (``loaded_model``'s answer) and ``mine`` (the member's history read with that recommender) save
    their queries when the caller has just read them."""
    model, recommender = loaded or loaded_model(dataset)
    mine = mine or member_history(user, dataset, recommender)
    scale = scale_of(dataset)
    if too_short(mine):
        raise DriftUnavailable(too_short_message("A drift check", user, dataset))
    calibration = taste_calibration(model, recommender, just_read=True)
    hidden = set(recsys_selectors.not_interested_item_ids(user, dataset))
    muted = set(never_flag_interaction_ids(user, dataset))
    kept = kept_by_member(mine, muted, scale)
    analysis = analyze_member(recommender.model, mine, calibration, hidden, kept, scale)
    ids = [row.pk for row in mine.interactions]
    changes = {ids[c.position]: float(c.weight) for c in analysis.changes}
    top_now, top_after = top_now_and_after(user, dataset, (model, recommender), mine.fingerprint, changes)
    moves_back = bool(set(top_after) - set(top_now))
    places = _Places.of(analysis, kept)
    reach = _Reach.of(analysis, calibration, total=len(mine.interactions))
    reason = reach.engine_reason if moves_back or not analysis.drift else (
        "the suggested change would not bring any new title into your top 10 as For you shows it")
    result = DriftResult.objects.create(
        user=user, trained_model=model, method=METHOD, drift=analysis.drift and moves_back, reason=reason[:300],
        interaction_ids=[ids[int(p)] for p in analysis.positions.tolist()],
        drift_scores=[float(s) if np.isfinite(s) else None for s in analysis.scores.tolist()],
        flagged_interaction_ids=[ids[p] for p in places.fix], history_fingerprint=mine.fingerprint,
        details=_details(analysis, calibration, ids, places, reach, changes, top_now, top_after, moves_back),
    )
    scores = {ids[int(p)]: float(s) for p, s in zip(analysis.positions.tolist(), analysis.scores.tolist(),
                                                     strict=True) if np.isfinite(s)}
    top = max([*scores.values(), 1e-9])
    flagged = [mine.interactions[p] for p in places.fix]
    check = DriftCheck(
        result=result, narrative="", flagged=flagged, scores=scores,
        heat={pk: max(0.0, s) / top for pk, s in scores.items()}, interactions=mine.interactions,
        changes=changes, top_now=top_now, top_after=top_after,
        unusual=[mine.interactions[p] for p in places.unusual],
        kept=[(mine.interactions[p], kept[p]) for p in places.kept],
        described=describe_in_words([row.item for row in flagged]) if dataset.has_categories else "",
        scale=scale, scored=reach.scored, scored_are_latest=reach.latest,
    )
    check.narrative = narrative(check)
    # a no-op: muted ones are never in the fix
    return never_flag.respect(check, user=user, dataset=dataset, muted=muted)


@dataclass(frozen=True)
class _Places:
    """History positions the check names: the fix (most suspicious first), the unusual ones leaving out would not
    help, and the unusual ones the member keeps (rated high or never to be flagged)."""

    fix: list[int]
    unusual: list[int]
    kept: list[int]

    @classmethod
    def of(cls, analysis: TasteAnalysis, kept: dict[int, str]) -> "_Places":
        order = {int(p): rank for rank, p in enumerate(analysis.flagged_positions.tolist())}
        fix = sorted((c.position for c in analysis.changes), key=lambda p: order.get(p, len(order)))
        unusual = [int(p) for p in analysis.flagged_positions.tolist() if int(p) not in set(fix)]
        return cls(fix=fix, unusual=[p for p in unusual if p not in kept], kept=[p for p in unusual if p in kept])


@dataclass(frozen=True)
class _Reach:
    """How many of the history's interactions the check scored, whether they are the latest ones, and the
    engine's reason in words that are true of that reach."""

    scored: int
    latest: bool
    engine_reason: str

    @classmethod
    def of(cls, analysis: TasteAnalysis, calibration: TasteCalibration, *, total: int) -> "_Reach":
        scored = min(calibration.window, len(analysis.positions))
        latest = analysis.positions[len(analysis.positions) - scored:].tolist() == list(range(total - scored, total))
        reason = analysis.reason
        if not len(analysis.flagged_positions):  # the engine's words say "recent", untrue of a short history
            reason = all_fit(scored, total, latest)
        return cls(scored=scored, latest=latest, engine_reason=reason)


def _details(analysis: TasteAnalysis, calibration: TasteCalibration, ids: list[int], places: _Places, reach: _Reach,
             changes: dict[int, float], top_now: list[Item], top_after: list[Item], moves_back: bool) -> dict:
    """What the stored result keeps beside its verdict: the fix, the calibration it was judged by, and who is who."""
    return {
        "changes": {str(pk): w for pk, w in changes.items()},
        "top_now": [item.pk for item in top_now], "top_after": [item.pk for item in top_after],
        "objective_before": analysis.objective_before, "objective_after": analysis.objective_after,
        "verdict_cutoff": calibration.gain_cutoff, "engine_reason": reach.engine_reason,
        "flag_threshold": calibration.flag_threshold, "false_alarm_rate": calibration.false_alarm_rate,
        "false_alarm_basis": calibration.false_alarm_basis, "reference_histories": calibration.n_reference,
        # calibrate_taste holds out 30 % of the reference histories (its default) when there are 10 or more
        "held_out_histories": (int(calibration.n_reference * 0.3) if calibration.false_alarm_basis == "held-out"
                               else calibration.n_reference),
        "flag_quantile": calibration.flag_quantile, "verdict_quantile": calibration.verdict_quantile,
        "unusual_interaction_ids": [ids[p] for p in places.unusual],
        "kept_interaction_ids": [ids[p] for p in places.kept],
        "explicit_interaction_ids": [ids[int(p)] for p in analysis.explicit_positions.tolist()],
        "engine_verdict": analysis.verdict, "moves_top10_back": moves_back,
    }


def top_now_and_after(user, dataset: Dataset, loaded: tuple, fingerprint: str, changes: dict[int, float]
                       ) -> tuple[list[Item], list[Item]]:
    """For you now and with the fix, as For you computes them (the history and model were just read)."""
    top_now = [rec.item for rec in serving.recommend_for_member(user, dataset, fingerprint=fingerprint,
                                                                loaded=loaded).items]
    if not changes:
        return top_now, list(top_now)
    return top_now, [rec.item for rec in serving.recommend_for_member(user, dataset, changes=changes,
                                                                      fingerprint=fingerprint, loaded=loaded).items]


def describe_in_words(items: list[Item]) -> str:
    """ "mostly Horror" when most of these items share a category; "" otherwise (or without categories)."""
    counts = Counter(name for item in items for name in item.category_list)
    if not items or not counts:
        return ""
    name, count = counts.most_common(1)[0]
    if count * 2 <= len(items):
        return ""
    return f"all {name}" if count == len(items) else f"mostly {name} ({count} of {len(items)})"


def _titles(items, limit: int = 3) -> str:
    names = [f"“{item.title}”" for item in items[:limit]]
    more = len(items) - limit
    text = ", ".join(names)
    return text + (f" and {more} more" if more > 0 else "")


def all_fit(scored: int, total: int, latest: bool = True) -> str:
    """Nothing is unusual, in words true of the history's length: the check scores only the latest ``scored`` of
    the ``total`` interactions, which for a short history is all of them, and none that a rating keeps from
    counting (then the scored ones are not simply the latest: ``latest`` False)."""
    if scored >= total:
        return "every title in your history fits the rest of it"
    if not latest:
        return (f"each of the {scored} titles the check scores (titles your ratings keep from counting are not "
                f"scored) fits the rest of your history")
    return f"each of your latest {scored} titles (the ones the check scores) fits the rest of your history"


def narrative(check: DriftCheck) -> str:
    """The verdict in plain words; every sentence is a measured fact of this check (no bare "recent": the check
    scores the latest interactions, which for a short history are all of them)."""
    n_fix, total = len(check.flagged), len(check.top_now)
    one = n_fix == 1
    things, fit, pull, them = ("title", "does not fit", "pulls", "it") if one else ("titles", "do not fit", "pull",
                                                                                 "them")
    kind = f", {check.described}," if check.described and not one else ""
    why = _why_flagged(check, fit, one)
    if check.result.drift:
        verb = "matches" if check.matching == 1 else "match"
        return (f"{n_fix} {things}{kind} {why}, and {pull} your recommendations away from your usual taste. "
                f"{check.matching} of your top {total} {verb} your usual taste; leaving "
                f"{them} out puts {_titles(check.returning)} into your top {total}.")
    if not check.flagged and not check.unusual and not check.kept:
        fit_all = all_fit(check.scored, len(check.interactions), check.scored_are_latest)
        return fit_all[0].upper() + fit_all[1:] + "."
    if check.flagged and check.leaving:
        details = check.result.details
        closer = details.get("objective_after", 0.0) > details.get("objective_before", 0.0)
        but = ("the evidence is no stronger than in the histories of many other people" if closer else
               "it would not bring your recommendations closer to your usual taste")
        return (f"{n_fix} {things}{kind} {why}; leaving {them} out would change {len(check.leaving)} of your "
                f"top {total}, but {but}, so we do not call it drift.")
    if check.flagged:
        return (f"{n_fix} {things}{kind} {why}, but leaving {them} out would not bring any new title into your "
                f"top {total}, so nothing needs fixing.")
    return f"A few picks are unusual for you, but {_why_none_is_left_out(check)}, so nothing needs fixing."


def _why_flagged(check: DriftCheck, fit: str, one: bool) -> str:
    """Why the fix names its titles. A low rating counts only on a title the check finds unusual, so those do not
    fit AND got the low rating ("do not fit ... or got 2.5 stars or lower" undersold it); a "Not interested" counts
    whether or not it fits, so it stays an alternative."""
    explicit = set(check.result.details.get("explicit_interaction_ids", []))
    said = [row for row in check.flagged if row.pk in explicit]
    low = sum(1 for row in said if check.scale.is_low(row.rating))
    hidden = len(said) - low
    why = f"{fit} the rest of your history"
    if hidden:
        why += f" or you marked {'it' if one else f'{hidden} of them'} “Not interested”"
    if low:
        why += f" ({'you rated it' if one else f'you rated {low} of them'} {check.scale.low_words})"
    return why


def _why_none_is_left_out(check: DriftCheck) -> str:
    unhelpful = "would not bring your recommendations closer to your usual taste"
    if not check.kept:
        return f"leaving them out {unhelpful}"
    liked = check.scale.liked_words
    if not check.unusual:
        return f"you rated them {liked} or asked never to flag them, so they are never left out"
    return (f"the ones you rated {liked} or asked never to flag are never left out, and leaving the others "
            f"out {unhelpful}")


def first_with_verdict(dataset: Dataset, external_ids: list[str], *, drift: bool) -> str | None:
    """The first of these dataset users whose history the active model's taste check judges drifting (or not).

    Judged as the engine's verdict on the imported history under the ratings policy (the account-level check
    also asks For you whether the fix brings items back, once the history belongs to a member).
    """
    model, recommender = loaded_model(dataset)
    calibration = taste_calibration(model, recommender)
    sequence_of = dict(InteractionSequence.objects.filter(dataset=dataset, external_user_id__in=external_ids)
                       .values_list("external_user_id", "pk"))
    scale = scale_of(dataset)
    rated = rated_histories(sequence_of.values(), recommender, scale)
    for external_id in external_ids:
        member = rated.get(sequence_of.get(external_id, -1))
        if member is None:
            continue
        analysis = taste_policy.analyze_rated(recommender.model, member.history, calibration, member.explicit,
                                              member.protected, scale=scale)
        if analysis.drift == drift:
            return external_id
    return None
