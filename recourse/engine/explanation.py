"""One call for "why was this recommended?": IG, occlusion, attention, counterfactuals, narrative."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .alignment import CategoryIndex, as_categories
from .attribution import (
    DEFAULT_STEPS,
    Agreement,
    Attribution,
    attention_attribution,
    integrated_gradients,
    integrated_gradients_of,
    method_agreement,
    occlusion_attribution,
)
from .counterfactual import Counterfactual, top_counterfactuals
from .narratives import Narrative, explain_recommendation
from .protocol import ExplainerUnavailable, ScoringModel
from .sequences import History, as_history


@dataclass(frozen=True)
class ItemExplanation:
    integrated_gradients: Attribution
    occlusion: Attribution | None  # computed when asked for, or when there is no attention to compare with
    attention: Attribution | None  # None for models without attention
    attention_unavailable: str  # the reason when attention is None
    agreement: Agreement  # IG vs attention when the model has it, else IG vs occlusion
    counterfactuals: list[Counterfactual]
    narrative: Narrative

    @property
    def compared_with(self) -> Attribution:
        compared = self.attention if self.attention is not None else self.occlusion
        assert compared is not None  # explain_item computes occlusion whenever attention is missing
        return compared


def explain_item(
    model: ScoringModel,
    items: Sequence[int] | History,
    target_item: int,
    titles: Mapping[int, str],
    *,
    weights: Sequence[float] | None = None,
    steps: int = DEFAULT_STEPS,
    verb: str = "watched",
    top_k: int = 3,
    with_occlusion: bool = False,
) -> ItemExplanation:
    """IG, attention, counterfactuals and narrative; occlusion too when asked or when attention is unavailable.

    Occlusion scores one variant per interaction (L forward passes), so it costs several times IG's
    single batched pass; agreement is therefore measured against attention whenever the model has it.
    """
    history = as_history(items, weights)
    ig = integrated_gradients(model, history, target_item, steps=steps)
    try:
        attention, unavailable = attention_attribution(model, history), ""
    except ExplainerUnavailable as error:
        attention, unavailable = None, str(error)
    occlusion = None
    if with_occlusion or attention is None:
        occlusion = occlusion_attribution(model, history, target_item)
    compared = attention if attention is not None else occlusion
    assert compared is not None  # occlusion was computed because attention is missing
    agreement = method_agreement(ig, compared, k=top_k)
    counterfactuals = top_counterfactuals(model, history, ig, k=top_k)
    narrative = explain_recommendation(ig, titles, counterfactuals=counterfactuals, agreement=agreement, verb=verb)
    return ItemExplanation(ig, occlusion, attention, unavailable, agreement, counterfactuals, narrative)


def trace_explainers(model: ScoringModel, categories: CategoryIndex | None = None, steps: int = DEFAULT_STEPS) -> None:
    """Trace the IG graphs (target logit, and alignment when categories are given) ahead of requests.

    The first call per model and explained quantity otherwise pays a one-off tracing cost of seconds.
    """
    categories = as_categories(categories)
    history = as_history([1 + (i % model.num_items) for i in range(min(model.max_len, 8))])
    integrated_gradients(model, history, 1, steps=steps, max_steps=steps)
    if categories is not None:
        profile = np.full(categories.num_categories, 1.0 / categories.num_categories, dtype=np.float32)
        integrated_gradients_of(
            model, [history], categories.alignment_score, profile[None], steps=steps, max_steps=steps
        )
