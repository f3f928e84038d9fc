"""The open drift alert of the signed-in member, for the notice on their pages (read only when a page shows it)."""

from django.utils.functional import SimpleLazyObject

from recsys import selectors as recsys_selectors

from . import selectors


def drift_alert(request):
    def notice():
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        return selectors.open_drift_alert(user, recsys_selectors.current_dataset(request))

    return {"drift_alert": SimpleLazyObject(notice)}
