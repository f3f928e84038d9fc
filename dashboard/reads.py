"""Reads of the analyst research dashboard (nine sections): cached aggregates, model versions, one member's
model view, and drift/explanation/recourse runs on in-memory copies of a history (nothing here writes).
Figures are built from these in figures.py."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import cast

import numpy as np
from django.core.cache import cache
from django.db.models import Count, IntegerField, Max, Min, Sum
from django.db.models.functions import Cast

from recourse.engine.alignment import CategoryIndex, alignment, preference_profile
from recourse.engine.attribution import (
    attention_attribution,
    integrated_gradients,
    method_agreement,
    occlusion_attribution,
    score_histories,
)
from recourse.engine.drift_injection import STRATEGIES, Injection, inject_drift
from recourse.engine.drift_metrics import drift_metrics, top_k_items
from recourse.engine.population import CONDITION_LABELS, DRIFT_METRICS, RANKING_METRICS
from recourse.engine.protocol import ExplainerUnavailable, ScoringModel
from recourse.engine.recourse_search import RecoursePlan, plan_recourse
from recourse.engine.sequences import History
from recourse.engine.taste import CausalModel
from recourse.engine.taste_recourse import TasteAnalysis, analyze
from recourse.models import Experiment, ExplanationFeedback
from recourse.selectors import category_index, model_histories
from recourse.services.context import DriftUnavailable, taste_calibration
from recsys.models import Dataset, Interaction, InteractionSequence, Item, Job, TrainedModel
from recsys.params import parse_id
from recsys.services import serving

SECTIONS = (
    ("overview", "1", "Dataset overview"),
    ("registry", "2", "Model registry"),
    ("comparison", "3", "Model comparison"),
    ("recommendations", "4", "Recommendations"),
    ("drift", "5", "Drift analysis"),
    ("xai", "6", "XAI explanation"),
    ("recourse", "7", "User recourse"),
    ("metrics", "8", "Metrics evaluation"),
    ("summary", "9", "Final visualisation"),
    ("feedback", "+", "Explanation feedback"),
)
COMPARISON_METRICS = ("HR@10", "NDCG@10", "Precision@10", "Recall@10", "Accuracy", "MRR")
TOP_N = 10


class DashboardError(Exception):
    """Something the analyst asked for that cannot be shown, with a message."""


# --- datasets and members ------------------------------------------------------------------------


def default_dataset() -> Dataset | None:
    active = TrainedModel.objects.filter(is_active=True).select_related("dataset").order_by("dataset_id").first()
    return active.dataset if active else Dataset.objects.order_by("pk").first()


def pick_sequence(dataset: Dataset, key: str = "") -> InteractionSequence | None:
    """A member's sequence by id or external user id; default: the first sequence with an account."""
    sequences = dataset.sequences.all()
    key = (key or "").strip()
    if key:
        found = sequences.filter(external_user_id=key).first()
        if found is None and (sequence_id := parse_id(key)) is not None:
            found = sequences.filter(pk=sequence_id).first()
        if found is None:
            raise DashboardError(f"No user {key!r} in {dataset.title}.")
        return found
    return sequences.filter(user__isnull=False).order_by("pk").first() or sequences.order_by("pk").first()


# --- 1. dataset overview -------------------------------------------------------------------------


@dataclass
class Overview:
    users: int
    items: int
    interactions: int
    sparsity: float | None
    length_stats: dict
    lengths: list[int] = field(default_factory=list)  # interactions per user
    category_counts: Counter = field(default_factory=Counter)  # category -> interactions
    activity: list[tuple[int, int]] = field(default_factory=list)  # (bucket start, interactions)
    has_timestamps: bool = True


OVERVIEW_CACHE_SECONDS = 300


def dataset_overview(dataset: Dataset) -> Overview:
    """Cached for a few minutes per dataset version: the GROUP BYs take seconds on 1M interactions."""
    newest = Interaction.objects.aggregate(newest=Max("id"))["newest"]  # primary-key index: instant
    key = f"dashboard:overview:{dataset.pk}:{dataset.created_at.timestamp()}:{dataset.updated_at.timestamp()}:{newest}"
    overview = cache.get(key)
    if overview is None:
        overview = _compute_overview(dataset)
        cache.set(key, overview, OVERVIEW_CACHE_SECONDS)
    return overview


