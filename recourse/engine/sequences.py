"""Interaction histories and their mapping onto the model's fixed input window."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .protocol import ScoringModel

PADDING = -1
Positions = Sequence[int] | np.ndarray  # caller interaction indices


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


def encode(model: ScoringModel, histories: Sequence[History]) -> EncodedBatch:
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


def without_positions(history: History, positions: Positions) -> History:
    return history.reweighted({int(p): 0.0 for p in positions})


def history_before(history: History, timestamps: Sequence[float], cutoff: float) -> History:
    """Reference history for recourse baselines: only interactions strictly before `cutoff`."""
    keep = np.asarray(timestamps, dtype=np.float64) < cutoff
    return History(history.items[keep], history.weights[keep])


TRIM_BUCKET = 32
_TRIM_SUPPORT: dict[int, tuple[object, bool]] = {}


def supports_trimming(model: ScoringModel) -> bool:
    """Does the model give the same logits when leading all-padding columns are cut off?

    Not promised by CONTRACT.md, so it is checked once per model on a probe history; models
    that reject shorter inputs or change their output are never trimmed.
    """
    cached = _TRIM_SUPPORT.get(id(model))
    if cached is not None and cached[0] is model:
        return cached[1]
    supported = _probe_trimming(model)
    _TRIM_SUPPORT[id(model)] = (model, supported)
    return supported


def _probe_trimming(model: ScoringModel) -> bool:
    length = model.max_len
    short = max(1, min(length - 1, TRIM_BUCKET // 2))
    if short >= length:
        return False
    probe = [[(i % model.num_items) + 1 for i in range(short)]]
    try:
        ids, w = model.encode_inputs(probe)
        full = model.logits_from_input_embeddings(model.item_input_embeddings(ids, w), ids).numpy()
        cut_ids, cut_w = ids[:, -short:], w[:, -short:]
        cut = model.logits_from_input_embeddings(model.item_input_embeddings(cut_ids, cut_w), cut_ids).numpy()
    except Exception:  # any refusal of a shorter input means "do not trim"
        return False
    finite = np.isfinite(full)
    return cut.shape == full.shape and bool(np.allclose(full[finite], cut[finite], rtol=1e-4, atol=1e-4))


def trimmed_length(model: ScoringModel, ids: np.ndarray) -> int:
    """Columns to keep: the longest real history in the batch, rounded up to TRIM_BUCKET."""
    length = int(ids.shape[1])
    if not supports_trimming(model):
        return length
    real = int((ids != 0).sum(axis=1).max(initial=0))
    return min(length, max(TRIM_BUCKET, -(-real // TRIM_BUCKET) * TRIM_BUCKET))
