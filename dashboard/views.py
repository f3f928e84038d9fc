"""Analyst research dashboard pages: nine deep-linkable sections, staff only (members get 403)."""

import csv
import json
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_POST
from plotly.offline import get_plotlyjs

from accounts.decorators import staff_required
from recourse.engine.drift_injection import STRATEGIES
from recourse.engine.population import DRIFT_METRICS, RANKING_METRICS
from recourse.engine.recourse_search import RecoursePlan
from recourse.engine.taste_recourse import TasteAnalysis
from recourse.models import Experiment
from recourse.services import experiments
from recsys.models import Dataset, TrainedModel
from recsys.params import optional_id, parse_id, require_id
from recsys.services import registry, training

from . import figures, reads
from .api import ExperimentSerializer

# --- shared context ------------------------------------------------------------------------------


def _dataset(request) -> Dataset | None:
    key = optional_id(request.GET.get("dataset") or request.POST.get("dataset"), "dataset")
    if key is not None:
        return Dataset.objects.filter(pk=key).first() or reads.default_dataset()
    return reads.default_dataset()


def _seed(request) -> int:
    """A drift seed must be a whole number below 2**32; anything else falls back to 0."""
    value = parse_id(request.GET.get("seed", "0"))
    return value if value is not None and value < 2**32 else 0


def _context(request, section: str, dataset: Dataset | None, **extra) -> dict:
    query = {"dataset": dataset.pk if dataset else ""}
    for key in ("user", "strategy", "seed"):
        if request.GET.get(key):
            query[key] = request.GET[key]
    querystring = urlencode({k: v for k, v in query.items() if v != ""})
    return {"section": section, "sections": reads.SECTIONS, "dataset": dataset,
            "datasets": Dataset.objects.order_by("name"), "querystring": querystring,
            "strategies": STRATEGIES, "strategy": request.GET.get("strategy", "category"),
            "seed": _seed(request), "user_key": request.GET.get("user", ""), "view": None, "member_form": False,
            **extra}


def _page(request, section: str, template: str, dataset, **extra):
    return render(request, f"dashboard/{template}", _context(request, section, dataset, **extra))


def _no_dataset(request, section):
    return _page(request, section, "empty.html", None, reason="No dataset has been imported yet.")


# --- sections ------------------------------------------------------------------------------------


@staff_required
def index(request):
    return redirect("dashboard:overview")


@staff_required
def overview(request):
    dataset = _dataset(request)
    if dataset is None:
        return _no_dataset(request, "overview")
    overview = reads.dataset_overview(dataset)
    return _page(request, "overview", "overview.html", dataset, overview=overview,
                 figures=figures.overview_figures(overview))


@staff_required
def model_registry(request):
    dataset = _dataset(request)
    if dataset is None:
        return _no_dataset(request, "registry")
    models = reads.models_of(dataset)
    return _page(request, "registry", "registry.html", dataset, models=models,
                 architectures=TrainedModel.Architecture.choices, running_jobs=reads.unfinished_model_jobs(models))


@staff_required
@require_POST
def activate_model(request, model_id):
    model = get_object_or_404(TrainedModel, pk=model_id)
    try:
        registry.activate(model)
        messages.success(request, f"{model} is now active.")
    except registry.RegistryError as exc:
        messages.error(request, str(exc))
    return redirect(f"{reverse('dashboard:registry')}?dataset={model.dataset_id}")


@staff_required
@require_POST
def train_model(request):
    dataset = get_object_or_404(Dataset, pk=require_id(request.POST.get("dataset"), "dataset"))
    try:
        hyperparameters = json.loads(request.POST.get("hyperparameters") or "{}")
        job = training.start_training(dataset=dataset, architecture=request.POST.get("architecture", ""),
                                      hyperparameters=hyperparameters, owner=request.user,
                                      activate=bool(request.POST.get("activate")))
        messages.success(request, f"Training job #{job.pk} queued.")
    except (json.JSONDecodeError, RecursionError):  # RecursionError: nested too deeply for the parser
        messages.error(request, "Hyper-parameters must be a JSON object, e.g. {\"epochs\": 20}.")
    except training.TrainingError as exc:
        messages.error(request, str(exc))
    return redirect(f"{reverse('dashboard:registry')}?dataset={dataset.pk}")


