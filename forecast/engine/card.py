"""The Model Governance Card: one self-contained HTML page per trained forecaster."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from html import escape
from typing import Any

from .config import MIN_POSITIVES

STYLE = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d2733;
line-height:1.45}table{border-collapse:collapse;margin:.5rem 0 1rem}th,td{border:1px solid #c9d2dc;padding:.25rem .5rem;
text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}.flag{color:#9b1c1c;font-weight:600}
.muted{color:#5b6673}h2{border-bottom:1px solid #c9d2dc;padding-bottom:.2rem;margin-top:2rem}"""


def _date(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def rounded(value: float, places: int, *, sign: bool = False) -> str:
    """Rounded as the pages round (Django's floatformat: half up on the shortest decimal form), so the card and
    the audit page say the same number: a threshold of 0.6545 is 0.655 on both, not 0.654 here. A value that
    rounds to zero has no sign, as floatformat writes it ("0.000", not "-0.000")."""
    if not math.isfinite(float(value)):
        return f"{float(value)}"
    rounded = Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if rounded.is_zero():
        return f"{rounded.copy_abs()}"
    return f"{rounded:+}" if sign else f"{rounded}"


def _ci(values: list[float]) -> str:
    return f"[{rounded(values[0], 3)}, {rounded(values[1], 3)}]"


def _table(headers: list[str], rows: list[list[str]], caption: str) -> str:
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><caption>{escape(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def governance_card(report: dict[str, Any], *, name: str, dataset: str) -> str:
    sections = [_details(report, name, dataset), _data(report), _policy(report), _metrics(report),
                _explanations(report), _fairness(report), _sensitivity(report), _limits(report)]
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Model Governance Card · '
            f'{escape(name)}</title><style>{STYLE}</style></head><body><h1>Model Governance Card: '
            f'{escape(name)}</h1>{"".join(sections)}</body></html>')


def _details(report: dict[str, Any], name: str, dataset: str) -> str:
    primary = report["models"][report["primary_model"]]["label"]
    return (f"<h2>Model details and intended use</h2><p>{escape(name)} forecasts which <em>emerging</em> titles of "
            f"{escape(dataset)} — below the popularity threshold today — will become hits under the platform's "
            f"policy. Ranking model: {escape(primary)} (a tree ensemble explained with exact TreeSHAP); Random "
            "Forest, XGBoost, Logistic Regression and an MLP are trained and compared on the same split.</p>"
            "<p><strong>Intended use:</strong> a ranked shortlist for catalogue curators, who review each title's "
            "explanation before promoting it. <strong>Not for:</strong> automatic promotion without review, "
            "judging people, or domains other than the catalogue it was trained on.</p>")


def _data(report: dict[str, Any]) -> str:
    d = report["data"]
    return ("<h2>Data and temporal cutoff</h2>" + _table(["", ""], [
        ["Ratings", f"{d['ratings']:,} ({_date(d['first_timestamp'])} to {_date(d['last_timestamp'])})"],
        ["Cutoff τ", f"{_date(report['cutoff'])} (quantile {report['cutoff_quantile']} of rating timestamps)"],
        ["Observed / future ratings", f"{d['observed_ratings']:,} / {d['future_ratings']:,}"],
        ["Emerging candidates (reality check)", f"{d['candidates']:,} of {d['items_seen']:,} titles rated before τ"],
        ["Future hits (positives)", f"{d['positives']:,} ({d['prevalence']:.1%})"],  # as the pages' percent filter
        ["Train / test (stratified)", f"{d['train']:,} / {d['test']:,} ({d['test_positives']} test positives)"],
        ["Tags", f"{d['tags']:,}" if d["has_tags"] else "absent"],
    ], "What the forecaster saw") + f"<p>Tag sentiment: {escape(report['sentiment']['note'])}</p>"
        + ("" if d["has_tags"] else "<p><strong>The tag-sentiment feature is absent</strong>: features "
           + escape(", ".join(report["tag_features_absent"])) + " were not used, and the policy's sentiment "
           "condition could not exclude any title.</p>"))


def _policy(report: dict[str, Any]) -> str:
    policy = report["config"]["policy"]
    return ("<h2>Policy</h2><p>A title is a <strong>future hit</strong> when, after τ, it gets at least "
            f"{policy['count']} ratings with a mean of at least {policy['avg']}, and its highest negative-tag "
            f"probability before τ is at most {policy['neg']}. Reality check: titles with {policy['count']} or more "
            f"ratings before τ are already popular and are not candidates. Decision threshold: "
            f"{rounded(report['threshold'], 3)}, maximising F1 subject to recall ≥ {report['config']['min_recall']} on "
            "out-of-fold validation scores of the training set (never the test set).</p>")


def _metrics(report: dict[str, Any]) -> str:
    rows = []
    for model in report["models"].values():
        t = model["test"]
        rows.append([escape(model["label"]), f"{rounded(t['roc_auc'], 3)} {_ci(t['ci']['roc_auc'])}",
                     f"{rounded(t['auprc'], 3)} {_ci(t['ci']['auprc'])}", rounded(t["threshold"], 3),
                     rounded(t["precision"], 3), f"{rounded(t['recall'], 3)} {_ci(t['ci']['recall'])}",
                     rounded(t["f1"], 3)])
    comparisons = "".join(
        f"<li>{escape(report['models'][report['primary_model']]['label'])} − "
        f"{escape(report['models'][other]['label'])}: ROC-AUC difference "
        f"{rounded(c['difference'], 3, sign=True)} {_ci(c['ci'])} — "
        + ("the ranking holds" if c["separated"] else "not separated within the CI") + "</li>"
        for other, c in report["comparisons"].items())
    return ("<h2>Performance on the held-out test set</h2>"
            + _table(["Model", "ROC-AUC [95% CI]", "AUPRC [95% CI]", "Threshold", "Precision", "Recall [95% CI]",
                      "F1"], rows, f"Stratified bootstrap ({report['config']['bootstrap']} resamples)")
            + f"<ul>{comparisons}</ul>")


def _explanations(report: dict[str, Any]) -> str:
    shap_ = report["shap"]
    top = ", ".join(f"{escape(e['feature'])} ({rounded(e['mean_abs_shap'], 3)})" for e in shap_["importance"][:8])
    lime = report["lime"]["summary"]
    lime_rows = [[group, str(values.get("items", 0)), f"{rounded(values.get('top5_overlap', 0), 2)}",
                  f"{rounded(values.get('sign_agreement', 0), 2)}", f"{rounded(values.get('spearman', 0), 2)}"]
                 for group, values in lime.items() if values]
    sentiment_terms = report["sentiment"]["top_terms"]
    terms = ""
    if sentiment_terms:
        terms = ("<p>Tag sentiment sub-model — most negative terms: "
                 + escape(", ".join(term for term, _ in sentiment_terms["negative"][:8]))
                 + "; most positive: " + escape(", ".join(term for term, _ in sentiment_terms["positive"][:8]))
                 + ".</p>")
    return ("<h2>Explanation artefacts</h2>"
            f"<p>Exact TreeSHAP on {shap_['rows']} test titles ({escape(shap_['output_space'])} space). Additivity "
            f"check — base value + contributions = model output — max error {shap_['additivity_max_error']:.2e}."
            f"</p><p>Global importance (mean |SHAP|): {top}.</p>"
            + _table(["Items", "n", "Top-5 overlap", "Sign agreement (SHAP top 5)", "Spearman"], lime_rows,
                     "LIME beside TreeSHAP on the same titles")
            + f"<p>ICE / partial dependence audited for: {escape(', '.join(report['ice']))}.</p>{terms}")


def _fairness(report: dict[str, Any]) -> str:
    parts = ["<h2>Fairness audit (equality of opportunity)</h2>"]
    for kind in ("genre", "decade"):
        audit = report["fairness"][kind]
        rows = [[escape(g["group"]), str(g["positives"]), f"{rounded(g['recall'], 2)} {_ci(g['ci'])}",
                 rounded(g["gap"], 2, sign=True),
                 '<span class="flag">flagged</span>' if g["flagged"] else
                 ("too few hits" if not g["enough_positives"] else "")] for g in audit["groups"]]
        parts.append(_table(["Group", "Test hits", "Recall [95% Wilson CI]", "Gap to global", ""], rows,
                            f"Recall by {kind}; global recall {rounded(audit['global_recall'], 2)}; flagged when the "
                            f"gap is at least {audit['max_gap']} with ≥ {audit['min_positives']} hits"))
    return "".join(parts)


def _sensitivity(report: dict[str, Any]) -> str:
    rows = report["sensitivity"]
    if not rows:
        return "<h2>Policy sensitivity</h2><p>Not run for this version.</p>"
    ok = [r for r in rows if r["status"] == "ok"]
    text = (f"<h2>Policy sensitivity</h2><p>{len(ok)} of {len(rows)} policies had at least {MIN_POSITIVES} "
            "positives and were trained.")
    if ok:
        aucs = [r["roc_auc"] for r in ok]
        recalls = [r["recall"] for r in ok]
        text += (f" ROC-AUC ranged {rounded(min(aucs), 3)}–{rounded(max(aucs), 3)}; recall at the tuned threshold "
                 f"{rounded(min(recalls), 3)}–{rounded(max(recalls), 3)}.")
    return text + "</p>"


def _limits(report: dict[str, Any]) -> str:
    d = report["data"]
    notes = [
        f"Only {d['test_positives']} future hits are in the test set, so every metric carries a wide CI.",
        "TreeSHAP's path-dependent attribution shares credit between correlated features (count, density, "
        "momentum); read contributions together with the ICE curves.",
        "The policy relies on ratings and tags being genuine; the forecaster does not detect manipulation.",
        "A forecast is made from ratings up to the last timestamp in the data; it ages as new ratings arrive.",
    ]
    if not d["has_tags"]:
        notes.append("No tags: the sentiment guardrail of the policy is inactive.")
    return "<h2>Limits</h2><ul>" + "".join(f"<li>{escape(n)}</li>" for n in notes) + "</ul>"
