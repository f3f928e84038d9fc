"""Governance layer 3: equality of opportunity — recall of future hits by genre and by release decade."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

Z95 = 1.959963984540054


def wilson_interval(found: int, positives: int) -> tuple[float, float]:
    """95% Wilson score interval of a proportion found / positives.

    A subgroup's recall is a proportion of a handful of hits; the percentile bootstrap of 5 found out of 5 is
    [1, 1], which made a five-hit subgroup "significantly" better than a global recall of 0.74. Wilson's
    interval for 5 of 5 is [0.57, 1].
    """
    share = found / positives
    scale = 1 + Z95**2 / positives
    centre = (share + Z95**2 / (2 * positives)) / scale
    half = Z95 * np.sqrt(share * (1 - share) / positives + Z95**2 / (4 * positives**2)) / scale
    return max(0.0, float(centre - half)), min(1.0, float(centre + half))


def subgroup_interval(found: int, positives: int, *, enough: bool, global_recall: float) -> dict[str, Any]:
    """A subgroup's 95% Wilson interval (rounded as stored) and whether it excludes the global recall; the audit
    page recomputes reports stored with bootstrap intervals through this too."""
    low, high = wilson_interval(found, positives)
    return {"ci": [round(low, 4), round(high, 4)],
            "ci_excludes_global": bool(enough and (low > global_recall or high < global_recall))}


def recall_by_group(
    y: np.ndarray, predicted: np.ndarray, groups: dict[str, np.ndarray], *, max_gap: float, min_positives: int,
) -> dict[str, Any]:
    """groups maps a subgroup name to a boolean mask over the rows (subgroups may overlap, as genres do).
    A subgroup is flagged when it has at least min_positives hits and its recall differs from the global
    recall by at least max_gap; `ci_excludes_global` says whether the gap survives its 95% Wilson interval."""
    hits = y == 1
    global_recall = float(predicted[hits].mean()) if hits.any() else float("nan")
    rows = []
    for name, mask in groups.items():
        found = predicted[hits & mask]
        positives = int(found.size)
        if positives == 0:
            continue
        recall = float(found.mean())
        enough = positives >= min_positives
        gap = recall - global_recall
        rows.append({
            "group": str(name), "positives": positives, "found": int(found.sum()), "recall": round(recall, 4),
            "gap": round(gap, 4), "flagged": bool(enough and abs(gap) >= max_gap), "enough_positives": enough,
            **subgroup_interval(int(found.sum()), positives, enough=enough, global_recall=global_recall),
        })
    return {"global_recall": round(global_recall, 4), "max_gap": max_gap, "min_positives": min_positives,
            "groups": rows}


def genre_groups(genres: pd.Series) -> dict[str, np.ndarray]:
    names = sorted({g for item in genres for g in item})
    return {name: genres.apply(lambda item, n=name: n in item).to_numpy(dtype=bool) for name in names}


def decade_groups(years: pd.Series) -> dict[str, np.ndarray]:
    decades = (years // 10 * 10).astype("Int64")
    groups = {f"{int(d)}s": (decades == d).fillna(False).to_numpy(dtype=bool)
              for d in sorted(decades.dropna().unique())}
    unknown = years.isna().to_numpy()
    if unknown.any():
        groups["year unknown"] = unknown
    return groups
