"""Reads and figures for the analyst research dashboard (nine sections). Nothing here writes histories:
drift and recourse run on copies of a member's history in memory."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import import_module

import numpy as np
import plotly.graph_objects as go
from django.core.cache import cache
from django.db.models import Count, IntegerField, Max, Min, Sum
from django.db.models.functions import Cast

from recourse.engine.alignment import preference_profile
from recourse.engine.protocol import ExplainerUnavailable
from recourse.engine.recourse import recourse as run_recourse
from recourse.engine.sequences import History
from recourse.models import Experiment, ExplanationFeedback
from recsys.charts import to_html
from recsys.models import Dataset, Interaction, InteractionSequence, Item, TrainedModel
from recsys.params import parse_id
from recsys.services import serving

from . import experiments

attribution_engine = import_module("recourse.engine.attribution")
drift_engine = import_module("recourse.engine.drift")

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
        if found is None and parse_id(key) is not None:
            found = sequences.filter(pk=parse_id(key)).first()
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
    figures: list[dict] = field(default_factory=list)


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
    stats = _length_stats(lengths)
    figures = [
        _length_figure(lengths, stats),
        _category_figure(dataset, interactions),
        _activity_figure(dataset, interactions, totals["first"], totals["last"]),
    ]
    return Overview(users, items, totals["n"], sparsity, stats, [f for f in figures if f])


def _length_stats(lengths: list[int]) -> dict:
    if not lengths:
        return {}
    values = np.asarray(lengths)
    return {"min": int(values.min()), "median": float(np.median(values)), "mean": float(values.mean()),
            "max": int(values.max())}


def _figure(figure: go.Figure, div_id: str, title: str, caption: str, summary: str) -> dict:
    figure.update_layout(title=title, height=340)
    return {"id": div_id, "title": title, "html": to_html(figure, div_id=div_id), "caption": caption,
            "summary": summary}


def _length_figure(lengths, stats) -> dict | None:
    if not lengths:
        return None
    figure = go.Figure(go.Histogram(x=lengths, nbinsx=40, marker_color="#1f5fa8"))
    figure.update_layout(xaxis_title="Interactions per user", yaxis_title="Users")
    return _figure(figure, "chart-lengths", "Sequence lengths", "Histogram of history length per user.",
                   f"Lengths range from {stats['min']} to {stats['max']}, median {stats['median']:.0f}.")


def _category_figure(dataset, interactions) -> dict | None:
    per_item = dict(interactions.values("item_id").annotate(n=Count("id")).values_list("item_id", "n"))
    categories = Counter()
    for pk, text in Item.objects.filter(dataset=dataset, pk__in=list(per_item)).values_list("pk", "categories"):
        for name in experiments._split_categories(text) or ["(none)"]:
            categories[name] += per_item[pk]
    if not categories:
        return None
    top = categories.most_common(20)[::-1]
    figure = go.Figure(go.Bar(x=[n for _, n in top], y=[c for c, _ in top], orientation="h",
                              marker_color="#1f5fa8"))
    figure.update_layout(xaxis_title="Interactions", yaxis={"automargin": True})
    leaders = ", ".join(f"{c} ({n:,})" for c, n in categories.most_common(3))
    return _figure(figure, "chart-categories", "Interactions per category",
                   "Interactions counted once per category of the item (top 20).", f"Most common: {leaders}.")


def _activity_figure(dataset, interactions, first, last) -> dict | None:
    if first is None:
        return None
    width = max(1, (last - first) // 60 + 1)
    buckets = (interactions.annotate(bucket=Cast((Cast("timestamp", IntegerField()) - first) / width, IntegerField()))
               .values("bucket").annotate(n=Count("id")).order_by("bucket"))
    rows = [(first + b["bucket"] * width, b["n"]) for b in buckets]
    x = [t for t, _ in rows] if not dataset.has_timestamps else [datetime.fromtimestamp(t, UTC) for t, _ in rows]
    figure = go.Figure(go.Scatter(x=x, y=[n for _, n in rows], mode="lines", line_color="#1f5fa8"))
    figure.update_layout(xaxis_title="Time" if dataset.has_timestamps else "Step", yaxis_title="Interactions")
    busiest = max(rows, key=lambda r: r[1])
    return _figure(figure, "chart-activity", "Activity over time", "Interactions per time bucket (60 buckets).",
                   f"{len(rows)} buckets; the busiest holds {busiest[1]:,} interactions.")


# --- 2/3. registry and comparison ----------------------------------------------------------------


def models_of(dataset: Dataset) -> list[TrainedModel]:
    return list(TrainedModel.objects.filter(dataset=dataset).order_by("-created_at"))


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


def comparison_figures(models: list[TrainedModel]) -> list[dict]:
    ready = [m for m in models if m.metrics]
    figures = []
    if ready:
        figures.append(_hr_figure(ready))
    curves = [m for m in models if m.training_curve]
    if curves:
        figures += [_curve_figure(curves), _loss_figure(curves)]
    return figures


def _label(model: TrainedModel) -> str:
    return f"#{model.pk} {model.get_architecture_display()}"


def _hr_figure(models) -> dict:
    figure = go.Figure()
    for protocol in ("sampled", "full"):
        x, y, low, high = [], [], [], []
        for model in models:
            report = model.metrics.get(protocol, {}).get("model")
            if report:
                mean = report["metrics"].get("HR@10", 0.0)
                ci = report.get("ci", {}).get("HR@10") or [mean, mean]
                x.append(_label(model))
                y.append(mean)
                low.append(mean - ci[0])
                high.append(ci[1] - mean)
        figure.add_bar(name=protocol, x=x, y=y, error_y=dict(type="data", array=high, arrayminus=low))
    figure.update_layout(barmode="group", yaxis_title="HR@10")
    summary = "; ".join(f"{_label(m)}: sampled {_hr10(m, 'sampled'):.3f}, full {_hr10(m, 'full'):.3f}"
                        for m in models)
    return _figure(figure, "chart-hr", "HR@10 by model and protocol",
                   "Bars are means over test users; whiskers are 95% bootstrap CIs.", summary)


def _hr10(model: TrainedModel, protocol: str) -> float:
    return model.metrics.get(protocol, {}).get("model", {}).get("metrics", {}).get("HR@10", 0.0)


def _curve_figure(models) -> dict:
    figure = go.Figure()
    for model in models:
        points = [p for p in model.training_curve if p.get("valid")]
        figure.add_scatter(x=[p["epoch"] for p in points], y=[p["valid"].get("NDCG@10") for p in points],
                           mode="lines+markers", name=_label(model))
    figure.update_layout(xaxis_title="Epoch", yaxis_title="Validation NDCG@10 (full ranking)")
    summary = "; ".join(f"{_label(m)}: {len(m.training_curve)} epochs" for m in models)
    return _figure(figure, "chart-curves", "Training curves", "Validation NDCG@10 per epoch.", summary)


def _loss_figure(models) -> dict:
    figure = go.Figure()
    for model in models:
        points = [p for p in model.training_curve if p.get("loss") is not None]
        figure.add_scatter(x=[p["epoch"] for p in points], y=[p["loss"] for p in points], mode="lines+markers",
                           name=_label(model))
    figure.update_layout(xaxis_title="Epoch", yaxis_title="Training loss (cross-entropy)")
    summary = "; ".join(f"{_label(m)}: last loss {m.training_curve[-1].get('loss', float('nan')):.3f}" for m in models)
    return _figure(figure, "chart-loss", "Training loss", "Mean training cross-entropy per epoch.", summary)


def chosen_models(models: list[TrainedModel], chosen_ids: list[str]) -> list[TrainedModel]:
    """The versions picked for side-by-side comparison (all when none or only unknown ids are picked)."""
    picked = [m for m in models if str(m.pk) in set(chosen_ids)]
    return picked or models


# --- 4-7. one member ------------------------------------------------------------------------------


@dataclass
class MemberView:
    sequence: InteractionSequence
    model: TrainedModel
    network: object
    categories: object
    history: History  # the member's active history, model indices
    titles: dict[int, str]  # model index -> title


def member_view(dataset: Dataset, sequence: InteractionSequence) -> MemberView:
    try:
        model, recommender = serving.loaded_model(dataset)
    except serving.NoActiveModel as exc:
        raise DashboardError(str(exc)) from exc
    history = experiments.sequence_histories(sequence_ids=[sequence.pk], index=recommender.index).get(sequence.pk)
    if history is None or len(history) < 2:
        raise DashboardError(f"User {sequence.external_user_id} has fewer than two interactions the model knows.")
    categories = experiments.category_index(dataset=dataset, index=recommender.index)
    return MemberView(sequence, model, recommender.model, categories, history, _titles(dataset, recommender.index))


def _titles(dataset, index) -> dict[int, str]:
    titles = dict(Item.objects.filter(dataset=dataset).values_list("pk", "title"))
    return {position: titles.get(int(key), key) for position, key in enumerate(index.keys, start=1)}


def top_items(view: MemberView, histories: list[History], k: int = TOP_N) -> np.ndarray:
    logits = attribution_engine.score_histories(view.network, histories)
    exclude = np.zeros_like(logits, dtype=bool)
    for row, history in enumerate(histories):
        exclude[row, history.items] = True
    return drift_engine.top_k_items(logits, exclude, k)


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
    injection: object
    ads: float
    dtc: float | None
    target_category: str | None
    top_before: list[str]
    top_after: list[str]
    alignment_before: float
    alignment_after: float


def drift_analysis(view: MemberView, *, strategy: str, seed: int) -> DriftView:
    if strategy not in drift_engine.STRATEGIES:
        raise DashboardError(f"Unknown drift strategy {strategy!r}; choose {', '.join(drift_engine.STRATEGIES)}.")
    injection = drift_engine.inject_drift(view.history, strategy, num_items=view.network.num_items,
                                          categories=view.categories, seed=seed, window=view.network.max_len)
    metrics = drift_engine.drift_metrics(view.network, [view.history], [injection.history],
                                         categories=view.categories, injected_items=[injection.injected_items])
    profile = preference_profile(view.history, view.categories)
    values = import_module("recourse.engine.alignment").alignment(
        view.network, [view.history, injection.history], profile, view.categories)
    return DriftView(
        strategy, seed, injection, float(metrics.ads[0]), None if metrics.dtc is None else float(metrics.dtc[0]),
        view.categories.name(injection.target_category),
        [view.titles[int(i)] for i in metrics.top_before[0]], [view.titles[int(i)] for i in metrics.top_after[0]],
        float(values[0]), float(values[1]),
    )


def drift_figure(view: MemberView, drift: DriftView) -> dict:
    history = drift.injection.history
    injected = set(drift.injection.injected_positions.tolist())
    colors = ["#a8261f" if p in injected else "#1f5fa8" for p in range(len(history))]
    categories = [view.categories.name(view.categories.dominant([int(i)])) or "(none)" for i in history.items]
    figure = go.Figure(go.Scatter(x=list(range(len(history))), y=categories, mode="markers",
                                  marker=dict(size=10, color=colors),
                                  text=[view.titles[int(i)] for i in history.items],
                                  hovertemplate="%{text}<extra></extra>"))
    figure.update_layout(xaxis_title="Position in the drifted copy", yaxis_title="Category")
    return _figure(figure, "chart-drift", "Drifted copy of the history",
                   "Red markers are injected interactions; blue ones are the member's own.",
                   f"{len(injected)} of {len(history)} interactions were injected ({drift.strategy}).")


@dataclass
class XaiView:
    target_title: str
    methods: dict  # method -> Attribution
    unavailable: dict
    agreement: list[dict]
    figure: dict | None


def xai_comparison(view: MemberView, history: History, injected=()) -> XaiView:
    [top] = top_items(view, [history], k=1)
    target = int(top[0])
    methods = {"ig": attribution_engine.integrated_gradients(view.network, history, target),
               "occlusion": attribution_engine.occlusion_attribution(view.network, history, target)}
    unavailable = {}
    try:
        methods["attention"] = attribution_engine.attention_attribution(view.network, history)
    except ExplainerUnavailable as exc:
        unavailable["attention"] = str(exc)
    agreement = _agreements(methods)
    return XaiView(view.titles[target], methods, unavailable, agreement,
                   _heatmap(view, history, methods, injected))


def _agreements(methods: dict) -> list[dict]:
    names = list(methods)
    rows = []
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            agreement = attribution_engine.method_agreement(methods[first], methods[second])
            rows.append({"pair": f"{first} vs {second}", "spearman": agreement.spearman,
                         "overlap": agreement.top_k_overlap, "k": agreement.k})
    return rows


def _heatmap(view, history, methods, injected) -> dict:
    positions = sorted({int(p) for a in methods.values() for p in a.positions})
    injected = {int(p) for p in injected}
    labels = [("⚠ " if p in injected else "") + view.titles[int(history.items[p])][:28] for p in positions]
    z = []
    for attribution in methods.values():
        by_position = dict(zip(attribution.positions.tolist(), attribution.normalized.tolist(), strict=True))
        z.append([by_position.get(p) for p in positions])
    figure = go.Figure(go.Heatmap(z=z, x=labels, y=list(methods), colorscale="YlOrRd", zmin=0, zmax=1,
                                  colorbar=dict(title="Normalised")))
    figure.update_layout(xaxis=dict(tickangle=-45, automargin=True), height=420)
    return _figure(figure, "chart-xai", "Attribution heatmaps",
                   "Rows are methods, columns the visible interactions (oldest first, ⚠ = injected); "
                   "scores min-max normalised to [0, 1].",
                   "The table below lists each method's top interactions.")


def recourse_run(view: MemberView, drift: DriftView):
    profile = preference_profile(view.history, view.categories)
    return run_recourse(view.network, drift.injection.history, profile, view.categories, reference=view.history)


# --- 8/9. experiments, summary, feedback ---------------------------------------------------------


def experiment_table(experiment: Experiment, protocol: str = "full") -> list[dict]:
    """Rows per (strategy, condition) with the main metrics for one protocol."""
    rows = []
    for strategy, summary in (experiment.results.get("strategies") or {}).items():
        for condition, metrics in summary["conditions"].items():
            if metrics is None:
                rows.append({"strategy": strategy, "condition": experiments.CONDITION_LABELS[condition],
                             "cells": None})
                continue
            names = [f"{protocol}:{m}" for m in experiments.RANKING_METRICS] + list(experiments.DRIFT_METRICS)
            rows.append({"strategy": strategy, "condition": experiments.CONDITION_LABELS[condition],
                         "cells": [metrics.get(name) for name in names]})
    return rows


def experiment_figure(experiment: Experiment, metric: str = "full:HR@10") -> dict | None:
    strategies = experiment.results.get("strategies") or {}
    if not strategies:
        return None
    figure = go.Figure()
    for strategy, summary in strategies.items():
        x, y, low, high = [], [], [], []
        for condition, metrics in summary["conditions"].items():
            if metrics and metrics.get(metric, {}).get("mean") is not None:
                stats = metrics[metric]
                x.append(experiments.CONDITION_LABELS[condition])
                y.append(stats["mean"])
                low.append(stats["mean"] - stats["low"])
                high.append(stats["high"] - stats["mean"])
        figure.add_bar(name=strategy, x=x, y=y, error_y=dict(type="data", array=high, arrayminus=low))
    figure.update_layout(barmode="group", yaxis_title=metric, xaxis=dict(automargin=True))
    return _figure(figure, f"chart-exp-{experiment.pk}-{metric.replace(':', '-').replace('@', '')}",
                   f"{metric} by condition", "Means over sampled members with 95% bootstrap CIs.",
                   "The table lists the same numbers.")


def feedback_rates() -> list[dict]:
    rows = (ExplanationFeedback.objects.values("explanation__method")
            .annotate(total=Count("id"), helpful=Sum(Cast("helpful", IntegerField())))
            .order_by("explanation__method"))
    return [{"method": row["explanation__method"], "total": row["total"], "helpful": row["helpful"] or 0,
             "rate": (row["helpful"] or 0) / row["total"] if row["total"] else None} for row in rows]


def latest_experiment(dataset: Dataset) -> Experiment | None:
    return Experiment.objects.filter(dataset=dataset, status=Experiment.Status.DONE).first()

