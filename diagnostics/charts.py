import plotly.graph_objects as go

from diagnostics.engine.influence import Influence
from recsys.charts import to_html


def influence_ranking(found: list[Influence], labels: dict[str, str], *, noise: float, metric: str, div_id: str) -> str:
    """Bars of each influence with its seed spread; the grey band is the unablated model's seed noise."""
    shown = found[:30]
    names = [labels.get(i.removal.key, i.removal.key) for i in shown][::-1]
    values = [i.value for i in shown][::-1]
    spread = [float(max(i.per_seed) - min(i.per_seed)) / 2 for i in shown][::-1]
    figure = go.Figure(go.Bar(
        x=values, y=names, orientation="h", error_x={"type": "data", "array": spread, "visible": True},
        marker_color=["#1f5fa8" if i.within_noise is False else "#9aa5b1" for i in shown][::-1],
        hovertemplate="%{y}: %{x:.5f}<extra></extra>",
    ))
    if noise == noise:  # not nan
        figure.add_vrect(x0=-noise, x1=noise, fillcolor="#dddddd", opacity=0.5, line_width=0)
    figure.update_layout(xaxis={"title": f"Influence on {metric} (full model minus model without it)",
                                "tickformat": "~g"},
                         height=120 + 22 * max(len(shown), 1), yaxis={"automargin": True, "type": "category"})
    return to_html(figure, div_id=div_id)


def influence_distribution(users: list[Influence], items: list[Influence], *, noise: float, metric: str) -> str:
    figure = go.Figure()
    for name, found in (("Members", users), ("Titles", items)):
        figure.add_trace(go.Histogram(x=[i.value for i in found], name=name, opacity=0.7, nbinsx=30))
    if noise == noise:
        figure.add_vrect(x0=-noise, x1=noise, fillcolor="#dddddd", opacity=0.5, line_width=0)
    figure.update_layout(barmode="overlay", xaxis={"title": f"Influence on {metric}", "tickformat": "~g"},
                         yaxis_title="Count", height=320)
    return to_html(figure, div_id="influence-distribution")


def ranking_summary(found: list[Influence], labels: dict[str, str], *, what: str, seeds: int) -> str:
    """The chart's text alternative: how many, how many stand out of seed noise, the largest either way."""
    if not found:
        return f"No {what} have an influence yet."
    judged = [i for i in found if i.within_noise is not None]
    outside = sum(1 for i in judged if not i.within_noise)
    unjudged = ("seed noise not known yet: the other seeds' baselines are not done" if seeds > 1
                else "one seed, so no seed noise to judge them against")
    if not judged:
        noise = f"{len(found)} {what}; {unjudged}"
    else:
        waiting = len(found) - len(judged)
        noise = f"{outside} of {len(judged)} outside seed noise" + (
            f" ({waiting} more not judged yet: {unjudged})" if waiting else "")
    top, bottom = found[0], found[-1]
    shown = f" (the chart shows the first {min(len(found), 30)})" if len(found) > 30 else ""
    return (f"{noise}{shown}. Largest: {labels.get(top.removal.key, top.removal.key)} {top.value:+.5f}; "
            f"smallest: {labels.get(bottom.removal.key, bottom.removal.key)} {bottom.value:+.5f}.")


def distribution_summary(users: list[Influence], items: list[Influence]) -> str:
    parts = [f"{len(found)} {name}, from {min(i.value for i in found):+.5f} to {max(i.value for i in found):+.5f}"
             for name, found in (("members", users), ("titles", items)) if found]
    return "; ".join(parts) + "." if parts else "No influences yet."
