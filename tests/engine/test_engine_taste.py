"""Category-free taste check (issue 19) on a tiny real SASRec trained on the toy data."""
from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import binomtest

from recourse.engine.injection import KINDS, inject
from recourse.engine.sequences import History, without_positions
from recourse.engine.taste import (
    _log_softmax,
    established_likelihood,
    final_log_probs,
    measure_taste,
    next_log_probs,
    visible,
)
from recourse.engine.taste_experiment import (
    ExperimentConfig,
    Member,
    mcnemar_p,
    paired,
    render_markdown,
    render_report,
    run_experiment,
)
from recourse.engine.taste_joint import (
    EPISODE_NEIGHBOURS,
    NOISE_MARGINS,
    VERDICT_MARGIN,
    _boundary_moves,
    _simulated_drift,
    coherent_episodes,
    joint_curves,
    joint_plans,
)
from recourse.engine.taste_recourse import (
    REMOVAL_COSTS,
    REMOVAL_DEPTHS,
    RULES,
    TasteCalibration,
    analyze,
    analyze_batch,
    calibrate_taste,
    prefix_curves,
)


@pytest.fixture(scope="module")
def trained():
    from tests.toy_data import train_tiny

    return train_tiny("sasrec")


def _histories(trained, count=60):
    test = trained.split.test
    return [History(test.histories.items[r].astype(np.int64), np.ones(len(test.histories.items[r]), np.float32))
            for r in range(count)]





def test_next_log_probs_match_the_full_forward_pass(trained):
    model = trained.model
    history = _histories(trained, 1)[0]
    fast = next_log_probs(model, [history])[0]
    ids, weights = model.encode_inputs([history.items.tolist()])
    real = ids[0] != 0
    full = _log_softmax(model.score_all_positions(ids, weights))[0][real]
    items = ids[0][real]
    expected = [full[t - 1, items[t] - 1] for t in range(1, len(items))]
    assert np.isnan(fast[0])
    assert np.allclose(fast[1:], expected, atol=1e-4)


def test_every_drift_kind_keeps_the_clean_order_and_marks_the_injected(trained):
    clean = _histories(trained, 1)[0]
    for kind in KINDS:
        scenario = inject(kind, clean, trained.model.num_items, np.random.default_rng(1), k=3, m=6)
        kept = np.delete(scenario.history.items, scenario.injected_positions)
        assert kept.tolist() == clean.items.tolist()
        assert sorted(scenario.history.items[scenario.injected_positions].tolist()) == sorted(
            scenario.injected_items.tolist())
        assert not np.isin(scenario.injected_items, clean.items).any()
        if kind == "appended":
            assert scenario.injected_positions.tolist() == [len(clean), len(clean) + 1, len(clean) + 2]
        if kind == "interleaved":
            assert scenario.injected_positions.min() >= len(scenario.history) - 6
        if kind == "burst":
            assert np.all(np.diff(scenario.injected_positions) == 1)
            assert scenario.injected_positions.max() < len(scenario.history) - 1
    with pytest.raises(ValueError, match="unknown drift kind"):
        inject("sideways", clean, trained.model.num_items, np.random.default_rng(0))


@pytest.fixture(scope="module")
def calibration(trained):
    return calibrate_taste(trained.model, _histories(trained, 60))


def test_calibration_is_stored_with_its_false_alarm_rate(calibration):
    again = TasteCalibration.from_json(calibration.to_json())
    assert again == calibration
    assert calibration.false_alarm_basis == "held-out"
    assert 0.0 <= calibration.false_alarm_rate <= 0.2
    assert np.isfinite(calibration.flag_threshold) and np.isfinite(calibration.gain_cutoff)


