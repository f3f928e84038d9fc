"""Reading source files: decoding, and fast delimited-table parsing with precise error lines.

The fast path hands the whole file to pandas' C parser with strict dtypes. Only when that fails
(or a cheap consistency check does) do we walk the file line by line in Python to name the first
bad line, so well-formed files never pay for the diagnostics.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .dataset import ImportFormatError

UTF8 = "utf-8"
LATIN1_OR_UTF8 = "latin-1-or-utf-8"  # MovieLens .dat/u.* files: latin-1, but accept UTF-8 re-encodings
WHITESPACE = r"\s+"
_INTERNAL_SEP = "\x1f"  # stands in for multi-character separators such as '::'
_INTEGER = re.compile(r"^\s*[+-]?\d+\s*$")
_LONG_DIGITS = re.compile(r"\d{19}")  # a number that may not fit in int64, which the line pattern cannot tell
_FLOAT = r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?"
_PANDAS_DTYPES = {"int": "int64", "float": "float64", "str": str}


@dataclass(frozen=True)
class SourceText:
    path: Path
    text: str
    sha256: str
    encoding: str


@dataclass(frozen=True)
class Column:
    name: str  # column name in the returned frame
    label: str  # how error messages call it, e.g. "rating"
    kind: str  # "int", "float" or "str"
    optional: bool = False  # "float" only: an empty (or blank) cell is NaN instead of an error

    @property
    def engine_kind(self) -> str:
        """What pandas reads: an optional number is read as text and converted after (blank -> NaN)."""
        return "str" if self.optional and self.kind == "float" else self.kind


def read_source(path: Path, encoding: str = UTF8) -> SourceText:
    """Read and decode one file; missing, empty, binary or mis-encoded files raise ImportFormatError."""
    if not path.is_file():
        raise ImportFormatError(path, None, "file not found")
    data = path.read_bytes()
    if not data.strip():
        raise ImportFormatError(path, None, "file is empty")
    _reject_binary(path, data)
    text, used = _decode(path, data, encoding)
    if "\r" in text and "\n" not in text:  # classic Mac line ends (Excel's "CSV (Macintosh)"): one line otherwise
        text = text.replace("\r", "\n")
    return SourceText(path=path, text=text, sha256=hashlib.sha256(data).hexdigest(), encoding=used)


def _reject_binary(path: Path, data: bytes) -> None:
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise ImportFormatError(path, line, "contains NUL bytes: not a text file (UTF-16 or binary?)")


def _decode(path: Path, data: bytes, encoding: str) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError as error:
        if encoding == LATIN1_OR_UTF8:
            return data.decode("latin-1"), "latin-1"
        line = data.count(b"\n", 0, error.start) + 1
        byte = data[error.start]
        raise ImportFormatError(path, line, f"bad encoding: byte 0x{byte:02x} is not valid UTF-8") from None


def body_lines(text: str, skip: int = 0) -> list[tuple[int, str]]:
    """Non-empty lines after the first ``skip`` lines, as (1-based line number, line without EOL)."""
    lines = text.split("\n")
    numbered = ((number, line.rstrip("\r")) for number, line in enumerate(lines, start=1))
    return [(number, line) for number, line in numbered if number > skip and line]


def first_line(source: SourceText) -> str:
    return source.text.split("\n", 1)[0].rstrip("\r")


def read_table(
    source: SourceText,
    sep: str,
    columns: list[Column],
    header_lines: int = 0,
    quoted: bool = False,
) -> pd.DataFrame:
    """Parse a delimited file into a frame with one column per ``Column`` (names from the specs)."""
    text, engine_sep = _engine_text(source.text, sep)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=engine_sep,
            header=None,
            skiprows=header_lines,
            dtype={index: _PANDAS_DTYPES[column.engine_kind] for index, column in enumerate(columns)},
            quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE,
            keep_default_na=False,
            na_values=[],
            engine="python" if len(engine_sep) > 1 and engine_sep != WHITESPACE else "c",
        )
    except (ValueError, OverflowError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise locate_error(source, sep, columns, header_lines, quoted, str(error)) from None
    if not _looks_complete(frame, text, engine_sep, columns, header_lines, quoted):
        raise locate_error(source, sep, columns, header_lines, quoted, "inconsistent number of fields")
    frame.columns = [column.name for column in columns]
    for column in columns:
        if column.engine_kind != column.kind:
            frame[column.name] = _optional_numbers(frame[column.name], source, sep, columns, header_lines, quoted)
    return frame


def _optional_numbers(values: pd.Series, source, sep, columns, header_lines, quoted) -> pd.Series:
    """Text cells of an optional number column -> float64, blank -> NaN; anything else not a finite number raises."""
    text = values.astype(str).str.strip()
    blank = text == ""
    numbers = pd.to_numeric(text.where(~blank, None), errors="coerce").astype("float64")
    if (numbers.isna() & ~blank).any() or numbers.abs().eq(math.inf).any():
        raise locate_error(source, sep, columns, header_lines, quoted, "a value is not a number")
    return numbers


def _engine_text(text: str, sep: str) -> tuple[str, str]:
    if len(sep) == 1 or sep == WHITESPACE or _INTERNAL_SEP in text:
        return text, sep
    return text.replace(sep, _INTERNAL_SEP), _INTERNAL_SEP


def _looks_complete(frame, text, engine_sep, columns, header_lines, quoted) -> bool:
    if frame.shape[1] != len(columns):
        return False
    floats = [index for index, column in enumerate(columns) if column.engine_kind == "float"]
    if floats and frame.iloc[:, floats].isna().to_numpy().any():
        return False
    if quoted or engine_sep == WHITESPACE or all(column.engine_kind != "str" for column in columns):
        return True  # numeric columns cannot silently absorb a missing field
    body = _skip_lines(text, header_lines)
    return body.count(engine_sep) == (len(columns) - 1) * len(frame)


def _skip_lines(text: str, count: int) -> str:
    offset = 0
    for _ in range(count):
        offset = text.find("\n", offset) + 1
        if offset == 0:
            return ""
    return text[offset:]


def check_quoted_field_counts(source: SourceText, columns: list[Column], header_lines: int = 1) -> None:
    """CSV files: pandas pads short rows with '' so text columns need an explicit field count check."""
    error = _first_bad_csv_row(source, columns, header_lines)
    if error:
        raise ImportFormatError(source.path, *error)


def locate_error(source, sep, columns, header_lines, quoted, fallback: str) -> ImportFormatError:
    """Slow path: find the first bad line, or fall back to the parser's own message."""
    if quoted:
        error = _first_bad_csv_row(source, columns, header_lines) or _unclosed_quote(source)
    else:
        error = _first_bad_split_row(source, sep, columns, header_lines)
    if error is None:
        if not body_lines(source.text, header_lines):
            return ImportFormatError(source.path, None, "no data rows")
        return ImportFormatError(source.path, None, f"could not parse: {fallback.strip()}")
    return ImportFormatError(source.path, *error)


