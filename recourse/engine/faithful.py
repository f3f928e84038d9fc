"""A "Why?" that is checked against the model: reasons and counterfactuals verified by re-scoring.

An attribution method (IG, attention, occlusion) proposes which interactions matter; nothing is said to
the member until the model has been re-run without them. All variants are scored in one batched pass.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from .attribution import Agreement, Attribution, score_histories
from .counterfactual import ranks_of
from .protocol import Scorer, ScoringModel
from .sequences import History

REASON_CANDIDATES = 3  # the method's top interactions that may be named as reasons
SUBSET_CANDIDATES = 6  # every removal of up to SUBSET_SIZE of the method's top interactions is tried
SUBSET_SIZE = 3
MAX_REMOVALS = 10  # beyond SUBSET_SIZE, removals follow the method's order up to this many
TOP_N = 10

# Confidence from measured agreement between the chosen method and a second one (written in docs/explanations.md).
HIGH_OVERLAP, HIGH_SPEARMAN = 2 / 3, 0.5
MEDIUM_OVERLAP, MEDIUM_SPEARMAN = 1 / 3, 0.2
HIGH, MEDIUM, LOW = "high", "medium", "low"


@dataclass(frozen=True)
class Removal:
    positions: tuple[int, ...]  # caller interaction indices removed together
    items: tuple[int, ...]
    rank_after: int


@dataclass(frozen=True)
class CheckedWhy:
    target: int
    rank: int  # with the full history, over the items the member can be recommended
    reasons: list[Removal]  # single interactions among the method's top 3 whose removal lowers the item
    smallest: Removal | None  # the fewest removals found that take the item out of the top 10
    tried_up_to: int  # how many removals were tried at most
    candidates_scored: int


def proposed_order(attribution: Attribution) -> np.ndarray:
    """Positions pushing the item up, strongest first, as the method sees them."""
    order = np.argsort(-attribution.scores, kind="stable")
    return attribution.positions[order][attribution.scores[order] > 0]


def check_why(model: ScoringModel, history: History, attribution: Attribution, target: int, exclude: np.ndarray,
              *, top_n: int = TOP_N, max_removals: int = MAX_REMOVALS,
              fallback: Scorer | None = None) -> CheckedWhy:
    """Re-score the history without the method's proposed interactions (one batch).

    ``exclude`` [N+1] marks items that can never be recommended (history, removed, hidden); ranks are
    counted among the others, as the member's recommendations are. ``fallback`` scores a removal that leaves
    nothing counting (the most-popular list a member without history gets), as For you would rank it.
    """
    order = [int(p) for p in proposed_order(attribution)]
    plans = _plans(order, max_removals)
    variants = [history] + [history.reweighted(dict.fromkeys(plan, 0.0)) for plan in plans]
    ranks = _ranks_for_target(served_scores(model, variants, fallback), target, exclude)
    rank = int(ranks[0])
    after = {plan: int(r) for plan, r in zip(plans, ranks[1:], strict=True)}
    reasons = [_removal(history, (p,), after[(p,)]) for p in order[:REASON_CANDIDATES] if after[(p,)] > rank]
    leaving = [plan for plan in plans if after[plan] > top_n]
    smallest = None
    if rank <= top_n and leaving:
        best = min(leaving, key=lambda plan: (len(plan), -after[plan]))
        smallest = _removal(history, best, after[best])
    return CheckedWhy(target, rank, reasons, smallest, min(max_removals, len(order)), len(plans))


def verified_reasons(model: ScoringModel, history: History, attributions: list[Attribution], targets: list[int],
                     exclude: np.ndarray, max_reasons: int = 2, fallback: Scorer | None = None
                     ) -> list[list[int]]:
    """Per target, the first ``max_reasons`` of its method's top REASON_CANDIDATES whose single removal lowers it
    (one batch): the reasons ``check_why`` names for the same attribution, so For you's line and the "Why?" of that
    method name the same titles (For you tried only the top 2: "Because you watched X" beside "mainly because you
    watched X and Y", Y being the method's third). ``fallback`` as in ``check_why``."""
    candidates = [[int(p) for p in proposed_order(a)[:REASON_CANDIDATES]] for a in attributions]
    removed = sorted({p for positions in candidates for p in positions})
    variants = [history] + [history.reweighted({p: 0.0}) for p in removed]
    logits = served_scores(model, variants, fallback)
    row_of = {p: row for row, p in enumerate(removed, start=1)}
    found = []
    for target, positions in zip(targets, candidates, strict=True):
        ranks = _ranks_for_target(logits, target, exclude)
        found.append([int(history.items[p]) for p in positions if ranks[row_of[p]] > ranks[0]][:max_reasons])
    return found


def served_scores(model: ScoringModel, variants: list[History], fallback: Scorer | None) -> np.ndarray:
    """Scores [V, N+1] of each variant as the member would be served it: by the model, except that a variant in
    which nothing counts any more (every interaction removed or weighted 0) gets ``fallback``'s scores (the
    most-popular list For you shows for such a history). Without a fallback every variant is scored by the model,
    whose output for an empty input is no list a member is ever shown: a one-film member read "Without X, Y
    would drop from #2 to #6" where For you, once X was removed, showed Y at #5."""
    logits = np.asarray(score_histories(model, variants), dtype=np.float64)
    empty = [row for row, variant in enumerate(variants) if not (np.asarray(variant.weights) > 0).any()]
    if fallback is not None and empty:
        ids, weights = fallback.encode_inputs([[]] * len(empty))
        logits[empty] = fallback.score_last(ids, weights)
    return logits


def _ranks_for_target(logits: np.ndarray, target: int, exclude: np.ndarray) -> np.ndarray:
    return ranks_of(logits, np.full(len(logits), target), np.repeat(exclude[None], len(logits), axis=0))


def reason_line(names: list[str], verb: str = "watched", items: str = "films", distinct_items: int | None = None,
                item: str = "film") -> str:
    """``distinct_items``: how many different items the member's history counts (None: not known, taken as
    many). With no verified reason, a history of one or two is not called "many of your items". ``item``: ``items``
    in the singular (the dataset's words, as ``recsys.vocabulary.Words`` holds them)."""
    if names:
        return f"Because you {verb} {_quoted(names)}"
    if distinct_items == 1:
        return f"Not clearly because of the one {item} you {verb}"
    if distinct_items == 2:
        return f"Based on both of your {items} together"
    return f"Based on many of your {items} together"


def _plans(order: list[int], max_removals: int) -> list[tuple[int, ...]]:
    """Every subset of up to SUBSET_SIZE of the first SUBSET_CANDIDATES, then longer prefixes of the order."""
    head = order[:SUBSET_CANDIDATES]
    plans = [plan for size in range(1, SUBSET_SIZE + 1) for plan in combinations(head, size)]
    plans += [tuple(order[:size]) for size in range(SUBSET_SIZE + 1, min(max_removals, len(order)) + 1)]
    return plans


def _removal(history: History, positions: tuple[int, ...], rank_after: int) -> Removal:
    return Removal(positions, tuple(int(history.items[p]) for p in positions), rank_after)


def confidence(agreement: Agreement | None) -> str:
    """High: the two methods share at least 2 of their top 3 and rank correlation >= 0.5; medium: 1 of 3 and
    >= 0.2; low otherwise (or when it cannot be measured, or when they push most interactions opposite ways)."""
    if agreement is None or agreement.spearman is None or _opposed(agreement):
        return LOW
    if agreement.top_k_overlap >= HIGH_OVERLAP - 1e-9 and agreement.spearman >= HIGH_SPEARMAN:
        return HIGH
    if agreement.top_k_overlap >= MEDIUM_OVERLAP - 1e-9 and agreement.spearman >= MEDIUM_SPEARMAN:
        return MEDIUM
    return LOW


def signed_scale(scores: np.ndarray) -> np.ndarray:
    """Scores divided by the largest magnitude: -1..1, the sign kept (pushed down stays negative)."""
    scores = np.asarray(scores, dtype=np.float64)
    largest = float(np.abs(scores).max(initial=0.0))
    return scores / largest if largest > 0 else np.zeros_like(scores)


# --- wording: fixed templates, every claim backed by the re-scoring above --------------------------

CONFIDENCE_TEXT = {
    HIGH: "High: a second way of explaining it mostly agrees",
    MEDIUM: "Medium: a second way of explaining it partly agrees",
    LOW: "Low: a second way of explaining it disagrees, so treat this as a rough guide",
}


NOT_COMPARED = "Low: it could not be compared with a second way of explaining it, so treat this as a rough guide"


def confidence_text(level: str, agreement: Agreement | None, items: str = "films", item: str = "film") -> str:
    """The confidence in words. Fewer than two interactions both methods score leave nothing to agree or disagree
    on: "disagrees (1 of the top 1 films is the same)" was shown for a member whose history had one film."""
    if agreement is None or agreement.k == 0:
        return f"{NOT_COMPARED}."
    if _opposed(agreement):  # with one film too: it was compared, on its direction, and they disagree
        which = (f"for the one {item} both score" if agreement.k == 1 else
                 f"for most of the {items} either names")
        return f"{CONFIDENCE_TEXT[LOW]} ({which}, one says it pushes this title up and the other says down)."
    if agreement.k == 1 and agreement.spearman is None and level == LOW:
        return (f"Low: only one of your {items} counts for it, so there is no order to compare with a second way "
                "of explaining it; treat this as a rough guide.")
    shared = round(agreement.top_k_overlap * agreement.k)
    verb = "is" if shared == 1 else "are"
    if agreement.spearman is None and level == LOW and agreement.top_k_overlap >= MEDIUM_OVERLAP - 1e-9:
        return f"{_not_ordered(items)} ({shared} of the top {agreement.k} {items} {verb} the same)."
    order = _order_part(level, agreement, items)
    return f"{CONFIDENCE_TEXT[level]} ({shared} of the top {agreement.k} {items} {verb} the same{order})."


def _opposed(agreement: Agreement) -> bool:
    """The two push most of their top interactions opposite ways. With two films the top 2 are always shared and
    the order alone counted, so leave-one-out finding both pushing the title down was called "mostly agrees" with
    Contributions finding both pushing it up."""
    return agreement.same_direction is not None and agreement.same_direction < 0.5


def _not_ordered(items: str) -> str:
    """Low only because the order could not be compared (one method scores every interaction alike): "a second way
    of explaining it disagrees (3 of the top 3 are the same, but the two order your films differently)" would be
    untrue where both name the same top."""
    return (f"Low: a second way of explaining it could not be compared on how it orders your {items} (it scores "
            "them all alike), so treat this as a rough guide")


def _order_part(level: str, agreement: Agreement, items: str) -> str:
    """When the shared top alone would earn a higher level, the rank correlation held it back: say so, or
    "partly agrees (3 of the top 3 are the same)" reads as a contradiction."""
    if agreement.spearman is None:
        return ""
    held_back = ((level != HIGH and agreement.top_k_overlap >= HIGH_OVERLAP - 1e-9)
                 or (level == LOW and agreement.top_k_overlap >= MEDIUM_OVERLAP - 1e-9))
    return f", but the two order your {items} differently" if held_back else ""


@dataclass(frozen=True)
class WhyWords:
    reason: str  # one line for For you
    narrative: str
    change: str  # "What would change it"
    drops: list[str]  # one verified sentence per named reason


def _quoted(names: list[str]) -> str:
    return _joined([f"“{name}”" for name in names])


def _joined(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def why_words(checked: CheckedWhy, titles: dict[int, str], *, popular: bool, verb: str = "watched",
              items: str = "films", max_reasons: int = 2, occasions: Mapping[int, str] | None = None) -> WhyWords:
    """``occasions``: {history position: what tells that interaction apart from other plays of its title ("played
    2024-03-05, 2nd of 4 times")}, for titles the history holds more than once; a sentence about one interaction
    names it with its occasion. The reason names each title once, as For you's one-line reason does."""
    def title(item: int) -> str:
        return titles.get(int(item), f"item #{int(item)}")

    def play(removal: Removal, index: int) -> str:
        position, item = removal.positions[index], removal.items[index]
        occasion = (occasions or {}).get(int(position))
        return f"“{title(item)}”" + (f" ({occasion})" if occasion else "")

    target = title(checked.target)
    named = checked.reasons[:max_reasons]
    drops = [f"Without {play(r, 0)}, “{target}” would drop from #{checked.rank} to #{r.rank_after}."
             for r in checked.reasons]
    if named:
        names = list(dict.fromkeys(title(r.items[0]) for r in named))  # two plays of one title: one reason
        reason = reason_line(names, verb, items)
        narrative = f"“{target}” is recommended mainly because you {verb} {_quoted(names)}. {drops[0]}"
    else:
        reason = reason_line([], verb, items)
        popular_part = f" It is also one of the most popular {items} overall." if popular else ""
        # Relative to this method: another method (and For you's one-line reason) may still find a single film.
        # When it finds none pushing the item up (leave-one-out can find every one pushing it down), nothing was
        # tried, so nothing is claimed about a removal: "any one of the 0 films ... would not move it down" was
        # shown beside Contributions' verified "Without X, it would drop from #1 to #2".
        found = (f"it finds none of your {items} pushing it up" if checked.tried_up_to == 0 else
                 f"{_none_of_the_top(checked, items)} would not move it down")
        narrative = f"“{target}” has no single main reason by this way of explaining: {found}.{popular_part}"
    return WhyWords(reason, narrative, _change_sentence(checked, target, play, items), drops)


def _none_of_the_top(checked: CheckedWhy, items: str) -> str:
    """How many were tried as a reason, said: the change sentence may name a single removal from further down the
    method's order (it tries more), which "any one of the items that count most" would contradict."""
    tried = min(REASON_CANDIDATES, checked.tried_up_to)
    if tried == 1:
        return f"removing the one of your {items} that counts most for it"
    return f"removing any one of the {tried} {items} that count most for it"


def _change_sentence(checked: CheckedWhy, target: str, play: Callable[[Removal, int], str],
                     items: str = "films") -> str:
    if checked.smallest is None and checked.tried_up_to == 0:
        return f"This way of explaining finds none of your {items} pushing “{target}” up, so it has no removal to try."
    if checked.smallest is None:
        return (f"No removal of up to {checked.tried_up_to} of the {items} that count most for it takes "
                f"“{target}” out of your top {TOP_N}.")
    removal = checked.smallest
    names = _joined([play(removal, index) for index in range(len(removal.items))])
    return (f"Removing {names} would take “{target}” out of your top {TOP_N} "
            f"(from #{checked.rank} to #{checked.smallest.rank_after}): the smallest such removal HikmaX found.")
