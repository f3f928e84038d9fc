"""Helpers shared by the format parsers: progress, file lookup, id/year/category normalisation."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from .dataset import ImportFormatError, ParsedDataset, complete_items
from .textio import SourceText, body_lines

ProgressCallback = Callable[[int, int], None]

NO_CATEGORY = frozenset({"", "unknown", "(no genres listed)"})
_YEAR_AT_END = r"\((\d{4})(?:\s*[-–]\s*\d{0,4})?\)\s*$"
_ANY_YEAR = r"(\d{4})"
FIRST_SECOND = -62_135_596_800  # 0001-01-01T00:00:00Z in unix seconds
LAST_SECOND = 253_402_300_799  # 9999-12-31T23:59:59Z


class StageProgress:
    """Calls ``callback(done, total)`` once per finished stage (file read, final assembly)."""

    def __init__(self, callback: ProgressCallback | None, total: int):
        self.callback = callback
        self.total = max(total, 1)
        self.done = 0

    def step(self) -> None:
        self.done = min(self.done + 1, self.total)
        if self.callback is not None:
            self.callback(self.done, self.total)

    def finish(self) -> None:
        self.done = self.total - 1
        self.step()


def sibling(path: Path, name: str) -> Path:
    """``name`` in the dataset directory (``path`` is the directory or one of its files)."""
    directory = path if path.is_dir() else path.parent
    return directory / name


def main_file(path: Path, default_name: str) -> Path:
    """The interactions file: ``path`` itself when a file was given, else the standard name."""
    return path if path.is_file() else path / default_name


def integer_ids(values: pd.Series) -> pd.Series:
    """int64 ids -> canonical decimal strings ("007" and "7" are the same MovieLens id)."""
    codes, uniques = pd.factorize(values.to_numpy(dtype=np.int64))
    names = np.array([str(value) for value in uniques], dtype=object)
    return pd.Series(names[codes], dtype=object)


def token_ids(
    values: pd.Series, source: SourceText | None = None, label: str = "id", header_lines: int = 1
) -> pd.Series:
    """Tokens kept as written (stripped); with ``source``, an empty one raises naming its line."""
    tokens = values.astype(str).str.strip().astype(object)
    if source is not None:
        _reject_empty(tokens, source, label, header_lines)
    return tokens


def _reject_empty(tokens: pd.Series, source: SourceText, label: str, header_lines: int) -> None:
    empty = (tokens == "").to_numpy()
    if empty.any():
        row = int(np.flatnonzero(empty)[0])
        raise ImportFormatError(source.path, line_of_row(source, row, header_lines), f"{label} is empty")


def years_from_titles(titles: pd.Series) -> pd.Series:
    """Year at the end of a title: "Toy Story (1995)" -> 1995; "Babylon 5 (1994-1998)" -> 1994; no year -> <NA>."""
    return _extract_year(titles, _YEAR_AT_END)


def years_from_text(values: pd.Series) -> pd.Series:
    """First four-digit number in free text ("01-Jan-1995", "1995", "unknown" -> <NA>)."""
    return _extract_year(values, _ANY_YEAR)


def _extract_year(values: pd.Series, pattern: str) -> pd.Series:
    extracted = values.astype(str).str.extract(pattern, expand=False)
    return pd.to_numeric(extracted, errors="coerce").astype("Int64").reset_index(drop=True)


def split_categories(values: pd.Series, sep: str | None) -> pd.Series:
    """Split "Animation|Comedy" -> ("Animation", "Comedy"); placeholders such as "(no genres listed)" -> ()."""
    parts = values.fillna("").astype(str).str.split(sep)
    return pd.Series([_clean_categories(names) for names in parts], dtype=object)


def _clean_categories(names: list[str]) -> tuple[str, ...]:
    cleaned = (name.strip() for name in names)
    return tuple(dict.fromkeys(name for name in cleaned if name not in NO_CATEGORY))


def line_of_row(source: SourceText, row: int, header_lines: int) -> int | None:
    """Line number of the ``row``-th data row (error path only: blank lines are skipped)."""
    lines = body_lines(source.text, header_lines)
    return lines[row][0] if row < len(lines) else None


def unix_seconds(values: pd.Series, source: SourceText, label: str, header_lines: int) -> np.ndarray:
    """Numbers (possibly float) or ISO dates -> int64 unix seconds; the first bad (or empty) value raises."""
    empty = (values.isna() | (values.astype(str).str.strip() == "")).to_numpy()
    if empty.any():
        row = int(np.flatnonzero(empty)[0])
        raise ImportFormatError(source.path, line_of_row(source, row, header_lines), f"{label} is empty")
    numbers = pd.to_numeric(values, errors="coerce")
    _reject_out_of_range(numbers, values, source, label, header_lines)
    if not numbers.isna().any():
        return np.floor(numbers.to_numpy(dtype=np.float64)).astype(np.int64)
    dates = pd.to_datetime(values, errors="coerce", utc=True, format="ISO8601")
    bad = numbers.isna() & dates.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        message = f"{label} {values.iloc[row]!r} is neither a number nor an ISO date"
        raise ImportFormatError(source.path, line_of_row(source, row, header_lines), message)
    seconds = dates.fillna(pd.Timestamp(0, tz="UTC")).astype("int64") // 10**9
    return np.where(numbers.isna(), seconds, np.floor(numbers.fillna(0))).astype(np.int64)


def _reject_out_of_range(numbers: pd.Series, values: pd.Series, source: SourceText, label: str,
                         header_lines: int) -> None:
    """Seconds outside the years 1-9999 cannot be shown as dates (nor, far enough out, stored as int64)."""
    outside = (numbers < FIRST_SECOND) | (numbers > LAST_SECOND) | np.isinf(numbers)
    if outside.any():
        row = int(np.flatnonzero(outside.to_numpy())[0])
        message = (f"{label} {str(values.iloc[row])!r} is outside the years 1-9999 in seconds since 1970 "
                   "(milliseconds? divide by 1000)")
        raise ImportFormatError(source.path, line_of_row(source, row, header_lines), message)


def checksum(format_name: str, sources: list[SourceText]) -> str:
    digest = hashlib.sha256(format_name.encode())
    for source in sorted(sources, key=lambda source: source.path.name):
        digest.update(b"\0" + source.path.name.encode() + b"\0" + source.sha256.encode())
    return digest.hexdigest()


def _without_constant_ratings(interactions: pd.DataFrame, warnings: list[str]) -> pd.DataFrame:
    """A rating column that holds one value on every rated row (a click log's "1") says nothing about preference,
    and read on any scale it would make every interaction liked or, at the bottom of five stars, unused: the rows are
    read as interactions without a rating."""
    given = interactions["rating"].dropna()
    if len(given) < 2 or given.nunique() > 1:
        return interactions
    warnings.append(f"every rating is {given.iloc[0]:g}: read as interactions without ratings (implicit feedback)")
    return interactions.assign(rating=np.nan)


def build_dataset(
    format_name: str,
    items: pd.DataFrame,
    interactions: pd.DataFrame,
    sources: list[SourceText],
    *,
    users: pd.DataFrame | None = None,
    tags: pd.DataFrame | None = None,
    has_timestamps: bool = True,
    has_categories: bool = True,
    field_mapping: dict[str, str] | None = None,
    warnings: list[str] | None = None,
) -> ParsedDataset:
    warnings = list(warnings or [])
    items = complete_items(items, interactions, warnings)
    interactions = _without_constant_ratings(interactions, warnings)
    return ParsedDataset(
        format=format_name,
        items=items,
        interactions=interactions,
        users=users,
        tags=tags,
        has_timestamps=has_timestamps,
        # A category column (genres, flags) in which no item has a category is no categories.
        has_categories=has_categories and bool(items["categories"].map(len).any()),
        source_files=[str(source.path.resolve()) for source in sources],
        checksum=checksum(format_name, sources),
        field_mapping=dict(field_mapping or {}),
        warnings=warnings,
    )
