"""Drift injection (paper section 15): off-profile interactions planted in a copy of a history."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .alignment import CategoryIndex, as_categories
from .sequences import History, Positions, as_history

STRATEGIES = ("random", "category", "temporal")
DEFAULT_INJECTED = 5

@dataclass(frozen=True)
class Injection:
    strategy: str
    history: History  # perturbed history, injected interactions with weight 1
    injected_positions: np.ndarray  # indices into history
    injected_items: np.ndarray
    target_category: int | None  # dominant category of the injected items


def inject_drift(
    items: Sequence[int] | History,
    strategy: str,
    *,
    num_items: int,
    categories: CategoryIndex | None = None,
    n: int = DEFAULT_INJECTED,
    seed: int = 0,
    positions: Positions | None = None,
    window: int | None = None,
    temporal_source: str = "category",
) -> Injection:
    """Perturb a history with n off-profile interactions.

    random:   unseen items uniform from the catalogue, appended.
    category: unseen items from the categories least represented in the history, appended.
    temporal: items (temporal_source: "category" or "random") inserted mid-history, before the
              original indices in `positions`, or at seeded random points in the middle half of the
              last `window - n` interactions (so they stay inside the model window).
    """
    categories = as_categories(categories)
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown drift strategy {strategy!r}; valid: {', '.join(STRATEGIES)}")
    history = as_history(items)
    rng = np.random.default_rng(seed)
    source = strategy if strategy != "temporal" else temporal_source
    if source == "category" and categories is None:
        source = "random"
    new_items = _sample_items(history, source, num_items, categories, n, rng)
    if strategy == "temporal":
        inserts = _insertion_points(len(history), len(new_items), positions, window, rng)
    else:
        inserts = np.full(len(new_items), len(history))
    perturbed, injected_positions = _insert(history, new_items, inserts)
    target = categories.dominant(new_items) if categories is not None else None
    return Injection(strategy, perturbed, injected_positions, new_items, target)


def _unseen_items(history: History, num_items: int) -> np.ndarray:
    return np.setdiff1d(np.arange(1, num_items + 1), history.items)


def _sample_items(
    history: History, source: str, num_items: int, categories: CategoryIndex | None, n: int, rng: np.random.Generator,
) -> np.ndarray:
    candidates = _unseen_items(history, num_items)
    if source == "category" and categories is not None:
        candidates = _least_represented_candidates(history, candidates, categories, n, rng)
    return np.asarray(rng.choice(candidates, size=min(n, len(candidates)), replace=False).astype(np.int64))


def _least_represented_candidates(
    history: History, candidates: np.ndarray, categories: CategoryIndex, n: int, rng: np.random.Generator,
) -> np.ndarray:
    """Unseen items whose categories all lie among the history's rarest categories (grown until >= n)."""
    counts = categories.counts(history.items, history.weights)
    tie_break = rng.random(len(counts))
    order = np.lexsort((tie_break, counts))
    item_rows = categories.matrix[candidates] > 0
    has_category = item_rows.any(axis=1)
    for size in range(1, len(order) + 1):
        allowed = np.zeros(len(counts), dtype=bool)
        allowed[order[:size]] = True
        eligible = has_category & ~(item_rows & ~allowed).any(axis=1)
        if eligible.sum() >= n:
            return np.asarray(candidates[eligible])
    return np.asarray(candidates)


def _insertion_points(
    length: int, n: int, positions: Positions | None, window: int | None, rng: np.random.Generator,
) -> np.ndarray:
    if positions is not None:
        points = np.asarray(positions, dtype=np.int64)
        if len(points) != n or points.min(initial=0) < 0 or points.max(initial=0) > length:
            raise ValueError(f"need {n} insertion positions within 0..{length}")
        return np.sort(points)
    start = 0 if window is None else max(0, length - max(window - n, 1))
    span = length - start
    low, high = start + span // 4, start + max(3 * span // 4, span // 4 + 1)
    choices = np.arange(low, max(high, low + 1))
    return np.sort(rng.choice(choices, size=n, replace=len(choices) < n))


def _insert(history: History, new_items: np.ndarray, inserts: np.ndarray) -> tuple[History, np.ndarray]:
    """Insert new_items[j] before original index inserts[j] (inserts sorted)."""
    items: list[int] = []
    weights: list[float] = []
    injected: list[int] = []
    pending = 0
    for index in range(len(history) + 1):
        while pending < len(new_items) and inserts[pending] == index:
            injected.append(len(items))
            items.append(int(new_items[pending]))
            weights.append(1.0)
            pending += 1
        if index < len(history):
            items.append(int(history.items[index]))
            weights.append(float(history.weights[index]))
    return as_history(items, weights), np.asarray(injected, dtype=np.int64)