@staff_required
def comparison(request):
    dataset = _dataset(request)
    if dataset is None:
        return _no_dataset(request, "comparison")
    versions = reads.models_of(dataset)
    models = reads.chosen_models(versions, request.GET.getlist("model"))
    timing = [{"model": m, "seconds_per_epoch": reads.seconds_per_epoch(m), "epochs": len(m.training_curve)}
              for m in models]
    return _page(request, "comparison", "comparison.html", dataset, rows=reads.comparison_rows(models),
                 figures=figures.comparison_figures(models), timing=timing, metrics=reads.COMPARISON_METRICS,
                 versions=versions, shown={m.pk for m in models})


def _member(request, section: str):
    """(dataset, MemberView) or an error page response."""
    dataset = _dataset(request)
    if dataset is None:
        return None, None, _no_dataset(request, section)
    try:
        sequence = reads.pick_sequence(dataset, request.GET.get("user", ""))
        if sequence is None:
            raise reads.DashboardError("The dataset has no users.")
        return dataset, reads.member_view(dataset, sequence), None
    except reads.DashboardError as exc:
        return dataset, None, _page(request, section, "empty.html", dataset, reason=str(exc), member_form=True)


@staff_required
def recommendations(request):
    dataset, view, error = _member(request, "recommendations")
    if error:
        return error
    return _page(request, "recommendations", "recommendations.html", dataset, view=view,
                 history=reads.history_rows(view, view.history), top=reads.recommendations(view))


def _drift(request, view):
    return reads.drift_analysis(view, strategy=request.GET.get("strategy", "category"), seed=_seed(request))


def _drifted_member(request, section: str):
    """(dataset, MemberView, drift result) or an error page response, for the sections that inject drift."""
    dataset, view, error = _member(request, section)
    if error:
        return None, None, None, error
    try:
        return dataset, view, _drift(request, view), None
    except reads.DashboardError as exc:
        return dataset, view, None, _page(request, section, "empty.html", dataset, reason=str(exc), member_form=True)


@staff_required
def drift(request):
    dataset, view, result, error = _drifted_member(request, "drift")
    if error:
        return error
    rows = reads.history_rows(view, result.injection.history, result.injection.injected_positions)
    return _page(request, "drift", "drift.html", dataset, view=view, drift=result, history=rows,
                 figure=figures.drift_figure(view, result),
                 pairs=list(zip(result.top_before, result.top_after, strict=True)))


@staff_required
def xai(request):
    drifted = request.GET.get("on", "drifted") == "drifted"
    if drifted:
        dataset, view, result, error = _drifted_member(request, "xai")
    else:
        (dataset, view, error), result = _member(request, "xai"), None
    if error:
        return error
    history, injected = view.history, ()
    if drifted:
        history, injected = result.injection.history, result.injection.injected_positions
    explained = reads.xai_comparison(view, history, injected)
    tops = {name: [view.titles[int(i)] for i in a.items[(-a.scores).argsort(kind="stable")[:5]]]
            for name, a in explained.methods.items()}
    return _page(request, "xai", "xai.html", dataset, view=view, xai=explained, tops=tops, on_drifted=drifted,
                 heatmap=figures.xai_heatmap(view, explained))


@staff_required
def user_recourse(request):
    dataset, view, result, error = _drifted_member(request, "recourse")
    if error:
        return error
    method = request.GET.get("method", "taste")
    if method not in reads.RECOURSE_METHODS:
        method = "taste"
    outcome: reads.TasteRecourseView | RecoursePlan
    plan: TasteAnalysis | RecoursePlan  # both have changes, top_before, top_after
    if method == "taste":
        try:
            outcome = reads.taste_recourse_run(view, result)
        except reads.DashboardError as exc:
            return _page(request, "recourse", "empty.html", dataset, reason=str(exc), member_form=True)
        plan = outcome.analysis
    else:
        outcome = plan = reads.recourse_run(view, result)
    injected = set(result.injection.injected_positions.tolist())
    changes = [{"title": view.titles[c.item], "action": c.action, "weight": c.weight,
                "was_injected": c.position in injected} for c in plan.changes]
    return _page(request, "recourse", "recourse.html", dataset, view=view, drift=result, outcome=outcome,
                 method=method, methods=reads.RECOURSE_METHODS, method_label=reads.RECOURSE_METHODS[method],
                 changes=changes,
                 injected_removed=sum(c["was_injected"] for c in changes),
                 top_after=[view.titles[int(i)] for i in plan.top_after],
                 top_before=[view.titles[int(i)] for i in plan.top_before])


