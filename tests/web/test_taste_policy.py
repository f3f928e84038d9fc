"""The ratings policy of the taste check (recourse.services.taste_policy) on a tiny real SASRec: which of a
member's dislikes count as explicit evidence of drift (issue 19, the demo's planted burst)."""
from __future__ import annotations

import numpy as np
import pytest

from recourse.engine.injection import inject
from recourse.engine.sequences import History
from recourse.engine.taste import measure_taste
from recourse.engine.taste_recourse import calibrate_taste
from recourse.services import taste_policy
from recsys.ratings import STARS


@pytest.fixture(scope="module")
def trained():
    from tests.toy_data import train_tiny

    return train_tiny("sasrec")


def _histories(trained, count):
    test = trained.split.test
    return [History(test.histories.items[r].astype(np.int64), np.ones(len(test.histories.items[r]), np.float32))
            for r in range(count)]


@pytest.fixture(scope="module")
def checked(trained):
    """The threshold rule the product uses, a drifted history, and its suspicion per position."""
    calibration = calibrate_taste(trained.model, _histories(trained, 60), choice="threshold")
    clean = max(_histories(trained, 40)[20:], key=len)
    drifted = inject("appended", clean, trained.model.num_items, np.random.default_rng(4), k=3)
    measure = measure_taste(trained.model, [drifted.history], window=calibration.window, candidates_only=True)[0]
    scores = dict(zip(measure.positions.tolist(), calibration.norm.scores(measure).tolist(), strict=True))
    return calibration, drifted, scores


def _usual(scores, calibration, injected) -> int:
    """An own title the check finds usual (suspicion below the flag threshold) in the scored window."""
    usual = [p for p, s in scores.items()
             if np.isfinite(s) and s < calibration.flag_threshold and p not in injected]
    assert usual, "the toy history has no usual title to rate low"
    return usual[-1]


def test_dislikes_split_low_ratings_from_not_interested():
    said = taste_policy.dislikes([5.0, 2.0, None, 2.5, 3.0, 1.0], [False, False, True, False, False, False],
                                 scale=STARS)
    assert said.low_rated == (1, 3, 5) and said.not_interested == (2,)
    assert taste_policy.dislikes([4.0, None], scale=STARS) == taste_policy.Dislikes()


def test_a_low_rating_counts_only_on_a_title_the_check_finds_unusual(trained, checked):
    """Fails on the rule before it (every low rating was explicit evidence, flagged first, whatever the model
    thought of the title): a member's own low-rated film of their usual kind is established history, not drift."""
    calibration, drifted, scores = checked
    injected = set(drifted.injected_positions.tolist())
    unusual = max(injected, key=lambda p: scores[p])
    assert scores[unusual] > calibration.flag_threshold
    usual = _usual(scores, calibration, injected)
    ratings: list[float | None] = [None] * len(drifted.history)
    ratings[usual] = ratings[unusual] = 2.0
    analysis = taste_policy.analyze_rated(trained.model, drifted.history, calibration,
                                          taste_policy.dislikes(ratings, scale=STARS),
                                          taste_policy.protected_positions(ratings, scale=STARS))
    assert analysis.explicit_positions.tolist() == [unusual]
    assert analysis.flagged_positions[0] == unusual  # a counted dislike is still flagged first
    assert usual not in analysis.flagged_positions.tolist()
    assert usual not in {change.position for change in analysis.changes}


def test_not_interested_counts_wherever_the_model_reads_it(trained, checked):
    calibration, drifted, scores = checked
    injected = set(drifted.injected_positions.tolist())
    usual = _usual(scores, calibration, injected)
    hidden = [position == usual for position in range(len(drifted.history))]
    said = taste_policy.dislikes([None] * len(drifted.history), hidden, scale=STARS)
    analysis = taste_policy.analyze_rated(trained.model, drifted.history, calibration, said, set())
    assert analysis.explicit_positions.tolist() == [usual] and analysis.flagged_positions[0] == usual


def test_the_rule_is_the_same_for_reference_histories(trained, checked):
    """Calibration's held-out check and a member's check read a history the same way: same dislikes, same
    evidence, whichever list the history arrives in."""
    calibration, drifted, scores = checked
    ratings: list[float | None] = [2.0] * len(drifted.history)
    said = taste_policy.dislikes(ratings, scale=STARS)
    alone = taste_policy.analyze_rated(trained.model, drifted.history, calibration, said, set())
    batch = taste_policy.analyze_rated_batch(trained.model, [*_histories(trained, 3), drifted.history], calibration,
                                             [taste_policy.Dislikes()] * 3 + [said], [set()] * 4)[-1]
    assert alone.explicit_positions.tolist() == batch.explicit_positions.tolist()
    assert set(alone.explicit_positions.tolist()) <= {p for p, s in scores.items() if s > calibration.flag_threshold}
