from recsys.charts import to_html

LABEL_CHARS = 22  # longer titles are cut in the axis labels (full title on hover) so the bars keep their room


def short_label(title: str) -> str:
    return title if len(title) <= LABEL_CHARS else title[: LABEL_CHARS - 1].rstrip() + "…"


def top_contributors(titles: list[str], scores: list[float], *, method_label: str, signed: bool = True) -> str:
    """Horizontal signed bars of the eight strongest contributions, largest push up at the top. ``signed`` False
    (attention, never negative): the bars say how much weight each got, not which way it pushed."""
    strongest = sorted(range(len(scores)), key=lambda i: abs(scores[i]), reverse=True)[:8]  # up or down
    order = sorted(strongest, key=lambda i: scores[i])
    labels = _unique([short_label(titles[i]) for i in order])
    spec = {  # the JSON plotly.graph_objects would build, written out (recsys.charts.to_html says why)
        "data": [{"customdata": [titles[i] for i in order], "hovertemplate": "%{customdata}: %{x:+.3f}<extra></extra>",
                  "marker": {"color": ["#1f5fa8" if scores[i] >= 0 else "#a8261f" for i in order]},
                  "orientation": "h", "x": [scores[i] for i in order], "y": labels, "type": "bar"}],
        # Two-line titles: on a 390 px phone either title on one line runs off both sides of the chart.
        "layout": {"title": {"text": "What pushed it up (blue)<br>or down (red)" if signed else
                             "How much attention<br>each one got", "automargin": True,
                             "yref": "paper", "y": 1, "yanchor": "bottom"},
                   "xaxis": {"title": {"text": f"{'← pushed down · pushed up →' if signed else 'attention weight →'}"
                                               f"<br>({method_label})"},
                             "zeroline": True, "zerolinecolor": "#444", "automargin": True},
                   "height": 120 + 36 * max(len(order), 1),
                   "yaxis": {"automargin": True, "tickfont": {"size": 12}}},
    }
    return to_html(spec, div_id="top-contributors")


def _unique(labels: list[str]) -> list[str]:
    """Plotly merges equal category labels into one bar; cut titles can collide, so number the repeats."""
    seen: dict[str, int] = {}
    unique = []
    for label in labels:
        seen[label] = seen.get(label, 0) + 1
        unique.append(label if seen[label] == 1 else f"{label} ({seen[label]})")
    return unique
