"""The importer's output contract: ``ParsedDataset`` and ``ImportFormatError``.

Pure Python + pandas; no Django. The Django loader consumes these frames as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

FORMATS = ("ml-100k", "ml-1m", "ml-latest", "recbole", "sasrec", "csv", "synthetic")

ITEM_COLUMNS = ("external_id", "title", "year", "categories")
INTERACTION_COLUMNS = ("user_id", "item_id", "timestamp", "rating", "position")
TAG_COLUMNS = ("user_id", "item_id", "tag", "timestamp")


class ImportFormatError(ValueError):
    """Bad input file. ``str(error)`` reads ``"u.data line 17: rating 'x' is not a number"``."""

    def __init__(self, path: str | Path, line: int | None, message: str):
        self.path = str(path)
        self.line = line
        self.message = message
        super().__init__(self._describe())

    def _describe(self) -> str:
        name = Path(self.path).name or self.path
        if self.line is None:
            return f"{name}: {self.message}"
        return f"{name} line {self.line}: {self.message}"


@dataclass
class ParsedDataset:
    """One dataset, normalised. Column dtypes are documented in ``recsys/importers/README.md``."""

    format: str
    items: pd.DataFrame
    interactions: pd.DataFrame
    users: pd.DataFrame | None
    tags: pd.DataFrame | None
    has_timestamps: bool
    has_categories: bool
    source_files: list[str]
    checksum: str
    field_mapping: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    profiles: pd.DataFrame | None = None

    @property
    def n_users(self) -> int:
        return int(self.interactions["user_id"].nunique())

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def n_interactions(self) -> int:
        return len(self.interactions)


def make_interactions(
    user_ids: pd.Series,
    item_ids: pd.Series,
    timestamps: np.ndarray | pd.Series | None,
    ratings: np.ndarray | pd.Series | None,
) -> pd.DataFrame:
    """Build the interactions frame; ``timestamps=None`` means ordinal (file order)."""
    count = len(user_ids)
    positions = np.arange(count, dtype=np.int64)
    frame = pd.DataFrame(
        {
            "user_id": _as_str_series(user_ids),
            "item_id": _as_str_series(item_ids),
            "timestamp": positions.copy() if timestamps is None else np.asarray(timestamps, dtype=np.int64),
            "rating": np.full(count, np.nan) if ratings is None else np.asarray(ratings, dtype=np.float64),
            "position": positions,
        }
    )
    return frame


def make_items(
    external_ids: pd.Series,
    titles: pd.Series,
    years: pd.Series | None = None,
    categories: pd.Series | None = None,
) -> pd.DataFrame:
    """Build the items frame; missing years are ``<NA>``, missing categories ``()``."""
    count = len(external_ids)
    frame = pd.DataFrame(
        {
            "external_id": _as_str_series(external_ids),
            "title": _as_str_series(titles),
            "year": pd.array([pd.NA] * count if years is None else years, dtype="Int64"),
            "categories": _tuple_series([()] * count if categories is None else list(categories)),
        }
    )
    return frame


def complete_items(items: pd.DataFrame, interactions: pd.DataFrame, warnings: list[str]) -> pd.DataFrame:
    """Drop duplicate item ids (first wins) and add a row for every referenced but unknown item."""
    duplicated = items["external_id"].duplicated()
    if duplicated.any():
        warnings.append(f"{int(duplicated.sum())} duplicate item ids in the item file; kept the first row of each")
        items = items[~duplicated]
    referenced = pd.unique(interactions["item_id"])
    missing = pd.Index(referenced).difference(pd.Index(items["external_id"]), sort=False)
    if len(missing):
        if len(items):  # no item file read at all (SASRec, RecBole without .item): none is absent from one
            warnings.append(f"{len(missing)} items interacted with but absent from the item file; titled by their id")
        missing_ids = pd.Series(missing, dtype=object)
        items = pd.concat([items, make_items(missing_ids, missing_ids)], ignore_index=True)
    return items.reset_index(drop=True)


def empty_items() -> pd.DataFrame:
    return make_items(pd.Series([], dtype=object), pd.Series([], dtype=object))


def _as_str_series(values) -> pd.Series:
    series = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    if series.dtype != object:
        series = series.astype(str).astype(object)
    return series.reset_index(drop=True)


def _tuple_series(values: list) -> pd.Series:
    return pd.Series([tuple(value) for value in values], dtype=object)
