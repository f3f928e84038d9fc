import uuid
from datetime import UTC, datetime
from pathlib import Path

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from . import charts, jobs, selectors
from .collation import natural
from .forms import ImportDatasetForm
from .models import Dataset, Interaction, InteractionSequence, Item, Job, TrainedModel
from .params import parse_id
from .selectors import categories_of
from .services import artefacts, registry
from .services import datasets as dataset_service
from .services.registry import delete
from .services.training import TrainingError, start_evaluation, start_training


def job_queued(request, what: str, job: Job) -> None:
    """A success message whose job number links to the job on the jobs page (live progress)."""
    link = reverse("recsys:jobs") + f"#job-{job.pk}"
    messages.success(request, format_html('{} queued as <a href="{}">job #{}</a>.', what, link, job.pk))


class CategoryFilter(admin.SimpleListFilter):
    title = "category"
    parameter_name = "category"

    def lookups(self, request, model_admin):
        dataset_id = parse_id(request.GET.get("dataset__id__exact"))  # not a number: Django's list says so (?e=1)
        datasets = Dataset.objects.filter(pk=dataset_id) if dataset_id is not None else Dataset.objects.all()
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
                job_queued(request, f"{label} training on {dataset}", job)

    train.__name__ = f"train_{architecture}"
    return train


@admin.action(description="Make the site's default dataset (where new members land)")
def make_default(modeladmin, request, queryset):
    if queryset.count() != 1:
        messages.error(request, "Select exactly one dataset to make the site default.")
        return
    dataset = registry.make_default(queryset.get())
    messages.success(request, f"{dataset} is now the site's default dataset: new members land on it.")


@admin.action(description="Delete with its models, artefacts and histories (background job)")
def delete_datasets(modeladmin, request, queryset):
    for dataset in queryset:
        _queue_deletion(request, dataset)


def _queue_deletion(request, dataset: Dataset) -> bool:
    try:
        job = dataset_service.start_deletion(dataset, owner=request.user)
    except dataset_service.DeletionRefused as exc:
        messages.error(request, str(exc))
        return False
    job_queued(request, f"Deletion of {dataset}", job)
    return True


def field_mapping_table(rows, missing: str):
    """[[role, where it was read from], …] as a small read-only table."""
    if not rows:
        return missing
    body = format_html_join("", "<tr><th scope=\"row\">{}</th><td>{}</td></tr>", (tuple(row) for row in rows))
    return format_html('<table class="field-mapping"><tbody>{}</tbody></table>', body)


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    # recourse adds its "explain members" action in recourse/admin.py (recsys never imports recourse).
    actions = [make_default, *(_train_action(value, label) for value, label in TrainedModel.Architecture.choices),
               delete_datasets]
    list_display = (
        "name",
        "title",
        "is_default",
        "active_model",
        "source_format",
        "item_kind",
        "n_users",
        "n_items",
        "n_interactions",
        "has_categories",
        "updated_at",
    )
    readonly_fields = (
        "is_default",
        "source_format",
        "field_mapping_shown",
        "source_checksum",
        "n_users",
        "n_items",
        "n_interactions",
        "created_at",
        "updated_at",
    )
    search_fields = ("name", "title")
    change_list_template = "admin/recsys/dataset/change_list.html"

    @admin.display(description="Field mapping (last import)")
    def field_mapping_shown(self, dataset):
        missing = "Not recorded: imported before the mapping was kept (import the files again to see it)"
        return field_mapping_table(dataset.field_mapping, missing)

    @admin.display(description="Active model")
    def active_model(self, dataset):
        model = selectors.active_model(dataset)
        return str(model) if model else "—"

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # a dataset is deleted by a job (delete_datasets)
        return actions

    def delete_view(self, request, object_id, extra_context=None):
        """Confirm, then delete as a background job (a large dataset takes minutes; models' folders go too)."""
        if not self.has_delete_permission(request):
            raise PermissionDenied
        dataset = get_object_or_404(Dataset, pk=parse_id(object_id))
        if request.method == "POST" and _queue_deletion(request, dataset):
            return redirect("admin:recsys_dataset_changelist")
        context = {
            **self.admin_site.each_context(request),
            "title": f"Delete {dataset}?",
            "opts": self.model._meta,
            "dataset": dataset,
            "impact": dataset_service.impact(dataset),
            "blockers": dataset_service.blocking_jobs(dataset),
        }
        return render(request, "admin/recsys/dataset/delete.html", context)

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
            # Uploads go to the storage (any worker machine may run the import), never to a local folder.
            uploads = [] if data["path"] else artefacts.save_uploads(f"uploads/{uuid.uuid4().hex}", data["files"])
            uploaded = ", ".join(Path(upload.name).name for upload in data["files"] or [])
            job = jobs.start_job(
                kind="import_dataset",
                owner=request.user,
                params={"name": data["name"], "title": data["title"], "format": data["format"],
                        "path": data["path"], "uploads": uploads, "source_name": uploaded if uploads else "",
                        "item_kind": data["item_kind"]},
            )
            job_queued(request, f"Import of {data['name']}", job)
            return redirect("admin:recsys_dataset_changelist")
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "title": "Import a dataset",
            "opts": self.model._meta,
        }
        return render(request, "admin/recsys/dataset/import.html", context)


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ("natural_title", "year", "categories", "natural_external_id", "dataset")
    ordering = (natural("title").asc(),)  # type: ignore[assignment]  # Django takes expressions here; the stubs do not
    list_filter = ("dataset", CategoryFilter)
    search_fields = ("title", "external_id")
    list_select_related = ("dataset",)
    show_full_result_count = False

    @admin.display(description="title", ordering=natural("title"))
    def natural_title(self, item: Item) -> str:
        return item.title

    @admin.display(description="external id", ordering=natural("external_id"))
    def natural_external_id(self, item: Item) -> str:
        return item.external_id


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
            registry.activate(model)
            messages.success(request, f"{model} is now active.")
        except registry.RegistryError as exc:
            messages.error(request, str(exc))


