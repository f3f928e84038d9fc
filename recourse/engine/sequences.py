"""Interaction histories and their mapping onto the model's fixed input window."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

PADDING = -1


@dataclass(frozen=True)
class History:
    """One member's interactions, oldest first; weight 0 means "not used"."""

    items: np.ndarray  # [n] int64
    weights: np.ndarray  # [n] float32

    def __len__(self) -> int:
        return len(self.items)

    def reweighted(self, new_weights: Mapping[int, float]) -> History:
        weights = self.weights.copy()
        for position, weight in new_weights.items():
            weights[position] = weight
        return History(self.items, weights)


@dataclass(frozen=True)
class EncodedBatch:
    ids: np.ndarray  # [B, L] int32
    weights: np.ndarray  # [B, L] float32
    source_positions: np.ndarray  # [B, L] caller interaction index per slot, PADDING at padding


def as_history(items: Sequence[int] | History, weights: Sequence[float] | None = None) -> History:
    if isinstance(items, History):
        return items
    item_array = np.asarray(items, dtype=np.int64).reshape(-1)
    if weights is None:
        weight_array = np.ones(len(item_array), dtype=np.float32)
    else:
        weight_array = np.asarray(weights, dtype=np.float32).reshape(-1)
    if len(weight_array) != len(item_array):
        raise ValueError(f"{len(item_array)} items but {len(weight_array)} weights")
    if np.any((weight_array < 0) | (weight_array > 1)):
        raise ValueError("weights must lie in [0, 1]")
    return History(item_array, weight_array)


def visible_positions(history: History, max_len: int) -> np.ndarray:
    """Caller indices the model sees: weight-0 dropped, last `max_len` kept."""
    kept = np.flatnonzero(history.weights != 0)
    return kept[-max_len:]


def encode(model, histories: Sequence[History]) -> EncodedBatch:
    ids, weights = model.encode_inputs(
        [h.items.tolist() for h in histories], [h.weights.tolist() for h in histories]
    )
    ids = np.asarray(ids, dtype=np.int32)
    weights = np.asarray(weights, dtype=np.float32)
    source = np.full(ids.shape, PADDING, dtype=np.int64)
    for row, history in enumerate(histories):
        kept = visible_positions(history, model.max_len)
        if len(kept):
            source[row, -len(kept):] = kept
        if not np.array_equal(ids[row][source[row] != PADDING], history.items[kept]):
            raise ValueError("model.encode_inputs does not follow CONTRACT.md (drop w=0, keep last L, left-pad)")
    return EncodedBatch(ids, weights, source)


def seen_mask(histories: Sequence[History], num_items: int) -> np.ndarray:
    """[B, N+1] True for padding column and every item already in the history."""
    mask = np.zeros((len(histories), num_items + 1), dtype=bool)
    mask[:, 0] = True
    for row, history in enumerate(histories):
        mask[row, history.items] = True
    return mask


def without_positions(history: History, positions: Sequence[int]) -> History:
    return history.reweighted({int(p): 0.0 for p in positions})
