import numpy as np
import pytest

from diagnostics.engine.exact import DiagnosticData, RetrainSpec, retrain, train_sequential
from diagnostics.engine.removal import Removal

SASREC = {"hidden": 8, "blocks": 1, "max_len": 6, "epochs": 3, "dropout": 0.2, "lr": 0.01,
          "length_buckets": 2, "batch_size": 4, "jit_compile": False}


def histories() -> dict[str, list[str]]:
    # lengths 4..9 so the two length buckets both hold rows, and 14 members make several batches per bucket
    return {f"u{u}": [str(1 + (3 * u + k) % 11) for k in range(4 + u % 6)] for u in range(14)}


@pytest.fixture(scope="module")
def retrainer():
    from diagnostics.engine.paired import PairedRetrainer

    return PairedRetrainer(DiagnosticData.from_histories(histories()), RetrainSpec("sasrec", SASREC), seed=5)


def batches(retrainer, removal):
    from recsys.ml.training import epoch_batches

    buckets, _ = retrainer.buckets(removal)
    return epoch_batches(buckets, SASREC["batch_size"], np.random.default_rng(11))


def test_without_a_member_every_batch_is_the_full_models_batch_minus_that_members_row(retrainer):
    full, without = batches(retrainer, Removal()), batches(retrainer, Removal("user", "u4"))
    assert len(full) == len(without) > 2
    changed = []
    for number, (a, b) in enumerate(zip(full, without, strict=True)):
        assert a.ids.shape == b.ids.shape
        rows = np.flatnonzero((a.ids != b.ids).any(1))
        changed += [(number, row) for row in rows]
        assert not b.ids[rows].any() and not b.weights[rows].any()  # the member's slot is left empty
        others = np.setdiff1d(np.arange(len(a.ids)), rows)
        assert (a.ids[others] == b.ids[others]).all()
    assert len(changed) == 1  # exactly one row of one batch: the member's
    u4 = [int(i) for i in DiagnosticData.from_histories(histories()).split.train.items[4]]
    number, row = changed[0]
    assert [i for i in full[number].ids[row] if i] == u4[:-1][-SASREC["max_len"]:]


def test_without_a_title_every_row_keeps_its_slot_and_only_loses_that_title(retrainer):
    train = retrainer.data.split.train
    title = retrainer.data.index.index_of("3")
    length = SASREC["max_len"]

    def inputs(items):
        return tuple(int(i) for i in items[:-1][-length:])

    # each member's (full input row, input row without the title), read from the training sequences
    expected = {inputs(items): inputs(items[items != title]) for items in train.items}
    full, without = batches(retrainer, Removal()), batches(retrainer, Removal("item", "3"))
    touched = 0
    for a, b in zip(full, without, strict=True):
        assert not (b.ids == title).any() and not (b.targets == title).any()
        for row_full, row_without in zip(a.ids, b.ids, strict=True):
            if not row_full.any():
                continue  # a bucket's padding row
            real_full = tuple(int(i) for i in row_full if i)
            assert tuple(int(i) for i in row_without if i) == expected[real_full]
            touched += title in row_full
    assert touched >= 3


def test_with_nothing_removed_the_paired_retrain_is_the_products_fit(retrainer):
    data = retrainer.data
    spec = RetrainSpec("sasrec", SASREC)
    product = train_sequential(data.split.train, data, spec, seed=5)
    paired = retrainer.fit(Removal())
    for ours, theirs in zip(paired.network.get_weights(), product.network.get_weights(), strict=True):
        assert np.array_equal(ours, theirs)


def test_a_retrainer_restores_its_start_so_each_retrain_is_independent_of_the_one_before(retrainer):
    first = [w.copy() for w in retrainer.fit(Removal("user", "u2")).network.get_weights()]
    first_ranks = retrainer.ranks()
    retrainer.fit(Removal("item", "5"))
    again = retrainer.fit(Removal("user", "u2")).network.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert retrainer.ranks().tolist() == first_ranks.tolist()
    # the engine's one-off retrain (a new model each time) gives the same ranks
    assert retrain(retrainer.data, RetrainSpec("sasrec", SASREC), Removal("user", "u2"), 5).ranks.tolist() \
        == first_ranks.tolist()
    full = retrainer.fit(Removal()).network.get_weights()
    assert not all(np.array_equal(a, b) for a, b in zip(first, full, strict=True))  # the member's data mattered


def test_the_warm_start_compares_with_the_full_model_given_the_same_epochs_and_leaves_it_as_it_was(retrainer):
    from diagnostics.engine.approximate import sequential_warm_start

    retrainer.fit(Removal())
    trained = [w.copy() for w in retrainer.model.network.get_weights()]
    full_ranks = retrainer.ranks()
    [member, nothing] = sequential_warm_start(retrainer, [Removal("user", "u3"), Removal()], epochs=1)
    assert member.reference_ranks is not None and nothing.ranks is not None
    assert nothing.ranks.tolist() == member.reference_ranks.tolist()  # same epoch, same batches, same start
    assert all(np.array_equal(a, b) for a, b in zip(trained, retrainer.model.network.get_weights(), strict=True))
    assert retrainer.ranks().tolist() == full_ranks.tolist()


def test_checkpoints_end_at_the_fitted_model_and_tracin_cp_over_the_last_one_is_tracin(retrainer):
    from diagnostics.engine.approximate import tracin_checkpoints, tracin_scores

    checkpoints = retrainer.fit_with_checkpoints(Removal())
    assert len(checkpoints) == SASREC["epochs"]
    retrainer.fit(Removal())
    fitted = retrainer.state()
    assert all(np.array_equal(a, b) for a, b in zip(checkpoints[-1].network, fitted.network, strict=True))
    assert all(np.array_equal(a, b) for a, b in zip(checkpoints[-1].optimizer, fitted.optimizer, strict=True))
    removals = [Removal("user", "u1"), Removal("item", "4")]
    final = [found.score for found in tracin_scores(retrainer.model, retrainer.data, removals)]
    assert [found.score for found in tracin_checkpoints(retrainer, checkpoints[-1:], retrainer.data, removals)] \
        == pytest.approx(final)
    summed = [found.score for found in tracin_checkpoints(retrainer, checkpoints, retrainer.data, removals)]
    assert summed != pytest.approx(final)
