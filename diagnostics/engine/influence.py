"""Influences with their seed noise: Influence(-e) = eval - eval(-e), paired by seed.

For entity e and seed r, d_r = mean over evaluated users of metric(full model, seed r) minus the
same mean for the model retrained without e (seed r); the removed user is left out of both means.
The influence is the mean of d_r over the R seeds. Its noise is the seed-to-seed standard deviation
of the unablated model's metric: an influence smaller than that is labelled ``within noise``,
because a different seed moves the metric further than removing the entity does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import stats

from diagnostics.engine.exact import per_user_metrics
from diagnostics.engine.removal import Removal, user_mask

METRICS = ("NDCG@10", "MAP@10")


@dataclass(frozen=True)
class Influence:
    removal: Removal
    metric: str
    value: float  # mean over seeds of the paired difference
    per_seed: tuple[float, ...]
    noise: float  # seed-to-seed std of the unablated metric (nan with one seed)

    @property
    def within_noise(self) -> bool | None:
        """None with one seed: there is no seed noise to judge the influence against."""
        return None if np.isnan(self.noise) else bool(abs(self.value) <= self.noise)

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.removal.kind, "key": self.removal.key, "metric": self.metric, "influence": self.value,
                "per_seed": list(self.per_seed), "noise": None if np.isnan(self.noise) else self.noise,
                "within_noise": self.within_noise}


def mean_metric(ranks: np.ndarray, mask: np.ndarray, metric: str) -> float:
    return float(per_user_metrics(ranks)[metric][mask].mean())


def seed_noise(base: Mapping[int, np.ndarray], metric: str, users: list[str]) -> float:
    values = [mean_metric(ranks, np.ones(len(users), bool), metric) for ranks in base.values()]
    return float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")


def influences(
    users: list[str],
    base: Mapping[int, np.ndarray],
    ablated: Mapping[tuple[Removal, int], np.ndarray],
    metric: str = "NDCG@10",
) -> list[Influence]:
    """One Influence per removal that has a retrain for every seed of ``base``; incomplete ones are left out."""
    noise = seed_noise(base, metric, users)
    removals = sorted({removal for removal, _ in ablated}, key=lambda r: (r.kind, r.key))
    result = []
    for removal in removals:
        if not all((removal, seed) in ablated for seed in base):
            continue
        mask = user_mask(users, removal)
        diffs = tuple(mean_metric(base[seed], mask, metric) - mean_metric(ablated[(removal, seed)], mask, metric)
                      for seed in sorted(base))
        result.append(Influence(removal, metric, float(np.mean(diffs)), diffs, noise))
    return result


def spearman(left: list[float], right: list[float]) -> float:
    if len(left) < 3 or np.std(left) == 0 or np.std(right) == 0:
        return float("nan")
    return float(stats.spearmanr(left, right).statistic)
