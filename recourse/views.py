import json
import math
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from recourse.engine import faithful
from recourse.engine.wording import counted
from recsys import charts as recsys_charts
from recsys import page_cache, ratings, selectors
from recsys.forms import DatasetChoiceForm
from recsys.models import Interaction, Item, NotInterested
from recsys.params import parse_id
from recsys.redirects import redirect_to_next
from recsys.services import history, serving
from recsys.vocabulary import words_for

from . import charts
from . import selectors as recourse_selectors
from .forms import FeedbackForm
from .models import DriftAlert, Explanation, NeverFlag, RecourseResult
from .selectors import member_history
from .services import alerts, corrections, drift, explanations
from .services.context import DriftUnavailable


@login_required
def why(request, item_id):
    dataset = selectors.current_dataset(request)
    if dataset is None:
        raise Http404("No dataset has been imported yet.")
    item = get_object_or_404(Item, pk=item_id, dataset=dataset)
    item.dataset = dataset  # the same row: spares a query
    method = request.GET.get("method", "ig")
    if method not in PLAIN_METHODS:  # the service's message names the API's codes; a member reads the link names
        return render(request, "recourse/why_unavailable.html", {"item": item, "message": (
            f"There is no way of explaining called “{method[:20]}”; choose "
            f"{', '.join(list(PLAIN_METHODS.values())[:-1])} or {list(PLAIN_METHODS.values())[-1]}.")}, status=400)
    try:
        model, _ = serving.loaded_model(dataset)
        fingerprint = selectors.history_fingerprint(request.user, dataset)  # read once: it keys every cache below

        def why_context():
            view = explanations.explain(user=request.user, dataset=dataset, item_id=item.pk, method=method,
                                        fingerprint=fingerprint)
            return {**_why_context(view, item, method), "words": words_for(dataset),
                    "rating_policy": selectors.rating_policy(request.user, dataset)}

        # Only a page that was explained is cached, so its key's method is always one of the valid ones. The key
        # names the wording version: a release that words explanations anew must not be hidden by pages cached before.
        body = page_cache.fragment(
            request, serving.member_cache_key("why", request.user, dataset, model, fingerprint, item.pk, method,
                                              explanations.wording_key()),
            "recourse/_why_body.html", why_context)
    except (explanations.ExplanationError, serving.NoActiveModel) as exc:
        status = 404 if isinstance(exc, explanations.NotRecommended) else 200
        return render(request, "recourse/why_unavailable.html", {"item": item, "message": str(exc)}, status=status)
    return render(request, "recourse/why.html", {"item": item, "body": body})


PLAIN_METHODS = {"ig": "Contributions", "attention": "Where the model looked", "occlusion": "Leave one out"}


def _why_context(view, item, method):
    row = view.explanation
    by_id = {interaction.pk: interaction for interaction in view.interactions}
    scored = [(by_id[pk], raw, scaled) for pk, raw, scaled in
              zip(row.interaction_ids, row.raw_scores, row.normalized_scores, strict=True)]
    heat = {interaction.pk: max(0.0, scaled) for interaction, _, scaled in scored}
    titles = [interaction.item.title for interaction, _, _ in scored]
    scale = ratings.scale_of(item.dataset)
    return {
        "item": item, "explanation": row, "method": method, "rank": view.rank, "rows": view.method_rows,
        "history_length": len(view.interactions),
        # "Used: ... all 3 that the model knows" beside "a film you rated 1.5 stars or lower is not used" contradicted
        # itself: the ledger says how many of them the member's ratings keep from counting.
        "rated_out": sum(1 for interaction in view.interactions
                         if interaction.weight > 0 and ratings.model_weight(interaction.weight, interaction.rating,
                                                                            scale=scale) == 0),
        "unavailable": view.unavailable, "methods": [(value, PLAIN_METHODS[value], label)
                                                     for value, label in Explanation.Method.choices],
        "scored": [(interaction, raw, scaled, abs(scaled) * 50,
                    ratings.model_weight(interaction.weight, interaction.rating, scale=scale))
                   for interaction, raw, scaled in sorted(scored, key=lambda s: s[1], reverse=True)],
        "timeline": recsys_charts.history_timeline(view.interactions, ordinal_time=not item.dataset.has_timestamps,
                                                   highlight=heat),
        "bars": charts.top_contributors(titles, [s for _, s, _ in scored], method_label=PLAIN_METHODS[method],
                                        signed=method != "attention"),
        "feedback_form": FeedbackForm(),
        "high_spearman": faithful.HIGH_SPEARMAN, "medium_spearman": faithful.MEDIUM_SPEARMAN, "top_n": faithful.TOP_N,
    }


