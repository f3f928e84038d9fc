"""Ids and whole numbers from query strings and forms.

`str.isdigit()` accepts digits such as "²" that `int()` refuses, and an unbounded number overflows a
database integer; these accept ASCII digits only, within a 64-bit signed integer.
"""

import re

from django.core.exceptions import BadRequest

MAX_ID = 2**63 - 1
_WHOLE_NUMBER = re.compile(r"[0-9]{1,19}")


def parse_id(value: object) -> int | None:
    """The whole number written in value, or None when it is not one (or too large to be an id)."""
    text = str(value if value is not None else "").strip()
    if not _WHOLE_NUMBER.fullmatch(text):
        return None
    number = int(text)
    return number if number <= MAX_ID else None


def require_id(value: object, what: str) -> int:
    """parse_id, or a 400 Bad Request naming the parameter."""
    number = parse_id(value)
    if number is None:
        if value is None or str(value).strip() == "":
            raise BadRequest(f"{what} must be a whole number; none was given.")
        raise BadRequest(f"{what} must be a whole number, got {str(value)[:40]!r}.")
    return number


def optional_id(value: object, what: str) -> int | None:
    """None when value is empty, else require_id."""
    if value is None or str(value).strip() == "":
        return None
    return require_id(value, what)