@admin.action(description="Deactivate (its dataset serves no model until another is activated)")
def deactivate_models(modeladmin, request, queryset):
    for model in queryset.filter(is_active=True):
        registry.deactivate(model)
        messages.success(request, f"{model} is no longer active; {model.dataset} has no active model now.")


@admin.action(description="Re-evaluate on the current data, both protocols (background job)")
def evaluate_models(modeladmin, request, queryset):
    for model in queryset.select_related("dataset"):
        try:
            job = start_evaluation(model=model, owner=request.user)
        except TrainingError as exc:
            messages.error(request, str(exc))
        else:
            job_queued(request, f"Evaluation of {model}", job)


@admin.register(TrainedModel)
class TrainedModelAdmin(admin.ModelAdmin):
    list_display = ("__str__", "architecture", "dataset", "status", "is_active", "hr_at_10", "created_at")
    list_filter = ("architecture", "status", "is_active", "dataset")
    list_select_related = ("dataset",)
    actions = [activate_models, deactivate_models, evaluate_models]

    @admin.display(description="HR@10, full ranking (most-popular)")
    def hr_at_10(self, model):
        full = model.metrics.get("full", {})
        mine = full.get("model", {}).get("metrics", {}).get("HR@10")
        baseline = full.get("most-popular", {}).get("metrics", {}).get("HR@10")
        if mine is None:
            return "—"
        return f"{mine:.3f} ({baseline:.3f})" if baseline is not None else f"{mine:.3f}"

    def has_add_permission(self, request):
        return False  # models are trained from a dataset's actions

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """A read-only model card; activate, deactivate, re-evaluate and delete are POSTed here."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        model = get_object_or_404(TrainedModel.objects.select_related("dataset", "created_by"), pk=parse_id(object_id))
        if request.method == "POST":
            return self._card_action(request, model)
        context = {
            **self.admin_site.each_context(request),
            "title": str(model),
            "opts": self.model._meta,
            "original": model,
            "model": model,
            "metric_rows": model_card_metrics(model.metrics),
            "curve_chart": charts.training_curve(model.training_curve) if model.training_curve else "",
            "hyperparameters": sorted((k, v) for k, v in model.hyperparameters.items() if k != "auto"),
            "automatic": sorted((model.hyperparameters.get("auto") or {}).items()),
            "snapshot": snapshot_rows(model.data_snapshot, model.dataset.has_timestamps),
            "can_change": self.has_change_permission(request, model),
            "can_delete": self.has_delete_permission(request, model),
        }
        return render(request, "admin/recsys/trainedmodel/model_card.html", context)

    def _card_action(self, request, model):
        if not self.has_change_permission(request, model):
            raise PermissionDenied
        action = {"activate": activate_models, "deactivate": deactivate_models, "evaluate": evaluate_models}.get(
            request.POST.get("action"))
        if action is None:
            messages.error(request, "Unknown action.")
        else:
            action(self, request, TrainedModel.objects.filter(pk=model.pk))
        return redirect("admin:recsys_trainedmodel_change", model.pk)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and not (obj is not None and obj.is_active)

    def delete_model(self, request, obj):
        delete(obj)

    def delete_queryset(self, request, queryset):  # the action refuses a selection holding the active version
        for model in queryset:
            delete(model)


CARD_METRICS = ("HR@10", "NDCG@10", "MRR", "HR@20", "NDCG@20")
PROTOCOL_NAMES = {"full": "Full ranking (all items)", "sampled": "Sampled (1 positive vs 100 negatives)"}


def model_card_metrics(metrics: dict) -> list[dict]:
    """One row per (protocol, metric): the model and most-popular side by side, with 95% CIs."""
    rows = []
    for protocol in ("full", "sampled"):
        reports = metrics.get(protocol, {})
        mine, baseline = reports.get("model", {}), reports.get("most-popular", {})
        for name in CARD_METRICS:
            if name not in mine.get("metrics", {}):
                continue
            rows.append({
                "protocol": PROTOCOL_NAMES[protocol], "metric": name, "users": mine.get("num_users"),
                "model": mine["metrics"][name], "model_ci": mine.get("ci", {}).get(name),
                "popular": baseline.get("metrics", {}).get(name), "popular_ci": baseline.get("ci", {}).get(name),
            })
    return rows


SNAPSHOT_NAMES = {"interactions": "Active interactions used", "last_timestamp": "Latest interaction",
                  "changed_at": "Data version (highest interaction id)"}


def snapshot_rows(snapshot: dict, has_timestamps: bool = True) -> list[tuple[str, str]]:
    rows = []
    for key, value in snapshot.items():
        if key == "last_timestamp" and has_timestamps and isinstance(value, int | float):
            value = datetime.fromtimestamp(value, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
        rows.append((SNAPSHOT_NAMES.get(key, key.replace("_", " ").capitalize()), value))
    return rows


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
        "field_mapping_shown",
        "result",
        "error",
        "attempts",
        "owner",
        "created_at",
        "started_at",
        "finished_at",
    )
    actions = [retry_jobs]

    @admin.display(description="Field mapping")
    def field_mapping_shown(self, job):
        if job.kind != "import_dataset":
            return "—"
        if job.status == Job.Status.SUCCEEDED:
            missing = "Not recorded: imported before the mapping was kept"
        elif job.is_finished:
            missing = "— (nothing was imported)"
        else:
            missing = "— (shown once the import has finished)"
        return field_mapping_table((job.result or {}).get("field_mapping"), missing)

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
