"""Small generated data with a planted signal (rising titles become hits), for tests and demos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .config import ForecastConfig, Policy
from .data import ForecastInput

START = 1_420_070_400  # 2015-01-01
DAY = 86_400
GENRES = ("Action", "Comedy", "Drama", "Documentary", "Horror", "Romance")
GOOD_TAGS = ("great acting", "masterpiece", "funny", "beautiful")
BAD_TAGS = ("boring plot", "awful acting", "too long", "boring")

TOY_POLICY = Policy(count=8, avg=3.0, neg=0.6)


def toy_config(**overrides: object) -> ForecastConfig:
    """Quick settings for the toy data: one hyper-parameter setting per model, few resamples."""
    settings: dict[str, object] = dict(policy=TOY_POLICY, full_grid=False, bootstrap=50, lime_items=4,
                                       lime_samples=200, ice_items=10, sensitivity=False, explain_top=20)
    settings.update(overrides)
    return ForecastConfig(**settings)  # type: ignore[arg-type]


def toy_input(n_items: int = 240, n_users: int = 90, *, tags: bool = True, seed: int = 0) -> ForecastInput:
    rng = np.random.default_rng(seed)
    kinds = rng.choice(["rising", "steady", "popular", "new"], size=n_items, p=[0.2, 0.6, 0.1, 0.1])
    ratings: list[tuple[str, str, float, int]] = []
    tag_rows: list[tuple[str, str, str, int]] = []
    for index, kind in enumerate(kinds):
        item = str(index + 1)
        if kind == "rising":
            past = [(rng.integers(240, 300), rng.uniform(3.5, 5.0)) for _ in range(rng.integers(2, 7))]
            future = [(rng.integers(301, 400), rng.uniform(3.5, 5.0)) for _ in range(rng.integers(10, 15))]
        elif kind == "steady":
            past = [(rng.integers(0, 300), rng.uniform(1.0, 5.0)) for _ in range(rng.integers(4, 11))]
            future = [(rng.integers(301, 400), rng.uniform(1.0, 5.0)) for _ in range(rng.integers(0, 4))]
        elif kind == "new":  # rising after the training cutoff: today's emerging titles
            past = [(rng.integers(370, 400), rng.uniform(3.5, 5.0)) for _ in range(rng.integers(2, 7))]
            future = []
        else:
            past = [(rng.integers(0, 300), rng.uniform(2.0, 5.0)) for _ in range(rng.integers(30, 41))]
            future = [(rng.integers(301, 400), rng.uniform(2.0, 5.0)) for _ in range(rng.integers(1, 5))]
        users = rng.choice(n_users, size=len(past) + len(future), replace=len(past) + len(future) > n_users)
        for (day, rating), user in zip(past + future, users):
            stamp = START + int(day) * DAY + int(rng.integers(DAY))
            ratings.append((str(user + 1), item, float(np.round(rating * 2) / 2), stamp))
            if tags and rng.random() < 0.3:
                words = GOOD_TAGS if rating > 2.5 else BAD_TAGS
                tag_rows.append((str(user + 1), item, str(rng.choice(words)), stamp))
    ratings_frame = pd.DataFrame(ratings, columns=["user_id", "item_id", "rating", "timestamp"])
    ratings_frame = ratings_frame.drop_duplicates(["user_id", "item_id"]).reset_index(drop=True)
    items = pd.DataFrame({
        "item_id": [str(i + 1) for i in range(n_items)],
        "title": [f"Toy title {i + 1}" for i in range(n_items)],
        "year": rng.integers(1975, 2015, size=n_items).astype(float),
        "genres": [tuple(sorted(rng.choice(GENRES, size=rng.integers(1, 4), replace=False))) for _ in range(n_items)],
    })
    tags_frame = pd.DataFrame(tag_rows, columns=["user_id", "item_id", "tag", "timestamp"]) if tags else None
    return ForecastInput(ratings=ratings_frame, items=items, tags=tags_frame)


def write_movielens(data: ForecastInput, folder: str) -> str:
    """The data as ml-latest files (ratings.csv, movies.csv and, with tags, tags.csv) for the importer."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    ratings = data.ratings.rename(columns={"user_id": "userId", "item_id": "movieId"})
    ratings.to_csv(root / "ratings.csv", index=False, columns=["userId", "movieId", "rating", "timestamp"])
    movies = pd.DataFrame({
        "movieId": data.items["item_id"],
        "title": [f"{title} ({int(year)})" for title, year in zip(data.items["title"], data.items["year"])],
        "genres": ["|".join(genres) or "(no genres listed)" for genres in data.items["genres"]],
    })
    movies.to_csv(root / "movies.csv", index=False)
    if data.tags is not None:
        tags = data.tags.rename(columns={"user_id": "userId", "item_id": "movieId"})
        tags.to_csv(root / "tags.csv", index=False, columns=["userId", "movieId", "tag", "timestamp"])
    return str(root)
