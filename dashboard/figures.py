"""Every Plotly figure of the research dashboard. Each builder takes data already read and returns
{"id", "title", "html", "caption", "summary"} (the summary is the text alternative of the chart)."""

from collections import Counter
from datetime import UTC, datetime

import plotly.graph_objects as go

from recourse.models import Experiment
from recsys.charts import to_html
from recsys.models import TrainedModel

from .reads import CONDITION_LABELS, DriftView, MemberView, Overview, XaiView

Figure = dict[str, str]


def _figure(figure: go.Figure, div_id: str, title: str, caption: str, summary: str) -> Figure:
    figure.update_layout(title=title, height=340)
    return {"id": div_id, "title": title, "html": to_html(figure, div_id=div_id), "caption": caption,
            "summary": summary}


# --- 1. dataset overview -------------------------------------------------------------------------


def overview_figures(overview: Overview) -> list[Figure]:
    figures = [length_figure(overview.lengths, overview.length_stats), category_figure(overview.category_counts),
               activity_figure(overview.activity, overview.has_timestamps)]
    return [f for f in figures if f]


def length_figure(lengths: list[int], stats: dict) -> Figure | None:
    if not lengths:
        return None
    figure = go.Figure(go.Histogram(x=lengths, nbinsx=40, marker_color="#1f5fa8"))
    figure.update_layout(xaxis_title="Interactions per user", yaxis_title="Users")
    return _figure(figure, "chart-lengths", "Sequence lengths", "Histogram of history length per user.",
                   f"Lengths range from {stats['min']} to {stats['max']}, median {stats['median']:.0f}.")


def category_figure(categories: Counter) -> Figure | None:
    if not categories:
        return None
    top = categories.most_common(20)[::-1]
    figure = go.Figure(go.Bar(x=[n for _, n in top], y=[c for c, _ in top], orientation="h",
                              marker_color="#1f5fa8"))
    figure.update_layout(xaxis_title="Interactions", yaxis={"automargin": True})
    leaders = ", ".join(f"{c} ({n:,})" for c, n in categories.most_common(3))
    return _figure(figure, "chart-categories", "Interactions per category",
                   "Interactions counted once per category of the item (top 20).", f"Most common: {leaders}.")


def activity_figure(rows: list[tuple[int, int]], has_timestamps: bool) -> Figure | None:
    if not rows:
        return None
    x = [datetime.fromtimestamp(t, UTC) for t, _ in rows] if has_timestamps else [t for t, _ in rows]
    figure = go.Figure(go.Scatter(x=x, y=[n for _, n in rows], mode="lines", line_color="#1f5fa8"))
    figure.update_layout(xaxis_title="Time" if has_timestamps else "Step", yaxis_title="Interactions")
    busiest = max(rows, key=lambda r: r[1])
    empty = sum(1 for _, n in rows if n == 0)
    return _figure(figure, "chart-activity", "Activity over time",
                   f"Interactions per time bucket ({len(rows)} equal buckets).",
                   f"{len(rows) - empty} of the {len(rows)} buckets hold interactions; the busiest holds "
                   f"{busiest[1]:,}.")


# --- 3. model comparison -------------------------------------------------------------------------


def comparison_figures(models: list[TrainedModel]) -> list[Figure]:
    ready = [m for m in models if m.metrics]
    figures = []
    if ready:
        figures.append(_hr_figure(ready))
    curves = [m for m in models if m.training_curve]
    if curves:
        figures += [_curve_figure(curves), _loss_figure(curves), _seconds_figure(curves)]
    return figures


def _label(model: TrainedModel) -> str:
    return f"v{model.version} {model.get_architecture_display()}"


PROTOCOL_COLOURS = {"sampled": "#1f5fa8", "full": "#a8261f"}  # a protocol's baseline: the same colour, paler


def _hr_figure(models: list[TrainedModel]) -> Figure:
    """Each version's HR@10 per protocol with most-popular's on the same test users beside it (the baseline the
    model has to beat), whiskers the 95% CIs."""
    figure = go.Figure()
    for scorer, label, opacity in (("model", "{protocol}", 1.0), ("most-popular", "most-popular ({protocol})", 0.45)):
        for protocol in ("sampled", "full"):
            x, y, low, high = [], [], [], []
            for model in models:
                report = model.metrics.get(protocol, {}).get(scorer)
                if report:
                    mean = report["metrics"].get("HR@10", 0.0)
                    ci = report.get("ci", {}).get("HR@10") or [mean, mean]
                    x.append(_label(model))
                    y.append(mean)
                    low.append(mean - ci[0])
                    high.append(ci[1] - mean)
            if x:
                figure.add_bar(name=label.format(protocol=protocol), x=x, y=y, opacity=opacity,
                               marker_color=PROTOCOL_COLOURS[protocol],
                               error_y=dict(type="data", array=high, arrayminus=low))
    figure.update_layout(barmode="group", yaxis_title="HR@10")
    summary = "; ".join(f"{_label(m)}: {_hr_summary(m)}" for m in models)
    return _figure(figure, "chart-hr", "HR@10 by model and protocol",
                   "Bars are means over test users; whiskers are 95% bootstrap CIs; the paler bars are the "
                   "most-popular baseline on the same test users.", summary)


