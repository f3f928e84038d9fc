import json

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from . import export, services
from .client_ip import client_ip
from .forms import EraseAccountForm, SignUpForm


def signup(request):
    if request.user.is_authenticated:
        return redirect("recsys:home")
    if request.method == "POST" and not _signup_allowed(request):
        return render(request, "accounts/signup_paused.html", {"limit": settings.HIKMAX["SIGNUPS_PER_HOUR"]},
                      status=429)
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                user = form.save()
        except IntegrityError:
            # Another request (a double-click) took the name or address between the form's checks and the insert:
            # checked again, the form now says which is taken.
            form = SignUpForm(request.POST)
            if form.is_valid():
                form.add_error(None, "That username or e-mail address was just taken; please choose another.")
        else:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, "Welcome to HikmaX. Start by adding a few things you liked from the catalogue.")
            return redirect("recsys:catalogue")
    return render(request, "accounts/signup.html", {"form": form})


def _signup_allowed(request) -> bool:
    """At most SIGNUPS_PER_HOUR sign-up attempts an hour from one client address (a shared cache in production)."""
    key = f"signup-attempts:{client_ip(request)}"
    cache.add(key, 0, timeout=3600)
    try:
        attempts = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=3600)
        attempts = 1
    return attempts <= settings.HIKMAX["SIGNUPS_PER_HOUR"]


@login_required
def profile(request):
    sequences = request.user.sequences.select_related("dataset")  # histories (recsys), by reverse relation
    return render(request, "accounts/profile.html", {"sequences": sequences})


@login_required
def export_json(request):
    data = services.export_user_data(request.user)
    response = HttpResponse(json.dumps(data, indent=2, default=str), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="hikmax-{request.user.username}.json"'
    return response


@login_required
def export_csv(request):
    response = HttpResponse(export.export_zip_of_csv(request.user), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="hikmax-{request.user.username}-csv.zip"'
    return response


@login_required
def erase(request):
    form = EraseAccountForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        user = request.user
        logout(request)
        services.erase_account(user)
        messages.success(request, "Your account and personal data have been erased.")
        return redirect("landing")
    return render(request, "accounts/erase.html", {"form": form})


@require_POST
def sign_out(request):
    logout(request)
    return redirect("landing")