@login_required
@require_POST
def feedback(request, explanation_id):
    explanation = Explanation.objects.filter(pk=explanation_id, user=request.user).first()
    if explanation is None:
        raise Http404("No such explanation.")
    form = FeedbackForm(request.POST)
    if form.is_valid():
        explanations.record_feedback(user=request.user, explanation=explanation,
                                     helpful=form.cleaned_data["helpful"], comment=form.cleaned_data["comment"])
        messages.success(request, "Thank you — your feedback was saved.")
    else:
        messages.error(request, " ".join(str(error) for errors in form.errors.values() for error in errors))
    return redirect(f"{_why_url(explanation)}?method={explanation.method}")


def _why_url(explanation):
    return reverse("recourse:why", args=[explanation.target_item_id])


@login_required
def for_you(request):
    dataset = selectors.current_dataset(request)
    if dataset is None:
        return render(request, "recsys/no_dataset.html")
    try:
        model, _ = serving.loaded_model(dataset)
    except serving.NoActiveModel as exc:
        return render(request, "recourse/for_you.html", {
            "dataset": dataset, "unavailable": str(exc),
            "dataset_form": DatasetChoiceForm(selectors.datasets_for(request.user, dataset), current=dataset),
        })
    fingerprint = selectors.history_fingerprint(request.user, dataset)  # read once: it keys every cache below

    def list_context():
        recommendations = serving.recommend_for_member(request.user, dataset, n=10, fingerprint=fingerprint)
        reasons = {}
        if not recommendations.fallback:
            reasons = explanations.one_line_reasons(
                user=request.user, dataset=dataset, items=[rec.item for rec in recommendations.items],
                fingerprint=fingerprint)
        # Fallback for a member with a history: every title in it is rated too low to count (unknown ones are said
        # separately), which "You have no history the model knows yet" denied.
        rated_out = (recommendations.fallback and not recommendations.ignored
                     and selectors.member_history(request.user, dataset).exists())
        return {"recs": recommendations, "reasons": reasons, "words": words_for(dataset),
                "rated_out": ratings.scale_of(dataset).disliked_words if rated_out else ""}

    body = page_cache.fragment(
        request, serving.member_cache_key("for-you", request.user, dataset, model, fingerprint,
                                          explanations.wording_key()),  # its one-line reasons
        "recourse/_for_you_list.html", list_context)
    return render(request, "recourse/for_you.html", {
        "dataset": dataset, "body": body,
        "dataset_form": DatasetChoiceForm(selectors.datasets_for(request.user, dataset), current=dataset),
    })


@login_required
def drift_check(request):
    dataset = selectors.current_dataset(request)
    if dataset is None:
        return render(request, "recsys/no_dataset.html")
    try:
        check = drift.check_drift(user=request.user, dataset=dataset)
    except (DriftUnavailable, serving.NoActiveModel) as exc:
        return render(request, "recourse/drift.html", {"dataset": dataset, "unavailable": str(exc)})
    timeline = recsys_charts.history_timeline(check.interactions, ordinal_time=not dataset.has_timestamps,
                                              highlight=check.heat, highlight_label="How unusual")
    details = check.result.details
    rate = details.get("false_alarm_rate")
    return render(request, "recourse/drift.html", {
        "dataset": dataset, "check": check, "timeline": timeline, "ordinal": not dataset.has_timestamps,
        "flag_share": f"{round(100 * details.get('flag_quantile', 0))} %",
        "verdict_share": f"{round(100 * details.get('verdict_quantile', 0))} %",
        "false_alarm_rate": rate if isinstance(rate, float) and math.isfinite(rate) else None,
        "reference_held_out": details.get("held_out_histories"),
    })


