from django.contrib import admin

from recsys import jobs
from recsys.admin import DatasetAdmin, job_queued

from .models import DriftAlert, DriftWatch, Explanation, ExplanationFeedback, NeverFlag


@admin.action(description="Explain the top-3 recommendations of every linked member (background job)")
def explain_members(modeladmin, request, queryset):
    for dataset in queryset:
        job = jobs.start_job(kind="explain_members", owner=request.user, params={"dataset_id": dataset.pk})
        job_queued(request, f"Explanations for {dataset}", job)


DatasetAdmin.actions = [*DatasetAdmin.actions, explain_members]  # recourse's action on recsys's dataset admin


@admin.register(Explanation)
class ExplanationAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "target_item", "method", "completeness_gap", "trained_model", "created_at")
    list_filter = ("method",)
    list_select_related = ("user", "target_item", "trained_model__dataset")
    raw_id_fields = ("user", "target_item", "trained_model")


@admin.register(ExplanationFeedback)
class ExplanationFeedbackAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "helpful", "comment", "explanation", "created_at")
    list_filter = ("helpful", "explanation__method")
    list_select_related = ("user", "explanation__target_item", "explanation__user")
    raw_id_fields = ("user", "explanation")


@admin.register(DriftAlert)
class DriftAlertAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "dataset", "state", "created_at", "updated_at", "dismissed_at", "closed_at")
    list_filter = ("dataset",)
    list_select_related = ("user", "dataset")
    raw_id_fields = ("user", "dataset", "drift_result")


@admin.register(DriftWatch)
class DriftWatchAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "dataset", "arrivals", "checked_arrivals", "pending_since", "last_checked_at",
                    "last_outcome")
    list_filter = ("dataset",)
    list_select_related = ("user", "dataset")
    raw_id_fields = ("user", "dataset")


@admin.register(NeverFlag)
class NeverFlagAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "interaction", "created_at", "undone_at")
    list_select_related = ("user", "interaction")
    raw_id_fields = ("user", "interaction")
