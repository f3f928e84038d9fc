import numpy as np
import pytest
import scipy.sparse as sparse

from diagnostics.engine.exact import DiagnosticData, RetrainSpec, als_config, retrain
from diagnostics.engine.mf import alternate, fit_als, initial_item_factors, interaction_matrix
from diagnostics.engine.reliability import (
    disattenuated,
    pairwise_seed_agreement,
    seed_confidence_excludes_zero,
    spearman_brown,
    split_half,
)
from diagnostics.engine.removal import Removal, without


def test_spearman_brown_and_disattenuation_by_hand():
    assert spearman_brown(0.5, 2) == pytest.approx(2 / 3)  # 2 * 0.5 / (1 + 0.5)
    assert spearman_brown(0.0, 5) == 0.0
    assert disattenuated(0.5, 0.25) == pytest.approx(1.0)
    assert disattenuated(0.3, 0.36, 0.25) == pytest.approx(1.0)
    assert np.isnan(disattenuated(0.3, -0.1))


def test_identical_seeds_are_fully_reliable_and_pure_noise_is_not():
    signal = np.arange(40, dtype=float)
    same = np.repeat(signal[:, None], 6, axis=1)
    assert split_half(same, np.random.default_rng(0)).reliability == pytest.approx(1.0)
    assert pairwise_seed_agreement(same) == pytest.approx(1.0)
    noise = np.random.default_rng(1).normal(size=(40, 6))
    assert abs(split_half(noise, np.random.default_rng(0)).reliability) < 0.5
    mixed = signal[:, None] / 40 + np.random.default_rng(2).normal(0, 0.3, (40, 6))
    found = split_half(mixed, np.random.default_rng(0))
    assert 0.3 < found.half < found.reliability < 1.0  # more seeds, more reliable


def test_an_influence_is_significant_only_when_its_seeds_agree():
    per_seed = np.array([[1.0, 1.1, 0.9], [1.0, -1.0, 0.0], [0.0, 0.0, 0.0]])
    assert seed_confidence_excludes_zero(per_seed).tolist() == [True, False, False]


def hit_histories() -> dict[str, list[str]]:
    histories = {f"u{u}": [str(1 + (u + k) % 8) for k in range(5)] + ["hit"] for u in range(5)}
    return histories | {f"u{u}": ["hit"] + [str(1 + (u + k) % 8) for k in range(5)] for u in range(5, 10)}


def test_a_user_retrain_starts_where_the_full_model_starts():
    # common random numbers: the initialisation depends on the seed and the catalogue only, so dropping a
    # member's row gives exactly the model trained with that row emptied from the same start
    data = DiagnosticData.from_histories(hit_histories())
    spec = RetrainSpec("mf", {"factors": 4, "sweeps": 6})
    config = als_config(spec, 3)
    dropped = fit_als(without(data.split.train, Removal("user", "u2")), len(data.index), config)
    weights = interaction_matrix(data.split.train, len(data.index))
    weights[data.split.train.users.index("u2")] = 0.0
    users = np.zeros((len(data.split.train), config.factors))
    _, items = alternate(sparse.csr_matrix(weights), users, initial_item_factors(len(data.index), config), config,
                         2 * config.sweeps, users_first=True)
    assert np.allclose(dropped.item_factors, items)


def test_enough_warm_sweeps_from_the_full_model_reach_the_retrained_ranks():
    from diagnostics.engine.approximate import als_warm_sweeps

    data = DiagnosticData.from_histories(hit_histories())
    spec = RetrainSpec("mf", {"factors": 4, "sweeps": 60, "regularization": 1.0})
    model = fit_als(data.split.train, len(data.index), als_config(spec, 0))
    removal = Removal("item", "hit")
    exact = retrain(data, spec, removal, seed=0).ranks
    [warm] = als_warm_sweeps(model, data, [removal], half_sweeps=60)
    assert warm.ranks is not None
    assert warm.ranks.tolist() == exact.tolist()
    assert warm.ranks[:5].mean() > retrain(data, spec, Removal(), seed=0).ranks[:5].mean()


def test_the_closed_form_is_one_half_sweep_of_the_perturbed_side_without_a_solve():
    from diagnostics.engine.approximate import als_closed_form, als_warm_sweeps
    from diagnostics.engine.exact import mf_ranks

    data = DiagnosticData.from_histories(hit_histories())
    spec = RetrainSpec("mf", {"factors": 4, "sweeps": 5, "regularization": 0.5})
    model = fit_als(data.split.train, len(data.index), als_config(spec, 1))
    removals = [Removal("item", "hit"), Removal("item", "3"), Removal("user", "u7"), Removal("user", "u1")]
    full = mf_ranks(model, data.split.test)
    closed = als_closed_form(model, data, removals)
    warm = als_warm_sweeps(model, data, removals, half_sweeps=1)
    for fast, solved in zip(closed, warm, strict=True):
        assert fast.ranks is not None and solved.ranks is not None
        assert fast.ranks.tolist() == solved.ranks.tolist()
        # a removed item re-solves the users, so both compare with the full model's users re-solved once
        fast_reference = full if fast.reference_ranks is None else fast.reference_ranks
        assert solved.reference_ranks is not None
        assert fast_reference.tolist() == solved.reference_ranks.tolist()
    assert closed[0].reference_ranks is not None and closed[2].reference_ranks is None
