from django.contrib import admin

from .models import Explanation, ExplanationFeedback


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
