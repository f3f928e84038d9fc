from django.core.exceptions import BadRequest
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static


def bad_request(request, exception):
    """400 page; our own BadRequest messages are written for the reader, anything else stays generic."""
    message = str(exception) if type(exception) is BadRequest else ""
    if request.path.startswith("/api/") or request.headers.get("accept", "").startswith("application/json"):
        return JsonResponse({"detail": message or "Bad request."}, status=400)
    return render(request, "400.html", {"message": message}, status=400)


def favicon(request):
    """/favicon.ico, which browsers ask for on pages that name no icon (the Django admin, the API docs)."""
    return redirect(static("favicon.svg"), permanent=True)
