import plotly.graph_objects as go

from recsys.charts import to_html


def top_contributors(titles: list[str], scores: list[float], *, method_label: str) -> str:
    """Horizontal bars of the eight strongest contributions, largest push up at the top."""
    strongest = sorted(range(len(scores)), key=lambda i: abs(scores[i]), reverse=True)[:8]  # up or down
    order = sorted(strongest, key=lambda i: scores[i])
    figure = go.Figure(go.Bar(
        x=[scores[i] for i in order], y=[titles[i] for i in order], orientation="h",
        marker_color=["#1f5fa8" if scores[i] >= 0 else "#a8261f" for i in order],
        hovertemplate="%{y}: %{x:.3f}<extra></extra>",
    ))
    figure.update_layout(title=f"Top contributors ({method_label})", xaxis_title="Contribution",
                         height=60 + 36 * max(len(order), 1), yaxis={"automargin": True})
    return to_html(figure, div_id="top-contributors")
