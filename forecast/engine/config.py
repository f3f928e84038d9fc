"""Settings of one forecaster: the governance policy, the temporal protocol and the training budget."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

# Below this many positives a 75/25 split leaves too few hits to tune, choose a threshold and test.
MIN_POSITIVES = 12
MODEL_NAMES = ("rf", "xgb", "lr", "mlp")
MODEL_LABELS = {"rf": "Random Forest", "xgb": "XGBoost", "lr": "Logistic Regression", "mlp": "MLP"}
TREE_MODELS = ("rf", "xgb")


class ForecastInputError(ValueError):
    """The data cannot support a forecast; the message says what the forecaster needs."""


class TooFewPositivesError(ForecastInputError):
    """``reaching_count``: how many candidates reach the count threshold alone, so the message can say which part
    of the policy leaves too few (advising a lower count when the mean rules them out would mislead)."""

    def __init__(self, positives: int, candidates: int, policy: Policy, reaching_count: int | None = None) -> None:
        self.positives = positives
        self.candidates = candidates
        if reaching_count is not None and reaching_count >= MIN_POSITIVES:
            advice = (f"{reaching_count:,} reach the count threshold but fail the mean or tag part: lower the "
                      "future-mean threshold, raise the negative-tag one, or use a larger dataset.")
        else:
            counted = "" if reaching_count is None else f"Only {reaching_count:,} reach the count threshold: "
            advice = f"{counted}lower the count threshold, move the cutoff earlier, or use a larger dataset."
        super().__init__(
            f"Only {positives} of {candidates:,} emerging candidates are future hits under the policy "
            f"(future count ≥ {policy.count}, future mean ≥ {policy.avg}, negative-tag score ≤ {policy.neg}); "
            f"training needs at least {MIN_POSITIVES}. {advice[0].upper()}{advice[1:]}"
        )


@dataclass(frozen=True)
class Policy:
    """What a "future hit" is: count and mean rating after the cutoff, and observed tag sentiment."""

    count: int = 60
    avg: float = 3.0
    neg: float = 0.6

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ForecastInputError(f"The count threshold must be at least 1, not {self.count}.")
        if not 0.0 <= self.neg <= 1.0:
            raise ForecastInputError(f"The negative-sentiment threshold must be in [0, 1], not {self.neg}.")


# The paper's Table 8 grid.
SENSITIVITY_COUNTS = (50, 70, 90)
SENSITIVITY_AVGS = (2.5, 3.0, 3.5)
SENSITIVITY_NEGS = (0.5, 0.6, 0.7)


@dataclass(frozen=True)
class ForecastConfig:
    policy: Policy = field(default_factory=Policy)
    cutoff_quantile: float = 0.75
    negative_tag_rating: float = 2.0  # a tag is negative when its author rated the item at most this
    min_recall: float = 0.10  # the dynamic threshold maximises F1 subject to recall ≥ this (on validation)
    test_size: float = 0.25
    cv_folds: int = 3
    models: tuple[str, ...] = MODEL_NAMES
    primary_model: str = "rf"  # the forecaster that ranks titles and is explained with TreeSHAP
    full_grid: bool = True  # the paper's grids; False: one setting per model (tests, quick runs)
    bootstrap: int = 1000
    lime_items: int = 20
    lime_samples: int = 1000
    ice_items: int = 50
    sensitivity: bool = True
    sensitivity_count_scale: float = 1.0  # multiplies the grid's counts 50/70/90 for small datasets
    # The dataset's rating top over five stars: the paper's rating thresholds are on five stars, so the sensitivity
    # grid's τ_avg (2.5/3/3.5) and negative_tag_rating are multiplied by it (a 1-10 scale: 2.0). τ_avg of the
    # policy itself is given on the dataset's own scale.
    rating_scale: float = 1.0
    fairness_gap: float = 0.10  # a subgroup whose recall is this far from the global recall is flagged
    fairness_min_positives: int = 3
    explain_top: int = 100  # titles of the live ranking that get a stored SHAP explanation
    shap_rows: int = 400  # test titles explained for the global importance and the additivity check
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.05 <= self.cutoff_quantile <= 0.95:
            raise ForecastInputError("The cutoff quantile must be between 0.05 and 0.95.")
        unknown = set(self.models) - set(MODEL_NAMES)
        if unknown or not self.models:
            raise ForecastInputError(f"Models must be among {', '.join(MODEL_NAMES)}; got {sorted(self.models)}.")
        if self.primary_model not in TREE_MODELS or self.primary_model not in self.models:
            raise ForecastInputError("The primary model must be a trained tree model (rf or xgb) for TreeSHAP.")
        if not 0.0 < self.min_recall <= 1.0:
            raise ForecastInputError("The minimum recall must be in (0, 1].")
        if not self.rating_scale > 0:
            raise ForecastInputError(f"The rating scale must be above 0, not {self.rating_scale}.")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["models"] = list(self.models)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ForecastConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known - {"policy"}
        if unknown:
            raise ForecastInputError(f"Unknown forecaster settings: {', '.join(sorted(unknown))}.")
        values = {k: v for k, v in data.items() if k in known and k != "policy"}
        if "models" in values:
            values["models"] = tuple(values["models"])
        policy = Policy(**data.get("policy", {}))
        return replace(cls(policy=policy), **values)
