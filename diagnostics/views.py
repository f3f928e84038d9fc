"""Deletion diagnostics pages: analysts (staff) start and read runs; administrators leave members out of training."""

import csv
import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch
from django.views.decorators.http import require_POST

from accounts.decorators import staff_required
from diagnostics import charts, selectors, services
from diagnostics.engine.influence import METRICS
from diagnostics.forms import ExclusionForm, StartRunForm
from diagnostics.models import DiagnosticRun
from recsys import jobs
from recsys.models import Interaction, TrainingExclusion
from recsys.params import require_id

SEQUENTIAL_DEFAULTS = {"hidden": 32, "blocks": 1, "max_len": 50, "dropout": 0.2, "lr": 0.002}


@staff_required
def run_list(request):
    runs = DiagnosticRun.objects.select_related("dataset", "job")[:50]
    return render(request, "diagnostics/runs.html", {"runs": runs, "form": StartRunForm()})


@staff_required
@require_POST
def start(request):
    form = StartRunForm(request.POST)
    if not form.is_valid():
        runs = DiagnosticRun.objects.select_related("dataset", "job")[:50]
        return render(request, "diagnostics/runs.html", {"runs": runs, "form": form}, status=400)
    data = form.cleaned_data
    hyperparameters = {} if data["architecture"] == "mf" else {**SEQUENTIAL_DEFAULTS, "epochs": data["epochs"]}
    try:
        run = services.start_run(dataset=data["dataset"], architecture=data["architecture"],
                                 hyperparameters=hyperparameters, seeds=data["seeds"], users=data["users"],
                                 items=data["items"], sample_seed=data["sample_seed"], owner=request.user)
    except services.DiagnosticsError as exc:
        messages.error(request, str(exc))
        return redirect("diagnostics:runs")
    messages.success(request, f"Run #{run.pk} queued: {run.retrains.count()} retrains on the training queue.")
    return redirect("diagnostics:run", run_id=run.pk)


def _metric(request) -> str:
    metric = request.GET.get("metric", METRICS[0])
    return metric if metric in METRICS else METRICS[0]


@staff_required
def run_detail(request, run_id):
    run = get_object_or_404(DiagnosticRun.objects.select_related("dataset", "job"), pk=run_id)
    metric = _metric(request)
    found = selectors.run_influences(run, metric)
    titles = selectors.item_titles(run, [i.removal.key for i in found.items])
    context = {"run": run, "found": found, "metric": metric, "metrics": METRICS, "titles": titles,
               "running_jobs": [run.job] if run.job and not run.job.is_finished else [],
               "counts": {s: run.retrains.filter(status=s).count() for s in ("pending", "running", "done", "failed")}}
    if found.users or found.items:
        bars = ("Bars: influence averaged over seeds; whiskers: half the range of the per-seed influences; grey "
                "band: ± the full model's seed noise. The tables below list the same numbers.")
        members = {i.removal.key: f"Member {i.removal.key}" for i in found.users}
        context["figures"] = [
            {"id": "users", "title": "Members by influence", "caption": bars,
             "summary": charts.ranking_summary(found.users, members, what="members", seeds=len(run.seeds)),
             "html": charts.influence_ranking(found.users, {}, noise=found.noise, metric=metric,
                                              div_id="user-ranking")},
            {"id": "items", "title": "Titles by influence", "caption": bars,
             "summary": charts.ranking_summary(found.items, titles, what="titles", seeds=len(run.seeds)),
             "html": charts.influence_ranking(found.items, titles, noise=found.noise, metric=metric,
                                              div_id="item-ranking")},
            {"id": "distribution", "title": "Distribution",
             "caption": f"How many members and titles have each influence on {metric}; grey band: ± seed noise.",
             "summary": charts.distribution_summary(found.users, found.items),
             "html": charts.influence_distribution(found.users, found.items, noise=found.noise, metric=metric)},
        ]
    return render(request, "diagnostics/run.html", context)


@staff_required
@require_POST
def cancel(request, run_id):
    run = get_object_or_404(DiagnosticRun, pk=run_id)
    if run.job and jobs.cancel_job(run.job):
        messages.success(request, "Cancelling: retrains that have not started will not run; finished ones are kept.")
    elif run.job:  # a second click, or a run page older than the run's end
        messages.info(request, jobs.nothing_to_cancel(run.job))
    return redirect("diagnostics:run", run_id=run.pk)


