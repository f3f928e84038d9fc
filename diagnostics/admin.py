from django.contrib import admin
from django.utils import timezone

from diagnostics.models import DiagnosticRun, Retrain
from recsys.models import TrainingExclusion


class ResultAdmin(admin.ModelAdmin):
    """Runs and their retrains are evidence: started from the diagnostics page, read here, never hand-edited
    (a retrain set to done without its ranks, or a run's seeds changed, would change every influence shown)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(DiagnosticRun)
class DiagnosticRunAdmin(ResultAdmin):
    list_display = ("id", "dataset", "architecture", "created_by", "created_at")
    readonly_fields = ("evaluated_users",)


@admin.register(Retrain)
class RetrainAdmin(ResultAdmin):
    list_display = ("id", "run", "kind", "key", "seed", "status", "seconds", "attempts", "worker")
    list_filter = ("status", "kind")
    exclude = ("ranks",)


@admin.register(TrainingExclusion)
class TrainingExclusionAdmin(admin.ModelAdmin):
    list_display = ("sequence", "reason", "created_by", "created_at", "lifted_at", "lifted_by")
    list_filter = ("lifted_at",)
    raw_id_fields = ("sequence",)
    readonly_fields = ("created_by", "created_at", "lifted_by", "lifted_at")
    actions = ["lift"]

    def has_delete_permission(self, request, obj=None):
        return False  # the record of who was left out, and when, is kept; lift instead

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.action(description="Put back into training")
    def lift(self, request, queryset):
        queryset.filter(lifted_at__isnull=True).update(lifted_at=timezone.now(), lifted_by=request.user)