@staff_required
def metrics(request):
    dataset = _dataset(request)
    if dataset is None:
        return _no_dataset(request, "metrics")
    rows = Experiment.objects.filter(dataset=dataset).select_related("trained_model", "job")
    chosen_id = optional_id(request.GET.get("experiment"), "experiment")
    chosen = rows.filter(pk=chosen_id).first() if chosen_id is not None else reads.latest_experiment(dataset)
    protocol = request.GET.get("protocol", "full") if request.GET.get("protocol") in ("full", "sampled") else "full"
    eligible = experiments.eligible_count(dataset)
    listed = list(rows[:50])
    return _page(request, "metrics", "metrics.html", dataset, experiments_list=listed, chosen=chosen,
                 running_jobs=[e.job for e in listed if e.job and not e.job.is_finished],
                 protocol=protocol, table=reads.experiment_table(chosen, protocol) if chosen else [],
                 protocol_rows=reads.protocol_rows(chosen) if chosen else [],
                 figure=figures.experiment_figure(chosen, f"{protocol}:HR@10") if chosen else None,
                 ranking_metrics=RANKING_METRICS, drift_metrics=DRIFT_METRICS,
                 default_users=min(experiments.DEFAULT_USERS, eligible), eligible_users=eligible,
                 min_length=experiments.MIN_LENGTH)


@staff_required
@require_POST
def start_experiment(request):
    dataset = get_object_or_404(Dataset, pk=require_id(request.POST.get("dataset"), "dataset"))
    n_users = parse_id(request.POST.get("n_users") or experiments.DEFAULT_USERS)
    seed = parse_id(request.POST.get("seed") or 0)
    try:
        if n_users is None or seed is None or seed >= 2**32:
            raise ValueError
        experiment = experiments.start_experiment(
            dataset=dataset, n_users=n_users, strategies=request.POST.getlist("strategies"), seed=seed,
            name=request.POST.get("name", "")[:120], owner=request.user,
        )
        messages.success(request, f"Experiment #{experiment.pk} queued as job #{experiment.job_id} (xai queue).")
    except ValueError:
        messages.error(request, "Users and seed must be whole numbers (the seed below 4294967296).")
    except experiments.ExperimentError as exc:
        messages.error(request, str(exc))
    return redirect(f"{reverse('dashboard:metrics')}?dataset={dataset.pk}")


@staff_required
def export_experiment(request, experiment_id, fmt):
    if fmt not in ("csv", "json"):
        raise Http404("Export as .csv or .json")
    experiment = get_object_or_404(Experiment, pk=experiment_id)
    filename = f"experiment-{experiment.pk}.{fmt}"
    response: HttpResponse
    if fmt == "json":
        response = JsonResponse(ExperimentSerializer(experiment).data, json_dumps_params={"indent": 1})
    else:
        response = HttpResponse(content_type="text/csv")
        rows = experiments.result_rows(experiment)
        writer = csv.DictWriter(response, fieldnames=["strategy", "condition", "protocol", "metric", "mean",
                                                      "ci_low", "ci_high", "n"])
        writer.writeheader()
        writer.writerows(rows)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _summary_context(request, dataset):
    models = reads.models_of(dataset)
    chosen = reads.latest_experiment(dataset)
    overview = reads.dataset_overview(dataset)
    shown: list[figures.Figure | None] = [*figures.overview_figures(overview)[:1],
                                          *figures.comparison_figures(models)[:1]]
    if chosen:
        shown += [figures.experiment_figure(chosen, "full:HR@10"), figures.experiment_figure(chosen, "alignment")]
    return _context(request, "summary", dataset, overview=overview, chosen=chosen,
                    figures=[f for f in shown if f], rates=reads.feedback_rates(dataset),
                    table=reads.experiment_table(chosen, "full") if chosen else [],
                    protocol_rows=reads.protocol_rows(chosen) if chosen else [],
                    ranking_metrics=RANKING_METRICS, drift_metrics=DRIFT_METRICS,
                    active=next((m for m in models if m.is_active), None))


@staff_required
def summary(request):
    dataset = _dataset(request)
    if dataset is None:
        return _no_dataset(request, "summary")
    return render(request, "dashboard/summary.html", _summary_context(request, dataset))


@staff_required
def summary_download(request):
    dataset = _dataset(request)
    if dataset is None:
        return _no_dataset(request, "summary")
    context = _summary_context(request, dataset)
    context["plotly_js"] = get_plotlyjs()
    html = render_to_string("dashboard/summary_standalone.html", context, request=request)
    response = HttpResponse(html, content_type="text/html; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="hikmax-summary-{dataset.name}.html"'
    return response


@staff_required
def feedback(request):
    dataset = _dataset(request)
    return _page(request, "feedback", "feedback.html", dataset, rates=reads.feedback_rates(dataset))
