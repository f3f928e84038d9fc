"""Dataset importers: MovieLens (100K, 1M, latest), RecBole atomic files, SASRec text, generic CSV.

Pure Python + pandas (no Django). ``parse(path)`` returns a ``ParsedDataset`` that the Django
loader writes to the database; see ``recsys/importers/README.md`` for the column contract.
"""

from __future__ import annotations

from pathlib import Path

from .common import ProgressCallback
from .dataset import FORMATS, ImportFormatError, ParsedDataset
from .detect import check_chosen_format, check_one_format, detect_format
from .movielens import parse_ml1m, parse_ml100k, parse_ml_latest
from .recbole import parse_recbole
from .simple import parse_csv, parse_sasrec

PARSERS = {
    "ml-100k": parse_ml100k,
    "ml-1m": parse_ml1m,
    "ml-latest": parse_ml_latest,
    "recbole": parse_recbole,
    "sasrec": parse_sasrec,
    "csv": parse_csv,
}

__all__ = ["FORMATS", "PARSERS", "ImportFormatError", "ParsedDataset", "check_one_format", "detect_format", "parse"]


def parse(path: str | Path, format: str | None = None, progress: ProgressCallback | None = None) -> ParsedDataset:
    """Parse a dataset directory or file; ``format=None`` detects it. Bad input raises ImportFormatError."""
    path = Path(path)
    if not path.exists():
        raise ImportFormatError(path, None, "file or directory not found")
    chosen = format or detect_format(path)
    if chosen not in PARSERS:
        raise ImportFormatError(path, None, f"unknown format {chosen!r} (expected one of {', '.join(PARSERS)})")
    if format:
        check_chosen_format(path, chosen)
    return PARSERS[chosen](path, progress)
