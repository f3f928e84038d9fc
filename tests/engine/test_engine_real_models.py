"""The engine on the real recsys.ml models (tiny configurations, untrained weights)."""
import numpy as np
import pytest

models = pytest.importorskip("recsys.ml.models")
config_module = pytest.importorskip("recsys.ml.config")

from recourse.engine.alignment import CategoryIndex, alignment, preference_profile  # noqa: E402
from recourse.engine.attribution import (  # noqa: E402
    attention_attribution,
    ig_slot_scores,
    integrated_gradients,
    occlusion_attribution,
    target_logit,
)
from recourse.engine.counterfactual import counterfactual_ranks  # noqa: E402
from recourse.engine.drift_detection import calibrate_drift, detect_drift  # noqa: E402
from recourse.engine.drift_injection import inject_drift  # noqa: E402
from recourse.engine.protocol import ExplainerUnavailable  # noqa: E402
from recourse.engine.recourse_search import plan_recourse  # noqa: E402
from recourse.engine.sequences import as_history  # noqa: E402

NUM_ITEMS, MAX_LEN = 40, 16
HISTORY = [3, 8, 15, 16, 23, 4, 30, 31]


def build(architecture: str):
    config = config_module.ModelConfig(num_items=NUM_ITEMS, max_len=MAX_LEN, hidden=16, blocks=2, heads=2,
                                       dropout=0.0, seed=7)
    model = models.build_model(architecture, config)
    model.is_trained = True  # exactness checks do not need trained weights
    return model


@pytest.fixture(scope="module")
def sasrec():
    return build("sasrec")


def test_ig_on_sasrec_is_complete_and_zero_at_padding(sasrec):
    result = integrated_gradients(sasrec, HISTORY, target_item=5)
    assert result.completeness_gap <= 0.05
    ids, w = sasrec.encode_inputs([HISTORY])
    attr, _, _ = ig_slot_scores(sasrec, target_logit, ids, w, np.array([5], np.int32), steps=50)
    assert np.all(attr[0][ids[0] == 0] == 0.0)


def test_sasrec_weight_zero_interaction_is_not_explained(sasrec):
    result = integrated_gradients(sasrec, HISTORY, 5, weights=[1, 1, 1, 0, 1, 1, 0.5, 1])
    assert 3 not in result.positions and result.items.tolist() == [h for i, h in enumerate(HISTORY) if i != 3]


def test_sasrec_occlusion_and_counterfactual_match_direct_scores(sasrec):
    occlusion = occlusion_attribution(sasrec, HISTORY, 5)
    full = sasrec.score_last(*sasrec.encode_inputs([HISTORY]))[0]
    without_first = sasrec.score_last(*sasrec.encode_inputs([HISTORY[1:]]))[0]
    assert occlusion.scores[0] == pytest.approx(full[5] - without_first[5], abs=1e-4)
    counterfactual = counterfactual_ranks(sasrec, HISTORY, 5, positions=[0])[0]
    unseen = [i for i in range(1, NUM_ITEMS + 1) if i not in HISTORY and i != 5]
    assert counterfactual.rank_after == 1 + sum(without_first[i] > without_first[5] for i in unseen)


def test_sasrec_attention_and_gru_without_attention(sasrec):
    assert attention_attribution(sasrec, HISTORY).scores.sum() == pytest.approx(1.0, abs=1e-4)
    gru = build("gru4rec")
    with pytest.raises(ExplainerUnavailable, match="gru4rec"):
        attention_attribution(gru, HISTORY)
    assert integrated_gradients(gru, HISTORY, 5).completeness_gap <= 0.05


def test_detection_and_recourse_run_end_to_end_on_sasrec(sasrec):
    matrix = np.zeros((NUM_ITEMS + 1, 4), np.float32)
    matrix[1:, :] = np.eye(4)[(np.arange(NUM_ITEMS)) // 10]
    categories = CategoryIndex(matrix)
    rng = np.random.default_rng(0)
    clean = [rng.choice(np.arange(1, 21), size=12, replace=False).tolist() for _ in range(12)]
    profiles = np.stack([preference_profile(as_history(h), categories) for h in clean])
    calibration = calibrate_drift(sasrec, clean, profiles, categories)
    injection = inject_drift(clean[0], "category", num_items=NUM_ITEMS, categories=categories, n=3, seed=0)
    report = detect_drift(sasrec, injection.history, profiles[0], categories, calibration)
    assert report.verdict in ("drift: yes", "drift: no")
    result = plan_recourse(sasrec, injection.history, profiles[0], categories, report=report, reference=clean[0])
    reference_alignment = alignment(sasrec, [as_history(clean[0])], profiles[0], categories)[0]
    assert result.alignment_target == pytest.approx(reference_alignment, abs=1e-6)
    assert result.top_after.shape == (10,)
    assert result.satisfied == (result.alignment_after >= result.alignment_target - 1e-6)


def test_padding_trimming_is_exact_on_sasrec(sasrec, monkeypatch):
    from recourse.engine import sequences

    assert sequences.supports_trimming(sasrec)
    long_model = build_long_sasrec()
    trimmed = integrated_gradients(long_model, HISTORY, 5)
    monkeypatch.setattr(sequences, "supports_trimming", lambda model: False)
    full = integrated_gradients(long_model, HISTORY, 5)
    np.testing.assert_allclose(trimmed.scores, full.scores, rtol=1e-3, atol=1e-5)
    assert trimmed.output == pytest.approx(full.output, abs=1e-4)


def build_long_sasrec():
    config = config_module.ModelConfig(num_items=NUM_ITEMS, max_len=100, hidden=16, blocks=2, heads=2, dropout=0.0,
                                       seed=7)
    model = models.build_model("sasrec", config)
    model.is_trained = True
    return model


def test_tiny_fixture_model_is_never_trimmed(tiny_model):
    from recourse.engine.sequences import supports_trimming

    assert not supports_trimming(tiny_model)  # its position table only accepts the full window
