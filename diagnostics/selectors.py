"""Reads of diagnostic runs: influences computed from the finished retrains, rankings, exports."""

from dataclasses import dataclass

import numpy as np

from diagnostics.engine.influence import METRICS, Influence, influences, mean_metric, seed_noise
from diagnostics.engine.removal import Removal
from diagnostics.models import DiagnosticRun, Retrain
from recsys.models import Item


@dataclass(frozen=True)
class RunInfluences:
    metric: str
    baseline: float  # mean over seeds of the unablated model's metric
    noise: float
    users: list[Influence]  # most influential first
    items: list[Influence]


def run_influences(run: DiagnosticRun, metric: str = "NDCG@10") -> RunInfluences:
    if metric not in METRICS:
        metric = METRICS[0]
    base: dict[int, np.ndarray] = {}
    ablated: dict[tuple[Removal, int], np.ndarray] = {}
    for kind, key, seed, ranks in run.retrains.filter(status=Retrain.Status.DONE).values_list(
        "kind", "key", "seed", "ranks"
    ):
        if kind == Retrain.Kind.NONE:
            base[seed] = np.asarray(ranks)
        else:
            ablated[(Removal("user" if kind == Retrain.Kind.USER else "item", key), seed)] = np.asarray(ranks)
    users = run.evaluated_users
    if not base:
        return RunInfluences(metric, float("nan"), float("nan"), [], [])
    found = sorted(influences(users, base, ablated, metric), key=lambda i: i.value, reverse=True)
    everyone = np.ones(len(users), bool)
    baseline = float(np.mean([mean_metric(ranks, everyone, metric) for ranks in base.values()]))
    return RunInfluences(metric, baseline, seed_noise(base, metric, users),
                         [i for i in found if i.removal.kind == "user"], [i for i in found if i.removal.kind == "item"])


def item_titles(run: DiagnosticRun, keys: list[str]) -> dict[str, str]:
    return dict(Item.objects.filter(dataset=run.dataset, external_id__in=keys).values_list("external_id", "title"))


def export_rows(run: DiagnosticRun) -> list[dict]:
    rows = []
    for metric in METRICS:
        found = run_influences(run, metric)
        titles = item_titles(run, [i.removal.key for i in found.items])
        for influence in found.users + found.items:
            rows.append({**influence.to_dict(), "title": titles.get(influence.removal.key, ""),
                         "baseline": found.baseline, "seeds": len(influence.per_seed)})
    return rows


def entity_influences(run: DiagnosticRun, kind: str, key: str) -> dict[str, Influence | None]:
    result: dict[str, Influence | None] = {}
    for metric in METRICS:
        found = run_influences(run, metric)
        pool = found.users if kind == "user" else found.items
        result[metric] = next((i for i in pool if i.removal.key == key), None)
    return result


# ---------------------------------------------------------------- account export (accounts.export)

EXPORTED_MODELS = {"diagnostics.DiagnosticRun": "diagnostic_runs"}


def export_for_user(user) -> dict:
    runs = DiagnosticRun.objects.filter(created_by=user).select_related("dataset").order_by("created_at")
    return {"diagnostic_runs": [
        {"dataset": run.dataset.name, "architecture": run.get_architecture_display(), "seeds": run.seeds,
         "hyperparameters": run.hyperparameters, "created_at": run.created_at.isoformat()}
        for run in runs
    ]}
