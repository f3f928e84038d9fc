"""The forecaster's input: ratings with timestamps, the catalogue, and (optionally) tags."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .config import ForecastInputError

RATING_COLUMNS = ("user_id", "item_id", "rating", "timestamp")
ITEM_COLUMNS = ("item_id", "title", "year", "genres")
TAG_COLUMNS = ("user_id", "item_id", "tag", "timestamp")


@dataclass(frozen=True)
class ForecastInput:
    """ratings: user_id, item_id, rating (float), timestamp (Unix seconds);
    items: item_id, title, year (float, NaN unknown), genres (tuple of names);
    tags: user_id, item_id, tag, timestamp — or None when the dataset has no tags."""

    ratings: pd.DataFrame
    items: pd.DataFrame
    tags: pd.DataFrame | None
    has_timestamps: bool = True

    @property
    def has_tags(self) -> bool:
        return self.tags is not None and not self.tags.empty


def validate(data: ForecastInput) -> ForecastInput:
    """Checks what the forecaster needs and says what is missing; returns tidy copies."""
    _require_columns(data.ratings, RATING_COLUMNS, "ratings")
    _require_columns(data.items, ITEM_COLUMNS, "items")
    if data.ratings.empty:
        raise ForecastInputError("The dataset has no interactions; the forecaster needs rated interactions.")
    if not data.has_timestamps:
        raise ForecastInputError(
            "The dataset has no real timestamps (only the order of interactions); the forecaster needs "
            "rating timestamps to separate the observed past from the future it forecasts."
        )
    ratings = data.ratings.loc[:, list(RATING_COLUMNS)].copy()
    rated = ratings["rating"].notna()
    if not rated.any():
        raise ForecastInputError(
            "The dataset has no ratings (implicit feedback only); the forecaster needs explicit ratings "
            "for the mean-rating part of the policy and for tag sentiment."
        )
    ratings = ratings[rated].astype({"rating": "float64", "timestamp": "int64"})
    if ratings["timestamp"].nunique() < 2:
        raise ForecastInputError("All ratings share one timestamp; there is no past and future to separate.")
    items = data.items.loc[:, list(ITEM_COLUMNS)].copy()
    items["year"] = pd.to_numeric(items["year"], errors="coerce").astype("float64")
    tags = None
    if data.has_tags and data.tags is not None:
        _require_columns(data.tags, TAG_COLUMNS, "tags")
        tags = data.tags.loc[:, list(TAG_COLUMNS)].astype({"timestamp": "int64", "tag": str}).copy()
        tags = tags[tags["tag"].str.strip() != ""]
    return ForecastInput(ratings=ratings.reset_index(drop=True), items=items.reset_index(drop=True),
                         tags=None if tags is None or tags.empty else tags.reset_index(drop=True),
                         has_timestamps=True)


def _require_columns(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ForecastInputError(f"The {name} table lacks the columns {', '.join(missing)}.")


def genre_names(items: pd.DataFrame) -> list[str]:
    names: set[str] = set()
    for genres in items["genres"]:
        names.update(genres)
    return sorted(names)


def as_float_array(values: pd.Series | np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)
