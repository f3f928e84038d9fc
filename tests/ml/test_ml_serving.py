import numpy as np
import pytest

from recsys.ml.pipeline import TrainedRecommender
from recsys.ml.serving import recommend


def test_top_n_excludes_seen_items_including_weight_zero(trained_sasrec):
    history = [("item0", 1.0), ("item1", 1.0), ("item2", 0.0)]
    (result,) = trained_sasrec.recommend([history], n=5)
    assert len(result.items) == 5 and not {"item0", "item1", "item2"} & set(result.items)
    assert result.scores == sorted(result.scores, reverse=True)
    assert not result.fallback and not result.truncated


def test_cluster_walk_is_recommended(trained_sasrec):
    (result,) = trained_sasrec.recommend([["item8", "item9", "item10", "item11"]], n=1)
    assert result.items == ["item12"]


def test_unknown_items_are_ignored_and_reported(trained_sasrec):
    with_unknown, plain = trained_sasrec.recommend([["nope", "item3", "item4"], ["item3", "item4"]])
    assert with_unknown.unknown_items == ["nope"] and plain.unknown_items == []
    assert with_unknown.items == plain.items
    np.testing.assert_allclose(with_unknown.scores, plain.scores, rtol=1e-6)


def test_empty_or_unknown_history_falls_back_to_most_popular(trained_sasrec):
    empty, unknown, removed = trained_sasrec.recommend([[], ["nope"], [("item3", 0.0)]], n=3)
    assert empty.fallback and unknown.fallback and removed.fallback
    assert empty.items == [trained_sasrec.index.key_of(i) for i in trained_sasrec.popularity.top_n(3)[0]]
    assert "item3" not in removed.items and unknown.unknown_items == ["nope"]


def test_fallback_without_popularity_is_a_clear_error(trained_sasrec):
    with pytest.raises(ValueError, match="popularity"):
        recommend(trained_sasrec.model, trained_sasrec.index, [[]])


def test_long_history_uses_the_last_l_items(trained_sasrec):
    max_len = trained_sasrec.model.max_len
    tail = [f"item{i % 8}" for i in range(max_len)]
    long_history = [f"item{16 + i % 8}" for i in range(5)] + tail
    (long_result,) = trained_sasrec.recommend([long_history], n=3, exclude_seen=False)
    (tail_result,) = trained_sasrec.recommend([tail], n=3, exclude_seen=False)
    assert long_result.truncated and not tail_result.truncated
    assert long_result.items == tail_result.items


def test_saved_recommender_serves_identically(trained, tmp_path):
    histories = [["item1", "item2", ("item3", 0.5)], [], ["item20"]]
    trained.save(tmp_path / "bundle")
    loaded = TrainedRecommender.load(tmp_path / "bundle")
    assert [r.to_dict() for r in loaded.recommend(histories)] == [r.to_dict() for r in trained.recommend(histories)]


def test_pipeline_evaluates_model_and_baseline_under_both_protocols(trained_sasrec):
    reports = trained_sasrec.evaluate(resamples=20)
    assert set(reports) == {"sampled", "full"}
    for protocol in reports.values():
        assert set(protocol) == {"model", "most-popular"}
        assert protocol["model"].metrics["HR@10"] >= protocol["most-popular"].metrics["HR@10"]
