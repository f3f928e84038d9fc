import uuid
from pathlib import Path

from django.conf import settings
from django.contrib import admin, messages
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from . import jobs
from .forms import ImportDatasetForm
from .models import Dataset, Interaction, InteractionSequence, Item, Job, TrainedModel
from .selectors import categories_of
from .services.registry import RegistryError, activate, delete
from .services.training import TrainingError, start_evaluation, start_training


class CategoryFilter(admin.SimpleListFilter):
    title = "category"
    parameter_name = "category"

    def lookups(self, request, model_admin):
        dataset_id = request.GET.get("dataset__id__exact")
        datasets = Dataset.objects.filter(pk=dataset_id) if dataset_id else Dataset.objects.all()
        names = sorted({name for dataset in datasets for name in categories_of(dataset)})
        return [(name, name) for name in names]

    def queryset(self, request, queryset):
        value = self.value()
        return queryset.filter(Item.in_category(value)) if value else queryset


def _train_action(architecture: str, label: str):
    @admin.action(description=f"Train a {label} model (background job, default hyper-parameters)")
    def train(modeladmin, request, queryset):
        for dataset in queryset:
            try:
                job = start_training(dataset=dataset, architecture=architecture, owner=request.user)
            except TrainingError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, f"{label} training on {dataset} queued as job #{job.pk}.")

    train.__name__ = f"train_{architecture}"
    return train


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    # recourse adds its "explain members" action in recourse/admin.py (recsys never imports recourse).
    actions = [*(_train_action(value, label) for value, label in TrainedModel.Architecture.choices)]
    list_display = (
        "name",
        "title",
        "source_format",
        "n_users",
        "n_items",
        "n_interactions",
        "has_categories",
        "updated_at",
    )
    readonly_fields = (
        "source_format",
        "source_checksum",
        "n_users",
        "n_items",
        "n_interactions",
        "created_at",
        "updated_at",
    )
    search_fields = ("name", "title")
    change_list_template = "admin/recsys/dataset/change_list.html"

    def get_urls(self):
        extra = [path("import/", self.admin_site.admin_view(self.import_view), name="recsys_dataset_import")]
        return extra + super().get_urls()

    def import_view(self, request):
        if not request.user.has_perm("recsys.add_dataset"):
            messages.error(request, "You may not import datasets.")
            return redirect("admin:recsys_dataset_changelist")
        form = ImportDatasetForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            source = data["path"] or str(_save_uploads(data["files"]))
            job = jobs.start_job(
                kind="import_dataset",
                owner=request.user,
                params={"name": data["name"], "title": data["title"], "format": data["format"], "path": source},
            )
            messages.success(
                request, format_html('Import queued as <a href="{}">job #{}</a>.', reverse("recsys:jobs"), job.pk)
            )
            return redirect("admin:recsys_dataset_changelist")
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": "Import a dataset",
            "opts": self.model._meta,
        }
        return render(request, "admin/recsys/dataset/import.html", context)


def _save_uploads(files) -> Path:
    folder = Path(settings.MEDIA_ROOT) / "uploads" / uuid.uuid4().hex
    folder.mkdir(parents=True)
    for upload in files:
        with open(folder / Path(upload.name).name, "wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
    return folder


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ("title", "year", "categories", "external_id", "dataset")
    list_filter = ("dataset", CategoryFilter)
    search_fields = ("title", "external_id")
    list_select_related = ("dataset",)
    show_full_result_count = False


@admin.register(InteractionSequence)
class InteractionSequenceAdmin(admin.ModelAdmin):
    list_display = ("external_user_id", "dataset", "user", "created_at")
    list_filter = ("dataset",)
    search_fields = ("external_user_id", "user__username")
    list_select_related = ("dataset", "user")
    raw_id_fields = ("user",)
    show_full_result_count = False


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    list_display = ("id", "sequence", "item", "timestamp", "rating", "weight", "state", "source")
    list_filter = ("state", "source")
    list_select_related = ("sequence__dataset", "item")
    raw_id_fields = ("sequence", "item")
    readonly_fields = ("sequence", "item", "timestamp", "position", "rating", "source")
    search_fields = ("sequence__external_user_id",)
    show_full_result_count = False
    ordering = ("-id",)

    def has_add_permission(self, request):
        return False


@admin.action(description="Make active for its dataset")
def activate_models(modeladmin, request, queryset):
    for model in queryset:
        try:
            activate(model)
            messages.success(request, f"{model} is now active.")
        except RegistryError as exc:
            messages.error(request, str(exc))


@admin.action(description="Re-evaluate on the current data, both protocols (background job)")
def evaluate_models(modeladmin, request, queryset):
    for model in queryset.select_related("dataset"):
        try:
            job = start_evaluation(model=model, owner=request.user)
        except TrainingError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"Evaluation of {model} queued as job #{job.pk}.")


@admin.register(TrainedModel)
class TrainedModelAdmin(admin.ModelAdmin):
    list_display = ("__str__", "architecture", "dataset", "status", "is_active", "created_at")
    list_filter = ("architecture", "status", "is_active", "dataset")
    list_select_related = ("dataset",)
    readonly_fields = (
        "automatic_choices",
        "metrics",
        "training_curve",
        "data_snapshot",
        "calibration",
        "device",
        "training_seconds",
        "artefact_path",
        "error",
        "created_at",
        "is_active",
    )
    actions = [activate_models, evaluate_models]

    @admin.display(description="Chosen from the data")
    def automatic_choices(self, model):
        choices = (model.hyperparameters or {}).get("auto") or {}
        if not choices:
            return "— (every hyper-parameter was given)"
        return format_html_join("\n", "<p><strong>{}</strong> = {}</p>",
                                ((name, reason) for name, reason in sorted(choices.items())))

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj is not None and obj.is_active)

    def delete_model(self, request, obj):
        delete(obj)

    def delete_queryset(self, request, queryset):  # the action refuses a selection holding the active version
        for model in queryset:
            delete(model)


@admin.action(description="Retry selected failed jobs")
def retry_jobs(modeladmin, request, queryset):
    for job in queryset:
        try:
            jobs.retry_job(job)
        except ValueError as exc:
            messages.error(request, f"#{job.pk}: {exc}")


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "kind", "queue", "status", "progress_bar", "message", "owner", "created_at")
    list_filter = ("status", "kind", "queue")
    list_select_related = ("owner",)
    readonly_fields = (
        "kind",
        "queue",
        "status",
        "progress",
        "message",
        "params",
        "result",
        "error",
        "attempts",
        "owner",
        "created_at",
        "started_at",
        "finished_at",
    )
    actions = [retry_jobs]

    @admin.display(description="Progress")
    def progress_bar(self, job):
        return format_html(
            '<progress max="100" value="{}" aria-label="Progress">{}%</progress> {}%',
            job.progress,
            job.progress,
            job.progress,
        )

    def has_add_permission(self, request):
        return False