def _hr_summary(model: TrainedModel) -> str:
    """"sampled 0.3725 (most-popular 0.2700), full 0.2375 (most-popular 0.0725); 400 test users", to 4 places as
    the table below writes them."""
    parts, users = [], {}
    for protocol in ("sampled", "full"):
        reports = model.metrics.get(protocol, {})
        if "model" not in reports:
            continue
        text = f"{protocol} {_hr10(model, protocol):.4f}"
        if "most-popular" in reports:
            text += f" (most-popular {reports['most-popular']['metrics'].get('HR@10', 0.0):.4f})"
        parts.append(text)
        if reports["model"].get("num_users") is not None:
            users[protocol] = reports["model"]["num_users"]
    if len(set(users.values())) == 1:
        parts[-1] += f"; {next(iter(users.values())):,} test users"
    elif users:
        parts[-1] += "; test users " + ", ".join(f"{n:,} ({protocol})" for protocol, n in users.items())
    return ", ".join(parts) or "not evaluated"


def _hr10(model: TrainedModel, protocol: str) -> float:
    return model.metrics.get(protocol, {}).get("model", {}).get("metrics", {}).get("HR@10", 0.0)


def _curve_figure(models: list[TrainedModel]) -> Figure:
    figure = go.Figure()
    for model in models:
        points = [p for p in model.training_curve if p.get("valid")]
        figure.add_scatter(x=[p["epoch"] for p in points], y=[p["valid"].get("NDCG@10") for p in points],
                           mode="lines+markers", name=_label(model))
    figure.update_layout(xaxis_title="Epoch", yaxis_title="Validation NDCG@10 (full ranking)")
    summary = "; ".join(f"{_label(m)}: {len(m.training_curve)} epochs" for m in models)
    return _figure(figure, "chart-curves", "Training curves", "Validation NDCG@10 per epoch.", summary)


def _loss_figure(models: list[TrainedModel]) -> Figure:
    figure = go.Figure()
    for model in models:
        points = [p for p in model.training_curve if p.get("loss") is not None]
        figure.add_scatter(x=[p["epoch"] for p in points], y=[p["loss"] for p in points], mode="lines+markers",
                           name=_label(model))
    figure.update_layout(xaxis_title="Epoch", yaxis_title="Training loss (cross-entropy)")
    summary = "; ".join(f"{_label(m)}: last loss {m.training_curve[-1].get('loss', float('nan')):.3f}" for m in models)
    return _figure(figure, "chart-loss", "Training loss", "Mean training cross-entropy per epoch.", summary)


def _seconds_figure(models: list[TrainedModel]) -> Figure:
    figure = go.Figure()
    for model in models:
        epochs = [p["epoch"] for p in model.training_curve]
        figure.add_scatter(x=epochs, y=[p.get("seconds") for p in model.training_curve], mode="lines+markers",
                           name=f"{_label(model)} training")
        figure.add_scatter(x=epochs, y=[p.get("valid_seconds", 0.0) for p in model.training_curve],
                           mode="lines+markers", line={"dash": "dot"}, name=f"{_label(model)} validation")
    figure.update_layout(xaxis_title="Epoch", yaxis_title="Seconds")
    summary = "; ".join(f"{_label(m)}: {_seconds_summary(m.training_curve)}" for m in models)
    return _figure(figure, "chart-seconds", "Training and validation time",
                   "Seconds per epoch spent training (solid) and validating (dotted; 0 when not validated).", summary)


def _seconds_summary(curve: list[dict]) -> str:
    training = sum(p.get("seconds") or 0.0 for p in curve)
    validation = sum(p.get("valid_seconds") or 0.0 for p in curve)
    share = validation / (training + validation) if training + validation else 0.0
    return f"training {training:.0f} s, validation {validation:.0f} s ({share:.0%})"


# --- 5/6. drift and explanations of one member ---------------------------------------------------


def drift_figure(view: MemberView, drift: DriftView) -> Figure:
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


def xai_heatmap(view: MemberView, xai: XaiView) -> Figure:
    history, methods = xai.history, xai.methods
    positions = sorted({int(p) for a in methods.values() for p in a.positions})
    injected = {int(p) for p in xai.injected}
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


# --- 8/9. experiments ----------------------------------------------------------------------------


PROTOCOL_WORDS = {"full": "full ranking", "sampled": "sampled, 1 + 100"}


def experiment_figure(experiment: Experiment, metric: str = "full:HR@10") -> Figure | None:
    strategies = experiment.results.get("strategies") or {}
    if not strategies:
        return None
    figure = go.Figure()
    for strategy, summary in strategies.items():
        x, y, low, high = [], [], [], []
        for condition, metrics in summary["conditions"].items():
            if metrics and metrics.get(metric, {}).get("mean") is not None:
                stats = metrics[metric]
                x.append(CONDITION_LABELS[condition])
                y.append(stats["mean"])
                low.append(stats["mean"] - stats["low"])
                high.append(stats["high"] - stats["mean"])
        figure.add_bar(name=strategy, x=x, y=y, error_y=dict(type="data", array=high, arrayminus=low))
    protocol, _, name = metric.rpartition(":")
    label = f"{name} ({PROTOCOL_WORDS[protocol]})" if protocol in PROTOCOL_WORDS else metric
    # Every metric here is >= 0: all-zero bars were drawn on a -1..1 axis.
    figure.update_layout(barmode="group", yaxis=dict(title=label, rangemode="tozero"), xaxis=dict(automargin=True))
    return _figure(figure, f"chart-exp-{experiment.pk}-{metric.replace(':', '-').replace('@', '')}",
                   f"{label} by condition", "Means over sampled members with 95% bootstrap CIs.",
                   "The table lists the same numbers.")
