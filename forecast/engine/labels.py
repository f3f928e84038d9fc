"""Reality check and the policy label."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .config import Policy


def emerging(features: pd.DataFrame, policy: Policy) -> pd.Index:
    """The reality check (paper, eq. 4): keep items whose observed count is below τ_count."""
    return features.index[features["obs_count"] < policy.count]


def future_hit(outcomes: pd.DataFrame, sentiment: pd.Series, policy: Policy) -> pd.Series:
    """1 when future count ≥ τ_count, future mean ≥ τ_avg and observed negative-tag score ≤ τ_neg.
    An item with no observed tags has no negative evidence and passes the sentiment part."""
    count_ok = outcomes["future_count"] >= policy.count
    avg_ok = outcomes["future_avg"].fillna(-np.inf) >= policy.avg
    sentiment_ok = sentiment.reindex(outcomes.index).fillna(0.0) <= policy.neg
    return (count_ok & avg_ok & sentiment_ok).astype(int)