def test_off_taste_items_are_flagged_and_the_fix_brings_recommendations_back(trained, calibration):
    clean = _histories(trained, 40)[20:]
    rng = np.random.default_rng(3)
    scenarios = [inject("appended", h, trained.model.num_items, rng, k=3) for h in clean]
    analyses = analyze_batch(trained.model, [s.history for s in scenarios], calibration)
    found = [np.isin(s.injected_positions, a.flagged_positions).mean() for a, s in zip(analyses, scenarios)]
    assert np.mean(found) >= 0.6
    drifted_yes = np.mean([a.drift for a in analyses])
    for analysis in analyses:
        if analysis.drift:
            assert analysis.gain > 0
            assert len(analysis.returning) > 0
            assert analysis.corrected.weights[[c.position for c in analysis.changes]].max() < 1
            assert "raises the likelihood" in analysis.reason
    clean_verdicts = [a.drift for a in analyze_batch(trained.model, clean, calibration)]
    assert np.mean(clean_verdicts) <= 0.25
    # The calibrated removal cost may leave weak drift alone on this 32-item toy (measured: 35 % "yes"
    # against 0 % on the same members clean); the drifted must still be told "yes" far more often.
    assert drifted_yes >= np.mean(clean_verdicts) + 0.25


def test_the_fix_is_the_prefix_of_the_suspicion_order_that_maximises_psi_minus_the_removal_cost(trained, calibration):
    assert calibration.choice == "prefix" and calibration.verdict_top == 3
    assert calibration.removal_cost in REMOVAL_COSTS and calibration.removal_depth in REMOVAL_DEPTHS
    assert set(calibration.simulated) == {"ads_won_back", "ads_won_back_ungated", "verdict_yes", "members"}
    rng = np.random.default_rng(5)
    histories = [inject("interleaved", h, trained.model.num_items, rng, k=3, m=6).history
                 for h in _histories(trained, 30)[20:]]
    measures = measure_taste(trained.model, histories)
    scores = [calibration.norm.scores(m) for m in measures]
    curves = prefix_curves(trained.model, histories, calibration, measures, scores, [[] for _ in histories])
    analyses = analyze_batch(trained.model, histories, calibration)
    for curve, analysis in zip(curves, analyses):
        removed = [c.position for c in analysis.changes]
        assert removed == curve.order[:len(removed)].tolist()  # a prefix of the suspicion order
        sizes = np.arange(len(curve.psi))
        penalised = np.where(sizes <= calibration.removal_depth,
                             curve.psi - calibration.removal_cost * sizes, -np.inf)
        assert len(removed) <= calibration.removal_depth
        assert penalised[len(removed)] == pytest.approx(penalised.max())
        assert analysis.objective_after == pytest.approx(curve.psi[len(removed)])
    strict = TasteCalibration.from_json(calibration.to_json())
    strict.removal_cost = 1e6  # no removal can earn that much Psi
    assert all(not a.changes and not a.drift for a in analyze_batch(trained.model, histories, strict))


def test_a_calibration_stored_before_the_prefix_choice_keeps_the_first_rule(trained, calibration):
    stored = json.loads(calibration.to_json())
    for added in ("choice", "removal_cost", "simulated", "suffixes", "verdict_top", "removal_depth"):
        del stored[added]
    old = TasteCalibration.from_json(json.dumps(stored))
    assert old.choice == "threshold" and old.verdict_top == 0
    history = inject("appended", _histories(trained, 1)[0], trained.model.num_items, np.random.default_rng(2),
                     k=3).history
    result = analyze(trained.model, history, old)
    assert {c.position for c in result.changes} <= set(result.flagged_positions.tolist())
    with pytest.raises(ValueError, match="unknown removal-set choice"):
        calibrate_taste(trained.model, _histories(trained, 20), choice="sideways")


def test_explicit_dislike_is_flagged_first(trained, calibration):
    history = _histories(trained, 1)[0]
    result = analyze(trained.model, history, calibration, explicit=[len(history) - 2])
    assert result.flagged_positions[0] == len(history) - 2
    assert result.explicit_positions.tolist() == [len(history) - 2]


def test_measures_align_positions_when_the_window_slides(trained):
    model = trained.model
    long = History(np.tile(np.arange(1, 9), 3).astype(np.int64), np.ones(24, np.float32))  # longer than L=12
    measure = measure_taste(model, [long], pull=True)[0]
    assert measure.positions.tolist() == list(range(12, 24))
    assert np.isfinite(measure.pull_total[:-1]).all() and np.isnan(measure.pull_total[-1])


