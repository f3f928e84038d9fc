"""RecBole atomic files (``<name>.inter``, ``<name>.item``, ``<name>.user``).

Tab-separated, UTF-8; the first line names each field as ``name:type`` with type one of
``token``, ``token_seq``, ``float``, ``float_seq``. Field names differ between RecBole's datasets, so
user / item / rating / timestamp (and title / year / categories in ``.item``) are found by name; the
chosen fields are reported in ``ParsedDataset.field_mapping``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .common import (
    ProgressCallback,
    StageProgress,
    build_dataset,
    split_categories,
    token_ids,
    unix_seconds,
    years_from_text,
)
from .dataset import ImportFormatError, ParsedDataset, make_interactions, make_items
from .textio import UTF8, Column, SourceText, first_line, read_source, read_table

FIELD_TYPES = ("token", "token_seq", "float", "float_seq")
SPLIT_ORDER = ("train", "valid", "validation", "test")

USER_NAMES = ("user_id", "uid", "userid", "user", "session_id", "session", "visitor_id", "customer_id", "reviewer_id")
ITEM_NAMES = (
    "item_id", "iid", "itemid", "item", "movie_id", "business_id", "product_id", "track_id", "song_id", "artist_id",
    "book_id", "anime_id", "venue_id", "poi_id", "news_id", "video_id", "photo_id", "game_id",
    "recipe_id", "app_id", "course_id", "beer_id", "isbn", "asin",
)  # fmt: skip
RATING_NAMES = ("rating", "ratings", "stars", "score", "overall", "rate", "book_rating", "review_score", "rating_score")
TIME_NAMES = (
    "timestamp",
    "time",
    "ts",
    "datetime",
    "date",
    "time_stamp",
    "unix_time",
    "unixreviewtime",
    "review_time",
    "created_at",
    "event_time",
)
TITLE_NAMES = (
    "movie_title",
    "title",
    "item_name",
    "name",
    "book_title",
    "product_name",
    "track_name",
    "song_name",
    "artist_name",  # after the track's own name: a plays log's item is the track, not its artist
    "business_name",
    "anime_name",
    "app_name",
)
YEAR_NAMES = ("release_year", "year", "year_of_publication", "publication_year", "publish_year", "release_date")
CATEGORY_NAMES = (
    "class",
    "genre",
    "genres",
    "categories",
    "category",
    "categories_list",
    "tags",
    "tag",
    "types",
    "type",
    "cate_id",
    "category_id",
)


@dataclass(frozen=True)
class Field:
    name: str
    type: str

    @property
    def is_token(self) -> bool:
        return self.type in ("token", "token_seq")


@dataclass
class AtomicFile:
    source: SourceText
    fields: list[Field]
    frame: pd.DataFrame


def parse_recbole(path: Path, progress_callback: ProgressCallback | None = None) -> ParsedDataset:
    inter_paths = find_inter_files(path)
    progress = StageProgress(progress_callback, total=len(inter_paths) + 3)
    inters = []
    for inter_path in inter_paths:
        inters.append(read_atomic(inter_path))
        progress.step()
    mapping: dict[str, str] = {}
    item_file = _read_companion(inter_paths[0], ".item")
    progress.step()
    user_file = _read_companion(inter_paths[0], ".user")
    progress.step()
    interactions, has_timestamps = _interactions(inters, item_file, mapping)
    items, has_categories = _items(item_file, mapping)
    users = _users(user_file, mapping)
    sources = [inter.source for inter in inters] + [f.source for f in (item_file, user_file) if f is not None]
    dataset = build_dataset(
        "recbole", items, interactions, sources, users=users, has_timestamps=has_timestamps,
        has_categories=has_categories, field_mapping=mapping,
    )  # fmt: skip
    progress.finish()
    return dataset


def find_inter_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    found = sorted(path.glob("*.inter"))
    if not found:
        raise ImportFormatError(path, None, "no .inter file in the directory")
    if len(found) == 1:
        return found
    splits = {_split_name(candidate): candidate for candidate in found}
    if set(splits) <= set(SPLIT_ORDER) and len(splits) == len(found):
        return [splits[name] for name in SPLIT_ORDER if name in splits]
    names = ", ".join(candidate.name for candidate in found)
    raise ImportFormatError(path, None, f"several .inter files ({names}); pass the one to import")


def _split_name(path: Path) -> str:
    """``ml-100k.train.inter`` -> ``train``."""
    parts = path.name.split(".")
    return parts[-2] if len(parts) >= 3 else ""


def _read_companion(inter_path: Path, suffix: str) -> AtomicFile | None:
    dataset_name = inter_path.name.split(".")[0]
    candidate = inter_path.with_name(dataset_name + suffix)
    if not candidate.exists():
        others = sorted(inter_path.parent.glob("*" + suffix))
        if len(others) != 1:
            return None
        candidate = others[0]
    return read_atomic(candidate)


def read_atomic(path: Path) -> AtomicFile:
    source = read_source(path, UTF8)
    fields = parse_header(source)
    columns = [  # an empty float cell is NaN: a rating left blank is no rating; timestamps refuse it later
        Column(f"c{index}", field.name, "float" if field.type == "float" else "str", optional=True)
        for index, field in enumerate(fields)
    ]
    frame = read_table(source, "\t", columns, header_lines=1)
    frame.columns = [field.name for field in fields]
    return AtomicFile(source, fields, frame)


def parse_header(source: SourceText) -> list[Field]:
    fields = []
    for entry in first_line(source).split("\t"):
        name, _, field_type = entry.strip().rpartition(":")
        if not name or field_type not in FIELD_TYPES:
            message = f"header field {entry!r} is not 'name:type' with type in {', '.join(FIELD_TYPES)}"
            raise ImportFormatError(source.path, 1, message)
        fields.append(Field(name, field_type))
    return fields


def titles_for(item_name: str) -> tuple[str, ...]:
    """Title field names, most likely first: the item's own name (``track_id`` -> ``track_name``) before any other
    name a row holds (the artist's, beside a track)."""
    stem = item_name.lower().removesuffix("_id").removesuffix("id").rstrip("_")
    own = (f"{stem}_name", f"{stem}_title") if stem else ()
    return (*own, *TITLE_NAMES)


def choose_field(fields: list[Field], preferred: tuple[str, ...], hints: tuple[str, ...], exclude=()) -> Field | None:
    """Exact preferred name first (in order), then the first field whose name contains a hint."""
    candidates = [field for field in fields if field.name not in exclude]
    by_name = {field.name.lower(): field for field in candidates}
    for name in preferred:
        if name in by_name:
            return by_name[name]
    for field in candidates:
        if any(hint in field.name.lower() for hint in hints):
            return field
    return None


def _interactions(inters: list[AtomicFile], item_file: AtomicFile | None, mapping: dict) -> tuple[pd.DataFrame, bool]:
    first = inters[0]
    user = _require(first, choose_field(first.fields, USER_NAMES, ("user", "session")), "user id")
    item = _require(first, _item_field(first, item_file, exclude={user.name}), "item id")
    rest = [field for field in first.fields if field.name not in (user.name, item.name)]
    rating = choose_field(rest, RATING_NAMES, ("rating", "score"))
    timestamp = choose_field(rest, TIME_NAMES, ("time", "date")) or _named_like_a_moment(rest)
    _record(mapping, interaction_user=user, interaction_item=item, rating=rating, timestamp=timestamp)
    for inter in inters[1:]:
        _check_same_fields(inter, first)
    users, items = (np.concatenate([_ids(inter, field) for inter in inters]) for field in (user, item))
    ratings = None if rating is None else _numeric_column(inters, rating)
    times = None if timestamp is None else np.concatenate([_timestamps(inter, timestamp) for inter in inters])
    return make_interactions(pd.Series(users, dtype=object), pd.Series(items, dtype=object), times, ratings), (
        times is not None
    )


def _ids(atomic: AtomicFile, field: Field) -> np.ndarray:
    return token_ids(atomic.frame[field.name], atomic.source, field.name).to_numpy(dtype=object)


def _named_like_a_moment(fields: list[Field]) -> Field | None:
    """``played_at``, ``clicked_at``, ``viewed_at``: the usual name of when something happened."""
    return next((field for field in fields if field.name.lower().endswith("_at")), None)


def _item_field(inter: AtomicFile, item_file: AtomicFile | None, exclude: set[str]) -> Field | None:
    if item_file is not None:
        shared = [field for field in item_file.fields if field in inter.fields and field.name not in exclude]
        if shared:
            return shared[0]
    return choose_field(inter.fields, ITEM_NAMES, ("item", "_id"), exclude=exclude)


def _require(atomic: AtomicFile, field: Field | None, role: str) -> Field:
    if field is None or not field.is_token:
        names = ", ".join(f"{f.name}:{f.type}" for f in atomic.fields)
        raise ImportFormatError(atomic.source.path, 1, f"cannot tell which token field is the {role} (fields: {names})")
    return field


def _check_same_fields(inter: AtomicFile, first: AtomicFile) -> None:
    if inter.fields != first.fields:
        raise ImportFormatError(inter.source.path, 1, f"fields differ from {first.source.path.name}")


def _numeric_column(inters: list[AtomicFile], field: Field) -> np.ndarray:
    if field.type == "float":
        return np.concatenate([inter.frame[field.name].to_numpy(dtype=np.float64) for inter in inters])
    values = []
    for inter in inters:
        numbers = pd.to_numeric(inter.frame[field.name], errors="coerce")
        values.append(numbers.to_numpy(dtype=np.float64))
    return np.concatenate(values)


def _timestamps(inter: AtomicFile, field: Field) -> np.ndarray:
    return unix_seconds(inter.frame[field.name], inter.source, field.name, header_lines=1)


def _items(item_file: AtomicFile | None, mapping: dict) -> tuple[pd.DataFrame, bool]:
    if item_file is None:
        return make_items(pd.Series([], dtype=object), pd.Series([], dtype=object)), False
    fields = item_file.fields
    # The field the interactions name their items by, wherever it stands (RecBole puts the id first; files made by
    # hand may not: "title, item_id" made the titles the ids); else the first field.
    named = next((field for field in fields if field.name == mapping.get("interaction_item")), None)
    item = _require(item_file, named or (fields[0] if fields else None), "item id")
    rest = [field for field in fields if field is not item]
    title = choose_field([f for f in rest if f.is_token], titles_for(item.name), ("title", "name"))
    year = choose_field(rest, YEAR_NAMES, ("year",))
    category = choose_field([f for f in rest if f.is_token], CATEGORY_NAMES, ("genre", "categor", "class"))
    _record(mapping, item_id=item, title=title, year=year, categories=category)
    frame = item_file.frame
    ids = token_ids(frame[item.name], item_file.source, item.name)
    titles = ids if title is None else frame[title.name].astype(str).str.strip()
    titles = titles.where(titles != "", ids)
    years = None if year is None else years_from_text(frame[year.name])
    categories = None if category is None else _categories(frame[category.name], category)
    return make_items(ids, titles, years, categories), category is not None


def _categories(values: pd.Series, field: Field) -> pd.Series:
    return split_categories(values, None if field.type == "token_seq" else "\x00")


def _users(user_file: AtomicFile | None, mapping: dict) -> pd.DataFrame | None:
    if user_file is None:
        return None
    named = next((field for field in user_file.fields if field.name == mapping.get("interaction_user")), None)
    user = _require(user_file, named or (user_file.fields[0] if user_file.fields else None), "user id")
    mapping["user_file_id"] = user.name
    frame = user_file.frame
    users = pd.DataFrame({"user_id": token_ids(frame[user.name], user_file.source, user.name)})
    for field in (field for field in user_file.fields if field is not user):
        name = _attribute_name(field.name)
        users[name] = _attribute_values(name, frame[field.name])
    return users


def _attribute_name(name: str) -> str:
    return {"zip_code": "zip", "zipcode": "zip", "sex": "gender"}.get(name.lower(), name)


def _attribute_values(name: str, values: pd.Series) -> pd.Series:
    """Ages become Int64 (as in the MovieLens parsers); everything else, zip codes included, stays text."""
    numbers = pd.to_numeric(values, errors="coerce")
    if name == "age" and numbers.notna().all() and (numbers == np.floor(numbers)).all():
        return numbers.astype("Int64")
    return values.astype(object)


def _record(mapping: dict, **fields: Field | None) -> None:
    for role, field in fields.items():
        if field is not None:
            mapping[role] = field.name
