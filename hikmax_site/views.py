import re

from django.core.exceptions import BadRequest
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from drf_spectacular.views import SpectacularAPIView


def bad_request(request, exception):
    """400 page; our own BadRequest messages are written for the reader, anything else stays generic."""
    message = str(exception) if type(exception) is BadRequest else ""
    if request.path.startswith("/api/") or request.headers.get("accept", "").startswith("application/json"):
        return JsonResponse({"detail": message or "Bad request."}, status=400)
    return render(request, "400.html", {"message": message}, status=400)


# get_object_or_404's own wording ("No Item matches the given query."): it names a model class, not what was asked.
DJANGO_NOT_FOUND = re.compile(r"No \w+ matches the given query\.")


def page_not_found(request, exception):
    """404 page; our own Http404 messages are written for the reader, Django's ("Resolver404", "No Item matches the
    given query.") name its internals and stay generic."""
    message = exception.args[0] if type(exception) is Http404 and exception.args else ""
    if not isinstance(message, str) or DJANGO_NOT_FOUND.fullmatch(message):
        message = ""
    if request.path.startswith("/api/") or request.headers.get("accept", "").startswith("application/json"):
        return JsonResponse({"detail": message or "Not found."}, status=404)
    return render(request, "404.html", {"message": message}, status=404)


def favicon(request):
    """/favicon.ico, which browsers ask for on pages that name no icon (the Django admin, the API docs)."""
    return redirect(static("favicon.svg"), permanent=True)


class SchemaView(SpectacularAPIView):
    """The OpenAPI schema. The API has one version, so ?version= is not read: its raw text went into the schema's
    version and the Content-Disposition header (a NUL there made gunicorn answer with its own 500 page)."""

    def _get_version_parameter(self, request):
        return None