def test_experiment_reports_every_method_and_the_oracle_wins_everything_back(trained):
    test = trained.split.test
    members = [Member(test.histories.items[r].astype(np.int64), int(test.targets[r]),
                      test.interacted[r].astype(np.int64)) for r in range(30)]
    reference = _histories(trained, 60)[30:]
    results = run_experiment(trained.model, members, None,
                             ExperimentConfig(kinds=("interleaved",), k=3, m=6, resamples=50),
                             calibration_histories=reference, taste_options={"choice": "prefix"},
                             baselines=["threshold", "prefix"])
    assert set(results["baseline_calibrations"]) == {"threshold"}  # "prefix" is the rule itself: not run twice
    summary = results["kinds"]["interleaved"]
    assert "taste vs taste_threshold" in summary["tests"] and "taste_threshold" in summary["methods"]
    report = render_report(results)
    assert "| k most recent |" in report and "paired (taste" in report and "threshold:" in report
    assert summary["methods"]["paper_ig"] is None  # no categories: not applicable
    assert summary["ceiling"] is None and "Ceiling against the paper" not in report
    oracle = summary["methods"]["oracle"]["won_back"]["sampled:NDCG@10"]
    assert oracle["mean"] == pytest.approx(1.0)
    assert summary["detection"]["taste"]["roc_auc"] > summary["detection"]["random"]["roc_auc"]
    assert "not applicable" in render_markdown(results)


class _EagerOnly:
    """The model without its compiled hidden_states: the engine then runs sequence_hidden eagerly, as it did
    before the compiled path existed (the reference the compiled path must agree with)."""

    def __init__(self, model):
        self._model = model

    def __getattr__(self, name):
        if name == "hidden_states":
            raise AttributeError(name)
        return getattr(self._model, name)


def test_compiled_hidden_states_match_the_eager_pass(trained):
    model = trained.model
    ids, weights = model.encode_inputs([h.items.tolist() for h in _histories(trained, 8)])
    compiled = model.hidden_states(ids, weights)
    eager = np.asarray(model.sequence_hidden(ids, weights))
    assert compiled.shape == eager.shape
    assert np.allclose(compiled, eager, atol=1e-5)
    histories = _histories(trained, 8)
    for fast, slow in zip(next_log_probs(model, histories), next_log_probs(_EagerOnly(model), histories)):
        assert np.allclose(fast, slow, atol=1e-5, equal_nan=True)


def test_the_threshold_fix_scored_in_the_plan_pass_is_what_a_pass_of_its_own_gives(trained):
    """analyze_batch takes the fix's Psi and top 10 from the batched plan pass when the fix is one of its plans;
    the flags, the fix and the verdict must be those of the eager reference, and Psi / the top 10 those of a
    separate pass over the corrected history (what the analysis computed before)."""
    model = trained.model
    calibration = calibrate_taste(model, _histories(trained, 60), choice="threshold")
    rng = np.random.default_rng(7)
    clean = _histories(trained, 60)[20:50]
    histories = [inject(KINDS[row % len(KINDS)], h, model.num_items, rng, k=3, m=6).history if row % 3 else h
                 for row, h in enumerate(clean)]
    analyses = analyze_batch(model, histories, calibration)
    reference = analyze_batch(_EagerOnly(model), histories, calibration)
    assert any(a.changes for a in analyses) and any(not a.changes for a in analyses)
    for analysis, expected in zip(analyses, reference, strict=True):
        assert analysis.flagged_positions.tolist() == expected.flagged_positions.tolist()
        assert analysis.changes == expected.changes
        assert (analysis.drift, analysis.verdict) == (expected.drift, expected.verdict)
        assert np.allclose(analysis.scores, expected.scores, atol=1e-4)
        final = final_log_probs(model, [analysis.corrected])
        established = analysis.items[~np.isin(analysis.positions, analysis.flagged_positions)]
        assert analysis.objective_after == pytest.approx(established_likelihood(final, [established])[0], abs=1e-5)
        seen = final[0].copy()
        seen[analysis.corrected.items - 1] = -np.inf
        assert set(analysis.top_after.tolist()) == set((np.argsort(-seen, kind="stable")[:10] + 1).tolist())
@pytest.fixture(scope="module")
def joint_calibration(trained):
    return calibrate_taste(trained.model, _histories(trained, 60), **{**RULES["joint"], "reference_prefixes": (2,)})