@staff_required
@require_POST
def resume(request, run_id):
    run = get_object_or_404(DiagnosticRun.objects.select_related("job"), pk=run_id)
    try:
        services.resume(run)
    except services.DiagnosticsError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Resumed: only the retrains that are not done are sent again.")
    return redirect("diagnostics:run", run_id=run.pk)


@staff_required
def export(request, run_id, fmt):
    run = get_object_or_404(DiagnosticRun.objects.select_related("dataset"), pk=run_id)
    rows = selectors.export_rows(run)
    if fmt == "json":
        sampled = {"members": run.retrains.filter(kind="user").values("key").distinct().count(),
                   "titles": run.retrains.filter(kind="item").values("key").distinct().count()}
        settings = {"run": run.pk, "dataset": run.dataset.name, "architecture": run.architecture,
                    "hyperparameters": run.hyperparameters, "seeds": run.seeds, "sample_seed": run.sample_seed,
                    "sampled": sampled, "evaluated_members": len(run.evaluated_users)}
        response = HttpResponse(json.dumps({**settings, "influences": rows}, indent=1),
                                content_type="application/json")
    elif fmt == "csv":
        response = HttpResponse(content_type="text/csv")
        fields = ["kind", "key", "title", "metric", "influence", "noise", "within_noise", "baseline", "seeds",
                  "per_seed"]
        writer = csv.DictWriter(response, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "per_seed": " ".join(f"{v:.6g}" for v in row["per_seed"])})
    else:
        raise Http404("Export as csv or json.")
    response["Content-Disposition"] = f'attachment; filename="diagnostics-{run.pk}.{fmt}"'
    return response


@staff_required
def entity(request, run_id, kind, key):
    run = get_object_or_404(DiagnosticRun.objects.select_related("dataset"), pk=run_id)
    if kind not in ("user", "item") or not run.retrains.filter(kind=kind, key=key).exists():
        raise Http404("This member or title is not part of the run.")
    active = Interaction.objects.filter(sequence__dataset=run.dataset).select_related("item", "sequence")
    context = {"run": run, "kind": kind, "key": key, "influences": selectors.entity_influences(run, kind, key),
               "ordinal": not run.dataset.has_timestamps}
    if kind == "user":
        sequence = get_object_or_404(run.dataset.sequences, external_user_id=key)
        context.update(sequence=sequence, history=active.filter(sequence=sequence).order_by("timestamp", "position"),
                       exclusion=sequence.training_exclusions.filter(lifted_at__isnull=True).first(),
                       form=ExclusionForm())
    else:
        item = get_object_or_404(run.dataset.items, external_id=key)
        context.update(item=item, history=active.filter(item=item).order_by("-timestamp")[:200],
                       audience=active.filter(item=item).count())
    return render(request, "diagnostics/entity.html", context)


def _require_admin(request):
    if not request.user.is_superuser:
        raise PermissionDenied("Only an administrator can change who is left out of training.")


@staff_required
def exclusions(request):
    rows = TrainingExclusion.objects.select_related("sequence__dataset", "created_by", "lifted_by")[:200]
    return render(request, "diagnostics/exclusions.html", {"exclusions": rows})


@staff_required
@require_POST
def exclude(request):
    _require_admin(request)
    run = get_object_or_404(DiagnosticRun, pk=require_id(request.POST.get("run"), "run"))
    form = ExclusionForm(request.POST)
    key = request.POST.get("key", "")
    if not form.is_valid():
        messages.error(request, "Say why this member is left out of training.")
        return _member_page(run, key)
    try:
        services.exclude_from_training(dataset=run.dataset, user_key=key, reason=form.cleaned_data["reason"],
                                       by=request.user)
    except services.DiagnosticsError as exc:
        messages.error(request, str(exc))
        return redirect("diagnostics:run", run_id=run.pk)
    messages.success(request, f"Member {key} will be left out of the next training. Nothing was deleted.")
    return _member_page(run, key)


def _member_page(run: DiagnosticRun, key: str):
    """The member's page in the run; the run's page when the key cannot name one (empty, or with a slash)."""
    try:
        return redirect("diagnostics:entity", run_id=run.pk, kind="user", key=key)
    except NoReverseMatch:
        return redirect("diagnostics:run", run_id=run.pk)


@staff_required
@require_POST
def lift(request, exclusion_id):
    _require_admin(request)
    exclusion = get_object_or_404(TrainingExclusion, pk=exclusion_id)
    services.lift_exclusion(exclusion=exclusion, by=request.user)
    sequence = exclusion.sequence
    messages.success(request, f"Member {sequence.external_user_id} of {sequence.dataset} is back in the next "
                              "training.")
    return redirect("diagnostics:exclusions")
