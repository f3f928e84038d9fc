"""Top-N recommendations for batches of raw histories (external item keys)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from recsys.ml.popularity import MostPopular
from recsys.ml.protocol import Scorer
from recsys.ml.sequences import HistoryEntry, ItemIndex, parse_entry


@dataclass
class Recommendation:
    items: list[str]
    scores: list[float]  # model logits, or training counts when ``fallback``
    fallback: bool = False  # True: no known item in the history, most-popular list
    unknown_items: list[str] = field(default_factory=list)  # ignored history keys
    truncated: bool = False  # the history was longer than L; the last L items were used

    def to_dict(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "scores": self.scores,
            "fallback": self.fallback,
            "unknown_items": self.unknown_items,
            "truncated": self.truncated,
        }


@dataclass
class ParsedHistory:
    items: np.ndarray  # kept indices (weight > 0), chronological
    weights: np.ndarray
    seen: np.ndarray  # every known index in the history, weight 0 included
    unknown: list[str]


def parse_history(history: Sequence[HistoryEntry], index: ItemIndex) -> ParsedHistory:
    pairs = [parse_entry(entry) for entry in history]
    unknown = [key for key, _ in pairs if key not in index]
    known = [(index.index_of(key), weight) for key, weight in pairs if key in index]
    kept = [(item, weight) for item, weight in known if weight > 0]
    return ParsedHistory(
        items=np.asarray([item for item, _ in kept], dtype=np.int32),
        weights=np.asarray([weight for _, weight in kept], dtype=np.float32),
        seen=np.asarray([item for item, _ in known], dtype=np.int64),
        unknown=unknown,
    )


def top_n_from_scores(scores: np.ndarray, n: int, exclude: np.ndarray) -> np.ndarray:
    """Indices of the ``n`` best finite scores, best first, skipping ``exclude``."""
    scores = scores.astype(np.float64, copy=True)
    scores[exclude] = -np.inf
    n = min(n, len(scores))
    candidates = np.argpartition(-scores, n - 1)[:n]
    order = candidates[np.argsort(-scores[candidates], kind="stable")]
    return np.asarray(order[np.isfinite(scores[order])])


def recommend(
    model: Scorer,
    index: ItemIndex,
    histories: Sequence[Sequence[HistoryEntry]],
    n: int = 10,
    popularity: MostPopular | None = None,
    exclude_seen: bool = True,
    exclude: Sequence[Sequence[str]] | None = None,
) -> list[Recommendation]:
    """Top-``n`` per history; items already in the history (even at weight 0) are excluded.

    ``exclude`` gives, per history, more item keys never to recommend (unknown keys are ignored).

    Histories are chronological lists of item keys or (item key, weight)
    pairs. Unknown keys are ignored and reported; an empty known history gets
    the most-popular list (``fallback=True``), which needs ``popularity``.
    """
    if n < 1:
        raise ValueError("n must be >= 1")
    parsed = [parse_history(history, index) for history in histories]
    if exclude is not None:
        parsed = [_with_excluded(history, keys, index) for history, keys in zip(parsed, exclude, strict=True)]
    needs_model = [row for row, history in enumerate(parsed) if len(history.items)]
    results: list[Recommendation | None] = [None] * len(parsed)
    if needs_model:
        ids, w = model.encode_inputs(
            [parsed[row].items for row in needs_model], [parsed[row].weights for row in needs_model]
        )
        scores = model.score_last(ids, w)
        for position, row in enumerate(needs_model):
            results[row] = _model_recommendation(parsed[row], scores[position], index, n, exclude_seen, model.max_len)
    for row, history in enumerate(parsed):
        if results[row] is None:
            results[row] = _fallback(history, index, n, popularity, exclude_seen)
    return [result for result in results if result is not None]  # every row got one of the two


def _with_excluded(history: ParsedHistory, keys: Sequence[str], index: ItemIndex) -> ParsedHistory:
    extra = np.asarray([index.index_of(key) for key in keys if key in index], dtype=np.int64)
    return ParsedHistory(history.items, history.weights, np.concatenate([history.seen, extra]), history.unknown)


def _model_recommendation(
    history: ParsedHistory, scores: np.ndarray, index: ItemIndex, n: int, exclude_seen: bool, max_len: int,
) -> Recommendation:
    exclude = np.concatenate([[0], history.seen]) if exclude_seen else np.zeros(1, np.int64)
    top = top_n_from_scores(scores, n, exclude)
    return Recommendation(
        items=index.decode(top),
        scores=[float(scores[item]) for item in top],
        unknown_items=history.unknown,
        truncated=len(history.items) > max_len,
    )


def _fallback(
    history: ParsedHistory, index: ItemIndex, n: int, popularity: MostPopular | None, exclude_seen: bool,
) -> Recommendation:
    if popularity is None:
        raise ValueError("a history has no known item and no popularity fallback was given")
    top, counts = popularity.top_n(n, history.seen if exclude_seen else ())
    return Recommendation(
        items=index.decode(top),
        scores=[float(count) for count in counts],
        fallback=True,
        unknown_items=history.unknown,
    )
