import numpy as np
import pytest

from diagnostics.engine.exact import DiagnosticData, RetrainSpec, retrain
from diagnostics.engine.influence import influences
from diagnostics.engine.removal import Removal


def test_influence_is_the_paired_drop_on_the_same_users_by_hand():
    users = ["a", "b", "c"]
    # ranks of each user's held-out item; NDCG@10 = 1/log2(rank + 2) inside the top 10, else 0
    base = {0: np.array([0, 1, 20]), 1: np.array([0, 0, 20])}
    without_a = {0: np.array([5, 0, 20]), 1: np.array([5, 1, 20])}
    ablated = {(Removal("user", "a"), seed): ranks for seed, ranks in without_a.items()}
    [found] = influences(users, base, ablated, "NDCG@10")
    # a is left out of both sides: seed 0: (1/log2(3) + 0)/2 - (1 + 0)/2 ; seed 1: (1 + 0)/2 - (1/log2(3) + 0)/2
    seed0 = (1 / np.log2(3)) / 2 - 0.5
    assert found.per_seed == pytest.approx((seed0, -seed0))
    assert found.value == pytest.approx(0.0)
    # noise: SD over seeds of the full model's mean NDCG on everyone: (1 + 1/log2 3)/3 and 2/3
    assert found.noise == pytest.approx(np.std([(1 + 1 / np.log2(3)) / 3, 2 / 3], ddof=1))
    assert found.within_noise


def test_map_at_10_is_reciprocal_rank_inside_the_top_10():
    base = {0: np.array([0, 3]), 1: np.array([0, 3])}
    ablated = {(Removal("item", "x"), seed): np.array([1, 12]) for seed in (0, 1)}
    [found] = influences(["a", "b"], base, ablated, "MAP@10")
    assert found.value == pytest.approx((1 + 1 / 4) / 2 - (1 / 2 + 0) / 2)
    assert found.noise == 0.0 and not found.within_noise  # same metric under both seeds: no noise


def test_removing_the_title_everyone_watches_next_hurts_a_factorisation_model():
    # members 0-4 hold out "hit"; members 5-9 watched it first, so the full model has learnt it
    histories = {f"u{u}": [str(1 + (u + k) % 8) for k in range(5)] + ["hit"] for u in range(5)}
    histories |= {f"u{u}": ["hit"] + [str(1 + (u + k) % 8) for k in range(5)] for u in range(5, 10)}
    data = DiagnosticData.from_histories(histories)
    spec = RetrainSpec("mf", {"factors": 4, "sweeps": 5})
    full = retrain(data, spec, Removal(), seed=0)
    without_hit = retrain(data, spec, Removal("item", "hit"), seed=0)
    # without any training interaction "hit" scores 0 and falls behind the titles members 0-4 liked
    assert full.ranks[:5].mean() < without_hit.ranks[:5].mean()
    assert full.metrics()["NDCG@10"].mean() > without_hit.metrics()["NDCG@10"].mean()
    assert retrain(data, spec, Removal(), seed=0).ranks.tolist() == full.ranks.tolist()  # same seed, same model


def test_unknown_architecture_is_refused_with_the_valid_names():
    with pytest.raises(ValueError, match="mf, gru4rec, sasrec, tcn"):
        RetrainSpec("svd")


def test_the_warm_start_approximation_agrees_in_sign_with_the_exact_retrain():
    from diagnostics.engine.approximate import als_warm_start
    from diagnostics.engine.exact import als_config
    from diagnostics.engine.mf import fit_als

    histories = {f"u{u}": [str(1 + (u + k) % 8) for k in range(5)] + ["hit"] for u in range(5)}
    histories |= {f"u{u}": ["hit"] + [str(1 + (u + k) % 8) for k in range(5)] for u in range(5, 10)}
    data = DiagnosticData.from_histories(histories)
    spec = RetrainSpec("mf", {"factors": 4, "sweeps": 5})
    model = fit_als(data.split.train, len(data.index), als_config(spec, 0))
    [hit, member] = als_warm_start(model, data, [Removal("item", "hit"), Removal("user", "u7")])
    exact = retrain(data, spec, Removal("item", "hit"), seed=0)
    full = retrain(data, spec, Removal(), seed=0)
    assert hit.ranks[:5].mean() > full.ranks[:5].mean() and exact.ranks[:5].mean() > full.ranks[:5].mean()
    assert member.ranks.shape == full.ranks.shape and hit.seconds < 1.0
