"""Curators' pages (staff only; members get 403): emerging titles, a title's SHAP waterfall, the audit,
the policy sensitivity and the Model Governance Card."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.decorators import staff_required
from recsys.models import Dataset
from recsys.params import parse_id, require_id
from recsys.ratings import scale_of

from . import charts, selectors, services
from .engine.fairness import subgroup_interval
from .forms import TrainForecasterForm
from .models import EmergingTitle, Forecaster


def _dataset(request) -> Dataset | None:
    key = parse_id(request.GET.get("dataset") or request.POST.get("dataset"))
    if key is not None:
        found = Dataset.objects.filter(pk=key).first()
        if found:
            return found
    return Dataset.objects.order_by("name").first()


def _ready(forecaster_id: int) -> Forecaster:
    forecaster = get_object_or_404(Forecaster.objects.select_related("dataset"), pk=forecaster_id)
    if forecaster.status != Forecaster.Status.READY:
        raise Http404("This forecaster is not ready.")
    return forecaster


@staff_required
def emerging(request):
    dataset = _dataset(request)
    if dataset is None:
        return render(request, "forecast/emerging.html", {"dataset": None})
    forecaster = selectors.shown_forecaster(dataset)
    chosen = parse_id(request.GET.get("forecaster"))
    if chosen is not None:
        forecaster = _ready(chosen) if Forecaster.objects.filter(pk=chosen, dataset=dataset).exists() else None
    page = None
    if forecaster:
        titles = selectors.ranked_titles(forecaster)
        if request.GET.get("flagged") == "1":
            titles = titles.filter(flagged=True)
        page = Paginator(titles, 25).get_page(request.GET.get("page"))
    return render(request, "forecast/emerging.html", {
        "dataset": dataset, "datasets": Dataset.objects.order_by("name"), "forecaster": forecaster, "page": page,
        "forecasters": selectors.forecasters_of(dataset)[:20], "jobs": selectors.unfinished_training_jobs(dataset),
        "form": TrainForecasterForm(scale=scale_of(dataset)), "flagged_only": request.GET.get("flagged") == "1",
    })


@staff_required
@require_POST
def train(request):
    dataset = get_object_or_404(Dataset, pk=require_id(request.POST.get("dataset"), "dataset"))
    form = TrainForecasterForm(request.POST, scale=scale_of(dataset))
    target = f"{reverse('forecast:emerging')}?dataset={dataset.pk}"
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{form.fields[field].label if field in form.fields else field}: {errors[0]}")
        return redirect(target)
    try:
        job = services.start_training(dataset=dataset, settings=form.settings(), activate=form.cleaned_data["activate"],
                                      owner=request.user)
    except services.ForecastSetupError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Training job #{job.pk} queued; its progress shows below.")
    return redirect(target)


@staff_required
@require_POST
def activate(request, forecaster_id):
    forecaster = get_object_or_404(Forecaster, pk=forecaster_id)
    try:
        services.activate(forecaster)
        messages.success(request, f"{forecaster} is now active.")
    except services.ForecastSetupError as exc:
        messages.error(request, str(exc))
    return redirect(f"{reverse('forecast:emerging')}?dataset={forecaster.dataset_id}")


@staff_required
def title(request, forecaster_id, item_id):
    forecaster = _ready(forecaster_id)
    entry = get_object_or_404(EmergingTitle.objects.select_related("item"), forecaster=forecaster, item_id=item_id)
    names = [f["name"] for f in forecaster.report["features"]]
    explanation = entry.explanation
    rows, figure = [], None
    if explanation:
        figure = charts.waterfall(names, explanation["values"], explanation["contributions"],
                                  explanation["base_value"], output_space=forecaster.report["shap"]["output_space"])
        descriptions = {f["name"]: f["description"] for f in forecaster.report["features"]}
        rows = sorted(({"name": n, "description": descriptions[n], "value": v, "contribution": c}
                       for n, v, c in zip(names, explanation["values"], explanation["contributions"])),
                      key=lambda r: -abs(r["contribution"]))
        total = explanation["base_value"] + sum(explanation["contributions"])
    else:
        total = None
    return render(request, "forecast/title.html", {"forecaster": forecaster, "entry": entry, "figure": figure,
                                                   "rows": rows, "total": total})


def _with_wilson_intervals(fairness: dict) -> dict:
    """The audit as it is computed now, for reports stored when subgroup recalls had bootstrap CIs."""
    audits = {}
    for kind, audit in fairness.items():
        groups = [g | subgroup_interval(g["found"], g["positives"], enough=g["enough_positives"],
                                        global_recall=audit["global_recall"]) for g in audit["groups"]]
        audits[kind] = audit | {"groups": groups}
    return audits


@staff_required
def audit(request, forecaster_id):
    forecaster = _ready(forecaster_id)
    report = forecaster.report
    report = report | {"fairness": _with_wilson_intervals(report["fairness"])}
    names = list(report["ice"])
    return render(request, "forecast/audit.html", {
        "forecaster": forecaster, "report": report,
        "models": report["models"].values(),
        "comparisons": [{"other": report["models"][k]["label"], **v} for k, v in report["comparisons"].items()],
        "primary_label": report["models"][report["primary_model"]]["label"],
        "comparison_chart": charts.model_comparison(report["models"]),
        "importance_chart": charts.shap_importance(report["shap"]["importance"]),
        "importance_summary": charts.importance_summary(report["shap"]["importance"]),
        "fairness_charts": [{"html": charts.fairness(report["fairness"][kind], kind),
                             "summary": charts.fairness_summary(report["fairness"][kind], kind)}
                            for kind in ("genre", "decade")],
        "ice_charts": [{"html": charts.ice(name, report["ice"][name], i),
                        "summary": charts.ice_summary(name, report["ice"][name])} for i, name in enumerate(names)],
        "lime_chart": charts.lime_agreement(report["lime"]["summary"]),
        "lime_summary": charts.lime_summary(report["lime"]["summary"]),
        "flagged": [g | {"kind": kind} for kind in ("genre", "decade")
                    for g in report["fairness"][kind]["groups"] if g["flagged"]],
    })


@staff_required
def sensitivity(request, forecaster_id):
    forecaster = _ready(forecaster_id)
    rows = forecaster.report.get("sensitivity", [])
    chart = charts.sensitivity(rows) if any(r["status"] == "ok" for r in rows) else None
    return render(request, "forecast/sensitivity.html", {"forecaster": forecaster, "rows": rows, "chart": chart})


@staff_required
def card(request, forecaster_id):
    forecaster = _ready(forecaster_id)
    return render(request, "forecast/card.html", {"forecaster": forecaster, "card_html": _card_html(forecaster)})


@staff_required
def card_download(request, forecaster_id):
    forecaster = _ready(forecaster_id)
    response = HttpResponse(_card_html(forecaster), content_type="text/html; charset=utf-8")
    filename = f"governance-card-{forecaster.dataset.name}-v{forecaster.version}.html"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _card_html(forecaster: Forecaster) -> str:
    if not forecaster.card:
        raise Http404("This forecaster has no governance card.")
    with forecaster.card.open("rb") as handle:
        return handle.read().decode()
