"""Train and audit a forecaster of emerging hits end to end (the paper's Figure 1, plus the governance stack)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from imblearn.pipeline import Pipeline
from sklearn.model_selection import train_test_split

from . import explain, fairness
from .config import MIN_POSITIVES, MODEL_LABELS, ForecastConfig, ForecastInputError, TooFewPositivesError
from .data import ForecastInput, genre_names, validate
from .features import TAG_FEATURES, FeatureTable, build_features, describe, future_outcomes
from .labels import emerging, future_hit
from .metrics import evaluate, paired_auc_difference, stratified_resamples
from .models import positive_probability, tune
from .sensitivity import run_sensitivity
from .sentiment import SentimentOutcome, TagSentiment, fit_tag_sentiment
from .temporal import TemporalSplit, cutoff_timestamp, split_at
from .threshold import choose_threshold

Progress = Callable[[float, str], None]


@dataclass
class Explanation:
    base_value: float
    contributions: list[float]
    values: list[float | None]


@dataclass
class ForecastRun:
    """What a training run produces: the report (JSON), the fitted models, and the live ranking."""

    report: dict[str, Any]
    pipelines: dict[str, Pipeline]
    sentiment: TagSentiment | None
    feature_names: list[str]
    ranking: pd.DataFrame  # item_id, probability, rank, flagged
    explanations: dict[Any, Explanation] = field(default_factory=dict)


def _quiet(percent: float, message: str = "") -> None:
    pass


@dataclass(frozen=True)
class ObservedPast:
    """Every item's features as of the cutoff, and what each went on to do after it."""

    data: ForecastInput  # validated
    cutoff: int
    split: TemporalSplit
    sentiment: SentimentOutcome
    genres: list[str]
    table: FeatureTable
    outcomes: pd.DataFrame


def observe_past(data: ForecastInput, config: ForecastConfig) -> ObservedPast:
    data = validate(data)
    cutoff = cutoff_timestamp(data.ratings, config.cutoff_quantile)
    split = split_at(data.ratings, data.tags, cutoff)
    sentiment = fit_tag_sentiment(split.observed_tags, split.observed_ratings,
                                  negative_rating=config.negative_tag_rating * config.rating_scale,
                                  seed=config.seed)
    genres = genre_names(data.items)
    table = build_features(data.items, split.observed_ratings, split.observed_tags, sentiment.model, cutoff, genres)
    return ObservedPast(data, cutoff, split, sentiment, genres, table,
                        future_outcomes(split.future_ratings, table.features.index))


