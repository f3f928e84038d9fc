"""Drift scenarios for experiments (issue 19): appended, mid-history, interleaved and burst drift.

Every scenario copies a clean history and adds `k` off-profile interactions (unseen items, drawn
uniformly or, when categories are given, from the member's least-represented categories):

* appended:    k items after the last interaction (the most-recent rule is the oracle here);
* mid:         k items at random points in the middle half of the model window;
* interleaved: k items mixed at random among the last m positions with m - k genuine ones, so
               removing the k most recent interactions also removes genuine ones;
* burst:       one contiguous episode of k items that starts at `start_index` and is followed by
               1..m-k genuine interactions (the member came back to their taste afterwards).

Django-free; positions are indices into the drifted history.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .alignment import CategoryIndex
from .sequences import History, as_history

IntArray = npt.NDArray[np.int64]
KINDS = ("appended", "mid", "interleaved", "burst")
DEFAULT_K = 5
DEFAULT_M = 10


@dataclass(frozen=True)
class Scenario:
    kind: str
    history: History  # drifted history, injected items with weight 1
    injected_positions: IntArray
    injected_items: IntArray
    start_index: int  # index of the first injected interaction (the burst's start)


def off_profile_items(
    clean: History, num_items: int, k: int, rng: np.random.Generator, *, categories: CategoryIndex | None = None,
    forbidden: IntArray | None = None,
) -> IntArray:
    """k unseen items; from the member's rarest categories when categories are given."""
    candidates = np.setdiff1d(np.arange(1, num_items + 1), clean.items)
    if forbidden is not None:
        candidates = np.setdiff1d(candidates, forbidden)
    if categories is not None:
        candidates = _rare_category_items(clean, candidates, categories, k, rng)
    return rng.choice(candidates, size=min(k, len(candidates)), replace=False).astype(np.int64)


def _rare_category_items(
    clean: History, candidates: IntArray, categories: CategoryIndex, k: int, rng: np.random.Generator
) -> IntArray:
    counts = categories.counts(clean.items, clean.weights)
    order = np.lexsort((rng.random(len(counts)), counts))
    rows = categories.matrix[candidates] > 0
    has_category = rows.any(axis=1)
    for size in range(1, len(order) + 1):
        allowed = np.zeros(len(counts), dtype=bool)
        allowed[order[:size]] = True
        eligible = has_category & ~(rows & ~allowed).any(axis=1)
        if eligible.sum() >= k:
            return candidates[eligible]
    return candidates


def inject(
    kind: str, clean: History, num_items: int, rng: np.random.Generator, *, k: int = DEFAULT_K, m: int = DEFAULT_M,
    window: int = 50, categories: CategoryIndex | None = None, forbidden: IntArray | None = None,
    items: IntArray | None = None,
) -> Scenario:
    """Drift `clean` with k off-profile items following `kind` (see the module docstring); `items`, when
    given, are the injected items in order instead."""
    if kind not in KINDS:
        raise ValueError(f"unknown drift kind {kind!r}; valid: {', '.join(KINDS)}")
    if items is None:
        items = off_profile_items(clean, num_items, k, rng, categories=categories, forbidden=forbidden)
    n = len(clean)
    if kind == "appended":
        slots = np.full(len(items), n)
    elif kind == "mid":
        start = max(0, n - max(window - len(items), 1))
        low, high = start + (n - start) // 4, start + max(3 * (n - start) // 4, (n - start) // 4 + 1)
        slots = np.sort(rng.choice(np.arange(low, max(high, low + 1)), size=len(items)))
    elif kind == "interleaved":
        genuine = min(max(m - len(items), 1), n)
        slots = np.sort(rng.choice(np.arange(n - genuine, n + 1), size=len(items)))
    else:
        after = int(rng.integers(1, max(m - len(items), 1) + 1))
        slots = np.full(len(items), max(n - min(after, n), 0))
    return _insert(kind, clean, items, slots)


def _insert(kind: str, clean: History, items: IntArray, slots: IntArray) -> Scenario:
    """Insert items[j] before clean index slots[j] (slots sorted)."""
    out_items: list[int] = []
    out_weights: list[float] = []
    injected: list[int] = []
    pending = 0
    for index in range(len(clean) + 1):
        while pending < len(items) and slots[pending] == index:
            injected.append(len(out_items))
            out_items.append(int(items[pending]))
            out_weights.append(1.0)
            pending += 1
        if index < len(clean):
            out_items.append(int(clean.items[index]))
            out_weights.append(float(clean.weights[index]))
    positions = np.asarray(injected, dtype=np.int64)
    return Scenario(kind, as_history(out_items, out_weights), positions, items, int(positions.min(initial=0)))
