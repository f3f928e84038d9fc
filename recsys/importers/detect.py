"""Guess a dataset's format from file names, then from the first line."""

from __future__ import annotations

import re
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
    candidates = [_detect_file(directory / name) for name in sorted(names) if name.endswith((".csv", ".txt"))]
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
    if name.endswith(".dat") and "::" in line:
        return "ml-1m"
    if name.endswith(".csv"):
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