def train_forecaster(data: ForecastInput, config: ForecastConfig, progress: Progress | None = None) -> ForecastRun:
    progress = progress or _quiet
    started = time.perf_counter()
    progress(2, "Separating the observed past from the future")
    past = observe_past(data, config)
    data, cutoff, split, sentiment, genres = past.data, past.cutoff, past.split, past.sentiment, past.genres
    table, outcomes = past.table, past.outcomes
    candidates = emerging(table.features, config.policy)
    labels = future_hit(outcomes.loc[candidates], table.sentiment, config.policy)
    positives = int(labels.sum())
    if positives < MIN_POSITIVES:
        reaching = int((outcomes.loc[candidates, "future_count"] >= config.policy.count).sum())
        raise TooFewPositivesError(positives, len(candidates), config.policy, reaching_count=reaching)

    names = list(table.features.columns)
    X_all = table.features.loc[candidates].to_numpy()
    y_all = labels.to_numpy()
    rows = np.arange(len(candidates))
    train_rows, test_rows = train_test_split(rows, test_size=config.test_size, stratify=y_all,
                                             random_state=config.seed)
    X_train, y_train, X_test, y_test = X_all[train_rows], y_all[train_rows], X_all[test_rows], y_all[test_rows]
    resamples = stratified_resamples(y_test, config.bootstrap, config.seed)

    pipelines: dict[str, Pipeline] = {}
    results: dict[str, Any] = {}
    test_scores: dict[str, np.ndarray] = {}
    for number, name in enumerate(config.models):
        progress(5 + 45 * number / len(config.models), f"Tuning {MODEL_LABELS[name]} (stratified CV, SMOTE in folds)")
        tick = time.perf_counter()
        tuned = tune(name, X_train, y_train, cv_folds=config.cv_folds, full_grid=config.full_grid, seed=config.seed)
        choice = choose_threshold(y_train, tuned.validation_scores, min_recall=config.min_recall)
        scores = positive_probability(tuned.pipeline, X_test)
        pipelines[name], test_scores[name] = tuned.pipeline, scores
        results[name] = {"label": MODEL_LABELS[name], "best_params": tuned.best_params,
                         "cv_auprc": round(tuned.cv_auprc, 4), "validation": vars(choice),
                         "test": evaluate(y_test, scores, choice.threshold, resamples),
                         "seconds": round(time.perf_counter() - tick, 2)}
    primary = config.primary_model
    threshold = results[primary]["test"]["threshold"]
    comparisons = {other: paired_auc_difference(y_test, test_scores[primary], test_scores[other], resamples)
                   for other in config.models if other != primary}

    progress(52, "Exact TreeSHAP on the test items")
    shap_rows = np.random.default_rng(config.seed).permutation(len(X_test))[: config.shap_rows]
    shap_test = explain.tree_shap(pipelines[primary], X_test[shap_rows])
    importance = explain.global_importance(shap_test.values, names)
    progress(58, "LIME beside TreeSHAP")
    near, confident = explain.lime_items(test_scores[primary], threshold, config.lime_items)
    lime_shap = explain.tree_shap(pipelines[primary], X_test[np.concatenate([near, confident])]).values
    lime = explain.lime_agreement(pipelines[primary], X_train, X_test, lime_shap, names, near=near,
                                  confident=confident, samples=config.lime_samples, seed=config.seed)
    progress(66, "ICE and partial dependence")
    ice_rows = np.random.default_rng(config.seed).permutation(len(X_test))[: config.ice_items]
    top = [names.index(entry["feature"]) for entry in importance[:3]]
    if "obs_max_neg_tag" in names and names.index("obs_max_neg_tag") not in top:
        top.append(names.index("obs_max_neg_tag"))  # the paper's guardrail feature is always audited
    ice = {names[i]: explain.ice_pdp(pipelines[primary], X_test[ice_rows], i) for i in top}

    progress(70, "Fairness audit")
    test_items = data.items.set_index("item_id").loc[candidates[test_rows]]
    predicted = (test_scores[primary] >= threshold).astype(int)
    audit_settings: dict[str, Any] = dict(max_gap=config.fairness_gap, min_positives=config.fairness_min_positives)
    audit = {
        "genre": fairness.recall_by_group(y_test, predicted, fairness.genre_groups(test_items["genres"]),
                                          **audit_settings),
        "decade": fairness.recall_by_group(y_test, predicted, fairness.decade_groups(test_items["year"]),
                                           **audit_settings),
    }

    sensitivity: list[dict[str, Any]] = []
    if config.sensitivity:
        progress(72, "Policy sensitivity: 27 configurations")
        sensitivity = run_sensitivity(
            table.features, outcomes, table.sentiment, model=primary, params=results[primary]["best_params"],
            config=config, progress=lambda share, message: progress(72 + 20 * share, message))

    progress(93, "Ranking today's emerging titles")
    ranking, explanations = _live_ranking(data, sentiment.model, genres, names, pipelines[primary], threshold,
                                          config)
    report = {
        "cutoff": cutoff,
        "cutoff_quantile": config.cutoff_quantile,
        "config": config.to_dict(),
        "data": {"ratings": int(len(data.ratings)), "observed_ratings": int(len(split.observed_ratings)),
                 "future_ratings": int(len(split.future_ratings)), "items": int(len(data.items)),
                 "items_seen": int(len(table.features)), "candidates": int(len(candidates)),
                 "positives": positives, "prevalence": round(positives / len(candidates), 4),
                 "train": int(len(train_rows)), "test": int(len(test_rows)), "test_positives": int(y_test.sum()),
                 "has_tags": sentiment.model is not None, "tags": 0 if data.tags is None else int(len(data.tags)),
                 "first_timestamp": int(data.ratings["timestamp"].min()),
                 "last_timestamp": int(data.ratings["timestamp"].max())},
        "sentiment": {"available": sentiment.model is not None, "note": sentiment.reason,
                      "top_terms": sentiment.model.top_terms() if sentiment.model else None},
        "features": [{"name": n, "description": describe(n, genres)} for n in names],
        "tag_features_absent": [f for f in TAG_FEATURES if f not in names],
        "models": results,
        "primary_model": primary,
        "threshold": threshold,
        "comparisons": comparisons,
        "shap": {"output_space": shap_test.output_space, "base_value": round(shap_test.base_value, 6),
                 "additivity_max_error": shap_test.additivity_error, "rows": int(len(X_test)),
                 "importance": importance},
        "lime": lime,
        "ice": ice,
        "fairness": audit,
        "sensitivity": sensitivity,
        "ranking": {"candidates": int(len(ranking)), "flagged": int(ranking["flagged"].sum()),
                    "as_of": int(data.ratings["timestamp"].max())},
        "seconds": round(time.perf_counter() - started, 1),
    }
    progress(99, "Writing the report")
    return ForecastRun(report=report, pipelines=pipelines, sentiment=sentiment.model, feature_names=names,
                       ranking=ranking, explanations=explanations)


def _live_ranking(data: ForecastInput, sentiment: TagSentiment | None, genres: list[str], names: list[str],
                  pipeline: Pipeline, threshold: float, config: ForecastConfig
                  ) -> tuple[pd.DataFrame, dict[Any, Explanation]]:
    """Today's emerging titles: features as of the last rating, the same reality check, the trained model."""
    now = int(data.ratings["timestamp"].max())
    table = build_features(data.items, data.ratings, data.tags, sentiment, now, genres)
    features = table.features.reindex(columns=names)
    candidates = emerging(features, config.policy)
    if len(candidates) == 0:
        raise ForecastInputError("No title is below the popularity threshold today; nothing to forecast.")
    X = features.loc[candidates].to_numpy()
    probability = positive_probability(pipeline, X)
    order = np.argsort(-probability, kind="stable")
    ranking = pd.DataFrame({"item_id": candidates[order], "probability": probability[order],
                            "rank": np.arange(1, len(order) + 1)})
    ranking["flagged"] = ranking["probability"] >= threshold
    top = order[: config.explain_top]
    shap_top = explain.tree_shap(pipeline, X[top])
    explanations = {
        candidates[row]: Explanation(
            base_value=shap_top.base_value,
            contributions=[round(float(v), 6) for v in shap_top.values[k]],
            values=[None if np.isnan(v) else round(float(v), 4) for v in X[row]],
        )
        for k, row in enumerate(top)
    }
    return ranking, explanations