def _first_bad_split_row(source, sep, columns, header_lines) -> tuple[int, str] | None:
    well_formed = _line_pattern(sep, columns)
    for number, line in body_lines(source.text, header_lines):
        if well_formed.fullmatch(line) and not _LONG_DIGITS.search(line):
            continue
        fields = line.split() if sep == WHITESPACE else line.split(sep)
        problem = row_problem(fields, columns, sep)
        if problem:
            return number, problem
    return None


def _line_pattern(sep: str, columns: list[Column]) -> re.Pattern:
    """One regex accepting exactly the lines ``row_problem`` accepts (bar int64 overflow), so the
    error path skips good lines at C speed."""
    if sep == WHITESPACE:
        fields = {"int": r"[+-]?\d+", "float": _FLOAT, "str": r"\S+"}
        return re.compile(r"\s*" + r"\s+".join(fields[column.kind] for column in columns) + r"\s*")
    not_sep = f"[^{re.escape(sep)}]" if len(sep) == 1 else f"(?:(?!{re.escape(sep)}).)"
    fields = {"int": r"\s*[+-]?\d+\s*", "float": rf"\s*{_FLOAT}\s*", "str": not_sep + "*",
              "optional": rf"\s*(?:{_FLOAT})?\s*"}
    kinds = ("optional" if column.optional and column.kind == "float" else column.kind for column in columns)
    return re.compile(re.escape(sep).join(fields[kind] for kind in kinds), re.DOTALL)


