"""How reproducible exact influences are across training seeds, and how well anything can correlate with them.

An exact influence measured with R seeds is a mean of R noisy paired differences. Its reliability (the share
of its variance across entities that is not seed noise) bounds every correlation with it: an approximation
correlating perfectly with the true (infinite-seed) influence would still show only sqrt(reliability).

* ``split_half``: the entities' mean influence over one random half of the seeds against the other half,
  averaged over random splits, stepped up to all R seeds by the Spearman-Brown formula.
* ``disattenuated``: the observed correlation divided by sqrt(reliability) (Spearman 1904), an estimate of the
  correlation with the noise-free influence; it can exceed 1 when the reliability is underestimated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class SplitHalf:
    half: float  # mean Spearman between the two half-seed means
    reliability: float  # stepped up to all seeds (Spearman-Brown)
    splits: int

    def to_dict(self) -> dict[str, float | int]:
        return {"half": self.half, "reliability": self.reliability, "splits": self.splits}


def rank_correlation(left: np.ndarray, right: np.ndarray) -> float:
    if len(left) < 3 or np.std(left) == 0 or np.std(right) == 0:
        return float("nan")
    return float(stats.spearmanr(left, right).statistic)


def spearman_brown(correlation: float, factor: float) -> float:
    """Reliability of a mean over ``factor`` times as many seeds as the one with ``correlation``."""
    return factor * correlation / (1.0 + (factor - 1.0) * correlation)


def split_half(per_seed: np.ndarray, rng: np.random.Generator, splits: int = 200) -> SplitHalf:
    """``per_seed``: [entities, R] influences; halves of R // 2 seeds each (one seed unused when R is odd)."""
    seeds = per_seed.shape[1]
    if seeds < 2:
        return SplitHalf(float("nan"), float("nan"), 0)
    half = seeds // 2
    values = []
    for _ in range(splits):
        order = rng.permutation(seeds)
        values.append(rank_correlation(per_seed[:, order[:half]].mean(1), per_seed[:, order[half:2 * half]].mean(1)))
    mean = float(np.nanmean(values)) if not np.all(np.isnan(values)) else float("nan")
    return SplitHalf(mean, spearman_brown(mean, seeds / half), splits)


def pairwise_seed_agreement(per_seed: np.ndarray) -> float:
    """Mean Spearman between the influences of two single seeds, over every pair of seeds."""
    seeds = per_seed.shape[1]
    values = [rank_correlation(per_seed[:, a], per_seed[:, b]) for a in range(seeds) for b in range(a + 1, seeds)]
    return float(np.nanmean(values)) if values and not np.all(np.isnan(values)) else float("nan")


def disattenuated(correlation: float, reliability: float, other_reliability: float = 1.0) -> float:
    if not reliability > 0 or not other_reliability > 0:
        return float("nan")
    return correlation / float(np.sqrt(reliability * other_reliability))


def bootstrap_rank_correlation(
    left: np.ndarray, right: np.ndarray, rng: np.random.Generator, resamples: int = 1000
) -> tuple[float, float, float]:
    """Spearman with a 95 % percentile interval from resampling the entities."""
    observed = rank_correlation(left, right)
    draws = []
    for _ in range(resamples):
        rows = rng.integers(0, len(left), len(left))
        draws.append(rank_correlation(left[rows], right[rows]))
    low, high = np.nanpercentile(draws, [2.5, 97.5])
    return observed, float(low), float(high)


def seed_confidence_excludes_zero(per_seed: np.ndarray) -> np.ndarray:
    """Per entity: does the 95 % t interval of its mean paired difference over seeds exclude 0?"""
    seeds = per_seed.shape[1]
    mean = per_seed.mean(1)
    if seeds < 2:
        return np.zeros(len(per_seed), dtype=bool)
    half = stats.t.ppf(0.975, seeds - 1) * per_seed.std(1, ddof=1) / np.sqrt(seeds)
    return np.asarray(np.abs(mean) > half)