def test_the_joint_fix_is_the_plan_that_best_explains_the_recent_history_as_taste_plus_noise(trained,
                                                                                           joint_calibration):
    calibration = joint_calibration
    assert calibration.choice == "joint" and calibration.episodes and calibration.refine
    assert calibration.verdict_statistic == "glr"
    assert calibration.noise_margin in NOISE_MARGINS and calibration.removal_depth in REMOVAL_DEPTHS
    assert calibration.simulated["clean_references"] > calibration.n_reference * 0.7  # the cut-short histories
    assert TasteCalibration.from_json(calibration.to_json()) == calibration
    rng = np.random.default_rng(5)
    histories = [inject("appended", h, trained.model.num_items, rng, k=3).history for h in _histories(trained, 30)[20:]]
    measures = measure_taste(trained.model, histories)
    scores = [calibration.norm.scores(m) for m in measures]
    curves = joint_curves(trained.model, histories, calibration, measures, scores, [[] for _ in histories],
                          refine_margin=calibration.noise_margin)
    analyses = analyze_batch(trained.model, histories, calibration)
    for history, measure, score, curve, analysis in zip(histories, measures, scores, curves, analyses):
        first = joint_plans(curve.order, measure, score, episodes=True)
        assert [p.tolist() for p in first] == [p.tolist() for p in curve.plans[:len(first)]]
        sizes = np.asarray([len(p) for p in first])
        first_best = set(first[int(np.argmax(np.where(sizes <= calibration.removal_depth,
                                                      curve.values(calibration.noise_margin)[:len(first)],
                                                      -np.inf)))].tolist())
        for neighbour in curve.plans[len(first):]:  # the best first-pass plan with one kept or one more removed
            assert len(set(neighbour.tolist()) ^ first_best) == 1
        plans = curve.plans
        assert any(sorted(p.tolist()) == list(range(len(history) - 3, len(history))) for p in plans)  # last three
        removed = sorted(c.position for c in analysis.changes)
        values = np.where([len(p) <= calibration.removal_depth for p in plans], curve.values(calibration.noise_margin),
                          -np.inf)
        best = plans[int(np.argmax(values))]
        assert removed == sorted(best.tolist())
        if analysis.drift:
            assert "explains your recent history better" in analysis.reason
    # the J of "nothing removed" is the summed log-probability of the scored interactions, no noise charged
    assert all(curve.noise_mean[0] == 0.0 and curve.noise_spread[0] == 0.0 for curve in curves)
    found = [np.isin(np.arange(len(h) - 3, len(h)), [c.position for c in a.changes]).mean()
             for h, a in zip(histories, analyses)]
    assert np.mean(found) >= 0.6
    strict = TasteCalibration.from_json(calibration.to_json())
    strict.noise_margin = -1e6  # calling anything noise would pay off: every analysis removes up to the depth
    assert all(len(a.changes) > 0 for a in analyze_batch(trained.model, histories, strict))
    with pytest.raises(ValueError, match="unknown verdict statistic"):
        calibrate_taste(trained.model, _histories(trained, 20), choice="joint", verdict_statistic="vibes")
    with pytest.raises(ValueError, match="unknown verdict statistic"):
        calibrate_taste(trained.model, _histories(trained, 20), choice="joint", verdict_statistic="glr|vibes")


@pytest.fixture(scope="module")
def established_calibration(trained):
    return calibrate_taste(trained.model, _histories(trained, 60),
                           **{**RULES["joint"], "reference_prefixes": (2,), "verdict_statistic": "established",
                              "boundaries": True})


