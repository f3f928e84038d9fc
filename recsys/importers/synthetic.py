"""Synthetic interaction logs following the paper's drift model (eq. 4), plus an ML-1M writer.

Each interaction of user u at step t is drawn from

    P(i_t) = alpha * P_random + beta * P_history + (1 - alpha - beta) * P_rec

* P_random: uniform over the catalogue (exploration, accidents);
* P_history: the user's stable taste: a favourite category (by the user's latent weights), then an
  item of that category by popularity;
* P_rec: what a recommender would push with no model yet: half the time global popularity, half
  the time item-to-item co-occurrence ("people who watched your recent item r next watched x"),
  read from a running buffer of what the whole population consumed right after each item.

Optional drift episodes: for ``drift_users_fraction`` of the users, ``drift_burst_len`` consecutive
interactions in the last ``drift_window`` of the history are items from categories the user
dislikes and none the user likes (``interactions.drift_episode``), drawn by popularity or, with
``drift_items="uniform"``, uniformly among them. Users never see an item twice.

Optional sequential structure, off by default (the paper's model has none), on for the demo:

* franchises (``sequel_share``): the catalogue is cut into chains of 2-5 items of the same main
  category ("Part 1, Part 2, ..."); after watching a chain item the user watches its unseen sequel
  next with probability ``sequel_share`` (component ``sequel``);
* taste that evolves (``taste_evolution``): each user has a second set of weights over the same
  favourite categories; P_history moves from the first towards the second along the history;
* session themes (``session_theme``): within a viewing session, a P_history draw repeats the
  session's previous category with this probability.

Pure numpy/pandas, no Django. ``generate`` returns a ``ParsedDataset`` (format "synthetic");
``write_movielens_1m`` writes it as ML-1M ``.dat`` files that ``recsys.importers.parse`` reads back
identically; ``generate_movielens_1m_like`` does both at paper scale for the management command.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from recsys.importers.common import ProgressCallback, StageProgress
from recsys.importers.dataset import ParsedDataset, make_interactions, make_items
from recsys.importers.movielens import ML1M_OCCUPATIONS, read_ml1m_movies
from recsys.importers.textio import LATIN1_OR_UTF8, read_source

ML1M_SHAPE = {"n_users": 6040, "n_items": 3706, "n_interactions": 1_000_209}
ML1M_TIME_RANGE = (956_703_932, 1_046_454_590)  # first and last ML-1M rating timestamps
ML1M_GENRES = (
    "Drama", "Comedy", "Action", "Thriller", "Romance", "Horror", "Adventure", "Sci-Fi", "Children's",
    "Crime", "War", "Documentary", "Musical", "Mystery", "Animation", "Fantasy", "Western", "Film-Noir",
)  # fmt: skip
ML1M_AGES = (1, 18, 25, 35, 45, 50, 56)
ML1M_AGE_SHARES = (0.04, 0.18, 0.35, 0.20, 0.09, 0.08, 0.06)

COMPONENTS = ("random", "history", "rec", "drift", "sequel")
RANDOM, HISTORY, REC, DRIFT, SEQUEL = range(5)
MIN_HISTORY = 20  # ML-1M keeps users with at least 20 ratings
MAX_HISTORY_SHARE = 0.6  # nobody rates more than 60% of the catalogue
MAX_USER_ITEM_CELLS = 400_000_000  # the "already seen" matrix is one byte per (user, item)
COOCCURRENCE_SHARE = 0.5  # P_rec: co-occurrence vs popularity
COOCCURRENCE_SLOTS = 32  # remembered successors per item
RECENT_WINDOW = 5  # P_rec looks at the user's last few items
SAME_COMPONENT_RETRIES = 5
UNIFORM_RETRIES = 30
MEAN_RATING = {RANDOM: 3.0, HISTORY: 4.1, REC: 3.5, DRIFT: 2.6, SEQUEL: 4.0}
FRANCHISE_LENGTHS = (2, 3, 4, 5)
NEW_SESSION_SHARE = 0.08  # a new viewing session starts before ~8% of the interactions
DRIFT_ITEM_CHOICES = ("popular", "uniform")  # how a burst's off-profile items are drawn


@dataclass(frozen=True)
class GeneratorParameters:
    n_users: int
    n_items: int
    n_interactions: int
    n_categories: int
    seed: int
    alpha: float
    beta: float
    drift_users_fraction: float
    drift_burst_len: int
    drift_window: float = 0.6
    sequel_share: float = 0.0
    taste_evolution: float = 0.0
    session_theme: float = 0.0
    drift_items: str = "popular"

    def validate(self) -> None:
        if min(self.n_users, self.n_items, self.n_interactions, self.n_categories) < 1:
            raise ValueError("n_users, n_items, n_interactions and n_categories must be positive")
        if self.alpha < 0 or self.beta < 0 or self.alpha + self.beta > 1:
            raise ValueError("need alpha >= 0, beta >= 0 and alpha + beta <= 1")
        if not 0 <= self.drift_users_fraction <= 1 or self.drift_burst_len < 0:
            raise ValueError("drift_users_fraction must be in [0, 1] and drift_burst_len >= 0")
        if not 0 < self.drift_window <= 1:
            raise ValueError("drift_window must be in (0, 1]")
        if not all(0 <= share <= 1 for share in (self.sequel_share, self.taste_evolution, self.session_theme)):
            raise ValueError("sequel_share, taste_evolution and session_theme must be in [0, 1]")
        if self.drift_items not in DRIFT_ITEM_CHOICES:
            raise ValueError(f"drift_items must be one of {', '.join(DRIFT_ITEM_CHOICES)}")
        if self.n_users * self.n_items > MAX_USER_ITEM_CELLS:
            raise ValueError("n_users x n_items is too large for the in-memory generator (limit 4e8)")
        if self.n_interactions < self.n_users:
            raise ValueError("need at least one interaction per user")
        if self.n_interactions > self.n_users * int(self.n_items * MAX_HISTORY_SHARE):
            raise ValueError("too many interactions: each user can rate at most 60% of the items once")


@dataclass
class Catalogue:
    """The items frame shown to callers plus the sampling structures over the active items."""

    items: pd.DataFrame  # every catalogue item (the real catalogue keeps its unrated items)
    active: np.ndarray  # row in ``items`` of each sampleable item
    categories: tuple[str, ...]
    membership: np.ndarray  # bool [n_active, n_categories]
    popularity: np.ndarray  # float [n_active], sums to 1
    popularity_cdf: np.ndarray
    category_members: np.ndarray  # active-item indices, grouped by category
    category_cdf: np.ndarray  # within-category popularity CDF, shifted by the category number
    sequel: np.ndarray | None = None  # int [n_active]: the next item of its franchise (-1: last or none)

    def sample_popular(self, rng: np.random.Generator, size) -> np.ndarray:
        return _search(self.popularity_cdf, rng.random(size))

    def sample_in_categories(self, rng: np.random.Generator, categories: np.ndarray) -> np.ndarray:
        keys = categories + rng.random(categories.shape) * (1 - 1e-9)
        return self.category_members[_search(self.category_cdf, keys)]


@dataclass
class Profiles:
    favourite_weights: np.ndarray  # float [n_users, n_categories], zero outside favourites
    favourite_cdf: np.ndarray
    disliked: np.ndarray  # bool [n_users, n_categories]
    late_cdf: np.ndarray | None = None  # where the taste ends up (taste_evolution > 0)

    @property
    def favourite(self) -> np.ndarray:
        return self.favourite_weights > 0


@dataclass
class DriftPlan:
    start: np.ndarray  # int [n_users], step of the first drift item (-1: none)
    length: np.ndarray  # int [n_users]
    items: np.ndarray  # int [n_users, burst_len] active-item indices (-1 padding)


# ---------------------------------------------------------------- public API


def generate(
    n_users: int = ML1M_SHAPE["n_users"],
    n_items: int = ML1M_SHAPE["n_items"],
    n_interactions: int = ML1M_SHAPE["n_interactions"],
    n_categories: int = 18,
    seed: int = 0,
    alpha: float = 0.1,
    beta: float = 0.6,
    drift_users_fraction: float = 0.1,
    drift_burst_len: int = 20,
    catalogue: pd.DataFrame | None = None,
    progress: ProgressCallback | None = None,
    drift_window: float = 0.6,
    sequel_share: float = 0.0,
    taste_evolution: float = 0.0,
    session_theme: float = 0.0,
    drift_items: str = "popular",
) -> ParsedDataset:
    """Generate a seeded log; with ``catalogue`` (an importer items frame) titles and genres are real
    and ``n_categories`` is ignored (the catalogue's own categories are used)."""
    parameters = GeneratorParameters(
        n_users, n_items, n_interactions, n_categories, seed, alpha, beta, drift_users_fraction, drift_burst_len,
        drift_window, sequel_share, taste_evolution, session_theme, drift_items,
    )
    parameters.validate()
    report = StageProgress(progress, total=12)
    rng = np.random.default_rng(seed)
    world = build_catalogue(parameters, catalogue, rng)
    profiles = build_profiles(n_users, world, rng)
    if sequel_share > 0:
        world.sequel = build_franchises(world, rng)
    if taste_evolution > 0:
        profiles.late_cdf = _late_taste(profiles, rng)
    lengths = history_lengths(n_users, n_interactions, len(world.active), rng)
    plan = plan_drift(parameters, lengths, world, profiles, rng)
    report.step()
    # Sessions are drawn before the simulation only when themes need them (keeps older seeds' logs identical).
    new_session = rng.random(int(lengths.sum())) < NEW_SESSION_SHARE if session_theme > 0 else None
    items, components = simulate(parameters, world, profiles, lengths, plan, rng, report, new_session)
    timestamps = user_timestamps(lengths, rng, new_session)
    ratings = draw_ratings(lengths, items, components, rng)
    dataset = _assemble(parameters, world, profiles, lengths, plan, items, components, timestamps, ratings, rng)
    report.finish()
    return dataset


def write_movielens_1m(dataset: ParsedDataset, directory: str | Path, overwrite_catalogue: bool = False) -> list[Path]:
    """Write ``ratings.dat`` (always) and ``movies.dat`` / ``users.dat`` (unless already present, or
    ``overwrite_catalogue``) in the exact ML-1M format: ``::``-separated, latin-1 (UTF-8 only if a
    title cannot be encoded in latin-1; the importer reads both). Returns the written paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = [_write_text(directory / "ratings.dat", _ratings_dat(dataset.interactions))]
    movies, users = directory / "movies.dat", directory / "users.dat"
    if overwrite_catalogue or not movies.exists():
        written.append(_write_text(movies, _movies_dat(dataset.items)))
    if dataset.users is not None and (overwrite_catalogue or not users.exists()):
        written.append(_write_text(users, _users_dat(dataset.users)))
    return written


def generate_movielens_1m_like(
    directory: str | Path,
    seed: int = 0,
    catalogue_path: str | Path | None = None,
    progress: ProgressCallback | None = None,
    **overrides,
) -> ParsedDataset:
    """Paper-scale set (6,040 users x 3,706 items x 1,000,209 ratings) written as ML-1M files.

    ``catalogue_path``: a real ``movies.dat`` (or its folder) for real titles and genres.
    ``overrides``: any ``generate`` keyword (alpha, beta, drift_users_fraction, ...)."""
    catalogue = load_catalogue(catalogue_path) if catalogue_path else None
    settings = {**ML1M_SHAPE, **overrides, "seed": seed, "catalogue": catalogue, "progress": progress}
    dataset = generate(**settings)
    write_movielens_1m(dataset, directory, overwrite_catalogue=True)
    return dataset


def load_catalogue(path: str | Path) -> pd.DataFrame:
    """Items frame from an ML-1M ``movies.dat`` (file or folder)."""
    path = Path(path)
    movies = path / "movies.dat" if path.is_dir() else path
    return read_ml1m_movies(read_source(movies, LATIN1_OR_UTF8))


# ---------------------------------------------------------------- catalogue and users


def build_catalogue(parameters: GeneratorParameters, catalogue: pd.DataFrame | None, rng) -> Catalogue:
    if catalogue is None:
        items, categories = _invented_items(parameters.n_items, parameters.n_categories, rng)
        active = np.arange(len(items))
    else:
        items, categories = _catalogue_items(catalogue)
        if parameters.n_items > len(items):
            raise ValueError(f"n_items={parameters.n_items} exceeds the catalogue's {len(items)} items")
        active = np.sort(rng.choice(len(items), size=parameters.n_items, replace=False))
    membership = _membership(items["categories"].iloc[active], categories)
    popularity = _popularity(len(active), rng)
    members, cdf = _category_sampler(membership, popularity)
    return Catalogue(items, active, categories, membership, popularity, _cdf(popularity), members, cdf)


def _invented_items(n_items: int, n_categories: int, rng) -> tuple[pd.DataFrame, tuple[str, ...]]:
    categories = tuple(ML1M_GENRES[:n_categories]) + tuple(
        f"Category {number}" for number in range(len(ML1M_GENRES) + 1, n_categories + 1)
    )
    prevalence = 1.0 / np.arange(2, n_categories + 2) ** 0.8
    counts = rng.choice([1, 2, 3], size=n_items, p=[0.5, 0.35, 0.15]).clip(max=n_categories)
    chosen = _top_k_mask(np.log(np.broadcast_to(prevalence, (n_items, n_categories))), counts, rng)
    names = np.array(categories, dtype=object)
    item_categories = [tuple(names[row]) for row in chosen]
    years = np.clip(np.round(2000 - rng.exponential(12, n_items)), 1919, 2000).astype(int)
    ids = [str(number) for number in range(1, n_items + 1)]
    titles = [f"Synthetic Movie {number} ({year})" for number, year in zip(ids, years)]
    items = make_items(pd.Series(ids, dtype=object), pd.Series(titles, dtype=object), years, item_categories)
    return items, categories


def _catalogue_items(catalogue: pd.DataFrame) -> tuple[pd.DataFrame, tuple[str, ...]]:
    items = make_items(catalogue["external_id"], catalogue["title"], catalogue["year"], catalogue["categories"])
    counts = pd.Series([name for names in items["categories"] for name in names]).value_counts()
    ordered = sorted(counts.index, key=lambda name: (-counts[name], name))
    if not ordered:
        raise ValueError("the catalogue has no categories")
    return items, tuple(ordered)


def _membership(item_categories: pd.Series, categories: tuple[str, ...]) -> np.ndarray:
    column_of = {name: index for index, name in enumerate(categories)}
    membership = np.zeros((len(item_categories), len(categories)), dtype=bool)
    for row, names in enumerate(item_categories):
        membership[row, [column_of[name] for name in names]] = True
    return membership


def _popularity(n_items: int, rng) -> np.ndarray:
    """Log-normal popularity: the most popular item gets ~15-20x the mean, as in ML-1M."""
    weights = rng.lognormal(0.0, 1.1, n_items)
    return weights / weights.sum()


def _category_sampler(membership: np.ndarray, popularity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Members of every category in one array, and their popularity CDF shifted by the category number,
    so ``searchsorted(cdf, c + u)`` samples an item of category ``c`` by popularity."""
    members, cdfs = [], []
    for category in range(membership.shape[1]):
        items = np.flatnonzero(membership[:, category])
        members.append(items)
        cdfs.append(category + _cdf(popularity[items]) if len(items) else np.array([], dtype=float))
    return np.concatenate(members).astype(np.int64), np.concatenate(cdfs)


def build_profiles(n_users: int, world: Catalogue, rng) -> Profiles:
    """2-4 favourite categories per user (common genres more likely), 2 disliked ones among the rest."""
    n_categories = len(world.categories)
    prevalence = world.membership.sum(axis=0).astype(float)
    log_prevalence = np.log(np.where(prevalence > 0, prevalence, np.nan))
    log_prevalence = np.nan_to_num(log_prevalence, nan=-np.inf)
    n_favourite = rng.integers(2, 5, size=n_users).clip(max=max(1, n_categories - 1))
    favourite = _top_k_mask(np.broadcast_to(log_prevalence, (n_users, n_categories)), n_favourite, rng)
    disliked_scores = np.where(favourite | (prevalence == 0), -np.inf, 0.0)
    disliked = _top_k_mask(disliked_scores, np.full(n_users, 2), rng)
    weights = rng.dirichlet(np.ones(n_categories), size=n_users) * favourite
    weights /= weights.sum(axis=1, keepdims=True)
    return Profiles(weights, _cdf(weights), disliked)


def build_franchises(world: Catalogue, rng) -> np.ndarray:
    """Chain the active items into franchises of 2-5 items sharing their main category (the catalogue's
    most common category they belong to), in a random order: ``sequel[i]`` is the item after ``i``."""
    main_category = np.where(world.membership.any(axis=1), np.argmax(world.membership, axis=1), -1)
    order = np.lexsort((rng.random(len(main_category)), main_category))
    sequel = np.full(len(order), -1, dtype=np.int64)
    start = 0
    while start < len(order):
        size = int(rng.choice(FRANCHISE_LENGTHS))
        chain = order[start : start + size]
        chain = chain[main_category[chain] == main_category[chain[0]]]  # never across categories
        sequel[chain[:-1]] = chain[1:]
        start += len(chain)
    return sequel


def _late_taste(profiles: Profiles, rng) -> np.ndarray:
    """CDF of a second set of weights over each user's favourite categories: where the taste ends up."""
    favourite = profiles.favourite
    weights = rng.dirichlet(np.ones(favourite.shape[1]), size=favourite.shape[0]) * favourite
    return _cdf(weights / weights.sum(axis=1, keepdims=True))


def _top_k_mask(log_weights: np.ndarray, counts: np.ndarray, rng) -> np.ndarray:
    """Weighted sampling without replacement per row (Gumbel top-k): boolean mask of the chosen."""
    keys = log_weights + rng.gumbel(size=log_weights.shape)
    ranks = np.argsort(np.argsort(-keys, axis=1, kind="stable"), axis=1, kind="stable")
    return (ranks < counts[:, None]) & np.isfinite(keys)


def history_lengths(n_users: int, n_interactions: int, n_items: int, rng) -> np.ndarray:
    """Log-normal history lengths, at least 20 (fewer if the total is small), at most 60% of the
    items, summing exactly to ``n_interactions``."""
    cap = int(n_items * MAX_HISTORY_SHARE)
    floor = min(MIN_HISTORY, n_interactions // n_users, cap)
    weights = rng.lognormal(0.0, 1.0, n_users)
    lengths = floor + rng.multinomial(n_interactions - floor * n_users, weights / weights.sum())
    while (excess := int(np.clip(lengths - cap, 0, None).sum())) > 0:
        lengths = np.minimum(lengths, cap)
        room = (lengths < cap) * weights
        lengths += rng.multinomial(excess, room / room.sum())
    return lengths.astype(np.int64)


def plan_drift(parameters: GeneratorParameters, lengths, world: Catalogue, profiles: Profiles, rng) -> DriftPlan:
    """Pick drift users and, for each, a burst of off-profile items placed in the last ``drift_window`` of
    the history (by default 40-100%)."""
    n_users, burst = len(lengths), min(parameters.drift_burst_len, len(world.active))
    plan = DriftPlan(np.full(n_users, -1), np.zeros(n_users, dtype=np.int64), np.full((n_users, max(burst, 1)), -1))
    n_drift = int(round(parameters.drift_users_fraction * n_users)) if burst else 0
    drift_users = np.sort(rng.choice(n_users, size=n_drift, replace=False))
    for users in np.array_split(drift_users, max(1, n_drift // 512)):  # bounded [users, items] matrices
        off_profile = _off_profile_items(users, world, profiles)
        plan.length[users] = np.minimum(np.minimum(off_profile.sum(axis=1), burst), lengths[users] // 2)
        plan.start[users] = _burst_starts(lengths[users], plan.length[users], rng, parameters.drift_window)
        weights = world.popularity if parameters.drift_items == "popular" else np.ones(len(world.active))
        plan.items[users, :burst] = _burst_items(off_profile, weights, plan.length[users], burst, rng)
    return plan


def _off_profile_items(users: np.ndarray, world: Catalogue, profiles: Profiles) -> np.ndarray:
    """bool [users, items]: in at least one disliked category and in none of the favourite ones."""
    membership = world.membership.astype(np.int32)
    liked = profiles.favourite[users].astype(np.int32) @ membership.T
    disliked = profiles.disliked[users].astype(np.int32) @ membership.T
    return (liked == 0) & (disliked > 0)


def _burst_starts(lengths: np.ndarray, burst_lengths: np.ndarray, rng, window: float = 0.6) -> np.ndarray:
    latest = lengths - burst_lengths
    earliest = np.minimum(((1 - window) * lengths).astype(np.int64), latest)
    starts = earliest + (rng.random(len(lengths)) * (latest - earliest + 1)).astype(np.int64)
    return np.where(burst_lengths > 0, starts, -1)


def _burst_items(off_profile: np.ndarray, weights: np.ndarray, burst_lengths, burst: int, rng) -> np.ndarray:
    """Distinct off-profile items per user, drawn by ``weights`` (Gumbel top-k); -1 pads short bursts."""
    keys = np.where(off_profile, np.log(weights), -np.inf) + rng.gumbel(size=off_profile.shape)
    ranked = np.argsort(-keys, axis=1, kind="stable")[:, :burst]
    return np.where(np.arange(burst) < burst_lengths[:, None], ranked, -1)


# ---------------------------------------------------------------- the step-by-step simulation


class _Simulation:
    """State of the vectorised simulation: at step t every user with a history longer than t draws
    one item; users are processed longest-first so the active users are always a prefix."""

    def __init__(self, parameters, world, profiles, lengths, plan, rng, new_session=None):
        self.parameters, self.world, self.profiles, self.plan, self.rng = parameters, world, profiles, plan, rng
        self.lengths, self.new_session = lengths, new_session
        self.last_category = np.full(len(lengths), -1, dtype=np.int64)  # of the session's last P_history draw
        self.order = np.argsort(-lengths, kind="stable")
        self.sorted_lengths = lengths[self.order]
        self.offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        self.items = np.full(int(lengths.sum()), -1, dtype=np.int64)
        self.components = np.zeros(len(self.items), dtype=np.int8)
        self.seen = np.zeros((len(lengths), len(world.active)), dtype=bool)
        for user in np.flatnonzero(plan.length):
            self.seen[user, plan.items[user, : plan.length[user]]] = True
        self.successors = self._initial_successors()

    def _initial_successors(self) -> np.ndarray:
        """Before anyone has watched anything, an item's successors are popular items of its categories."""
        world, rng = self.world, self.rng
        n_items = len(world.active)
        counts = world.membership.sum(axis=1)
        pick = (rng.random(n_items) * np.maximum(counts, 1)).astype(np.int64)
        category = np.argmax(np.cumsum(world.membership, axis=1) > pick[:, None], axis=1)
        successors = world.sample_in_categories(rng, np.repeat(category[:, None], COOCCURRENCE_SLOTS, axis=1))
        uncategorised = counts == 0
        successors[uncategorised] = world.sample_popular(rng, (int(uncategorised.sum()), COOCCURRENCE_SLOTS))
        return successors

    def step(self, t: int) -> None:
        active = int(np.searchsorted(-self.sorted_lengths, -t, side="left"))
        users = self.order[:active]
        positions = self.offsets[users] + t
        components = self._components(users, t)
        chosen = self._draw(users, components, t)
        chosen = self._avoid_repeats(users, components, chosen, t)
        self.items[positions] = chosen
        self.components[positions] = components
        self.seen[users, chosen] = True
        if t > 0:
            slots = self.rng.integers(COOCCURRENCE_SLOTS, size=active)
            self.successors[self.items[positions - 1], slots] = chosen

    def _components(self, users, t: int) -> np.ndarray:
        alpha, beta = self.parameters.alpha, self.parameters.beta
        draws = self.rng.random(len(users))
        components = np.where(draws < alpha, RANDOM, np.where(draws < alpha + beta, HISTORY, REC)).astype(np.int8)
        if self.parameters.sequel_share > 0 and t > 0:
            sequel = self._next_in_franchise(users, t)
            follows = (sequel >= 0) & (self.rng.random(len(users)) < self.parameters.sequel_share)
            components[follows] = SEQUEL
        in_burst = (t >= self.plan.start[users]) & (t < self.plan.start[users] + self.plan.length[users])
        components[in_burst] = DRIFT
        return components

    def _next_in_franchise(self, users, t: int) -> np.ndarray:
        """The unseen sequel of each user's previous item (-1: none)."""
        sequel = self.world.sequel[self.items[self.offsets[users] + t - 1]]
        unseen = ~self.seen[users, np.maximum(sequel, 0)]
        return np.where((sequel >= 0) & unseen, sequel, -1)

    def _draw(self, users, components, t: int) -> np.ndarray:
        chosen = np.empty(len(users), dtype=np.int64)
        for component, sampler in (
            (RANDOM, self._random),
            (HISTORY, self._history),
            (REC, self._recommended),
            (DRIFT, self._drift),
            (SEQUEL, self._sequel),
        ):
            rows = np.flatnonzero(components == component)
            if len(rows):
                chosen[rows] = sampler(users[rows], t)
        return chosen

    def _random(self, users, t: int) -> np.ndarray:
        return self.rng.integers(len(self.world.active), size=len(users))

    def _history(self, users, t: int) -> np.ndarray:
        cdf = self.profiles.favourite_cdf[users]
        if self.profiles.late_cdf is not None:  # the taste moves towards its late weights along the history
            late = self.rng.random(len(users)) < self.parameters.taste_evolution * t / self.lengths[users]
            cdf = np.where(late[:, None], self.profiles.late_cdf[users], cdf)
        category = np.argmax(cdf > self.rng.random(len(users))[:, None], axis=1)  # first positive-weight hit
        if self.new_session is not None:
            category = self._keep_session_theme(users, t, category)
        return self.world.sample_in_categories(self.rng, category)

    def _keep_session_theme(self, users, t: int, category: np.ndarray) -> np.ndarray:
        same_session = ~self.new_session[self.offsets[users] + t] & (self.last_category[users] >= 0)
        keep = same_session & (self.rng.random(len(users)) < self.parameters.session_theme)
        category = np.where(keep, self.last_category[users], category)
        self.last_category[users] = category
        return category

    def _sequel(self, users, t: int) -> np.ndarray:
        return self._next_in_franchise(users, t)

    def _recommended(self, users, t: int) -> np.ndarray:
        chosen = self.world.sample_popular(self.rng, len(users))
        if t == 0:
            return chosen
        use_cooccurrence = self.rng.random(len(users)) < COOCCURRENCE_SHARE
        rows = np.flatnonzero(use_cooccurrence)
        lag = 1 + (self.rng.random(len(rows)) * min(t, RECENT_WINDOW)).astype(np.int64)
        recent = self.items[self.offsets[users[rows]] + t - lag]
        chosen[rows] = self.successors[recent, self.rng.integers(COOCCURRENCE_SLOTS, size=len(rows))]
        return chosen

    def _drift(self, users, t: int) -> np.ndarray:
        return self.plan.items[users, t - self.plan.start[users]]

    def _avoid_repeats(self, users, components, chosen, t: int) -> np.ndarray:
        """Redraw items the user has already seen: same component first, then uniform, then exhaustive.
        Rows that fall back to uniform draws are relabelled RANDOM in ``components`` (in place)."""
        for attempt in range(SAME_COMPONENT_RETRIES + UNIFORM_RETRIES):
            repeated = np.flatnonzero(self.seen[users, chosen] & (components != DRIFT))
            if not len(repeated):
                return chosen
            if attempt < SAME_COMPONENT_RETRIES:
                chosen[repeated] = self._draw(users[repeated], components[repeated], t)
            else:  # e.g. the user has seen most of their favourite categories: explore instead
                components[repeated] = RANDOM
                chosen[repeated] = self._random(users[repeated], t)
        for row in np.flatnonzero(self.seen[users, chosen] & (components != DRIFT)):
            unseen = np.flatnonzero(~self.seen[users[row]])
            chosen[row] = unseen[self.rng.integers(len(unseen))]
        return chosen


def simulate(
    parameters, world, profiles, lengths, plan, rng, report, new_session=None
) -> tuple[np.ndarray, np.ndarray]:
    """Item (active index) and mixture component of every interaction, grouped by user, in time order."""
    simulation = _Simulation(parameters, world, profiles, lengths, plan, rng, new_session)
    longest = int(lengths.max())
    checkpoints = set(np.linspace(0, longest, 10, endpoint=False, dtype=int)[1:])
    for t in range(longest):
        simulation.step(t)
        if t in checkpoints:
            report.step()
    return simulation.items, simulation.components


# ---------------------------------------------------------------- timestamps, ratings, assembly


def user_timestamps(lengths: np.ndarray, rng, new_session: np.ndarray | None = None) -> np.ndarray:
    """Strictly increasing per user: sessions of minutes-apart ratings separated by days-long gaps,
    each history placed inside the ML-1M time range. ``new_session``: where sessions start (drawn here
    when not given)."""
    first, last = ML1M_TIME_RANGE
    total = int(lengths.sum())
    if new_session is None:
        new_session = rng.random(total) < NEW_SESSION_SHARE
    gaps = np.where(new_session, rng.exponential(4 * 86_400, total), rng.exponential(120, total))
    user_of = np.repeat(np.arange(len(lengths)), lengths)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    gaps[starts] = 0
    span = np.bincount(user_of, weights=gaps, minlength=len(lengths))
    scale = np.minimum(1.0, 0.9 * (last - first) / np.maximum(span, 1.0))
    steps = np.floor(gaps * scale[user_of]).astype(np.int64) + 1
    steps[starts] = 0
    elapsed = np.cumsum(steps) - np.repeat(np.cumsum(steps)[starts], lengths)
    room = (last - first) - elapsed[np.cumsum(lengths) - 1]
    begin = first + (rng.random(len(lengths)) * np.maximum(room, 0)).astype(np.int64)
    return begin[user_of] + elapsed


def draw_ratings(lengths: np.ndarray, items: np.ndarray, components: np.ndarray, rng) -> np.ndarray:
    """1-5 stars: on-profile items rated higher than random or drift ones, plus user/item bias."""
    user_bias = np.repeat(rng.normal(0.0, 0.4, len(lengths)), lengths)
    item_bias = rng.normal(0.0, 0.5, int(items.max()) + 1)[items]
    means = np.array([MEAN_RATING[component] for component in range(len(COMPONENTS))])[components]
    noisy = means + user_bias + item_bias + rng.normal(0.0, 0.8, len(items))
    return np.clip(np.round(noisy), 1, 5).astype(np.float64)


def _assemble(parameters, world, profiles, lengths, plan, items, components, timestamps, ratings, rng) -> ParsedDataset:
    user_ids = pd.Series([str(number) for number in range(1, len(lengths) + 1)], dtype=object)
    external_ids = world.items["external_id"].to_numpy()[world.active]
    interactions = make_interactions(
        pd.Series(np.repeat(user_ids.to_numpy(), lengths), dtype=object),
        pd.Series(external_ids[items], dtype=object),
        timestamps,
        ratings,
    )
    interactions["drift_episode"] = components == DRIFT
    interactions["component"] = pd.Categorical.from_codes(components, categories=list(COMPONENTS))
    return ParsedDataset(
        format="synthetic",
        items=world.items,
        interactions=interactions,
        users=_synthetic_users(user_ids, rng),
        tags=None,
        has_timestamps=True,
        has_categories=True,
        source_files=[],
        checksum=_parameters_checksum(parameters, world),
        field_mapping={},
        warnings=[],
        profiles=_profiles_frame(user_ids, world, profiles, plan),
    )


def _synthetic_users(user_ids: pd.Series, rng) -> pd.DataFrame:
    count = len(user_ids)
    return pd.DataFrame(
        {
            "user_id": user_ids,
            "gender": rng.choice(np.array(["M", "F"], dtype=object), size=count, p=[0.72, 0.28]),
            "age": pd.array(rng.choice(ML1M_AGES, size=count, p=ML1M_AGE_SHARES), dtype="Int64"),
            "occupation": rng.choice(np.array(ML1M_OCCUPATIONS, dtype=object), size=count),
            "zip": [f"{code:05d}" for code in rng.integers(1000, 99999, size=count)],
        }
    )


def _profiles_frame(user_ids, world: Catalogue, profiles: Profiles, plan: DriftPlan) -> pd.DataFrame:
    """The latent truth per user: favourite categories (with weights), disliked ones, drift burst."""
    names = np.array(world.categories, dtype=object)
    favourite = profiles.favourite
    return pd.DataFrame(
        {
            "user_id": user_ids,
            "favourite_categories": [tuple(names[row]) for row in favourite],
            "favourite_weights": [
                tuple(np.round(w[m], 4).tolist()) for w, m in zip(profiles.favourite_weights, favourite)
            ],
            "disliked_categories": [tuple(names[row]) for row in profiles.disliked],
            "drift_start": pd.Series(plan.start, dtype="Int64").mask(plan.length == 0),
            "drift_length": plan.length,
        }
    )


def _parameters_checksum(parameters: GeneratorParameters, world: Catalogue) -> str:
    fields = asdict(parameters)
    if fields["drift_items"] == "popular":  # the default: datasets generated before the option keep their checksum
        del fields["drift_items"]
    digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode())
    digest.update("\0".join(world.items["external_id"] + "\t" + world.items["title"]).encode())
    return digest.hexdigest()


# ---------------------------------------------------------------- ML-1M writer


def _ratings_dat(interactions: pd.DataFrame) -> str:
    ratings = interactions["rating"]
    if ratings.isna().any() or not ratings.between(1, 5).all() or (ratings % 1 != 0).any():
        raise ValueError("ML-1M ratings.dat needs whole-star ratings 1-5 for every interaction")
    _require_numeric_ids(interactions["user_id"], "user")
    _require_numeric_ids(interactions["item_id"], "item")
    users, items = interactions["user_id"].tolist(), interactions["item_id"].tolist()
    stars, times = ratings.astype(np.int64).tolist(), interactions["timestamp"].astype(np.int64).tolist()
    return "".join(f"{u}::{i}::{r}::{t}\n" for u, i, r, t in zip(users, items, stars, times))


def _movies_dat(items: pd.DataFrame) -> str:
    _require_numeric_ids(items["external_id"], "item")
    titles = items["title"].astype(str)
    if titles.str.contains("::|\n|\r", regex=True).any():
        raise ValueError("a title contains '::' or a line break, which ML-1M's format cannot hold")
    genres = items["categories"].map("|".join)
    return _join_rows([items["external_id"].astype(str), titles, genres])


def _users_dat(users: pd.DataFrame) -> str:
    _require_numeric_ids(users["user_id"], "user")
    code_of = {name: str(code) for code, name in enumerate(ML1M_OCCUPATIONS)}
    codes = users["occupation"].astype(str).map(code_of).fillna("0")  # unknown occupations -> 0 "other"
    ages = users["age"].astype("Int64").fillna(0).astype(str)
    return _join_rows(
        [users["user_id"].astype(str), users["gender"].astype(str), ages, codes, users["zip"].astype(str)]
    )


def _require_numeric_ids(ids: pd.Series, what: str) -> None:
    distinct = pd.Series(pd.unique(ids.astype(str)), dtype=object)
    if not distinct.str.fullmatch(r"\d+").all():
        raise ValueError(f"ML-1M files need numeric {what} ids")


def _join_rows(columns: list[pd.Series]) -> str:
    return "".join("::".join(fields) + "\n" for fields in zip(*(column.tolist() for column in columns)))


def _write_text(path: Path, text: str) -> Path:
    try:
        data = text.encode("latin-1")
    except UnicodeEncodeError:
        data = text.encode("utf-8")
    path.write_bytes(data)
    return path


def _cdf(weights: np.ndarray) -> np.ndarray:
    """Cumulative weights along the last axis, ending at exactly 1."""
    cumulative = np.cumsum(weights, axis=-1)
    return cumulative / cumulative[..., -1:]


def _search(cdf: np.ndarray, keys: np.ndarray) -> np.ndarray:
    return np.minimum(np.searchsorted(cdf, keys, side="right"), len(cdf) - 1)
