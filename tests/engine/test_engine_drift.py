import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon

from recourse.engine.alignment import CategoryIndex, next_item_probabilities
from recourse.engine.drift_injection import inject_drift
from recourse.engine.drift_metrics import (
    algorithmic_drift_score,
    delta_target_consumption,
    drift_metrics,
    drift_metrics_from_logits,
    jensen_shannon,
    top_k_category_distribution,
    top_k_items,
)

NUM_ITEMS = 12


def four_category_index() -> CategoryIndex:
    """Items 1-3 -> c0, 4-6 -> c1, 7-9 -> c2, 10-12 -> c3."""
    matrix = np.zeros((NUM_ITEMS + 1, 4), np.float32)
    for item in range(1, NUM_ITEMS + 1):
        matrix[item, (item - 1) // 3] = 1
    return CategoryIndex(matrix)


def scipy_jsd(p, q) -> float:
    return jensenshannon(p, q, base=2) ** 2


@pytest.mark.parametrize(
    "p, q",
    [
        ([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]),  # identical -> 0
        ([1.0, 0.0, 0.0], [0.0, 0.5, 0.5]),  # disjoint -> 1
        ([0.1, 0.6, 0.3], [0.5, 0.25, 0.25]),  # in between
        ([3.0, 1.0, 0.0], [1.0, 1.0, 2.0]),  # unnormalised, with a zero
    ],
)
def test_jensen_shannon_equals_scipy(p, q):
    assert jensen_shannon(np.array(p), np.array(q))[0] == pytest.approx(scipy_jsd(p, q), abs=1e-12)


def test_jensen_shannon_extremes_and_vectorised():
    p = np.array([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.1, 0.6, 0.3]])
    q = np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0], [0.5, 0.25, 0.25]])
    values = jensen_shannon(p, q)
    assert values[0] == 0.0 and values[1] == pytest.approx(1.0)
    assert values[2] == pytest.approx(scipy_jsd(p[2], q[2]))


def test_ads_is_jsd_of_next_item_softmax():
    rng = np.random.default_rng(0)
    before, after = rng.normal(size=(2, 5, NUM_ITEMS + 1))
    before[:, 0] = after[:, 0] = -np.inf
    ads = algorithmic_drift_score(before, after)
    p, q = next_item_probabilities(before), next_item_probabilities(after)
    expected = [scipy_jsd(p[row], q[row]) for row in range(5)]
    np.testing.assert_allclose(ads, expected, atol=1e-12)
    assert np.all((ads >= 0) & (ads <= 1))


def test_dtc_hand_example():
    categories = four_category_index()
    top_before = np.array([[1, 2, 4, 5, 7, 8, 10, 11, 3, 6]])  # c3 share: 10, 11 -> 2/10
    top_after = np.array([[10, 11, 12, 1, 2, 4, 5, 7, 8, 3]])  # c3 share: 10, 11, 12 -> 3/10
    dtc = delta_target_consumption(top_before, top_after, categories, np.array([3]))
    assert dtc[0] == pytest.approx(0.1)


def test_category_ads_over_top_k_categories():
    categories = four_category_index()
    all_c0 = np.array([[1, 2, 3]])
    all_c1 = np.array([[4, 5, 6]])
    distribution = top_k_category_distribution(all_c0, categories)
    assert distribution.tolist() == [[3, 0, 0, 0, 0]]  # last column: uncategorised
    same = jensen_shannon(distribution, distribution)[0]
    disjoint = jensen_shannon(distribution, top_k_category_distribution(all_c1, categories))[0]
    assert same == 0.0 and disjoint == pytest.approx(1.0)


def test_top_k_excludes_seen_items():
    logits = np.arange(NUM_ITEMS + 1, dtype=np.float32)[None]
    seen = np.zeros((1, NUM_ITEMS + 1), bool)
    seen[0, [12, 11]] = True
    assert top_k_items(logits, seen, k=3).tolist() == [[10, 9, 8]]


def test_metrics_without_categories_give_ads_only():
    rng = np.random.default_rng(1)
    before, after = rng.normal(size=(2, 3, NUM_ITEMS + 1))
    metrics = drift_metrics_from_logits(before, after)
    assert metrics.ads.shape == (3,)
    assert metrics.dtc is None and metrics.category_ads is None
    assert "no item categories" in metrics.reason


def test_drift_metrics_on_model_use_injected_dominant_category(world):
    history = world.clean[0]
    injection = inject_drift(history, "category", num_items=world.model.num_items, categories=world.categories, seed=1)
    metrics = drift_metrics(
        world.model, [history], [injection.history], categories=world.categories,
        injected_items=[injection.injected_items],
    )
    assert metrics.target_categories[0] == injection.target_category
    assert 0 < metrics.ads[0] <= 1 and 0 <= metrics.dtc[0] <= 1


# --- injection --------------------------------------------------------------------------------------

HISTORY = [1, 2, 3, 1, 2, 3, 4, 5, 2, 1]  # mostly c0, some c1; c2 and c3 never seen


def test_random_injection_appends_unseen_items_reproducibly():
    first = inject_drift(HISTORY, "random", num_items=NUM_ITEMS, n=5, seed=7)
    again = inject_drift(HISTORY, "random", num_items=NUM_ITEMS, n=5, seed=7)
    assert first.injected_positions.tolist() == [10, 11, 12, 13, 14]
    assert first.history.items.tolist()[:10] == HISTORY
    assert not set(first.injected_items) & set(HISTORY)
    assert len(set(first.injected_items)) == 5
    assert first.injected_items.tolist() == again.injected_items.tolist()


def test_category_injection_uses_least_represented_categories():
    result = inject_drift(HISTORY, "category", num_items=NUM_ITEMS, categories=four_category_index(), n=5, seed=0)
    assert set(result.injected_items) <= {7, 8, 9, 10, 11, 12}  # c2 / c3, never seen
    assert result.target_category in (2, 3)
    assert result.injected_positions.tolist() == [10, 11, 12, 13, 14]


def test_temporal_injection_inserts_mid_history():
    result = inject_drift(HISTORY, "temporal", num_items=NUM_ITEMS, categories=four_category_index(), n=3, seed=0)
    items = result.history.items
    assert len(items) == 13
    assert result.injected_positions.max() < 12  # not simply appended
    assert items[result.injected_positions].tolist() == result.injected_items.tolist()
    kept = np.delete(items, result.injected_positions)
    assert kept.tolist() == HISTORY


def test_temporal_injection_at_chosen_positions():
    result = inject_drift(HISTORY, "temporal", num_items=NUM_ITEMS, n=2, seed=0, positions=[2, 5],
                          temporal_source="random")
    assert result.injected_positions.tolist() == [2, 6]


def test_category_injection_without_categories_falls_back_to_random():
    result = inject_drift(HISTORY, "category", num_items=NUM_ITEMS, n=3, seed=0)
    assert result.target_category is None and len(result.injected_items) == 3


def test_unknown_strategy_is_rejected():
    with pytest.raises(ValueError, match="random, category, temporal"):
        inject_drift(HISTORY, "adversarial", num_items=NUM_ITEMS)


def test_raw_category_matrix_is_accepted_and_wrapped_once():
    from recourse.engine.alignment import as_categories, preference_profile

    matrix = four_category_index().matrix
    assert as_categories(matrix) is as_categories(matrix)
    assert preference_profile([1, 2, 4, 12], matrix).tolist() == [0.5, 0.25, 0.0, 0.25]
    injection = inject_drift(HISTORY, "category", num_items=NUM_ITEMS, categories=matrix, n=2, seed=0)
    assert injection.target_category in (2, 3)
