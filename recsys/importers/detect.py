"""Guess a dataset's format from file names, then from the first line."""

from __future__ import annotations

import re
from fnmatch import fnmatch
from pathlib import Path

from .dataset import ImportFormatError

ML_LATEST_HEADER = re.compile(r'^"?userId"?,"?movieId"?', re.IGNORECASE)
SASREC_LINE = re.compile(r"^\s*\d+\s+\d+\s*$")
RECBOLE_SUFFIXES = (".inter", ".item", ".user")


def detect_format(path: str | Path) -> str:
    path = Path(path)
    if not path.exists():
        raise ImportFormatError(path, None, "file or directory not found")
    detected = _detect_directory(path) if path.is_dir() else _detect_file(path)
    if detected is None:
        raise ImportFormatError(path, None, _unrecognised_message(path))
    return detected


FORMAT_NAMES = {
    "ml-100k": "MovieLens-100K",
    "ml-1m": "MovieLens-1M",
    "ml-latest": "MovieLens latest",
    "recbole": "RecBole atomic files",
    "sasrec": "SASRec user-item lines",
    "csv": "generic CSV",
}
EXPECTED_FILES = {
    "ml-100k": "u.data (with u.item)",
    "ml-1m": "ratings.dat (with movies.dat)",
    "ml-latest": "ratings.csv with a userId,movieId,rating,timestamp header (with movies.csv)",
    "recbole": "a .inter file (optionally .item and .user)",
    "sasrec": "one .txt file of 'user item' lines",
    "csv": "a .csv file with a user,item[,timestamp][,rating][,title][,categories] header",
}
_MAIN_FILES = {"ml-100k": "u.data", "ml-1m": "ratings.dat", "ml-latest": "ratings.csv", "recbole": "*.inter",
               "sasrec": "*.txt", "csv": "*.csv"}
_ALSO_READS = {("csv", "ml-latest")}  # (chosen, detected): a MovieLens ratings.csv is a generic CSV too
_NAMES_SHOWN = 5


def check_chosen_format(path: Path, chosen: str) -> None:
    """Refuse files that do not look like the format a person chose, saying what that format expects and what
    was found (and what it looks like), before its parser fails on a file it cannot find or read."""
    if chosen not in EXPECTED_FILES:
        return
    if path.is_dir():
        if any(fnmatch(entry.name.lower(), _MAIN_FILES[chosen]) for entry in path.iterdir() if entry.is_file()):
            return
        names = sorted(entry.name for entry in path.iterdir() if entry.is_file())
        detected = _quietly(_detect_directory, path)
    else:
        detected = _quietly(_detect_file, path)
        if detected is None or detected == chosen or (chosen, detected) in _ALSO_READS:
            return
        names = [path.name]
    message = f"the chosen format, {FORMAT_NAMES[chosen]}, needs {EXPECTED_FILES[chosen]}; found {_listed(names)}"
    if detected is not None and detected != chosen:
        message += (f", which {'looks' if len(names) == 1 else 'look'} like {FORMAT_NAMES[detected]} "
                    "(choose that format, or let it be detected)")
    elif names:
        message += f", which {'matches' if len(names) == 1 else 'match'} no format the importer reads"
    raise ImportFormatError(path, None, message)


def check_one_format(directory: Path) -> None:
    """Files uploaded together are one dataset: refuse files of different formats, naming each file's format.
    (Not for server folders, which may hold other files beside a dataset; a file no format claims is left be.)"""
    found = {entry.name: _quietly(_detect_file, entry) for entry in sorted(directory.iterdir()) if entry.is_file()}
    formats = {detected for detected in found.values() if detected}
    if "ml-latest" in formats:
        formats.discard("csv")  # movies.csv, tags.csv and links.csv beside a MovieLens ratings.csv
    if len(formats) > 1:
        listed = ", ".join(f"{name} ({FORMAT_NAMES[detected]})" for name, detected in found.items() if detected)
        raise ImportFormatError(directory, None, f"files of different formats: {listed}; upload one dataset's files, "
                                                 "all in one format")


def _listed(names: list[str]) -> str:
    if not names:
        return "no files"
    shown = ", ".join(names[:_NAMES_SHOWN])
    return shown + (f" and {len(names) - _NAMES_SHOWN} more" if len(names) > _NAMES_SHOWN else "")


def _quietly(detect, path: Path) -> str | None:
    try:
        return detect(path)
    except (OSError, ImportFormatError):
        return None


def _unrecognised_message(path: Path) -> str:
    expected = "u.data, ratings.dat, ratings.csv, *.inter, a user,item CSV or a SASRec 'user item' .txt"
    return f"unrecognised dataset (expected {expected})"


def _detect_directory(directory: Path) -> str | None:
    names = {entry.name for entry in directory.iterdir() if entry.is_file()}
    if names & {"u.data", "u.item"}:
        return "ml-100k"
    if names & {"ratings.dat", "movies.dat"}:
        return "ml-1m"
    if "ratings.csv" in names:
        return _detect_file(directory / "ratings.csv")
    if any(name.endswith(".inter") for name in names):
        return "recbole"
    candidates = [_detect_file(directory / name) for name in sorted(names)
                  if name.lower().endswith((".csv", ".txt"))]  # Windows' ORDERS.CSV too
    found = {candidate for candidate in candidates if candidate in ("csv", "sasrec")}
    return found.pop() if len(found) == 1 else None


def _detect_file(path: Path) -> str | None:
    name = path.name
    if name in ("u.data", "u.item", "u.user", "u.genre"):
        return "ml-100k"
    if name in ("ratings.dat", "movies.dat", "users.dat"):
        return "ml-1m"
    if name.endswith(RECBOLE_SUFFIXES):
        return "recbole"
    line = _first_line(path)
    if name.lower().endswith(".dat") and "::" in line:
        return "ml-1m"
    if name.lower().endswith(".csv"):
        return _detect_csv(path, line)
    if SASREC_LINE.match(line):
        return "sasrec"
    return None


def _detect_csv(path: Path, header: str) -> str:
    """ml-latest by header (or by its movies.csv neighbour); any other CSV is the generic format."""
    if ML_LATEST_HEADER.match(header):
        return "ml-latest"
    if path.name == "ratings.csv" and path.with_name("movies.csv").exists():
        return "ml-latest"
    return "csv"


def _first_line(path: Path) -> str:
    with path.open("rb") as handle:
        head = handle.read(65536)
    lines = head.decode("latin-1").splitlines()
    return next((line for line in lines if line.strip()), "")