def test_the_established_verdict_scores_the_removed_items_under_the_history_without_them(trained,
                                                                                         established_calibration):
    calibration = established_calibration
    assert calibration.verdict_statistic == "established" and calibration.boundaries
    assert TasteCalibration.from_json(calibration.to_json()) == calibration
    rng = np.random.default_rng(7)
    histories = [inject("appended", h, trained.model.num_items, rng, k=3).history for h in _histories(trained, 30)[20:]]
    measures = measure_taste(trained.model, histories)
    scores = [calibration.norm.scores(m) for m in measures]
    curves = joint_curves(trained.model, histories, calibration, measures, scores, [[] for _ in histories],
                          refine_margin=calibration.noise_margin)
    clean_last = calibration.norm.surprisal_mean[0]
    for history, curve in zip(histories, curves):
        assert curve.established[0] == 0.0  # nothing removed, nothing to explain
        for index in (1, len(curve.plans) - 1):
            plan = curve.plans[index]
            final = final_log_probs(trained.model, [history.reweighted({int(p): 0.0 for p in plan})])[0]
            expected = float((-final[history.items[plan] - 1] - clean_last).sum())
            assert curve.statistic(index, calibration.noise_margin, "established") == pytest.approx(expected, abs=1e-4)
        margin = calibration.noise_margin
        assert curve.statistic(1, margin, "glr_fixed") == pytest.approx(curve.gain(1, VERDICT_MARGIN))
        assert curve.statistic(1, margin, "glr") == pytest.approx(curve.gain(1, margin))
        both = curve.statistic(1, margin, "established|glr", (2.0, 4.0))
        assert both == pytest.approx(max(curve.established[1] / 2.0, curve.gain(1, margin) / 4.0))
    analyses = analyze_batch(trained.model, histories, calibration)
    for curve, analysis in zip(curves, analyses):
        index = curve.choose(calibration.noise_margin, calibration.removal_depth)
        said = curve.judged(index, calibration.gain_cutoff, calibration.noise_margin, "established")
        assert analysis.drift == said
    clean = analyze_batch(trained.model, _histories(trained, 40)[20:], calibration)
    assert np.mean([a.drift for a in analyses]) > np.mean([a.drift for a in clean])
    stored = json.loads(calibration.to_json())
    for added in ("boundaries", "refine_rounds"):
        del stored[added]
    old = TasteCalibration.from_json(json.dumps(stored))  # stored before the fourth measurement
    assert not old.boundaries and old.refine_rounds == 1


def test_boundary_neighbours_move_the_best_runs_edges(trained, established_calibration):
    measure = measure_taste(trained.model, _histories(trained, 1))[0]
    candidates = measure.positions[measure.candidates]
    run = candidates[-4:-2]  # a run that stops two short of the end
    moves = _boundary_moves(run, measure)
    assert [m.tolist() for m in moves] == [run.tolist() + [int(candidates[-5])],
                                           candidates[-4:].tolist()]
    at_start = _boundary_moves(candidates[:1], measure)  # nothing before the oldest candidate: only "to the end"
    assert [m.tolist() for m in at_start] == [candidates.tolist()]


def test_the_joint_scan_rule_judges_by_the_top_suspicion_sum_at_the_clean_97th_percentile(trained):
    clean = _histories(trained, 60)
    calibration = calibrate_taste(trained.model, clean, **{**RULES["joint_scan"], "reference_prefixes": (2,)})
    assert calibration.verdict_statistic == "scan" and calibration.verdict_quantile == 0.97
    usable = [h for h in clean if (h.weights > 0).sum() >= 3]
    fit = usable[:len(usable) - int(len(usable) * 0.3)]
    reference = fit + [History(h.items[:-2], h.weights[:-2]) for h in fit if (h.weights[:-2] > 0).sum() >= 3]
    top3 = [float(np.sort(s[np.isfinite(s)])[::-1][:3].sum())
            for s in (calibration.norm.scores(m) for m in measure_taste(trained.model, reference))]
    assert calibration.gain_cutoff == pytest.approx(float(np.quantile(top3, 0.97)))
    rng = np.random.default_rng(11)
    drifted = [inject("appended", h, trained.model.num_items, rng, k=3).history for h in clean[:20]]
    for analysis in analyze_batch(trained.model, drifted, calibration):
        top = float(np.sort(analysis.scores[np.isfinite(analysis.scores)])[::-1][:3].sum())
        moved = not np.array_equal(np.sort(analysis.top_before), np.sort(analysis.top_after))
        assert analysis.drift == (bool(analysis.changes) and top > calibration.gain_cutoff and moved)


