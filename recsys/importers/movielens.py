"""MovieLens-100K (u.*), MovieLens-1M (*.dat) and MovieLens latest / latest-small (*.csv)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .common import (
    ProgressCallback,
    StageProgress,
    build_dataset,
    integer_ids,
    main_file,
    sibling,
    split_categories,
    years_from_text,
    years_from_titles,
)
from .dataset import ImportFormatError, ParsedDataset, make_interactions, make_items
from .textio import (
    LATIN1_OR_UTF8,
    UTF8,
    Column,
    SourceText,
    body_lines,
    check_quoted_field_counts,
    first_line,
    read_source,
    read_table,
)

ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
    "War", "Western",
)  # fmt: skip
ML1M_OCCUPATIONS = (
    "other", "academic/educator", "artist", "clerical/admin", "college/grad student",
    "customer service", "doctor/health care", "executive/managerial", "farmer", "homemaker",
    "K-12 student", "lawyer", "programmer", "retired", "sales/marketing", "scientist",
    "self-employed", "technician/engineer", "tradesman/craftsman", "unemployed", "writer",
)  # fmt: skip

RATING_COLUMNS = [
    Column("user", "user id", "int"),
    Column("item", "item id", "int"),
    Column("rating", "rating", "float"),
    Column("timestamp", "timestamp", "int"),
]
ML_LATEST_RATINGS_HEADER = "userId,movieId,rating,timestamp"
ML_LATEST_MOVIES_HEADER = "movieId,title,genres"
ML_LATEST_TAGS_HEADER = "userId,movieId,tag,timestamp"


def ratings_from_table(frame: pd.DataFrame) -> pd.DataFrame:
    return make_interactions(
        integer_ids(frame["user"]), integer_ids(frame["item"]), frame["timestamp"], frame["rating"]
    )


# ---------------------------------------------------------------- MovieLens-100K


def parse_ml100k(path: Path, progress_callback: ProgressCallback | None = None) -> ParsedDataset:
    progress = StageProgress(progress_callback, total=5)
    ratings = read_source(main_file(path, "u.data"), LATIN1_OR_UTF8)
    interactions = ratings_from_table(read_table(ratings, "\t", RATING_COLUMNS))
    progress.step()
    genre_names, genre_source = _read_ml100k_genres(sibling(path, "u.genre"))
    progress.step()
    item_source = read_source(sibling(path, "u.item"), LATIN1_OR_UTF8)
    items = _read_ml100k_items(item_source, genre_names)
    progress.step()
    users, user_source = _read_optional(sibling(path, "u.user"), _read_ml100k_users)
    progress.step()
    sources = [s for s in (ratings, genre_source, item_source, user_source) if s is not None]
    dataset = build_dataset("ml-100k", items, interactions, sources, users=users)
    progress.finish()
    return dataset


def _read_ml100k_genres(path: Path) -> tuple[tuple[str, ...], SourceText | None]:
    if not path.exists():
        return ML100K_GENRES, None
    source = read_source(path, LATIN1_OR_UTF8)
    indexed = {}
    for number, line in body_lines(source.text):
        name, _, index = line.rpartition("|")
        if not name or not index.strip().isdigit():
            raise ImportFormatError(path, number, f"expected 'genre|index', found {line!r}")
        indexed[int(index)] = name
    return tuple(indexed[index] for index in sorted(indexed)), source


def _read_ml100k_items(source: SourceText, genre_names: tuple[str, ...]) -> pd.DataFrame:
    text_columns = [
        Column("item", "item id", "int"),
        Column("title", "title", "str"),
        Column("release", "release date", "str"),
        Column("video", "video release date", "str"),
        Column("url", "IMDb URL", "str"),
    ]
    flags = [Column(f"genre_{index}", f"genre flag {name!r}", "int") for index, name in enumerate(genre_names)]
    frame = read_table(source, "|", text_columns + flags)
    years = years_from_text(frame["release"]).fillna(years_from_titles(frame["title"]))
    categories = _categories_from_flags(frame[[flag.name for flag in flags]].to_numpy(), genre_names)
    return make_items(integer_ids(frame["item"]), frame["title"], years, categories)


def _categories_from_flags(flags: np.ndarray, genre_names: tuple[str, ...]) -> pd.Series:
    names = np.array(genre_names, dtype=object)
    chosen = flags.astype(bool)
    genre_text = ["|".join(names[row]) for row in chosen]
    return split_categories(pd.Series(genre_text, dtype=object), "|")


def _read_ml100k_users(source: SourceText) -> pd.DataFrame:
    columns = [
        Column("user", "user id", "int"),
        Column("age", "age", "int"),
        Column("gender", "gender", "str"),
        Column("occupation", "occupation", "str"),
        Column("zip", "zip code", "str"),
    ]
    frame = read_table(source, "|", columns)
    return _users_frame(frame)


def _users_frame(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": integer_ids(frame["user"]),
            "gender": frame["gender"].astype(object),
            "age": frame["age"].astype("Int64"),
            "occupation": frame["occupation"].astype(object),
            "zip": frame["zip"].astype(object),
        }
    )


def _read_optional(path: Path, reader, encoding: str = LATIN1_OR_UTF8):
    if not path.exists():
        return None, None
    source = read_source(path, encoding)
    return reader(source), source


# ---------------------------------------------------------------- MovieLens-1M


def parse_ml1m(path: Path, progress_callback: ProgressCallback | None = None) -> ParsedDataset:
    progress = StageProgress(progress_callback, total=4)
    ratings = read_source(main_file(path, "ratings.dat"), LATIN1_OR_UTF8)
    interactions = ratings_from_table(read_table(ratings, "::", RATING_COLUMNS))
    progress.step()
    movie_source = read_source(sibling(path, "movies.dat"), LATIN1_OR_UTF8)
    items = read_ml1m_movies(movie_source)
    progress.step()
    users, user_source = _read_optional(sibling(path, "users.dat"), _read_ml1m_users)
    progress.step()
    sources = [s for s in (ratings, movie_source, user_source) if s is not None]
    dataset = build_dataset("ml-1m", items, interactions, sources, users=users)
    progress.finish()
    return dataset


def read_ml1m_movies(source: SourceText) -> pd.DataFrame:
    columns = [Column("item", "movie id", "int"), Column("title", "title", "str"), Column("genres", "genres", "str")]
    frame = read_table(source, "::", columns)
    titles = frame["title"]
    return make_items(
        integer_ids(frame["item"]), titles, years_from_titles(titles), split_categories(frame["genres"], "|")
    )


def _read_ml1m_users(source: SourceText) -> pd.DataFrame:
    columns = [
        Column("user", "user id", "int"),
        Column("gender", "gender", "str"),
        Column("age", "age", "int"),
        Column("occupation", "occupation", "int"),
        Column("zip", "zip code", "str"),
    ]
    frame = read_table(source, "::", columns)
    codes = frame["occupation"]
    names = pd.Series(ML1M_OCCUPATIONS, dtype=object)
    frame["occupation"] = codes.map(names).fillna(codes.astype(str))
    return _users_frame(frame)


# ---------------------------------------------------------------- MovieLens latest (-small)


def parse_ml_latest(path: Path, progress_callback: ProgressCallback | None = None) -> ParsedDataset:
    progress = StageProgress(progress_callback, total=4)
    ratings = read_source(main_file(path, "ratings.csv"), UTF8)
    _expect_header(ratings, ML_LATEST_RATINGS_HEADER)
    interactions = ratings_from_table(read_table(ratings, ",", RATING_COLUMNS, header_lines=1, quoted=True))
    progress.step()
    movie_source = read_source(sibling(path, "movies.csv"), UTF8)
    items = _read_ml_latest_movies(movie_source)
    progress.step()
    tags, tag_source = _read_optional(sibling(path, "tags.csv"), _read_ml_latest_tags, UTF8)
    progress.step()
    sources = [s for s in (ratings, movie_source, tag_source) if s is not None]
    dataset = build_dataset("ml-latest", items, interactions, sources, tags=tags)
    progress.finish()
    return dataset


def _expect_header(source: SourceText, expected: str) -> None:
    found = first_line(source).strip()
    if found.replace('"', "") != expected:
        raise ImportFormatError(source.path, 1, f"expected header {expected!r}, found {found!r}")


def _read_ml_latest_movies(source: SourceText) -> pd.DataFrame:
    _expect_header(source, ML_LATEST_MOVIES_HEADER)
    columns = [Column("item", "movie id", "int"), Column("title", "title", "str"), Column("genres", "genres", "str")]
    check_quoted_field_counts(source, columns)
    frame = read_table(source, ",", columns, header_lines=1, quoted=True)
    titles = frame["title"].str.strip()
    return make_items(
        integer_ids(frame["item"]), titles, years_from_titles(titles), split_categories(frame["genres"], "|")
    )


def _read_ml_latest_tags(source: SourceText) -> pd.DataFrame:
    _expect_header(source, ML_LATEST_TAGS_HEADER)
    columns = [
        Column("user", "user id", "int"),
        Column("item", "movie id", "int"),
        Column("tag", "tag", "str"),
        Column("timestamp", "timestamp", "int"),
    ]
    frame = read_table(source, ",", columns, header_lines=1, quoted=True)
    return pd.DataFrame(
        {
            "user_id": integer_ids(frame["user"]),
            "item_id": integer_ids(frame["item"]),
            "tag": frame["tag"].astype(object),
            "timestamp": frame["timestamp"].astype(np.int64),
        }
    )
