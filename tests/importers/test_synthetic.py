"""The synthetic drift-model generator and its ML-1M writer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.importers import parse
from recsys.importers.dataset import make_items
from recsys.importers.synthetic import generate, generate_movielens_1m_like, write_movielens_1m

SMALL = {
    "n_users": 60,
    "n_items": 300,
    "n_interactions": 4000,
    "n_categories": 8,
    "seed": 7,
    "drift_users_fraction": 0.25,
    "drift_burst_len": 10,
}
CORE = ["user_id", "item_id", "timestamp", "rating", "position"]


@pytest.fixture(scope="module")
def dataset():
    return generate(**SMALL)


def categories_of(dataset) -> pd.Series:
    return dataset.items.set_index("external_id")["categories"]


def small_catalogue() -> pd.DataFrame:
    genres = [("Drama",), ("Comedy",), ("Action", "Thriller"), ("Horror",), ("Drama", "Musical"), ("Documentary",)]
    ids = [str(number) for number in range(1, 121)]
    years = [1950 + number % 50 for number in range(1, 121)]
    titles = [f"Film {number} ({year})" for number, year in zip(ids, years)]
    titles[72], years[72] = "Misérables, Les (1995)", 1995
    return make_items(pd.Series(ids), pd.Series(titles), years, [genres[number % 6] for number in range(120)])


def test_shape_and_contract(dataset):
    interactions = dataset.interactions
    assert dataset.format == "synthetic" and dataset.has_timestamps and dataset.has_categories
    assert len(interactions) == 4000
    assert interactions["user_id"].nunique() == 60 and len(dataset.items) == 300
    assert list(interactions.columns[:5]) == CORE
    assert interactions["position"].tolist() == list(range(4000))
    assert interactions["timestamp"].dtype == np.int64 and interactions["rating"].dtype == np.float64
    assert set(interactions["rating"]) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert not interactions.duplicated(["user_id", "item_id"]).any()
    assert interactions.groupby("user_id").size().min() >= 20
    assert len(dataset.checksum) == 64


def test_timestamps_strictly_increase_per_user(dataset):
    steps = dataset.interactions.groupby("user_id", sort=False)["timestamp"].diff().dropna()
    assert (steps > 0).all()


def test_reproducible_for_a_seed_and_different_for_another(dataset):
    again = generate(**SMALL)
    pd.testing.assert_frame_equal(again.interactions, dataset.interactions)
    pd.testing.assert_frame_equal(again.items, dataset.items)
    assert again.checksum == dataset.checksum
    other = generate(**{**SMALL, "seed": 8})
    assert not other.interactions["item_id"].equals(dataset.interactions["item_id"])
    assert other.checksum != dataset.checksum


def test_drift_episodes_are_off_profile_bursts(dataset):
    interactions, profiles = dataset.interactions, dataset.profiles.set_index("user_id")
    drift = interactions[interactions["drift_episode"]]
    assert drift["user_id"].nunique() == 15  # 25% of 60 users
    categories = categories_of(dataset)
    for user, rows in drift.groupby("user_id"):
        liked, disliked = (
            set(profiles.loc[user, "favourite_categories"]),
            set(profiles.loc[user, "disliked_categories"]),
        )
        assert not liked & disliked
        for item in rows["item_id"]:
            assert not set(categories[item]) & liked
            assert set(categories[item]) & disliked
        history = interactions[interactions["user_id"] == user].reset_index(drop=True)
        steps = np.flatnonzero(history["drift_episode"])
        assert len(steps) == profiles.loc[user, "drift_length"] == min(10, len(history) // 2)
        assert (np.diff(steps) == 1).all()  # one contiguous burst
        assert steps[0] == profiles.loc[user, "drift_start"] >= int(0.4 * len(history))


def test_uniform_bursts_are_off_profile_and_less_popular_than_popular_ones(dataset):
    uniform = generate(**{**SMALL, "drift_items": "uniform"})
    profiles, categories = uniform.profiles.set_index("user_id"), categories_of(uniform)
    drift = uniform.interactions[uniform.interactions["drift_episode"]]
    assert drift["user_id"].nunique() == 15
    for user, item in zip(drift["user_id"], drift["item_id"]):
        assert not set(categories[item]) & set(profiles.loc[user, "favourite_categories"])
        assert set(categories[item]) & set(profiles.loc[user, "disliked_categories"])

    def burst_item_popularity(parsed) -> float:  # how many users rated each burst item, on average
        counts = parsed.interactions["item_id"].value_counts()
        return float(counts[parsed.interactions.loc[parsed.interactions["drift_episode"], "item_id"]].mean())

    assert burst_item_popularity(uniform) < 0.8 * burst_item_popularity(dataset)


def test_history_component_stays_on_profile(dataset):
    interactions = dataset.interactions
    favourites = dataset.profiles.set_index("user_id")["favourite_categories"]
    categories = categories_of(dataset)
    history = interactions[interactions["component"] == "history"]
    assert all(
        set(categories[item]) & set(favourites[user]) for user, item in zip(history["user_id"], history["item_id"])
    )


def test_mixture_weights_follow_alpha_and_beta():
    """With a large catalogue nobody exhausts their favourites, so no draw falls back to uniform."""
    settings = {**SMALL, "n_items": 3000, "alpha": 0.2, "beta": 0.5, "drift_users_fraction": 0}
    shares = generate(**settings).interactions["component"].value_counts(normalize=True)
    assert shares["random"] == pytest.approx(0.2, abs=0.03)
    assert shares["history"] == pytest.approx(0.5, abs=0.03)
    assert shares["rec"] == pytest.approx(0.3, abs=0.03)
    assert shares["drift"] == 0


def test_drift_users_rate_off_profile_items_more_often_than_others(dataset):
    interactions, favourites = dataset.interactions, dataset.profiles.set_index("user_id")["favourite_categories"]
    categories = categories_of(dataset)
    on_profile = [
        bool(set(categories[i]) & set(favourites[u])) for u, i in zip(interactions["user_id"], interactions["item_id"])
    ]
    share = pd.Series(on_profile).groupby(interactions["drift_episode"].to_numpy()).mean()
    assert share[True] == 0 and share[False] > 0.6


def test_catalogue_provides_titles_and_genres():
    catalogue = small_catalogue()
    dataset = generate(n_users=20, n_items=100, n_interactions=600, seed=3, catalogue=catalogue)
    assert len(dataset.items) == 120  # the whole catalogue, unrated films included
    assert dataset.interactions["item_id"].nunique() <= 100
    assert set(dataset.interactions["item_id"]) <= set(catalogue["external_id"])
    assert "Misérables, Les (1995)" in set(dataset.items["title"])
    favourites = {name for names in dataset.profiles["favourite_categories"] for name in names}
    assert favourites <= {"Drama", "Comedy", "Action", "Thriller", "Horror", "Musical", "Documentary"}


def test_round_trip_through_movielens_1m_files(tmp_path):
    dataset = generate(n_users=25, n_items=100, n_interactions=900, seed=5, catalogue=small_catalogue())
    written = write_movielens_1m(dataset, tmp_path)
    assert [path.name for path in written] == ["ratings.dat", "movies.dat", "users.dat"]
    assert "Misérables".encode("latin-1") in (tmp_path / "movies.dat").read_bytes()
    assert (tmp_path / "ratings.dat").read_text().splitlines()[0].count("::") == 3
    parsed = parse(tmp_path)
    assert parsed.format == "ml-1m" and parsed.warnings == []
    pd.testing.assert_frame_equal(parsed.interactions[CORE], dataset.interactions[CORE])
    pd.testing.assert_frame_equal(parsed.items, dataset.items)
    pd.testing.assert_frame_equal(parsed.users, dataset.users)


def test_writer_keeps_an_existing_catalogue(tmp_path):
    (tmp_path / "movies.dat").write_text("1::Kept (1990)::Drama\n")
    dataset = generate(n_users=5, n_items=40, n_interactions=120, seed=1)
    written = write_movielens_1m(dataset, tmp_path)
    assert "movies.dat" not in [path.name for path in written]
    assert (tmp_path / "movies.dat").read_text() == "1::Kept (1990)::Drama\n"


def test_paper_scale_entry_point_with_progress(tmp_path):
    calls = []
    dataset = generate_movielens_1m_like(
        tmp_path, seed=2, progress=lambda done, total: calls.append((done, total)),
        n_users=30, n_items=120, n_interactions=1500,
    )  # fmt: skip
    assert (tmp_path / "ratings.dat").exists() and dataset.n_interactions == 1500
    assert 2 <= len(calls) <= 15 and calls[-1][0] == calls[-1][1]


@pytest.mark.parametrize(
    "bad",
    [
        {"alpha": 0.7, "beta": 0.5},
        {"alpha": -0.1},
        {"n_interactions": 60 * 300},
        {"n_interactions": 59},
        {"drift_users_fraction": 2},
        {"drift_window": 0},
        {"sequel_share": 1.5},
        {"session_theme": -0.1},
        {"drift_items": "sometimes"},
    ],
)
def test_invalid_parameters(bad):
    with pytest.raises(ValueError):
        generate(**{**SMALL, **bad})


STRUCTURED = {**SMALL, "sequel_share": 0.4, "taste_evolution": 1.0, "session_theme": 0.8, "drift_window": 0.25}


@pytest.fixture(scope="module")
def structured():
    return generate(**STRUCTURED)


def test_franchise_sequels_follow_their_predecessor_within_a_category(structured):
    interactions = structured.interactions
    previous = interactions.groupby("user_id")["item_id"].shift()
    sequels = interactions["component"] == "sequel"
    assert 0.15 < sequels.mean() < 0.45
    categories = categories_of(structured)
    pairs = list(zip(previous[sequels], interactions.loc[sequels, "item_id"]))
    assert all(set(categories[before]) & set(categories[after]) for before, after in pairs)
    successor = {}
    for before, after in pairs:  # a franchise is a fixed order: an item always has the same sequel
        assert successor.setdefault(before, after) == after


def test_late_bursts_start_in_the_last_quarter_of_a_history_or_as_late_as_they_fit(structured):
    interactions = structured.interactions
    step = interactions.groupby("user_id").cumcount()
    length = interactions.groupby("user_id")["item_id"].transform("size")
    burst = interactions["drift_episode"]
    per_user = pd.DataFrame({"step": step[burst], "length": length[burst], "user": interactions.loc[burst, "user_id"]})
    bursts = per_user.groupby("user").agg(start=("step", "min"), size=("step", "size"), length=("length", "first"))
    earliest_allowed = np.minimum((0.75 * bursts["length"]).astype(int), bursts["length"] - bursts["size"])
    assert len(bursts) == 15 and (bursts["start"] >= earliest_allowed).all()


def test_session_themes_make_consecutive_choices_share_a_category():
    def same_category_share(dataset) -> float:
        interactions = dataset.interactions
        categories = categories_of(dataset)
        history = interactions[interactions["component"] == "history"]
        previous = history.groupby("user_id")["item_id"].shift().dropna()
        return float(np.mean([bool(set(categories[a]) & set(categories[b]))
                              for a, b in zip(previous, history.loc[previous.index, "item_id"])]))

    assert same_category_share(generate(**{**SMALL, "session_theme": 1.0})) > same_category_share(
        generate(**SMALL)) + 0.1


def test_the_optional_structure_leaves_the_default_log_unchanged(dataset):
    explicit_off = generate(**{**SMALL, "sequel_share": 0.0, "taste_evolution": 0.0, "session_theme": 0.0,
                               "drift_items": "popular"})
    pd.testing.assert_frame_equal(dataset.interactions, explicit_off.interactions)
    assert explicit_off.checksum == dataset.checksum
    assert "sequel" not in set(dataset.interactions["component"])
