"""Hyper-parameters chosen from the data for every field the user left unset (issue 23).

Each automatic choice is written to ``ModelConfig.auto`` (field -> the reason, with the figures it was
made from), so the model card shows it; any field the user sets wins. The rules and the runs behind
the numbers are in docs/tuning-sparse.md.

* loss: the full softmax while the catalogue has at most ``FULL_SOFTMAX_MAX_ITEMS`` items (its step
  then costs at most ~4.7x a 1,000-negative sampled one), above that the sampled softmax (3,000 shared
  negatives, log-Q corrected, listed as ``num_sampled``), whose cost does not grow with the catalogue;
* max_len (SASRec, TCN): ``MIN_MAX_LEN`` (50) when the median training history is at most that long
  (review data), else ``MAX_MAX_LEN`` (200, MovieLens data): the split SASRec, Klenitskiy & Vasilev
  and gSASRec all use, and L 200 beat the median rule's 70 on ml-latest-small's validation; batches are
  padded per length bucket, so a window longer than most histories costs little;
* dropout: 0.2 only for data both large and dense (SASRec's ML-1M setting), 0.5 otherwise (SASRec's
  setting for sparse data, and the best of 0.2 / 0.3 / 0.5 on MovieLens-100K);
* eval_every: chosen during training from the measured cost (``training.ValidationSchedule``);
* SASRec's width: d = 128 with 2 heads, the tuned MovieLens-100K setting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from recsys.ml.config import ModelConfig
from recsys.ml.sequences import Sequences

FULL_SOFTMAX_MAX_ITEMS = 12_000  # where a full-softmax step costs ~4.7x a sampled one (docs/benchmarks.md)
FULL_SOFTMAX_FIXED_MS, FULL_SOFTMAX_MS_PER_ITEM, SAMPLED_STEP_MS = 450.0, 0.17, 520.0  # measured, d = 128
NEGATIVE_SAMPLING_LOSSES = ("sampled", "gbce")
# Negatives shared by a batch. Sampled softmax: 3,000 (Klenitskiy & Vasilev 2023's setting) matched the full
# CE on validation on the review-shaped set where 1,000 fell short (docs/tuning-sparse.md, session 2), at
# 1.6x the 1,000-negative step; gBCE keeps the ModelConfig default.
SAMPLED_NEGATIVES, GBCE_NEGATIVES = 3000, 1000
MIN_MAX_LEN, MAX_MAX_LEN = 50, 200
DENSE_MIN_INTERACTIONS = 500_000
DENSE_MIN_DENSITY = 0.01
DENSE_DROPOUT, SPARSE_DROPOUT = 0.2, 0.5
WINDOW_ARCHITECTURES = ("sasrec", "tcn")  # GRU4Rec was tuned best with the whole history (L = 200)
ARCHITECTURE_DEFAULTS: dict[str, dict[str, Any]] = {
    "sasrec": {"hidden": 128, "heads": 2},
    "gru4rec": {"blocks": 1},
}


@dataclass(frozen=True)
class DataProfile:
    """What the automatic choices read from the training histories."""

    users: int
    items: int
    interactions: int
    median_length: float

    @property
    def density(self) -> float:
        return self.interactions / max(self.users * self.items, 1)

    @classmethod
    def of(cls, train: Sequences, num_items: int) -> DataProfile:
        lengths = train.lengths()
        median = float(np.median(lengths)) if len(lengths) else 0.0
        return cls(len(train), num_items, int(lengths.sum()), median)


def choose_config(architecture: str, given: Mapping[str, Any], profile: DataProfile) -> ModelConfig:
    """The user's fields as given; every other data-dependent field chosen from ``profile``."""
    given = {name: value for name, value in given.items() if name != "auto"}
    choices: dict[str, tuple[Any, str]] = {
        "loss": _loss(profile),
        "dropout": _dropout(profile),
        "eval_every": (0, "measured during training"),
    }
    if architecture in WINDOW_ARCHITECTURES:
        choices["max_len"] = _max_len(profile)
    for name, value in ARCHITECTURE_DEFAULTS.get(architecture, {}).items():
        choices[name] = (value, f"{value}: tuned for {architecture} on MovieLens-100K (docs/tuning-ml100k.md)")
    loss = given.get("loss", choices["loss"][0])
    if loss in NEGATIVE_SAMPLING_LOSSES:
        choices["num_sampled"] = _negatives(loss)
    chosen = {name: choice for name, choice in choices.items() if name not in given}
    if "heads" in chosen and given.get("hidden", chosen.get("hidden", (0,))[0]) % chosen["heads"][0]:
        chosen["heads"] = (1, "1: the given width is odd")
    values = {name: value for name, (value, _) in chosen.items()}
    reasons = {name: reason for name, (_, reason) in chosen.items()}
    return ModelConfig.from_dict({**values, **given, "auto": reasons})


