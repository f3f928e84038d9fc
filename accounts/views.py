import json

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from . import export, services
from .forms import EraseAccountForm, SignUpForm


def signup(request):
    if request.user.is_authenticated:
        return redirect("recsys:home")
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, "Welcome to HikmaX. Start by adding a few things you liked from the catalogue.")
        return redirect("recsys:catalogue")
    return render(request, "accounts/signup.html", {"form": form})


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
