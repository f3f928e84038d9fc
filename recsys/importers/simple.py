"""SASRec-style ``user item`` lines and generic ``user,item,timestamp[,rating][,title][,categories]`` CSV."""

from __future__ import annotations

import dataclasses
import re
from fnmatch import fnmatch
from pathlib import Path

import pandas as pd

from .common import (
    ProgressCallback,
    StageProgress,
    build_dataset,
    integer_ids,
    split_categories,
    token_ids,
    unix_seconds,
    years_from_titles,
)
from .dataset import ImportFormatError, ParsedDataset, make_interactions, make_items
from .recbole import CATEGORY_NAMES, ITEM_NAMES, RATING_NAMES, TIME_NAMES, TITLE_NAMES, USER_NAMES, titles_for
from .textio import (
    UTF8,
    WHITESPACE,
    Column,
    SourceText,
    check_quoted_field_counts,
    csv_header,
    first_line,
    read_source,
    read_table,
)

SASREC_FILE_SUFFIXES = (".txt", "")
# The names RecBole's fields are recognised by (a music log's track_id, a shop's product_id, stars, played_at), so a
# CSV of another domain is read as its RecBole twin would be; "tags" and "class" stay out (in a CSV beside ratings they
# are usually free text, not the item's categories).
CSV_ROLES = {
    "user": USER_NAMES,
    "item": ITEM_NAMES + ("movieid",),
    "timestamp": TIME_NAMES + ("played_at", "clicked_at", "viewed_at", "purchased_at", "bought_at", "watched_at"),
    "rating": RATING_NAMES,
    "title": TITLE_NAMES + ("item_title",),
    "categories": tuple(name for name in CATEGORY_NAMES if name not in ("tags", "tag", "class", "types", "type")),
}
CSV_KINDS = {"rating": "float"}
_EMPTY_ROW = re.compile(r"^[ \t,]*\r?$", re.MULTILINE)


def parse_sasrec(path: Path, progress_callback: ProgressCallback | None = None) -> ParsedDataset:
    """One ``user item`` pair per line, in time order; timestamps become the 0-based line order."""
    progress = StageProgress(progress_callback, total=2)
    source = read_source(_single_data_file(path, "*.txt"), UTF8)
    columns = [Column("user", "user id", "int"), Column("item", "item id", "int")]
    frame = read_table(source, WHITESPACE, columns)
    progress.step()
    interactions = make_interactions(integer_ids(frame["user"]), integer_ids(frame["item"]), None, None)
    items = make_items(pd.Series([], dtype=object), pd.Series([], dtype=object))
    dataset = build_dataset(
        "sasrec", items, interactions, [source], has_timestamps=False, has_categories=False,
        warnings=["no timestamps: timestamp = 0-based line order"],
    )  # fmt: skip
    progress.finish()
    return dataset


def parse_csv(path: Path, progress_callback: ProgressCallback | None = None) -> ParsedDataset:
    progress = StageProgress(progress_callback, total=2)
    source = _without_empty_rows(read_source(_single_data_file(path, "*.csv", preferred="ratings.csv"), UTF8))
    warnings: list[str] = []
    roles = csv_header_roles(source, warnings)
    columns = [
        Column(role or f"ignored_{index}", role or "column", CSV_KINDS.get(role or "", "str"),
               optional=role == "rating")  # an empty rating cell: an interaction without a rating
        for index, role in enumerate(roles)
    ]
    check_quoted_field_counts(source, columns)
    frame = read_table(source, ",", columns, header_lines=1, quoted=True)
    progress.step()
    times = _timestamps(frame, source, warnings) if "timestamp" in frame else None
    ratings = frame.get("rating")
    users, items_ = (token_ids(frame[role], source, f"{role} id") for role in ("user", "item"))
    interactions = make_interactions(users, items_, times, ratings)
    items = _items_from_rows(frame, interactions["item_id"])
    mapping = {role: name for role, name in zip(roles, _header_names(source)) if role}
    dataset = build_dataset(
        "csv", items, interactions, [source], has_timestamps=times is not None,
        has_categories="categories" in frame, field_mapping=mapping, warnings=warnings,
    )  # fmt: skip
    progress.finish()
    return dataset


def _timestamps(frame: pd.DataFrame, source: SourceText, warnings: list[str]):
    """The timestamp column in seconds; when it was chosen among several (a "date" and a "time" column), a value it
    cannot read says which was read, and that a date and its time belong in one column."""
    try:
        return unix_seconds(frame["timestamp"], source, "timestamp", 1)
    except ImportFormatError as error:
        chosen = next((warning for warning in warnings if warning.startswith("several columns could be the timestamp")),
                      None)
        if chosen is None:
            raise
        raise ImportFormatError(error.path, error.line, f"{error.message} ({chosen}; a date and its time of day "
                                                        "belong in one column, e.g. 2024-03-01T10:15:00)") from None


