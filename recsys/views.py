from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.decorators import staff_required

from . import charts, jobs, ratings, selectors
from .forms import AddToHistoryForm, CatalogueSearchForm, DatasetChoiceForm
from .models import Interaction, Item, Job
from .params import parse_id
from .redirects import redirect_to_next
from .services import history, serving


def landing(request):
    if request.user.is_authenticated:
        return redirect("recsys:home")
    return render(request, "landing.html")


@login_required
def home(request):
    dataset = selectors.current_dataset(request)
    if dataset is None:
        return render(request, "recsys/no_dataset.html")
    query = request.GET.get("q", "").strip()
    interactions = selectors.member_interactions(request.user, dataset, query=query)
    page = Paginator(interactions, 25).get_page(request.GET.get("page"))
    all_interactions = selectors.member_interactions(request.user, dataset)
    timeline = None
    if all_interactions.exists():
        timeline = charts.history_timeline(all_interactions, ordinal_time=not dataset.has_timestamps)
    return render(
        request,
        "recsys/home.html",
        {
            "dataset": dataset,
            "page": page,
            "query": query,
            "timeline": timeline,
            "total": all_interactions.count(),
            "ordinal": not dataset.has_timestamps,
            "rating_policy": selectors.rating_policy(request.user, dataset),
            "dataset_form": DatasetChoiceForm(selectors.datasets_for(request.user, dataset), current=dataset),
        },
    )


@login_required
@require_POST
def choose_dataset(request):
    form = DatasetChoiceForm(selectors.datasets_for(request.user), request.POST)
    if form.is_valid():
        request.session[selectors.SESSION_DATASET_KEY] = form.cleaned_data["dataset"].pk
    else:
        messages.error(request, " ".join(str(error) for error in form.errors.get("dataset", ["Choose a dataset."])))
    return redirect_to_next(request, "recsys:home")


@login_required
def catalogue(request):
    dataset = selectors.current_dataset(request)
    if dataset is None:
        return render(request, "recsys/no_dataset.html")
    categories, years = selectors.categories_of(dataset), selectors.has_years(dataset)
    known = serving.training_counts(dataset)
    form = CatalogueSearchForm(request.GET or None, categories=categories, years=years, popularity=bool(known))
    filters = form.cleaned_data if form.is_valid() else {}
    by_popularity = bool(known) and filters.get("order", "popular") in ("popular", "")
    items = selectors.catalogue(
        dataset, query=filters.get("q", ""), category=filters.get("category", ""), year=filters.get("year"),
        popularity=serving.popularity_order(dataset) if by_popularity else None,
    )
    page = Paginator(items, 30).get_page(request.GET.get("page"))
    states = selectors.member_interactions(request.user, dataset).values_list("item_id", "state")
    own = {item_id for item_id, state in states if state == Interaction.State.ACTIVE}
    removed = {item_id for item_id, _ in states} - own
    query_string = request.GET.copy()
    query_string.pop("page", None)
    return render(
        request,
        "recsys/catalogue.html",
        {
            "dataset": dataset,
            "form": form,
            "show_categories": bool(categories),
            "show_years": years,
            "page": page,
            "own_items": own,
            "removed_items": removed,
            "hidden_items": set(selectors.not_interested_item_ids(request.user, dataset)),
            "known": known,
            "marks_new": bool(known) and any(item.pk not in known for item in page),
            "query_string": query_string.urlencode(),
        },
    )


@login_required
@require_POST
def add_to_history(request, item_id):
    item = get_object_or_404(Item, pk=item_id)
    scale = ratings.scale_of(item.dataset)
    form = AddToHistoryForm(request.POST, scale=scale)
    if not form.is_valid():
        messages.error(request, scale.member_rule)
    else:
        history.add_item(user=request.user, item=item, rating=form.cleaned_data["rating"])
        request.session[selectors.SESSION_DATASET_KEY] = item.dataset_id
        messages.success(request, f"Added “{item.title}” to your history.")
    return redirect_to_next(request, "recsys:catalogue")


@staff_required
def job_list(request):
    page = Paginator(Job.objects.select_related("owner"), 30).get_page(request.GET.get("page"))
    return render(request, "recsys/jobs.html", {"page": page})


@staff_required
def job_status(request):
    text = request.GET.get("ids", "")
    ids = [parse_id(i) for i in text.split(",") if i.strip()]
    if None in ids:
        return JsonResponse({"detail": "ids must be job numbers separated by commas."}, status=400)
    rows = Job.objects.filter(pk__in=ids).values("id", "status", "progress", "message")
    return JsonResponse({"jobs": list(rows)})


@staff_required
@require_POST
def job_retry(request, job_id):
    job = get_object_or_404(Job, pk=job_id)
    try:
        jobs.retry_job(job)
        messages.success(request, f"Job #{job.pk} queued again.")
    except ValueError as exc:
        messages.error(request, str(exc))
    return redirect("recsys:jobs")


@staff_required
@require_POST
def job_cancel(request, job_id):
    job = get_object_or_404(Job, pk=job_id)
    if jobs.cancel_job(job):
        messages.info(request, f"Cancellation of job #{job.pk} requested.")
    else:  # a second click, or a Jobs page older than the job's end
        messages.info(request, jobs.nothing_to_cancel(job))
    return redirect("recsys:jobs")