def _changes_from_form(post) -> dict[int, float]:
    changes = {}
    for key, action in post.items():
        if not key.startswith("action-") or action == "keep":
            continue
        interaction_id = parse_id(key.removeprefix("action-"))
        if interaction_id is None:
            raise corrections.CorrectionError("The form names an entry that is not in your history.")
        if action == "remove":
            changes[interaction_id] = 0.0
        elif action == "lower":
            changes[interaction_id] = _weight(post.get(f"weight-{interaction_id}", "0.5"))
        else:
            raise corrections.CorrectionError(f"Unknown action {action[:20]!r}: choose keep, lower or remove.")
    return changes


def _weight(value) -> float:
    """A weight typed or sent by a member: a number, else a message saying what is expected."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise corrections.CorrectionError("Each weight must be a number at least 0 and below 1.")
    try:
        weight = float(value)
    except ValueError:
        raise corrections.CorrectionError(
            f"A weight must be a number at least 0 and below 1; {str(value)[:20]!r} is not a number.") from None
    if not math.isfinite(weight):
        raise corrections.CorrectionError("Each weight must be a number at least 0 and below 1.")
    return weight


@login_required
def fix(request):
    dataset = selectors.current_dataset(request)
    if dataset is None:
        return render(request, "recsys/no_dataset.html")
    context: dict[str, Any] = {"dataset": dataset, "rating_policy": selectors.rating_policy(request.user, dataset),
                               "ordinal": not dataset.has_timestamps}
    try:
        model, recommender = serving.loaded_model(dataset)
        context["interactions"] = member_history(request.user, dataset, recommender).interactions
        if request.method == "POST" and "suggest" in request.POST:
            context["preview"] = corrections.suggest(user=request.user, dataset=dataset)
        elif request.method == "POST":
            context["preview"] = corrections.preview(
                user=request.user, dataset=dataset, changes=_changes_from_form(request.POST))
    except (corrections.CorrectionError, DriftUnavailable) as exc:
        context["error"] = str(exc)
    except serving.NoActiveModel as exc:
        context["unavailable"] = str(exc)
    if "preview" in context:
        context["changes_json"] = json.dumps({str(k): v for k, v in context["preview"].changes.items()})
    return render(request, "recourse/fix.html", context)


def _changes_from_json(text: str) -> dict[int, float]:
    """{"interaction id": weight, ...} from the preview form; anything else is a CorrectionError."""
    try:
        changes = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested too deeply for the parser
        changes = None
    if not isinstance(changes, dict) or not changes:
        raise corrections.CorrectionError("The form did not say which entries to change; please preview again.")
    parsed = {}
    for key, weight in changes.items():
        interaction_id = parse_id(key)
        if interaction_id is None:
            raise corrections.CorrectionError("The form names an entry that is not in your history.")
        parsed[interaction_id] = _weight(weight)
    return parsed


@login_required
@require_POST
def apply_fix(request):
    dataset = selectors.current_dataset(request)
    if dataset is None:
        messages.error(request, "Nothing was changed: no dataset has been imported yet.")
        return redirect("recourse:fix")
    try:
        changes = _changes_from_json(request.POST.get("changes", "{}"))
        result = corrections.apply(user=request.user, dataset=dataset, changes=changes,
                                   fingerprint=request.POST.get("fingerprint", ""),
                                   suggested=request.POST.get("suggested") == "1")
    except (corrections.CorrectionError, DriftUnavailable, serving.NoActiveModel) as exc:
        messages.error(request, f"Nothing was changed: {exc}")
        return redirect("recourse:fix")
    messages.success(request, f"Applied {counted(len(result.changes), 'change')}. Your recommendations are updated; "
                              "you can undo this any time below.")
    return redirect("recourse:corrections")


@login_required
def correction_list(request):
    results = RecourseResult.objects.filter(user=request.user).select_related("sequence__dataset", "trained_model")
    signals = NotInterested.objects.filter(user=request.user).select_related("item")
    never = recourse_selectors.never_flags_of(request.user)
    entries: list[RecourseResult | NotInterested | NeverFlag] = [*results, *signals, *never]
    entries.sort(key=lambda entry: entry.created_at, reverse=True)
    ids = [change.get("interaction_id") for result in results for change in result.changes]
    occasions = recourse_selectors.interaction_occasions(request.user, [*ids, *(flag.interaction_id for flag in never)])
    return render(request, "recourse/corrections.html", {"entries": entries, "occasions": occasions})


@login_required
@require_POST
def undo_correction(request, result_id):
    try:
        result = corrections.undo(user=request.user, result_id=result_id)
    except RecourseResult.DoesNotExist:
        raise Http404("No such correction.") from None
    except corrections.CorrectionError as exc:
        messages.error(request, str(exc))
    else:
        if result.gone:
            messages.success(request, "Undone. Not restored, because they were deleted from your history since: "
                                      + ", ".join(result.gone) + ".")
        else:
            messages.success(request, "Undone: your history is exactly as it was before that correction.")
    return redirect("recourse:corrections")


@login_required
@require_POST
def remove_interaction(request, interaction_id):
    """My history's Remove: an undoable exclusion, the same as removing it on Fix my recommendations."""
    return _history_change(request, interaction_id, corrections.remove_from_history,
                           "Removed “{title}”: it no longer shapes your recommendations and is never recommended "
                           "to you. You can undo this on My corrections.")


