"""Plain-language explanations with fixed templates: the same situation always gets the same words."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .attribution import COMPLETENESS_TOLERANCE, Agreement, Attribution
from .counterfactual import Counterfactual
from .drift_detection import DriftReport
from .recourse_search import RecoursePlan
from .wording import counted

HIGH, MEDIUM, LOW = "high", "medium", "low"
CONFIDENCE_TEXT = {
    HIGH: "High confidence: the explanation methods agree.",
    MEDIUM: "Medium confidence: the explanation methods partly agree.",
    LOW: "Low confidence: treat this explanation as a rough guide.",
}


@dataclass(frozen=True)
class Narrative:
    reason: str  # one line: "Because you watched X and Y"
    text: str  # short narrative
    confidence: str  # high / medium / low
    confidence_text: str
    supporting_positions: list[int]


def title_of(titles: Mapping[int, str], item: int) -> str:
    return titles.get(int(item), f"item #{int(item)}")


def join_titles(names: Sequence[str]) -> str:
    names = [f"“{name}”" for name in names]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def because_line(names: Sequence[str], verb: str = "watched") -> str:
    if not names:
        return "Recommended from your overall history"
    return f"Because you {verb} {join_titles(names)}"


def confidence_level(completeness_gap: float | None, agreement: Agreement | None) -> str:
    """High: IG complete within tolerance and methods share most top items; low if either fails badly."""
    complete = completeness_gap is not None and completeness_gap <= COMPLETENESS_TOLERANCE
    overlap = agreement.top_k_overlap if agreement is not None else 0.0
    if complete and overlap >= 2 / 3:
        return HIGH
    if complete and overlap >= 1 / 3:
        return MEDIUM
    return LOW


def counterfactual_sentence(counterfactual: Counterfactual, titles: Mapping[int, str]) -> str:
    removed = title_of(titles, counterfactual.item)
    target = title_of(titles, counterfactual.target)
    before, after = counterfactual.rank_before, counterfactual.rank_after
    if after > before:
        return f"Without “{removed}”, “{target}” would drop from #{before} to #{after}."
    if after < before:
        return f"Without “{removed}”, “{target}” would rise from #{before} to #{after}."
    return f"Without “{removed}”, “{target}” would stay at #{before}."


def explain_recommendation(
    attribution: Attribution,
    titles: Mapping[int, str],
    *,
    counterfactuals: Sequence[Counterfactual] = (),
    agreement: Agreement | None = None,
    verb: str = "watched",
    max_reasons: int = 2,
) -> Narrative:
    supporting = [int(p) for p in attribution.top_positions(max_reasons) if attribution.score_of(p) > 0]
    item_at = dict(zip(attribution.positions.tolist(), attribution.items.tolist()))
    names = [title_of(titles, item_at[p]) for p in supporting]
    reason = because_line(names, verb)
    target = title_of(titles, attribution.target) if attribution.target is not None else "This item"
    sentences = [f"“{target}” is recommended mainly because you {verb} {join_titles(names)}." if names
                 else f"“{target}” is recommended from your overall history rather than a few items."]
    sentences += [counterfactual_sentence(c, titles) for c in counterfactuals[:1]]
    level = confidence_level(attribution.completeness_gap, agreement)
    sentences.append(CONFIDENCE_TEXT[level])
    return Narrative(reason, " ".join(sentences), level, CONFIDENCE_TEXT[level], supporting)


def drift_narrative(report: DriftReport, titles: Mapping[int, str], verb: str = "watched", max_items: int = 3) -> str:
    """Wording for a DriftReport."""
    item_at = dict(zip(report.positions.tolist(), report.items.tolist()))
    names = [title_of(titles, item_at[int(p)]) for p in report.flagged_positions[:max_items]]
    if not report.drift:
        return "Your recommendations still match your usual interests."
    more = len(report.flagged_positions) - len(names)
    extra = f" and {counted(more, 'other item')}" if more > 0 else ""
    return (
        f"Your recommendations are drifting away from your usual interests, mostly because you {verb} "
        f"{join_titles(names)}{extra}."
    )


def recourse_narrative(result: RecoursePlan, titles: Mapping[int, str], max_items: int = 3) -> str:
    """Wording for a RecoursePlan (at most max_items removed titles are named)."""
    if not result.changes:
        return "No change to your history is needed."
    removed = [title_of(titles, c.item) for c in result.changes if c.action == "remove"]
    lowered = [(title_of(titles, c.item), c.weight) for c in result.changes if c.action == "down_weight"]
    parts = []
    if len(removed) > max_items:
        others = counted(len(removed) - max_items, "other item")
        parts.append(f"removing {join_titles(removed[:max_items])} and {others}")
    elif removed:
        parts.append(f"removing {join_titles(removed)}")
    for name, weight in lowered:
        parts.append(f"counting “{name}” at {weight:.0%}")
    action = " and ".join(parts)
    outcome = "restores" if result.satisfied else "improves but does not fully restore"
    return f"{action[0].upper()}{action[1:]} {outcome} how well your recommendations match your interests."