def _compute_overview(dataset: Dataset) -> Overview:
    """Aggregate queries only (GROUP BY in the database)."""
    interactions = Interaction.objects.filter(sequence__dataset=dataset)
    totals = interactions.aggregate(n=Count("id"), first=Min("timestamp"), last=Max("timestamp"))
    users = dataset.sequences.count()
    items = dataset.items.count()
    lengths = list(interactions.values("sequence_id").annotate(n=Count("id")).values_list("n", flat=True))
    sparsity = 1 - totals["n"] / (users * items) if users and items else None
    return Overview(users, items, totals["n"], sparsity, _length_stats(lengths), lengths,
                    _category_counts(dataset, interactions), _activity(interactions, totals["first"], totals["last"]),
                    dataset.has_timestamps)


def _length_stats(lengths: list[int]) -> dict:
    if not lengths:
        return {}
    values = np.asarray(lengths)
    return {"min": int(values.min()), "median": float(np.median(values)), "mean": float(values.mean()),
            "max": int(values.max())}


def _category_counts(dataset: Dataset, interactions) -> Counter:
    """Interactions per category, counted once per category of the item ("(none)" for items without)."""
    per_item = dict(interactions.values("item_id").annotate(n=Count("id")).values_list("item_id", "n"))
    categories: Counter = Counter()
    for pk, text in Item.objects.filter(dataset=dataset, pk__in=list(per_item)).values_list("pk", "categories"):
        for name in Item.parse_categories(text) or ["(none)"]:
            categories[name] += per_item[pk]
    return categories


