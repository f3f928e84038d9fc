"""Temporal abstraction: features see only the past (≤ τ), labels only the future (> τ)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class TemporalSplit:
    cutoff: int
    observed_ratings: pd.DataFrame
    future_ratings: pd.DataFrame
    observed_tags: pd.DataFrame | None


def cutoff_timestamp(ratings: pd.DataFrame, quantile: float) -> int:
    """τ at a quantile of the rating timestamps (lower interpolation: τ is a real timestamp)."""
    return int(np.quantile(ratings["timestamp"].to_numpy(), quantile, method="lower"))


def split_at(ratings: pd.DataFrame, tags: pd.DataFrame | None, cutoff: int) -> TemporalSplit:
    observed = ratings["timestamp"] <= cutoff
    observed_tags = None if tags is None else tags[tags["timestamp"] <= cutoff].reset_index(drop=True)
    return TemporalSplit(
        cutoff=cutoff,
        observed_ratings=ratings[observed].reset_index(drop=True),
        future_ratings=ratings[~observed].reset_index(drop=True),
        observed_tags=observed_tags,
    )
