"""Plotly figures of the forecaster's pages (plotly.js is served from static files)."""

from typing import Any

import plotly.graph_objects as go

from forecast.engine.card import rounded
from recsys.charts import to_html

ACCENT = "#1f5fa8"
WARN = "#b3261e"


def waterfall(names: list[str], values: list[float | None], contributions: list[float], base_value: float,
              *, output_space: str, top: int = 10) -> str:
    """A title's TreeSHAP decomposition: base value, the largest contributions, the rest, the forecast."""
    order = sorted(range(len(names)), key=lambda i: -abs(contributions[i]))
    shown, rest = order[:top], order[top:]
    labels = ["base value"] + [f"{names[i]} = {_value(values[i])}" for i in shown]
    deltas = [base_value] + [contributions[i] for i in shown]
    measures = ["absolute"] + ["relative"] * len(shown)
    if rest:
        labels.append(f"{len(rest)} other features")
        deltas.append(sum(contributions[i] for i in rest))
        measures.append("relative")
    labels.append("forecast")
    deltas.append(0.0)
    measures.append("total")
    figure = go.Figure(go.Waterfall(orientation="h", y=labels, x=deltas, measure=measures,
                                    increasing={"marker": {"color": ACCENT}}, decreasing={"marker": {"color": WARN}},
                                    totals={"marker": {"color": "#444"}}))
    figure.update_layout(title=f"TreeSHAP contributions ({output_space})", yaxis={"autorange": "reversed"},
                         height=120 + 32 * len(labels), xaxis_title=output_space)
    return to_html(figure, div_id="shap-waterfall")


def _value(value: float | None) -> str:
    """Three significant digits, but whole numbers as they are: release_decade 2010, not 2.01e+03."""
    if value is None:
        return "unknown"
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.3g}"


def model_comparison(models: dict[str, Any]) -> str:
    figure = go.Figure()
    for metric, label in (("roc_auc", "ROC-AUC"), ("auprc", "AUPRC")):
        points = [m["test"][metric] for m in models.values()]
        lows = [m["test"]["ci"][metric][0] for m in models.values()]
        highs = [m["test"]["ci"][metric][1] for m in models.values()]
        figure.add_bar(name=label, x=[m["label"] for m in models.values()], y=points,
                       error_y={"type": "data", "symmetric": False, "array": [h - p for h, p in zip(highs, points)],
                                "arrayminus": [p - low for low, p in zip(lows, points)]})
    figure.update_layout(title="Test ROC-AUC and AUPRC with 95% bootstrap CIs", barmode="group", height=380,
                         yaxis={"range": [0, 1.05]})
    return to_html(figure, div_id="model-comparison")


def shap_importance(importance: list[dict[str, Any]], top: int = 12) -> str:
    shown = importance[:top][::-1]
    figure = go.Figure(go.Bar(x=[e["mean_abs_shap"] for e in shown], y=[e["feature"] for e in shown],
                              orientation="h", marker_color=ACCENT))
    figure.update_layout(title="Global importance: mean |TreeSHAP| on the test titles", height=120 + 26 * len(shown))
    return to_html(figure, div_id="shap-importance")


def fairness(audit: dict[str, Any], kind: str) -> str:
    groups = audit["groups"]
    colours = [WARN if g["flagged"] else ("#9aa5b1" if not g["enough_positives"] else ACCENT) for g in groups]
    figure = go.Figure(go.Bar(
        x=[g["group"] for g in groups], y=[g["recall"] for g in groups], marker_color=colours,
        error_y={"type": "data", "symmetric": False, "array": [g["ci"][1] - g["recall"] for g in groups],
                 "arrayminus": [g["recall"] - g["ci"][0] for g in groups]},
        text=[f"{g['positives']} hit{'' if g['positives'] == 1 else 's'}" for g in groups],
        hovertemplate="%{x}: recall %{y:.2f} (%{text})<extra></extra>"))
    figure.add_hline(y=audit["global_recall"], line_dash="dash", line_color=WARN,
                     annotation_text=f"global recall {rounded(audit['global_recall'], 2)}")
    figure.update_layout(title=f"Recall by {kind} (red: flagged gap; grey: too few hits)", height=380,
                         yaxis={"range": [0, 1.1], "title": "recall"})
    return to_html(figure, div_id=f"fairness-{kind}")


