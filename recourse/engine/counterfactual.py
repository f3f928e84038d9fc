"""Counterfactual ranks: "Without X, Y would drop from #3 to #41"."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .attribution import Attribution, score_histories
from .protocol import ScoringModel
from .sequences import History, Positions, as_history, seen_mask


@dataclass(frozen=True)
class Counterfactual:
    position: int  # caller interaction index that was removed
    item: int
    target: int
    rank_before: int  # 1-based, over the catalogue minus items already in the history
    rank_after: int
    score_before: float
    score_after: float

    @property
    def rank_change(self) -> int:
        return self.rank_after - self.rank_before


def ranks_of(logits: np.ndarray, targets: np.ndarray, exclude: np.ndarray) -> np.ndarray:
    """1 + number of non-excluded items (other than the target) scoring strictly higher, per row."""
    rows = np.arange(len(logits))
    target_scores = logits[rows, targets]
    higher = (logits > target_scores[:, None]) & ~exclude
    higher[rows, targets] = False
    return np.asarray(1 + higher.sum(axis=1))


def counterfactual_ranks(
    model: ScoringModel,
    items: Sequence[int] | History,
    target_item: int,
    positions: Positions,
    weights: Sequence[float] | None = None,
) -> list[Counterfactual]:
    """Target rank with the full history and without each given position, in one batched pass."""
    history = as_history(items, weights)
    variants = [history] + [history.reweighted({int(p): 0.0}) for p in positions]
    logits = score_histories(model, variants)
    exclude = np.repeat(seen_mask([history], model.num_items), len(variants), axis=0)
    ranks = ranks_of(logits, np.full(len(variants), target_item), exclude)
    scores = logits[:, target_item]
    return [
        Counterfactual(
            position=int(p),
            item=int(history.items[p]),
            target=int(target_item),
            rank_before=int(ranks[0]),
            rank_after=int(ranks[row]),
            score_before=float(scores[0]),
            score_after=float(scores[row]),
        )
        for row, p in enumerate(positions, start=1)
    ]


def top_counterfactuals(
    model: ScoringModel, items: Sequence[int] | History, attribution: Attribution, k: int = 3,
    weights: Sequence[float] | None = None,
) -> list[Counterfactual]:
    """Counterfactuals for the k most supporting interactions of an attribution (target = its target)."""
    if attribution.target is None:
        raise ValueError("counterfactuals need an attribution of a target item")
    supporting = [p for p in attribution.top_positions(k) if attribution.score_of(p) > 0]
    return counterfactual_ranks(model, items, attribution.target, supporting, weights)
