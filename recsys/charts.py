"""Plotly figures rendered as HTML fragments (plotly.js is served from static files)."""

import functools
import math
from datetime import UTC, datetime

import plotly.graph_objects as go
import plotly.io as pio

CHART_CONFIG = {"displaylogo": False, "responsive": True}
HOUSE_LAYOUT = {"margin": {"l": 40, "r": 20, "t": 40, "b": 40}, "font": {"size": 14}}


@functools.cache
def _white_template() -> dict:
    return pio.templates["plotly_white"].to_plotly_json()


@functools.cache
def _colorscale(name: str) -> list:
    """A named colour scale as the [[position, colour], ...] list Plotly writes into a figure's JSON."""
    return [list(step) for step in go.scatter.Marker(colorscale=name).to_plotly_json()["colorscale"]]


def to_html(figure: go.Figure | dict, *, div_id: str) -> str:
    """The figure (a Figure, or its plain JSON spec {"data": [...], "layout": {...}}) as a <div> + script.
    The theme is added to the JSON: assigning a named template to the figure deep-copies it each time,
    which cost ~50 ms per chart on a 2-core machine. Member pages pass plain specs: building a Figure
    validates every property (~3 ms a chart) for JSON that is the same."""
    spec = figure if isinstance(figure, dict) else figure.to_plotly_json()
    spec["layout"] = {**spec["layout"], **HOUSE_LAYOUT, "template": _white_template()}
    return pio.to_html(spec, full_html=False, include_plotlyjs=False, div_id=div_id, config=CHART_CONFIG,
                       validate=False)


def _whole_numbers(values) -> dict:
    """Axis ticks on whole numbers only (steps, numbers in a history): Plotly's own put 0.5 and 1.5 on a history of
    one or two."""
    wanted = ((max(values) - min(values)) if values else 0) / 8
    power = 10 ** max(0, math.floor(math.log10(wanted))) if wanted >= 1 else 1
    return {"tick0": 0, "dtick": next(m * power for m in (1, 2, 5, 10) if m * power >= wanted)}


def history_timeline(interactions, *, ordinal_time: bool, highlight: dict[int, float] | None = None,
                     highlight_label: str = "Influence") -> str:
    """Scatter of a history over time; y is the first category, or the interaction's number in the history when
    no item has a category (one "(no category)" row says nothing). highlight maps interaction id -> heat, which
    the colour bar names with highlight_label (what the heat measures on that page)."""
    rows = list(interactions)
    x = [r.timestamp if ordinal_time else datetime.fromtimestamp(r.timestamp, UTC) for r in rows]
    by_category = any(r.item.category_list for r in rows)
    y = ([(r.item.category_list or ["(no category)"])[0] for r in rows] if by_category
         else list(range(1, len(rows) + 1)))
    text = [f"{r.item.title}" + (" — excluded" if r.state == "excluded" else "") for r in rows]
    marker: dict = {"color": "#1f5fa8", "line": {"color": "#ffffff", "width": 1}, "size": 10}
    if highlight is not None:
        marker.update(color=[highlight.get(r.pk, 0.0) for r in rows], colorscale=_colorscale("YlOrRd"), cmin=0, cmax=1,
                      showscale=True, colorbar={"title": {"text": highlight_label}})
    spec: dict = {
        "data": [{"hovertemplate": "%{text}<extra></extra>", "marker": marker, "mode": "markers", "text": text,
                  "x": x, "y": y, "type": "scatter"}],
        "layout": {"title": {"text": "Your history in order" if ordinal_time else "Your history over time"},
                   "xaxis": {"title": {"text": "Step" if ordinal_time else "Date"},
                             **(_whole_numbers(x) if ordinal_time else {})},
                   "yaxis": {"title": {"text": "Category" if by_category else "Number in your history"},
                             **({} if by_category else _whole_numbers(y))},
                   "height": 360},
    }
    if len(set(x)) == 1:  # one moment: Plotly's own range would tick in fractions of a millisecond
        spread = 1 if ordinal_time else 86_400
        ends = [rows[0].timestamp - spread, rows[0].timestamp + spread]
        spec["layout"]["xaxis"]["range"] = ends if ordinal_time else [datetime.fromtimestamp(t, UTC) for t in ends]
    return to_html(spec, div_id="history-timeline")


def training_curve(curve: list[dict]) -> str:
    """Training loss and validation NDCG@10 / HR@10 per epoch (two y axes)."""
    epochs = [row["epoch"] for row in curve]
    figure = go.Figure()
    figure.add_trace(go.Scatter(x=epochs, y=[row.get("loss") for row in curve], name="Training loss",
                                mode="lines+markers", line=dict(color="#1f5fa8")))
    for name, colour in (("NDCG@10", "#c2410c"), ("HR@10", "#15803d")):
        values = [(row.get("valid") or {}).get(name) for row in curve]
        if any(value is not None for value in values):
            figure.add_trace(go.Scatter(x=epochs, y=values, name=f"Validation {name}", yaxis="y2",
                                        mode="lines+markers", line=dict(color=colour, dash="dot")))
    figure.update_layout(
        title="Training curve", xaxis_title="Epoch", yaxis=dict(title="Loss"), height=360,
        yaxis2=dict(title="Validation metric", overlaying="y", side="right", rangemode="tozero"),
        legend=dict(orientation="h", y=-0.25),
    )
    return to_html(figure, div_id="training-curve")
