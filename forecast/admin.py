from django import forms
from django.contrib import admin, messages
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.html import format_html

from recsys.admin import job_queued
from recsys.models import Dataset

from . import services
from .forms import TrainForecasterForm
from .models import EmergingTitle, Forecaster


class AdminTrainForm(TrainForecasterForm):
    dataset = forms.ModelChoiceField(queryset=Dataset.objects.order_by("name"))

    field_order = ["dataset"]


@admin.action(description="Activate the selected forecaster (one per dataset)")
def activate(modeladmin, request, queryset):
    for forecaster in queryset:
        try:
            services.activate(forecaster)
            messages.success(request, f"{forecaster} is now active.")
        except services.ForecastSetupError as exc:
            messages.error(request, str(exc))


@admin.action(description="Train a new version with the same settings (background job)")
def retrain(modeladmin, request, queryset):
    for forecaster in queryset:
        try:
            job = services.start_training(dataset=forecaster.dataset, settings=forecaster.settings,
                                          owner=request.user)
        except services.ForecastSetupError as exc:
            messages.error(request, str(exc))
        else:
            job_queued(request, f"Training on {forecaster.dataset}", job)


@admin.register(Forecaster)
class ForecasterAdmin(admin.ModelAdmin):
    list_display = ("__str__", "status", "is_active", "n_candidates", "n_positives", "roc_auc", "threshold",
                    "created_at", "pages")
    list_filter = ("status", "is_active", "dataset")
    actions = [activate, retrain]
    readonly_fields = ("dataset", "version", "status", "is_active", "settings", "threshold", "cutoff_timestamp",
                       "has_tags", "n_candidates", "n_positives", "artefact", "card", "error", "training_seconds",
                       "created_by", "created_at")
    exclude = ("report",)
    change_list_template = "admin/forecast/forecaster/change_list.html"

    def has_add_permission(self, request):
        return False  # a forecaster comes from training: use "Train a forecaster"

    @admin.display(description="ROC-AUC")
    def roc_auc(self, forecaster):
        return forecaster.primary_metrics.get("roc_auc", "—")

    @admin.display(description="Pages")
    def pages(self, forecaster):
        if forecaster.status != Forecaster.Status.READY:
            return "—"
        return format_html('<a href="{}">audit</a> · <a href="{}">card</a>',
                           reverse("forecast:audit", args=[forecaster.pk]),
                           reverse("forecast:card", args=[forecaster.pk]))

    def get_urls(self):
        return [path("train/", self.admin_site.admin_view(self.train_view), name="forecast_forecaster_train"),
                *super().get_urls()]

    def train_view(self, request):
        if not self.has_change_permission(request):
            return redirect("admin:index")
        form = AdminTrainForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                job = services.start_training(dataset=form.cleaned_data["dataset"], settings=form.settings(),
                                              activate=form.cleaned_data["activate"], owner=request.user)
            except services.ForecastSetupError as exc:
                form.add_error(None, str(exc))
            else:
                job_queued(request, "Forecaster training", job)
                return redirect("admin:forecast_forecaster_changelist")
        context = {**self.admin_site.each_context(request), "form": form,
                   "title": "Train a forecaster of emerging hits", "opts": self.model._meta}
        return render(request, "admin/forecast/forecaster/train.html", context)


@admin.register(EmergingTitle)
class EmergingTitleAdmin(admin.ModelAdmin):
    list_display = ("rank", "item", "probability", "flagged", "forecaster")
    list_filter = ("forecaster", "flagged")
    list_select_related = ("item", "forecaster__dataset")
    readonly_fields = ("forecaster", "item", "rank", "probability", "flagged", "explanation")

    def has_add_permission(self, request):
        return False
