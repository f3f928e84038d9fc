"""The current dataset's words (films, or neutral items), its rating scale and whether the member rated anything,
for every page."""

from django.utils.functional import SimpleLazyObject

from . import selectors
from .ratings import scale_of
from .vocabulary import words_for


def dataset_words(request):
    """Read lazily: pages that say neither cost no query."""
    state: dict = {}

    def dataset():
        user = getattr(request, "user", None)
        if "dataset" not in state:
            authenticated = user is not None and user.is_authenticated
            state["dataset"] = selectors.current_dataset(request) if authenticated else None
        return state["dataset"]

    return {"words": SimpleLazyObject(lambda: words_for(dataset())),
            "rating_scale": SimpleLazyObject(lambda: scale_of(dataset())),
            "member_rated": SimpleLazyObject(lambda: selectors.member_has_ratings(request.user, dataset()))}