def test_the_next_item_objective_calibrates_the_fix_on_each_members_held_out_next_interaction(trained):
    clean = _histories(trained, 60)
    calibration = calibrate_taste(trained.model, clean, **{**RULES["joint_next"], "reference_prefixes": (2,)})
    assert calibration.fix_objective == "next_item"
    assert {"next_item_won_back", "next_item_won_back_ungated"} <= set(calibration.simulated)
    assert TasteCalibration.from_json(calibration.to_json()) == calibration
    usable = [h for h in clean if (h.weights > 0).sum() >= 3]
    fit = usable[:len(usable) - int(len(usable) * 0.3)]
    simulated = _simulated_drift(trained.model, fit, "next_item", np.random.default_rng(0))  # calibrate_taste's seed
    assert simulated.targets == [int(h.items[-1]) for h in fit]
    for history, base, target in zip(simulated.drifted, fit, simulated.targets):  # drift before the target, not it
        assert len(history) > len(base) - 1 and (history.items == target).sum() == (base.items[:-1] == target).sum()
    measures = measure_taste(trained.model, simulated.drifted, window=calibration.window)
    scores = [calibration.norm.scores(m) for m in measures]
    curves = joint_curves(trained.model, simulated.drifted, calibration, measures, scores,
                          [[] for _ in simulated.drifted], targets=simulated.targets)
    for history, target, curve in list(zip(simulated.drifted, simulated.targets, curves))[:5]:
        variants = [without_positions(history, plan.tolist()) if len(plan) else history for plan in curve.plans]
        direct = final_log_probs(trained.model, variants)[:, target - 1]
        np.testing.assert_allclose(curve.target_log_prob, direct, rtol=1e-4, atol=1e-4)
    mean_at = {(margin, depth): np.mean([c.target_log_prob[c.choose(margin, depth)] for c in curves])
               for depth in REMOVAL_DEPTHS for margin in NOISE_MARGINS}
    chosen = mean_at[(calibration.noise_margin, calibration.removal_depth)]
    assert chosen >= max(mean_at.values()) - 1e-3  # ties within 1e-3 keep the first (smallest depth and margin)
    with pytest.raises(ValueError, match="unknown fix objective"):
        calibrate_taste(trained.model, clean[:20], choice="joint", fix_objective="vibes")


def test_the_joint_recent_rule_only_scores_and_removes_the_most_recent_interactions(trained):
    assert RULES["joint_recent"]["window"] == 15 and RULES["joint_recent"]["verdict_quantile"] == 0.98
    clean = _histories(trained, 60)
    window = 6  # the toy histories are shorter than 15
    calibration = calibrate_taste(trained.model, clean,
                                  **{**RULES["joint_recent"], "reference_prefixes": (2,), "window": window})
    rng = np.random.default_rng(3)
    drifted = [inject("interleaved", h, trained.model.num_items, rng, k=2, m=4).history for h in clean[:30]]
    assert any(len(visible(h, trained.model.max_len)) > window + 2 for h in drifted)
    analyses = analyze_batch(trained.model, drifted, calibration)
    for history, analysis in zip(drifted, analyses):
        recent = set(visible(history, trained.model.max_len)[-window:].tolist())
        assert {change.position for change in analysis.changes} <= recent
        assert np.isfinite(analysis.scores).sum() <= window
    assert sum(bool(a.changes) for a in analyses) >= 10


def test_the_episode_noise_model_charges_a_removed_run_what_its_own_earlier_items_leave_unexplained(trained):
    clean = _histories(trained, 60)
    calibration = calibrate_taste(trained.model, clean,
                                  **{**RULES["joint_recent"], "reference_prefixes": (2,), "window": 6,
                                     "noise_model": "episode"})
    assert calibration.noise_model == "episode"
    assert TasteCalibration.from_json(calibration.to_json()) == calibration
    histories = [inject("appended", h, trained.model.num_items, np.random.default_rng(4), k=3).history
                 for h in clean[:12]]
    measures = measure_taste(trained.model, histories, window=calibration.window)
    scores = [calibration.norm.scores(m) for m in measures]
    curves = joint_curves(trained.model, histories, calibration, measures, scores, [[] for _ in histories])
    cheaper = 0
    for history, measure, curve in zip(histories, measures, curves):
        for plan, charged in list(zip(curve.plans, curve.noise_mean))[1:6]:
            in_time = np.sort(plan)
            episode = History(history.items[in_time], history.weights[in_time])
            surprisal = -next_log_probs(trained.model, [episode])[0]  # NaN for the episode's first item
            distance = measure.distance_from_end()[np.searchsorted(measure.positions, in_time)]
            clean_cost = np.asarray(calibration.norm.surprisal_mean)[distance]
            np.testing.assert_allclose(charged, np.fmin(clean_cost, surprisal).sum(), rtol=1e-4)
            cheaper += int(charged < clean_cost.sum() - 1e-9)
    assert cheaper > 0  # some removed item is better explained by the run before it than by a clean surprisal
    with pytest.raises(ValueError, match="unknown noise model"):
        calibrate_taste(trained.model, clean[:20], choice="joint", noise_model="vibes")


