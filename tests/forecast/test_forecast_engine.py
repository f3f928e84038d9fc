"""The forecaster's numerical core on tiny generated data: leakage, SMOTE, threshold, TreeSHAP, fairness."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin

from forecast.engine import ForecastInputError, TooFewPositivesError, train_forecaster
from forecast.engine import models as forecast_models
from forecast.engine.card import governance_card
from forecast.engine.data import ForecastInput, genre_names, validate
from forecast.engine.explain import tree_shap
from forecast.engine.fairness import recall_by_group, wilson_interval
from forecast.engine.features import build_features, describe, future_outcomes, genre_column
from forecast.engine.labels import emerging, future_hit
from forecast.engine.sentiment import fit_tag_sentiment
from forecast.engine.temporal import cutoff_timestamp, split_at
from forecast.engine.threshold import choose_threshold
from forecast.engine.toy import TOY_POLICY, toy_config, toy_input

# --- temporal cutoff -------------------------------------------------------------------------------


def _features_at_cutoff(data: ForecastInput, cutoff: int) -> pd.DataFrame:
    split = split_at(data.ratings, data.tags, cutoff)
    sentiment = fit_tag_sentiment(split.observed_tags, split.observed_ratings, negative_rating=2.0, seed=0)
    return build_features(data.items, split.observed_ratings, split.observed_tags, sentiment.model, cutoff,
                          genre_names(data.items)).features


def test_nothing_after_the_cutoff_reaches_a_feature():
    data = validate(toy_input())
    cutoff = cutoff_timestamp(data.ratings, 0.75)
    before = _features_at_cutoff(data, cutoff)

    # Rewrite the future completely: other ratings, a flood of new ratings and damning tags on every item.
    future = data.ratings["timestamp"] > cutoff
    ratings = data.ratings.copy()
    ratings.loc[future, "rating"] = 0.5
    flood = pd.DataFrame({"user_id": "flood", "item_id": data.items["item_id"], "rating": 5.0,
                          "timestamp": cutoff + 1})
    tags = pd.concat([data.tags, pd.DataFrame({"user_id": "flood", "item_id": data.items["item_id"],
                                               "tag": "awful boring", "timestamp": cutoff + 1})])
    after = _features_at_cutoff(ForecastInput(ratings=pd.concat([ratings, flood]), items=data.items, tags=tags),
                                cutoff)
    pd.testing.assert_frame_equal(before, after)
    assert future.sum() > 0  # the toy data really has a future


def test_feature_building_refuses_post_cutoff_rows():
    data = validate(toy_input())
    cutoff = cutoff_timestamp(data.ratings, 0.75)
    with pytest.raises(ValueError, match="past the cutoff"):
        build_features(data.items, data.ratings, None, None, cutoff, [])


def test_labels_come_only_from_the_future():
    data = validate(toy_input(tags=False))
    cutoff = cutoff_timestamp(data.ratings, 0.75)
    split = split_at(data.ratings, None, cutoff)
    features = _features_at_cutoff(data, cutoff)
    outcomes = future_outcomes(split.future_ratings, features.index)
    candidates = emerging(features, TOY_POLICY)
    assert (features.loc[candidates, "obs_count"] < TOY_POLICY.count).all()
    labels = future_hit(outcomes.loc[candidates], pd.Series(dtype=float), TOY_POLICY)
    expected = (outcomes.loc[candidates, "future_count"] >= TOY_POLICY.count) & (
        outcomes.loc[candidates, "future_avg"] >= TOY_POLICY.avg)
    assert labels.astype(bool).equals(expected)
    assert labels.sum() >= 12


# --- SMOTE only inside training folds ---------------------------------------------------------------

CALLS: list[tuple[str, np.ndarray, np.ndarray | None]] = []


class Recorder(ClassifierMixin, BaseEstimator):
    """Logistic-like stand-in that records what it is fitted on and what it is asked to score."""

    def __init__(self, n_estimators=10, max_depth=3):
        self.n_estimators = n_estimators
        self.max_depth = max_depth

    def fit(self, X, y):
        CALLS.append(("fit", np.asarray(X), np.asarray(y)))
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        CALLS.append(("predict", np.asarray(X), None))
        score = 1 / (1 + np.exp(-np.asarray(X)[:, 0]))
        return np.column_stack([1 - score, score])

    def predict(self, X):
        return (np.asarray(X)[:, 0] > 0).astype(int)


def test_smote_resamples_training_folds_only(monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = np.zeros(120, dtype=int)
    y[:15] = 1
    X[y == 1, 0] += 2
    monkeypatch.setattr(forecast_models, "classifier", lambda name, seed: Recorder())
    CALLS.clear()
    forecast_models.tune("rf", X, y, cv_folds=3, full_grid=False, seed=0)  # its pipeline does not rescale
    real_rows = {tuple(row) for row in X}
    fits = [(inputs, labels) for kind, inputs, labels in CALLS if kind == "fit"]
    predictions = [inputs for kind, inputs, _ in CALLS if kind == "predict"]
    assert fits and predictions
    for inputs, labels in fits:  # every fit saw balanced, partly synthetic data
        assert labels.sum() == (labels == 0).sum()
        assert any(tuple(row) not in real_rows for row in inputs)
    for inputs in predictions:  # every validation fold holds only real rows, none synthetic
        assert all(tuple(row) in real_rows for row in inputs)
        assert len(inputs) in (40, 120)  # a third of the data (a fold), or all of it (the refit's scoring)
    out_of_fold = [inputs for inputs in predictions if len(inputs) == 40]
    assert len(out_of_fold) >= 6  # grid search and out-of-fold scores: 3 folds each
    assert {tuple(row) for fold in out_of_fold[-3:] for row in fold} == real_rows


# --- dynamic threshold ---------------------------------------------------------------------------------


def test_threshold_maximises_f1_subject_to_minimum_recall():
    y = np.array([1, 1, 0, 1, 0, 0, 0, 1, 0, 0])
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])
    free = choose_threshold(y, scores, min_recall=0.1)
    # F1 at ≥0.6: P 3/4, R 3/4 → 0.75, the best of all cut-offs
    assert free.threshold == pytest.approx(0.6) and free.f1 == pytest.approx(0.75)
    forced = choose_threshold(y, scores, min_recall=1.0)
    # recall 1 needs every hit: the threshold must fall to 0.2 (P 4/8, F1 2/3)
    assert forced.threshold == pytest.approx(0.2) and forced.recall == 1.0 and forced.f1 == pytest.approx(2 / 3)


def test_threshold_needs_positives():
    with pytest.raises(ValueError, match="no positives"):
        choose_threshold(np.zeros(5), np.linspace(0, 1, 5), min_recall=0.1)


# --- TreeSHAP additivity on real predictions ----------------------------------------------------------


@pytest.mark.parametrize("model", ["rf", "xgb"])
def test_tree_shap_adds_up_to_the_models_predictions(model):
    data = validate(toy_input())
    cutoff = cutoff_timestamp(data.ratings, 0.75)
    features = _features_at_cutoff(data, cutoff)
    split = split_at(data.ratings, None, cutoff)
    candidates = emerging(features, TOY_POLICY)
    y = future_hit(future_outcomes(split.future_ratings, features.index).loc[candidates], pd.Series(dtype=float),
                   TOY_POLICY).to_numpy()
    X = features.loc[candidates].to_numpy()
    tuned = forecast_models.tune(model, X, y, cv_folds=3, full_grid=False, seed=0)
    explained = tree_shap(tuned.pipeline, X)
    predicted = forecast_models.positive_probability(tuned.pipeline, X)
    total = explained.base_value + explained.values.sum(axis=1)
    if model == "xgb":  # log-odds space
        total = 1 / (1 + np.exp(-total))
    np.testing.assert_allclose(total, predicted, atol=1e-5)
    assert explained.additivity_error < 1e-5
    assert predicted.std() > 0.05  # real, varied predictions, not a constant


# --- fairness audit ----------------------------------------------------------------------------------------


def test_fairness_audit_on_a_hand_made_example():
    # 10 hits: genre A has 5 (all found), genre B 4 (1 found), genre C 1 (missed); 2 non-hits.
    y = np.array([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0])
    predicted = np.array([1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0])
    a = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 1, 0], dtype=bool)
    b = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 1], dtype=bool)
    c = np.array([0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0], dtype=bool)
    audit = recall_by_group(y, predicted, {"A": a, "B": b, "C": c}, max_gap=0.10, min_positives=3)
    groups = {g["group"]: g for g in audit["groups"]}
    assert audit["global_recall"] == 0.6
    assert groups["A"]["recall"] == 1.0 and groups["A"]["gap"] == pytest.approx(0.4) and groups["A"]["flagged"]
    # B's gap is flagged, but with 4 hits its CI still reaches the global recall
    assert groups["B"]["recall"] == 0.25 and groups["B"]["flagged"] and not groups["B"]["ci_excludes_global"]
    assert groups["B"]["ci"] == [pytest.approx(0.0456, abs=1e-4), pytest.approx(0.6994, abs=1e-4)]
    # 5 of 5 found is no proof that A's recall is above 0.6: the bootstrap's [1, 1] said it was
    assert groups["A"]["ci"] == [pytest.approx(0.5655, abs=1e-4), 1.0] and not groups["A"]["ci_excludes_global"]
    assert groups["C"]["positives"] == 1 and not groups["C"]["flagged"] and not groups["C"]["enough_positives"]


def test_wilson_interval_of_a_recall():
    assert wilson_interval(5, 5) == (pytest.approx(0.5655, abs=1e-4), 1.0)
    assert wilson_interval(0, 3) == (pytest.approx(0.0, abs=1e-12), pytest.approx(0.5615, abs=1e-4))
    low, high = wilson_interval(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-4) and high == pytest.approx(0.5962, abs=1e-4)


# --- bad input -----------------------------------------------------------------------------------------


def test_bad_input_gets_a_clear_message():
    data = toy_input(n_items=60)
    with pytest.raises(ForecastInputError, match="no real timestamps"):
        train_forecaster(ForecastInput(data.ratings, data.items, None, has_timestamps=False), toy_config())
    unrated = data.ratings.assign(rating=np.nan)
    with pytest.raises(ForecastInputError, match="no ratings"):
        train_forecaster(ForecastInput(unrated, data.items, None), toy_config())
    with pytest.raises(ForecastInputError, match="no interactions"):
        train_forecaster(ForecastInput(data.ratings.iloc[:0], data.items, None), toy_config())


def test_too_few_positives_is_a_clear_message_not_a_crash():
    data = toy_input()
    with pytest.raises(TooFewPositivesError, match="training needs at least 12") as caught:
        train_forecaster(data, toy_config(policy=TOY_POLICY.__class__(count=60, avg=3.0, neg=0.6)))
    assert caught.value.positives < 12
    assert "reach the count threshold: lower the count threshold" in str(caught.value)


def test_too_few_positives_blames_the_mean_when_enough_titles_reach_the_count():
    """Advising a lower count when the future-mean threshold is what rules the titles out would mislead."""
    with pytest.raises(TooFewPositivesError) as caught:
        train_forecaster(toy_input(), toy_config(policy=TOY_POLICY.__class__(count=TOY_POLICY.count, avg=5.0,
                                                                               neg=0.6)))
    assert "reach the count threshold but fail the mean or tag part: lower the future-mean threshold" in str(
        caught.value)


def test_without_tags_the_sentiment_feature_is_absent_and_the_card_says_so():
    run = train_forecaster(toy_input(tags=False), toy_config(models=("rf", "lr"), sensitivity=True,
                                                             sensitivity_count_scale=0.16))
    report = run.report
    assert "obs_max_neg_tag" not in run.feature_names and report["tag_features_absent"] == [
        "has_tags", "obs_tag_count", "obs_max_neg_tag"]
    assert not report["sentiment"]["available"] and "no tags" in report["sentiment"]["note"]
    card = governance_card(report, name="Forecaster v1 on toy", dataset="Toy")
    assert "The tag-sentiment feature is absent" in card and "Model Governance Card" in card
    assert report["shap"]["additivity_max_error"] < 1e-6
    assert len(report["sensitivity"]) == 27
    assert {row["count"] for row in report["sensitivity"]} == {8, 11, 14}
    assert any(row["status"] == "ok" for row in report["sensitivity"])
    assert set(report["models"]) == {"rf", "lr"} and "lr" in report["comparisons"]
    assert run.ranking["rank"].tolist() == list(range(1, len(run.ranking) + 1))
    assert run.ranking["probability"].is_monotonic_decreasing


def test_the_card_rounds_as_the_pages_do():
    """A threshold of 0.6545 read 0.654 on the card and 0.655 on the audit and emerging pages (floatformat)."""
    from django.template.defaultfilters import floatformat

    from forecast.engine.card import rounded

    for value in (0.6545, 0.6525, 0.0005, 0.98249, 2.675, -0.0045, -0.0004, -0.0):
        assert rounded(value, 3) == floatformat(value, 3), value
    assert rounded(-0.001, 2, sign=True) == "0.00"  # a difference that rounds to nothing has no sign, as on the page
    assert rounded(0.255, 2, sign=True) == "+0.26" and rounded(-0.255, 2, sign=True) == "-0.26"
    assert rounded(float("nan"), 3) == "nan"


def test_a_genre_feature_is_described_by_the_genres_own_name():
    """The curator's page read "genre is children s" for the column of "Children's"."""
    genres = ["Children's", "Film-Noir", "Sci-Fi"]
    assert describe(genre_column("Children's"), genres) == "genre is Children's"
    assert describe(genre_column("Film-Noir"), genres) == "genre is Film-Noir"
    assert describe("genre_sci_fi") == "genre is sci fi"  # no genre list: the column's own words


def test_the_lime_text_alternative_says_when_no_titles_were_compared():
    from forecast.charts import lime_summary

    assert lime_summary({"borderline": {}, "confident": {}}) == ("Agreement between LIME and TreeSHAP: no titles "
                                                                 "were compared.")
    one = {"items": 3, "top5_overlap": 0.5, "sign_agreement": 0.75, "spearman": 0.4}
    assert lime_summary({"borderline": one}).endswith("borderline (3 titles): top-5 overlap 0.50, sign agreement "
                                                      "0.75, Spearman 0.40.")
