"""Readable features of each item at the cutoff, built only from ratings and tags at or before it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .sentiment import TagSentiment, item_scores

SECONDS_PER_YEAR = 365.25 * 24 * 3600
RECENT_DAYS = 90

# name -> what a curator reads in the ledger
DESCRIPTIONS = {
    "obs_count": "ratings before the cutoff",
    "obs_recent_count": f"ratings in the {RECENT_DAYS} days before the cutoff (momentum)",
    "obs_density": "ln(1 + ratings) / (years visible + 1): rating velocity",
    "obs_avg": "mean rating before the cutoff",
    "obs_std": "spread of ratings before the cutoff (polarisation)",
    "years_visible": "years between the first rating and the cutoff",
    "age_years": "years between release and the cutoff",
    "release_decade": "decade of release",
    "num_genres": "number of genres",
    "has_tags": "1 if the item was tagged before the cutoff",
    "obs_tag_count": "tags before the cutoff",
    "obs_max_neg_tag": "highest negative-sentiment probability among its tags (median if untagged)",
}
TAG_FEATURES = ("has_tags", "obs_tag_count", "obs_max_neg_tag")


@dataclass(frozen=True)
class FeatureTable:
    """features: one row per item (index item_id), numeric, NaN where unknown (imputed in the model pipeline)
    except obs_max_neg_tag (median-imputed here, as the paper does); sentiment: raw score, NaN if untagged."""

    features: pd.DataFrame
    sentiment: pd.Series
    genres: list[str]


def genre_column(name: str) -> str:
    return "genre_" + "".join(ch if ch.isalnum() else "_" for ch in name.lower())


def build_features(
    items: pd.DataFrame,
    observed_ratings: pd.DataFrame,
    observed_tags: pd.DataFrame | None,
    sentiment: TagSentiment | None,
    cutoff: int,
    genres: list[str],
) -> FeatureTable:
    """Rows for the items rated at least once at or before the cutoff (nothing after it is read)."""
    if len(observed_ratings) and int(observed_ratings["timestamp"].max()) > cutoff:
        raise ValueError("Observed ratings must not extend past the cutoff.")
    grouped = observed_ratings.groupby("item_id")
    frame = pd.DataFrame({
        "obs_count": grouped.size(),
        "obs_avg": grouped["rating"].mean(),
        "obs_std": grouped["rating"].std(ddof=0),
        "first_seen": grouped["timestamp"].min(),
    })
    recent = observed_ratings[observed_ratings["timestamp"] > cutoff - RECENT_DAYS * 86400]
    frame["obs_recent_count"] = recent.groupby("item_id").size().reindex(frame.index).fillna(0.0)
    frame["years_visible"] = (cutoff - frame.pop("first_seen")) / SECONDS_PER_YEAR
    frame["obs_density"] = np.log1p(frame["obs_count"]) / (frame["years_visible"] + 1.0)
    catalogue = items.set_index("item_id").reindex(frame.index)
    cutoff_year = pd.Timestamp(cutoff, unit="s").year + pd.Timestamp(cutoff, unit="s").dayofyear / 366.0
    frame["age_years"] = (cutoff_year - catalogue["year"]).clip(lower=0.0)
    frame["release_decade"] = (catalogue["year"] // 10) * 10
    item_genres = catalogue["genres"].apply(lambda g: g if isinstance(g, tuple) else ())
    frame["num_genres"] = item_genres.apply(len).astype(float)
    for name in genres:
        frame[genre_column(name)] = item_genres.apply(lambda g, n=name: float(n in g))
    raw_sentiment = pd.Series(np.nan, index=frame.index, dtype=np.float64)
    if sentiment is not None and observed_tags is not None:
        if len(observed_tags) and int(observed_tags["timestamp"].max()) > cutoff:
            raise ValueError("Observed tags must not extend past the cutoff.")
        tag_counts = observed_tags.groupby("item_id").size()
        frame["has_tags"] = frame.index.isin(tag_counts.index).astype(float)
        frame["obs_tag_count"] = tag_counts.reindex(frame.index).fillna(0.0)
        raw_sentiment = item_scores(sentiment, observed_tags).reindex(frame.index)
        median = float(raw_sentiment.median()) if raw_sentiment.notna().any() else 0.5
        frame["obs_max_neg_tag"] = raw_sentiment.fillna(median)
    frame = frame.astype(np.float64)
    frame.index.name = "item_id"
    return FeatureTable(features=frame, sentiment=raw_sentiment, genres=genres)


def future_outcomes(future_ratings: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
    """Count and mean rating after the cutoff (0 and NaN for items not rated again)."""
    grouped = future_ratings.groupby("item_id")["rating"]
    outcome = pd.DataFrame({"future_count": grouped.size(), "future_avg": grouped.mean()}).reindex(index)
    outcome["future_count"] = outcome["future_count"].fillna(0).astype(int)
    return outcome


def describe(name: str, genres: Sequence[str] = ()) -> str:
    """A feature in words; a genre column by the genre's own name ("genre is Children's", not its column's)."""
    if name.startswith("genre_"):
        genre = next((g for g in genres if genre_column(g) == name), name.removeprefix("genre_").replace("_", " "))
        return f"genre is {genre}"
    return DESCRIPTIONS.get(name, name)
