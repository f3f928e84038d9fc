"""What the member's pages call an item and choosing one.

MovieLens and the demo are films that members watched. The generic CSV, RecBole and SASRec formats carry
products, tracks, articles or anything else, and nothing in the files says which, so their pages use neutral
words ("item", "picked") instead of film words that would be untrue there.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Words:
    item: str  # "Removing keeps the film on record"
    an_item: str  # with its article: "a film you rated 1.5 stars or lower", "an item you rated …"
    items: str  # "Based on many of your films together"
    verb: str  # past tense and participle: "Because you watched “X”", "what you have watched"
    when: str  # column heading over the date of an interaction
    add: str  # the catalogue's button that adds an item to the member's history


FILMS = Words(item="film", an_item="a film", items="films", verb="watched", when="Watched", add="Watched")
ITEMS = Words(item="item", an_item="an item", items="items", verb="picked", when="When", add="Add")
DOMAIN_NOT_KNOWN_FORMATS = frozenset({"csv", "recbole", "sasrec"})


def words_for(dataset) -> Words:
    """``dataset`` is a ``recsys.Dataset`` or None (no dataset yet: the site's own, film, words)."""
    if dataset is not None and dataset.source_format in DOMAIN_NOT_KNOWN_FORMATS:
        return ITEMS
    return FILMS