def _loss(profile: DataProfile) -> tuple[str, str]:
    if profile.items <= FULL_SOFTMAX_MAX_ITEMS:
        return "full", f"full: {profile.items:,} items <= {FULL_SOFTMAX_MAX_ITEMS:,}, the full softmax is affordable"
    return "sampled", (
        f"sampled: {profile.items:,} items > {FULL_SOFTMAX_MAX_ITEMS:,}; a full-softmax step would cost about "
        f"{_full_softmax_cost_ratio(profile.items):.0f}x a sampled one"
    )


def _negatives(loss: str) -> tuple[int, str]:
    shared = "negatives shared by each batch"
    if loss == "gbce":
        return GBCE_NEGATIVES, (
            f"{GBCE_NEGATIVES}: {shared}, drawn uniformly, for gBCE (gSASRec: Petrov & Macdonald 2023 use 256 "
            "uniform negatives per positive, calibration t = 0.75, the default gbce_t)"
        )
    return SAMPLED_NEGATIVES, (
        f"{SAMPLED_NEGATIVES:,}: {shared}, drawn from the sampling proposal and log-Q corrected; SASRec needs "
        "many negatives, not its original one (Klenitskiy & Vasilev 2023 sample 3,000); on review-shaped "
        "data 3,000 matched the full softmax on validation where 1,000 fell short, and a step costs about "
        "the same at any catalogue size"
    )


def _full_softmax_cost_ratio(items: int) -> float:
    """Full / sampled step cost, fitted to benchmarks/loss_cost.py (docs/benchmarks.md, issue 23)."""
    return (FULL_SOFTMAX_FIXED_MS + FULL_SOFTMAX_MS_PER_ITEM * items) / SAMPLED_STEP_MS


def _max_len(profile: DataProfile) -> tuple[int, str]:
    if profile.median_length > MIN_MAX_LEN:
        return MAX_MAX_LEN, (
            f"{MAX_MAX_LEN}: long histories (median {profile.median_length:.0f} items > {MIN_MAX_LEN}); the "
            "MovieLens setting of SASRec, Klenitskiy & Vasilev and gSASRec, and the best of 70 / 200 on "
            "validation on ml-latest-small"
        )
    return MIN_MAX_LEN, (
        f"{MIN_MAX_LEN}: short histories (median {profile.median_length:.0f} items <= {MIN_MAX_LEN}); the "
        "review-data setting of SASRec and Klenitskiy & Vasilev"
    )


def _dropout(profile: DataProfile) -> tuple[float, str]:
    figures = f"{profile.interactions:,} interactions, density {profile.density:.2%}"
    if profile.interactions >= DENSE_MIN_INTERACTIONS and profile.density >= DENSE_MIN_DENSITY:
        return DENSE_DROPOUT, f"{DENSE_DROPOUT}: large and dense data ({figures})"
    return SPARSE_DROPOUT, (
        f"{SPARSE_DROPOUT}: small or sparse data ({figures}; dense means >= {DENSE_MIN_INTERACTIONS:,} "
        f"interactions and >= {DENSE_MIN_DENSITY:.0%} density)"
    )