def ice(feature: str, curves: dict[str, Any], index: int) -> str:
    figure = go.Figure()
    for row in curves["individual"]:
        figure.add_scatter(x=curves["grid"], y=row, mode="lines", showlegend=False, hoverinfo="skip",
                           line={"color": "rgba(120,120,120,0.35)", "width": 1})
    figure.add_scatter(x=curves["grid"], y=curves["average"], mode="lines", name="partial dependence",
                       line={"color": WARN, "width": 3})
    figure.update_layout(title=f"ICE and partial dependence: {feature}", xaxis_title=feature,
                         yaxis_title="forecast probability", height=340)
    return to_html(figure, div_id=f"ice-{index}")


def lime_agreement(summary: dict[str, Any]) -> str:
    groups = [g for g in ("borderline", "confident") if summary.get(g)]
    figure = go.Figure()
    for key, label in (("top5_overlap", "top-5 overlap"), ("sign_agreement", "sign agreement"),
                       ("spearman", "Spearman ρ")):
        figure.add_bar(name=label, x=groups, y=[summary[g][key] for g in groups])
    figure.update_layout(title="LIME vs exact TreeSHAP on the same titles", barmode="group", height=340,
                         yaxis={"range": [-1, 1.05]})
    return to_html(figure, div_id="lime-agreement")


def sensitivity(rows: list[dict[str, Any]]) -> str:
    trained = [r for r in rows if r["status"] == "ok"]
    labels = [f"{r['count']}/{r['avg']}/{r['neg']}" for r in trained]
    figure = go.Figure()
    for key, label in (("roc_auc", "ROC-AUC"), ("recall", "recall"), ("f1", "F1")):
        figure.add_scatter(x=labels, y=[r[key] for r in trained], mode="lines+markers", name=label)
    figure.update_layout(title="Policy sensitivity (τ_count / τ_avg / τ_neg)", height=380, yaxis={"range": [0, 1.05]},
                         xaxis={"tickangle": -60})
    return to_html(figure, div_id="sensitivity")


# --- text alternatives of the audit's charts (the aria-label of each) ---------------------------------
# Numbers are rounded as the audit page (floatformat) and the governance card round them: half up.


def importance_summary(importance: list[dict[str, Any]]) -> str:
    top = ", ".join(f"{row['feature']} ({rounded(row['mean_abs_shap'], 3)})" for row in importance[:3])
    return f"Global feature importance by mean absolute SHAP value; the largest: {top}."


def lime_summary(summary: dict[str, dict[str, Any]]) -> str:
    parts = [f"{name} ({s['items']} titles): top-5 overlap {rounded(s['top5_overlap'], 2)}, sign agreement "
             f"{rounded(s['sign_agreement'], 2)}, Spearman {rounded(s['spearman'], 2)}"
             for name, s in summary.items() if s]
    if not parts:
        return "Agreement between LIME and TreeSHAP: no titles were compared."
    return "Agreement between LIME and TreeSHAP: " + "; ".join(parts) + "."


def ice_summary(name: str, curves: dict[str, Any]) -> str:
    grid, average = curves["grid"], curves["average"]
    return (f"ICE curves and partial dependence of {name}: the average forecast goes from {rounded(average[0], 3)} "
            f"at {_value(grid[0])} to {rounded(average[-1], 3)} at {_value(grid[-1])} (lowest "
            f"{rounded(min(average), 3)}, highest {rounded(max(average), 3)}); "
            f"{len(curves.get('individual', []))} titles' curves.")


def fairness_summary(audit: dict[str, Any], kind: str) -> str:
    groups = [g for g in audit["groups"] if g["enough_positives"]]
    if not groups:
        return f"Recall by {kind}: no subgroup has enough test hits to judge."
    low = min(groups, key=lambda g: g["recall"])
    high = max(groups, key=lambda g: g["recall"])
    flagged = sum(g["flagged"] for g in audit["groups"])
    subgroups = "1 subgroup" if len(groups) == 1 else f"{len(groups)} subgroups"
    return (f"Recall by {kind} against the global recall {rounded(audit['global_recall'], 2)}: {subgroups} with "
            f"enough hits, lowest {low['group']} {rounded(low['recall'], 2)}, highest {high['group']} "
            f"{rounded(high['recall'], 2)}; {flagged} flagged.")
