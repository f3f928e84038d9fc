import json

import numpy as np
import pytest

from recourse.engine.detection_quality import detection_quality, precision_at_k, roc_auc
from recourse.engine.drift_detection import (
    IG_ALIGNMENT,
    PAPER_RULE,
    DriftCalibration,
    RecencyNorm,
    detect_drift,
    detect_drift_batch,
)
from recourse.engine.drift_injection import inject_drift


def inject(world, history, strategy, seed):
    return inject_drift(history, strategy, num_items=world.model.num_items, categories=world.categories, seed=seed,
                        window=world.model.max_len)


def test_roc_auc_and_precision_hand_examples():
    scores = np.array([0.9, 0.8, 0.3, 0.2, 0.1])
    labels = np.array([1, 0, 1, 0, 0])
    assert roc_auc(scores, labels) == pytest.approx(5 / 6)
    assert roc_auc(scores, np.zeros(5)) is None
    assert precision_at_k(scores, labels, k=2) == 0.5


def test_recency_norm_is_per_distance_and_fills_gaps():
    from recourse.engine.attribution import Attribution

    def attribution(scores):
        scores = np.asarray(scores, float)
        return Attribution("x", np.arange(len(scores)), np.arange(len(scores)) + 1, scores, scores)

    norm = RecencyNorm.fit([attribution([1.0, -4.0]), attribution([-3.0, 2.0])], max_len=4, method="x", min_count=2)
    assert norm.mean_abs[:2] == [3.0, 2.0]  # distance 0 = last interaction
    assert norm.mean_abs[2:] == [2.0, 2.0]  # too few samples: reuse the nearest smaller distance


def test_calibration_round_trips_through_json(calibration):
    restored = DriftCalibration.from_json(calibration.to_json())
    assert restored == calibration
    assert restored.alignment_norm.mean_abs == calibration.alignment_norm.mean_abs
    assert RecencyNorm.from_json(calibration.alignment_norm.to_json()) == calibration.alignment_norm
    old_format = json.loads(calibration.to_json())
    del old_format["baseline"]
    assert DriftCalibration.from_json(json.dumps(old_format)).baseline == "zero"


def test_clean_histories_mostly_get_no_drift(world, calibration, held_out):
    reports = detect_drift_batch(world.model, [h for h, _ in held_out], np.stack([p for _, p in held_out]),
                                 world.categories, calibration)
    verdicts = [r.verdict for r in reports]
    assert verdicts.count("drift: no") >= 0.8 * len(verdicts)
    assert 0.0 <= calibration.false_alarm_rate <= 0.2 and calibration.false_alarm_basis == "held-out"
    quiet = next(r for r in reports if not r.drift)
    assert quiet.verdict == "drift: no" and quiet.reason


def test_appended_off_profile_drift_is_detected(world, calibration, held_out):
    histories = [inject(world, h, "random", seed).history for seed, (h, _) in enumerate(held_out)]
    reports = detect_drift_batch(world.model, histories, np.stack([p for _, p in held_out]), world.categories,
                                 calibration)
    assert np.mean([r.drift for r in reports]) >= 0.7


def test_single_member_report_fields(world, calibration, held_out):
    history, profile = held_out[0]
    injection = inject(world, history, "category", seed=3)
    report = detect_drift(world.model, injection.history, profile, world.categories, calibration)
    assert report.method == IG_ALIGNMENT
    assert set(report.flagged_positions) <= set(report.positions)
    assert np.all(report.drift_scores >= 0)
    assert report.completeness_gap <= 0.05
    assert set(report.ranked_positions()) == set(report.positions)
    paper = detect_drift(world.model, injection.history, profile, world.categories, calibration, method=PAPER_RULE)
    assert len(paper.flagged_positions) == pytest.approx(0.25 * len(paper.positions), abs=1)


def test_ig_of_alignment_finds_mid_history_drift_better_than_baselines(world, calibration, held_out):
    injections = [inject(world, h, "temporal", seed) for seed, (h, _) in enumerate(held_out)]
    profiles = np.stack([p for _, p in held_out])
    quality = detection_quality(world.model, injections, profiles, world.categories, calibration)
    ours = quality["ig_alignment"]
    assert ours.roc_auc >= 0.85 and ours.precision_at_k >= 0.6
    for baseline in ("recency", "random", "paper_rule"):
        assert ours.roc_auc > quality[baseline].roc_auc
        assert ours.precision_at_k > quality[baseline].precision_at_k