def _first_bad_csv_row(source, columns, header_lines) -> tuple[int, str] | None:
    reader = csv.reader(io.StringIO(source.text, newline=""))
    rows = iter(reader)
    row_ended = 0  # the row that fails starts on the line after the last good one
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return None
        except csv.Error as error:
            return row_ended + 1, csv_problem(error)
        row_ended = reader.line_num
        if reader.line_num <= header_lines or not row:
            continue
        problem = row_problem(row, columns, ",")
        if problem:
            return reader.line_num, problem


def _unclosed_quote(source: SourceText) -> tuple[int, str] | None:
    """The line of a quote never closed: the lenient reader above takes the rest of the file as its field."""
    reader = csv.reader(io.StringIO(source.text, newline=""), strict=True)
    row_ended = 0
    try:
        for _ in reader:
            row_ended = reader.line_num
    except csv.Error as error:
        if "unexpected end of data" in str(error):
            return row_ended + 1, "a quote opened on this line is never closed"
        return row_ended + 1, csv_problem(error)
    return None


def csv_problem(error: csv.Error) -> str:
    """The csv module's complaint, said for the person who wrote the file."""
    if "field larger than field limit" in str(error):
        return (f"a field starting on this line is longer than {csv.field_size_limit():,} characters, the most a "
                "field may hold (a quote left open?)")
    return f"not valid CSV ({error})"


def csv_header(source: SourceText) -> list[str]:
    try:
        return next(csv.reader([first_line(source)]), [])
    except csv.Error as error:
        raise ImportFormatError(source.path, 1, csv_problem(error)) from None


def row_problem(fields: list[str], columns: list[Column], sep: str) -> str | None:
    if len(fields) != len(columns):
        return _field_count_problem(len(fields), len(columns), sep)
    for value, column in zip(fields, columns):
        problem = value_problem(value, column)
        if problem:
            return problem
    return None


def _field_count_problem(found: int, expected: int, sep: str) -> str:
    hint = " (wrong separator?)" if found == 1 else " (truncated line?)" if found < expected else ""
    return f"expected {expected} fields separated by {describe_separator(sep)}, found {found}{hint}"


def describe_separator(sep: str) -> str:
    return {"\t": "tabs", WHITESPACE: "whitespace"}.get(sep, repr(sep))


def value_problem(value: str, column: Column) -> str | None:
    if column.kind == "int" and _INTEGER.match(value) and not _is_int64(value):
        hint = " (a CSV file keeps ids of any kind as text)" if column.label.endswith(" id") else ""
        return f"{column.label} {value.strip()!r} is too large: integers here must lie within ±{2**63 - 1:,}{hint}"
    if column.kind == "int" and not _is_int64(value):
        return f"{column.label} {value!r} is not an integer"
    if column.kind == "float" and column.optional and not value.strip():
        return None
    if column.kind == "float" and not _is_finite_number(value):
        return f"{column.label} {value!r} is not a number"
    return None


def _is_int64(value: str) -> bool:
    return bool(_INTEGER.match(value)) and abs(int(value)) < 2**63


def _is_finite_number(value: str) -> bool:
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False