@login_required
@require_POST
def add_back_interaction(request, interaction_id):
    return _history_change(request, interaction_id, corrections.add_back,
                           "Added “{title}” back to your history. You can undo this on My corrections.")


def _history_change(request, interaction_id, change, message: str):
    try:
        result = change(user=request.user, interaction_id=interaction_id)
    except Interaction.DoesNotExist:
        raise Http404("No such entry in your history.") from None
    except corrections.CorrectionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, message.format(title=result.changes[0]["title"]))
    return redirect_to_next(request, "recsys:home")


@login_required
@require_POST
def not_interested(request, item_id):
    item = get_object_or_404(Item, pk=item_id)
    history.not_interested(user=request.user, item=item)
    messages.success(request, f"Hidden “{item.title}”: it will not be recommended to you again. "
                              "You can undo this on My corrections.")
    return redirect_to_next(request, "recourse:for-you")


@login_required
@require_POST
def undo_not_interested(request, signal_id):
    try:
        signal = history.undo_not_interested(user=request.user, signal_id=signal_id)
    except NotInterested.DoesNotExist:
        raise Http404("No such signal.") from None
    messages.success(request, f"Undone: “{signal.item.title}” can be recommended to you again.")
    return redirect("recourse:corrections")


@login_required
@require_POST
def dismiss_alert(request, alert_id):
    try:
        alerts.dismiss(user=request.user, alert_id=alert_id)
    except DriftAlert.DoesNotExist:
        raise Http404("No such alert.") from None
    messages.success(request, "Dismissed. HikmaX will not alert you about these interactions again; "
                              "new ones that pull your recommendations away still raise a notice.")
    return redirect_to_next(request, "recourse:for-you")


@login_required
@require_POST
def never_flag(request, interaction_id):
    try:
        flag = alerts.never_flag_interaction(user=request.user, interaction_id=interaction_id)
    except Interaction.DoesNotExist:
        raise Http404("No such entry in your history.") from None
    messages.success(request, f"HikmaX will not flag “{flag.interaction.item.title}” again: drift checks now count "
                              "it as part of your taste. You can undo this on My corrections.")
    return redirect_to_next(request, "recourse:for-you")


@login_required
@require_POST
def undo_never_flag(request, flag_id):
    try:
        flag = alerts.undo_never_flag(user=request.user, flag_id=flag_id)
    except NeverFlag.DoesNotExist:
        raise Http404("No such choice.") from None
    messages.success(request, f"Undone: drift checks may flag “{flag.interaction.item.title}” again.")
    return redirect("recourse:corrections")
