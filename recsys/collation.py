"""The "natural" collation, for ordering by text in the database with runs of digits compared as numbers:
"9" before "10", "Item 9" before "Item 10".

PostgreSQL: an ICU collation (migration 0012). SQLite: registered on every connection, comparing by
``selectors.natural_key`` (as the catalogue sorts titles in Python). The two agree on numbers and letter case;
ICU also orders accented letters beside their plain ones, where SQLite's comparison puts them after "z".
"""

from functools import lru_cache

from django.db.models.functions import Collate

from recsys.models import SQLITE_LOWER
from recsys.selectors import natural_key

NATURAL = "natural"


def natural(field: str) -> Collate:
    """``field`` compared in the natural collation (for order_by and admin_order_field)."""
    return Collate(field, NATURAL)


def register_on_sqlite(sender, connection, **kwargs) -> None:
    """connection_created receiver: SQLite knows only the collations (and functions) each connection is given:
    the natural collation, and LOWER for every alphabet (``recsys.models.UnicodeLower``)."""
    if connection.vendor == "sqlite":
        connection.connection.create_collation(NATURAL, _compare_naturally)
        connection.connection.create_function(SQLITE_LOWER, 1, _lower, deterministic=True)


def _lower(text: str | None) -> str | None:
    return None if text is None else str(text).lower()


def _compare_naturally(first: str, second: str) -> int:
    a, b = _sort_key(first), _sort_key(second)
    return (a > b) - (a < b)


@lru_cache(maxsize=65_536)  # a sort compares each value many times
def _sort_key(text: str) -> tuple:
    return natural_key(text), text
