import math

import numpy as np
import pytest

from recsys.ml import evaluation
from recsys.ml.evaluation import (
    bootstrap_ci,
    full_ranks,
    hit_rate,
    mrr,
    ndcg,
    precision,
    recall,
    sample_negatives,
    sampled_ranks,
)
from recsys.ml.popularity import MostPopular
from recsys.ml.sequences import EvalSet, Sequences

RANKS = np.array([0, 1, 4, 9, 30])  # 0-based rank of the held-out item, five users


def test_hit_rate_by_hand():
    assert hit_rate(RANKS, 1).mean() == pytest.approx(1 / 5)
    assert hit_rate(RANKS, 5).mean() == pytest.approx(3 / 5)
    assert hit_rate(RANKS, 10).mean() == pytest.approx(4 / 5)


def test_ndcg_by_hand():
    expected = (1 + 1 / math.log2(3) + 1 / math.log2(6) + 1 / math.log2(11)) / 5
    assert ndcg(RANKS, 10).mean() == pytest.approx(expected)
    assert ndcg(RANKS, 1).mean() == pytest.approx(1 / 5)


def test_precision_and_recall_with_one_relevant_item():
    assert precision(RANKS, 10).mean() == pytest.approx(4 / 5 / 10)
    assert recall(RANKS, 5).mean() == pytest.approx(3 / 5)


def test_mrr_and_accuracy_by_hand():
    assert mrr(RANKS).mean() == pytest.approx((1 + 1 / 2 + 1 / 5 + 1 / 10 + 1 / 31) / 5)
    assert evaluation.accuracy(RANKS).mean() == pytest.approx(1 / 5)


def test_full_ranks_exclude_seen_items_but_never_the_target():
    scores = np.array(
        [
            [-np.inf, 5.0, 4.0, 3.0, 2.0],  # target 3; items 1 and 2 are seen -> rank 0
            [-np.inf, 5.0, 4.0, 3.0, 2.0],  # target 4 (seen too) ; item 1 seen -> 2 and 3 beat it
            [-np.inf, 1.0, 1.0, 1.0, 1.0],  # ties count against the target
        ]
    )
    ranks = full_ranks(scores, np.array([3, 4, 1]), [np.array([1, 2]), np.array([1, 4]), np.array([])])
    assert ranks.tolist() == [0, 2, 3]


def test_sampled_ranks_count_only_real_negatives():
    scores = np.array([[-np.inf, 0.5, 0.9, 0.1, 0.7]])
    negatives = np.array([[2, 3, -1]])  # -1 = no more unseen items for this user
    assert sampled_ranks(scores, np.array([1]), negatives).tolist() == [1]


def test_negatives_are_unseen_distinct_and_seeded():
    interacted = [np.array([1, 2, 3]), np.array([5])]
    first = sample_negatives(interacted, 8, 4, np.random.default_rng(3))
    again = sample_negatives(interacted, 8, 4, np.random.default_rng(3))
    assert np.array_equal(first, again)
    for row, seen in zip(first, interacted, strict=True):
        assert len(set(row.tolist())) == 4 and not set(row.tolist()) & set(seen.tolist())
        assert 0 not in row


def test_negatives_run_out_gracefully():
    negatives = sample_negatives([np.arange(1, 9)], 10, 5, np.random.default_rng(0))
    assert sorted(negatives[0].tolist()) == [-1, -1, -1, 9, 10]


def test_uniform_sampling_covers_unseen_items_evenly():
    draws = sample_negatives([np.array([1])] * 4000, 5, 2, np.random.default_rng(0))
    counts = np.bincount(draws.ravel(), minlength=6)[2:]
    assert counts.min() / counts.max() > 0.9


def test_bootstrap_ci_brackets_the_mean_and_is_seeded():
    values = np.random.default_rng(0).random(500)
    low, high = bootstrap_ci(values, 300, seed=1)
    assert low < values.mean() < high
    assert (low, high) == bootstrap_ci(values, 300, seed=1)
    assert bootstrap_ci(np.ones(10), 50) == (1.0, 1.0)


def popularity_case():
    # items 1..6; counts favour item 1, then 2
    popularity = MostPopular(np.array([0, 50, 40, 5, 4, 3, 2]))
    histories = Sequences(["u", "v"], [np.array([1]), np.array([3])], [np.ones(1), np.ones(1)])
    eval_set = EvalSet(histories, np.array([2, 4]), [np.array([1, 2]), np.array([3, 4])])
    return popularity, eval_set


def test_both_protocols_on_the_popularity_baseline():
    popularity, eval_set = popularity_case()
    full = evaluation.evaluate(popularity, eval_set, "full", resamples=0)
    # u: item 1 is seen, item 2 is the most popular left -> rank 0
    # v: items 1 and 2 beat item 4 (item 3 seen) -> rank 2
    assert full.metrics["HR@1"] == pytest.approx(0.5)
    assert full.metrics["MRR"] == pytest.approx((1 + 1 / 3) / 2)
    sampled = evaluation.evaluate(popularity, eval_set, "sampled", num_negatives=100, resamples=0)
    # u has 4 unseen items (3..6), all less popular than 2; v has 1, 2, 5, 6 -> 1 and 2 win
    assert sampled.metrics["HR@1"] == pytest.approx(0.5)
    assert sampled.metrics["HR@5"] == pytest.approx(1.0)
    assert sampled.num_negatives == 100 and full.num_users == 2


def test_report_has_every_metric_with_ci():
    popularity, eval_set = popularity_case()
    report = evaluation.evaluate(popularity, eval_set, "full", resamples=50)
    for k in (1, 5, 10, 20):
        for name in ("HR", "NDCG", "Precision", "Recall"):
            assert f"{name}@{k}" in report.metrics and f"{name}@{k}" in report.ci
    assert {"MRR", "Accuracy"} <= set(report.metrics)
    assert report.to_dict()["protocol"] == "full"


def test_unknown_protocol_is_an_error():
    popularity, eval_set = popularity_case()
    with pytest.raises(ValueError, match="protocol"):
        evaluation.evaluate(popularity, eval_set, "leave-two-out")


def test_popularity_ranking_lists_every_item_in_top_n_order_ties_included():
    popularity = MostPopular(np.array([0, 5, 9, 5, 5, 1, 9]))
    ranking = popularity.ranking()
    assert sorted(ranking.tolist()) == [1, 2, 3, 4, 5, 6]
    assert ranking.tolist() == popularity.top_n(6)[0].tolist()