def test_coherent_episodes_are_unseen_items_the_model_expects_after_the_episode_so_far(trained):
    histories = _histories(trained, 8)
    forbidden = [np.asarray([int(h.items[-1]) + 1], dtype=np.int64) for h in histories]
    sizes = [2, 3, 4, 5, 6, 2, 3, 4]
    episodes = coherent_episodes(trained.model, histories, sizes, np.random.default_rng(1), forbidden)
    for history, size, banned, episode in zip(histories, sizes, forbidden, episodes):
        assert len(episode) == size == len(set(episode.tolist()))
        assert not np.isin(episode, history.items).any() and not np.isin(episode, banned).any()
        for step in range(1, size):
            so_far = History(episode[:step], np.ones(step, dtype=np.float32))
            values = final_log_probs(trained.model, [so_far])[0].copy()
            values[np.union1d(np.union1d(history.items, banned), episode[:step]) - 1] = -np.inf
            assert episode[step] - 1 in np.argsort(-values)[:EPISODE_NEIGHBOURS]
    fit = _histories(trained, 12)
    mixed = _simulated_drift(trained.model, fit, "ads", np.random.default_rng(0), episodes=True)
    for row, (drifted, base) in enumerate(zip(mixed.drifted, fit)):
        added = drifted.items[~np.isin(drifted.items, base.items)]
        if (row // 3) % 2 == 1:  # the second group of the three simulated kinds is a coherent episode
            values = final_log_probs(trained.model, [History(added[:1], np.ones(1, dtype=np.float32))])[0].copy()
            values[np.union1d(base.items, added[:1]) - 1] = -np.inf
            assert added[1] - 1 in np.argsort(-values)[:EPISODE_NEIGHBOURS]


def test_the_steady_rule_calibrates_on_three_drifted_copies_of_each_reference_member(trained):
    assert RULES["joint_steady"] == {**RULES["joint_recent"], "simulated_copies": 3}
    clean = _histories(trained, 40)
    single = calibrate_taste(trained.model, clean, **{**RULES["joint_recent"], "reference_prefixes": (2,), "window": 6})
    steady = calibrate_taste(trained.model, clean, **{**RULES["joint_steady"], "reference_prefixes": (2,), "window": 6})
    assert steady.simulated_copies == 3 and TasteCalibration.from_json(steady.to_json()) == steady
    assert steady.simulated["members"] == 3 * single.simulated["members"]


def test_paired_hit_rates_get_an_exact_mcnemar_test_on_the_members_where_the_methods_disagree():
    ours = np.array([1] * 60 + [0] * 25 + [1] * 200 + [0] * 215, dtype=float)
    theirs = np.array([0] * 60 + [1] * 25 + [1] * 200 + [0] * 215, dtype=float)
    summary = paired(ours, theirs, seed=0, resamples=200)
    assert summary["p_mcnemar"] == pytest.approx(binomtest(60, 85).pvalue)
    assert summary["p_mcnemar"] < 0.001 < summary["p_value"]  # zsplit ranks the 415 ties too
    assert paired(ours * 0.5, theirs, seed=0, resamples=200)["p_mcnemar"] is None  # NDCG-like values: no McNemar
    assert mcnemar_p(ours, ours) == 1.0


def test_ceiling_is_the_oracle_against_the_papers_ig_greedy():
    from recourse.engine.taste_experiment import PROTOCOL_METRICS, _ceiling

    hits = np.array([1.0] * 40 + [0.0] * 10)
    fewer = np.array([1.0] * 20 + [0.0] * 30)
    per_member = {"oracle": dict.fromkeys(PROTOCOL_METRICS, hits), "paper_ig": dict.fromkeys(PROTOCOL_METRICS, fewer)}
    ceiling = _ceiling(per_member, seed=0, resamples=50)
    assert ceiling["sampled:HR@10"]["mean"] == pytest.approx(0.4)
    assert ceiling["sampled:HR@10"]["p_mcnemar"] < 1e-5  # 20 wins, no loss
    assert _ceiling({**per_member, "paper_ig": None}, seed=0, resamples=50) is None