def _activity(interactions, first: int | None, last: int | None) -> list[tuple[int, int]]:
    """(bucket start, interactions) over at most 60 equal time buckets (GROUP BY in the database), empty ones
    included: a line drawn over the non-empty ones only would join activity across the gaps."""
    if first is None or last is None:
        return []
    width = max(1, (last - first) // 60 + 1)
    buckets = (interactions.annotate(bucket=Cast((Cast("timestamp", IntegerField()) - first) / width, IntegerField()))
               .values("bucket").annotate(n=Count("id")).order_by("bucket"))
    counts = {b["bucket"]: b["n"] for b in buckets}
    return [(first + bucket * width, counts.get(bucket, 0)) for bucket in range((last - first) // width + 1)]


# --- 2/3. registry and comparison ----------------------------------------------------------------


def models_of(dataset: Dataset) -> list[TrainedModel]:
    return list(TrainedModel.objects.filter(dataset=dataset).order_by("-created_at"))


def unfinished_model_jobs(models: list[TrainedModel]) -> list[Job]:
    """The training and evaluation jobs of these versions that have not finished, oldest first."""
    return list(Job.objects.filter(kind__in=("train_model", "evaluate_model"),
                                   params__model_id__in=[m.pk for m in models])
                .exclude(status__in=Job.FINISHED).order_by("pk"))


def seconds_per_epoch(model: TrainedModel) -> float | None:
    seconds = [point.get("seconds") for point in model.training_curve or [] if point.get("seconds") is not None]
    return float(np.mean(seconds)) if seconds else None


def comparison_rows(models: list[TrainedModel]) -> list[dict]:
    """One row per (model, protocol, scorer): metric means with 95% CIs."""
    rows = []
    for model in models:
        for protocol in ("full", "sampled"):  # other keys (notes, validation figures) are not protocols
            for scorer, report in (model.metrics or {}).get(protocol, {}).items():
                cells = []
                for metric in COMPARISON_METRICS:
                    mean = report.get("metrics", {}).get(metric)
                    low, high = (report.get("ci", {}).get(metric) or [None, None])
                    cells.append({"metric": metric, "mean": mean, "low": low, "high": high})
                rows.append({"model": model, "protocol": protocol, "scorer": scorer, "cells": cells,
                             "users": report.get("num_users")})
    return rows


def chosen_models(models: list[TrainedModel], chosen_ids: list[str]) -> list[TrainedModel]:
    """The versions picked for side-by-side comparison (all when none or only unknown ids are picked)."""
    picked = [m for m in models if str(m.pk) in set(chosen_ids)]
    return picked or models


# --- 4-7. one member ------------------------------------------------------------------------------


@dataclass
class MemberView:
    sequence: InteractionSequence
    model: TrainedModel
    network: ScoringModel
    categories: CategoryIndex
    history: History  # the member's active history, model indices
    titles: dict[int, str]  # model index -> title


def member_view(dataset: Dataset, sequence: InteractionSequence) -> MemberView:
    try:
        model, recommender = serving.loaded_model(dataset)
    except serving.NoActiveModel as exc:
        raise DashboardError(str(exc)) from exc
    history = model_histories([sequence.pk], recommender.index).get(sequence.pk)
    if history is None or len(history) < 2:
        raise DashboardError(f"User {sequence.external_user_id} has fewer than two interactions the model knows.")
    categories = category_index(dataset, recommender.index)
    return MemberView(sequence, model, recommender.model, categories, history, _titles(dataset, recommender.index))


def _titles(dataset, index) -> dict[int, str]:
    titles = dict(Item.objects.filter(dataset=dataset).values_list("pk", "title"))
    return {position: titles.get(int(key), key) for position, key in enumerate(index.keys, start=1)}


def top_items(view: MemberView, histories: list[History], k: int = TOP_N) -> np.ndarray:
    logits = score_histories(view.network, histories)
    exclude = np.zeros_like(logits, dtype=bool)
    for row, history in enumerate(histories):
        exclude[row, history.items] = True
    return top_k_items(logits, exclude, k)


def history_rows(view: MemberView, history: History, injected=(), heat=None) -> list[dict]:
    injected = {int(p) for p in injected}
    return [{"position": p, "title": view.titles[int(item)], "weight": float(history.weights[p]),
             "injected": p in injected, "heat": None if heat is None else heat.get(p)}
            for p, item in enumerate(history.items)]


def recommendations(view: MemberView) -> list[dict]:
    [top] = top_items(view, [view.history])
    return [{"rank": rank, "title": view.titles[int(item)]} for rank, item in enumerate(top, start=1)]


@dataclass
class DriftView:
    strategy: str
    seed: int
    injection: Injection
    ads: float
    dtc: float | None
    target_category: str | None
    top_before: list[str]
    top_after: list[str]
    alignment_before: float
    alignment_after: float


def drift_analysis(view: MemberView, *, strategy: str, seed: int) -> DriftView:
    if strategy not in STRATEGIES:
        raise DashboardError(f"Unknown drift strategy {strategy!r}; choose {', '.join(STRATEGIES)}.")
    injection = inject_drift(view.history, strategy, num_items=view.network.num_items,
                             categories=view.categories, seed=seed, window=view.network.max_len)
    metrics = drift_metrics(view.network, [view.history], [injection.history],
                            categories=view.categories, injected_items=[injection.injected_items])
    profile = preference_profile(view.history, view.categories)
    values = alignment(
        view.network, [view.history, injection.history], profile, view.categories)
    return DriftView(
        strategy, seed, injection, float(metrics.ads[0]), None if metrics.dtc is None else float(metrics.dtc[0]),
        view.categories.name(injection.target_category),
        [view.titles[int(i)] for i in metrics.top_before[0]], [view.titles[int(i)] for i in metrics.top_after[0]],
        float(values[0]), float(values[1]),
    )


@dataclass
class XaiView:
    target_title: str
    methods: dict  # method -> Attribution
    unavailable: dict
    agreement: list[dict]
    history: History  # the explained history (the member's own or the drifted copy)
    injected: tuple[int, ...]  # positions of injected interactions in it


def xai_comparison(view: MemberView, history: History, injected=()) -> XaiView:
    [top] = top_items(view, [history], k=1)
    target = int(top[0])
    methods = {"ig": integrated_gradients(view.network, history, target),
               "occlusion": occlusion_attribution(view.network, history, target)}
    unavailable = {}
    try:
        methods["attention"] = attention_attribution(view.network, history)
    except ExplainerUnavailable as exc:
        unavailable["attention"] = str(exc)
    agreement = _agreements(methods)
    return XaiView(view.titles[target], methods, unavailable, agreement, history, tuple(int(p) for p in injected))


def _agreements(methods: dict) -> list[dict]:
    names = list(methods)
    rows = []
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            agreement = method_agreement(methods[first], methods[second])
            rows.append({"pair": f"{first} vs {second}", "spearman": agreement.spearman,
                         "overlap": agreement.top_k_overlap, "k": agreement.k})
    return rows


RECOURSE_METHODS = {"taste": "Taste check (category-free; what members get)",
                    "paper": "Paper: IG of genre alignment + greedy search"}


def recourse_run(view: MemberView, drift: DriftView) -> RecoursePlan:
    profile = preference_profile(view.history, view.categories)
    return plan_recourse(view.network, drift.injection.history, profile, view.categories, reference=view.history)


@dataclass
class TasteRecourseView:
    analysis: TasteAnalysis
    ads_before: float  # the drifted copy's ADS to the clean history
    ads_after: float  # the corrected copy's


def taste_recourse_run(view: MemberView, drift: DriftView) -> TasteRecourseView:
    """The members' drift check and fix (the model's stored taste calibration) on the drifted copy, without the
    ratings policy: the copy has no ratings."""
    try:
        calibration = taste_calibration(view.model, None, just_read=True)
    except DriftUnavailable as exc:
        raise DashboardError(str(exc)) from exc
    if not hasattr(view.network, "score_all_positions"):
        raise DashboardError("This model cannot score every position of a history, which the drift check needs.")
    analysis = analyze(cast(CausalModel, view.network), drift.injection.history, calibration)
    metrics = drift_metrics(view.network, [view.history, view.history], [drift.injection.history, analysis.corrected])
    return TasteRecourseView(analysis, float(metrics.ads[0]), float(metrics.ads[1]))


# --- 8/9. experiments, summary, feedback ---------------------------------------------------------


def experiment_table(experiment: Experiment, protocol: str = "full") -> list[dict]:
    """Rows per (strategy, condition) with the main metrics for one protocol."""
    rows = []
    for strategy, summary in (experiment.results.get("strategies") or {}).items():
        for condition, metrics in summary["conditions"].items():
            if metrics is None:
                rows.append({"strategy": strategy, "condition": CONDITION_LABELS[condition],
                             "cells": None})
                continue
            names = [f"{protocol}:{m}" for m in RANKING_METRICS] + list(DRIFT_METRICS)
            rows.append({"strategy": strategy, "condition": CONDITION_LABELS[condition],
                         "cells": [metrics.get(name) for name in names]})
    return rows


PROTOCOL_LABELS = {"split": "Split", "profile": "Member profile", "sampled": "Sampled protocol",
                   "full": "Full protocol", "injected": "Injected interactions per member",
                   "guided_search": "Recourse search", "ads_dtc": "ADS and DTC"}


def protocol_rows(experiment: Experiment) -> list[tuple[str, object]]:
    """The protocol stored with an experiment's results, as (label, value) in the order it was written."""
    protocol = experiment.results.get("protocol") or {}
    return [(PROTOCOL_LABELS.get(key, key.replace("_", " ").capitalize()), value) for key, value in protocol.items()]


def feedback_rates(dataset: Dataset | None = None) -> list[dict]:
    """Helpful rates per explanation method: of one dataset's explanations, or of all (the API)."""
    answers = ExplanationFeedback.objects.all()
    if dataset is not None:
        answers = answers.filter(explanation__trained_model__dataset=dataset)
    rows = (answers.values("explanation__method")
            .annotate(total=Count("id"), helpful=Sum(Cast("helpful", IntegerField())))
            .order_by("explanation__method"))
    return [{"method": row["explanation__method"], "total": row["total"], "helpful": row["helpful"] or 0,
             "rate": (row["helpful"] or 0) / row["total"] if row["total"] else None} for row in rows]


def latest_experiment(dataset: Dataset) -> Experiment | None:
    return Experiment.objects.filter(dataset=dataset, status=Experiment.Status.DONE).first()