def _without_empty_rows(source: SourceText) -> SourceText:
    """Rows of empty cells only (",,", as spreadsheets save rows that were touched but left empty) or of spaces are
    blank lines, skipped like them; the line numbers of the other rows stay as they are."""
    return dataclasses.replace(source, text=_EMPTY_ROW.sub("", source.text))


def csv_header_roles(source: SourceText, warnings: list[str] | None = None) -> list[str | None]:
    """Role of each header column (None = ignored); user and item are required. Where several columns could play a
    role (a plays log's artist_name and track_name, a shop's user_id and session_id), the likeliest is read, the
    others are ignored, and ``warnings`` says so; the same name twice is refused."""
    names = _header_names(source)
    keys = [_normalised(name) for name in names]
    roles = [_role_of(name) for name in names]
    twice = next((name for index, name in enumerate(names) if roles[index] and keys[index] in keys[:index]), None)
    if twice is not None:
        raise ImportFormatError(source.path, 1, f"header has the column {twice.strip()!r} twice")
    for required in ("user", "item"):
        if required not in roles:
            expected = "user,item[,timestamp][,rating][,title][,categories]"
            raise ImportFormatError(source.path, 1, f"header has no {required} column (expected {expected!r})"
                                                    f"{_other_separator(first_line(source))}")
    # the item's own column is settled first: the title's likeliest name follows from it (track_name for track_id)
    shared = sorted(dict.fromkeys(role for role in roles if role and roles.count(role) > 1), key=lambda r: r != "item")
    for role in shared:
        item_name = keys[roles.index("item")]
        columns = [index for index, found in enumerate(roles) if found == role]
        likeliest = _likeliest(role, [keys[index] for index in columns], item_name)
        kept = columns[likeliest]
        for index in columns:
            if index != kept:
                roles[index] = None
        if warnings is not None:
            ignored = ", ".join(f"“{names[index].strip()}”" for index in columns if index != kept)
            warnings.append(f"several columns could be the {role}: read it from “{names[kept].strip()}”; "
                            f"{ignored} ignored")
    return roles


def _likeliest(role: str, keys: list[str], item_name: str) -> int:
    """Index (in ``keys``) of the column most likely to be ``role``: the earliest in the role's names, and for the
    title the item's own name first (``track_name`` beside ``track_id``)."""
    preferred = (*titles_for(item_name), *CSV_ROLES[role]) if role == "title" else CSV_ROLES[role]
    return min(range(len(keys)), key=lambda index: preferred.index(keys[index]))


def _other_separator(header: str) -> str:
    """Spreadsheets in many locales save 'CSV' with semicolons or tabs: say so instead of only "no user column"."""
    if "," in header:
        return ""
    found = next((name for sep, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "'|'")) if sep in header), None)
    return f"; its fields are separated by {found}, a CSV file here by commas" if found else ""


def _header_names(source: SourceText) -> list[str]:
    return csv_header(source)


def _normalised(name: str) -> str:
    """``User-ID``, ``User ID`` and ``user_id`` are one name."""
    return re.sub(r"[\s-]+", "_", name.strip().lower())


def _role_of(name: str) -> str | None:
    normalised = _normalised(name)
    return next((role for role, names in CSV_ROLES.items() if normalised in names), None)


def _items_from_rows(frame: pd.DataFrame, item_ids: pd.Series) -> pd.DataFrame:
    """One item per distinct id, in first-seen order, with its first non-empty title / categories."""
    rows = pd.DataFrame({"item": item_ids})
    rows["title"] = frame["title"].str.strip() if "title" in frame else ""
    rows["categories"] = frame.get("categories", "")
    firsts = rows.replace("", pd.NA).groupby("item", sort=False).first()
    ids = pd.Series(firsts.index, dtype=object)
    titles = firsts["title"].fillna(pd.Series(firsts.index, index=firsts.index)).reset_index(drop=True)
    categories = split_categories(firsts["categories"].fillna("").reset_index(drop=True), "|")
    return make_items(ids, titles, years_from_titles(titles), categories)


def _single_data_file(path: Path, pattern: str, preferred: str = "") -> Path:
    if not path.is_dir():
        return path
    if preferred and (path / preferred).is_file():
        return path / preferred
    found = sorted(entry for entry in path.iterdir() if entry.is_file() and fnmatch(entry.name.lower(), pattern))
    if len(found) != 1:
        what = "no" if not found else f"{len(found)}"
        raise ImportFormatError(path, None, f"{what} {pattern} files in the directory; pass the file to import")
    return found[0]
