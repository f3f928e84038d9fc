"""What the member's pages call an item and choosing one.

A dataset stores what its items are (``Dataset.item_kind``): films that members watched, or items they picked.
Nothing in the files says which, so an import that is not told takes it from the format (``item_kind_for_format``):
MovieLens and the demo are films; the generic CSV, RecBole and SASRec formats carry products, tracks, articles or
anything else, so their pages use neutral words ("item", "picked") instead of film words that would be untrue there.
The administrator can choose otherwise on the import form and in the Django admin.
"""

from dataclasses import dataclass

from .models import Dataset


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


def item_kind_for_format(source_format: str) -> str:
    """The ``Dataset.ItemKind`` an import of this format gets when the importer does not choose one."""
    return Dataset.ItemKind.ITEMS if source_format in DOMAIN_NOT_KNOWN_FORMATS else Dataset.ItemKind.FILMS


def words_for(dataset) -> Words:
    """``dataset`` is a ``recsys.Dataset`` or None (no dataset yet: the site's own, film, words)."""
    if dataset is not None and dataset.item_kind == Dataset.ItemKind.ITEMS:
        return ITEMS
    return FILMS
