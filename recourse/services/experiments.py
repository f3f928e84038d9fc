"""Population drift/recourse experiments: validation, sampled members, Experiment rows and jobs.

The numbers come from recourse.engine.population (protocol in its docstring); this module reads the
members' histories, runs the engine per strategy and stores the JSON it returns.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from django.db.models import Count, Q

from recourse.engine import population
from recourse.engine.alignment import CategoryIndex
from recourse.engine.drift_injection import STRATEGIES
from recourse.engine.population import MIN_LENGTH, Member
from recourse.engine.protocol import ScoringModel
from recourse.engine.sequences import History
from recourse.models import Experiment
from recourse.selectors import category_index, model_histories
from recsys import jobs
from recsys import selectors as recsys_selectors
from recsys.models import Dataset, Interaction, TrainedModel
from recsys.services import serving

DEFAULT_USERS = 500
ProgressFn = Callable[[float, str], None]


def _silent(percent: float, message: str = "") -> None:
    """Progress callback that reports nowhere."""


class ExperimentError(Exception):
    """An experiment that cannot run, with a message for the analyst."""


@dataclass
class Setup:
    model_row: TrainedModel
    network: ScoringModel
    categories: CategoryIndex
    members: list[Member]


def start_experiment(
    *, dataset: Dataset, n_users: int = DEFAULT_USERS, strategies: list[str] | None = None, seed: int = 0,
    name: str = "", ig_steps: int = 20, owner=None,
) -> Experiment:
    """Validate, create the Experiment row and queue the job on the xai queue."""
    experiment = create_experiment(dataset=dataset, n_users=n_users, strategies=strategies, seed=seed, name=name,
                                   ig_steps=ig_steps, owner=owner)
    # dataset_id and model_id let recsys see which dataset the job reads (e.g. before deleting a dataset).
    params = {"experiment_id": experiment.pk, "dataset_id": dataset.pk, "model_id": experiment.trained_model_id}
    job = jobs.start_job(kind="population_experiment", params=params, owner=owner)
    Experiment.objects.filter(pk=experiment.pk).update(job=job)
    experiment.job = job
    return experiment


def create_experiment(
    *, dataset: Dataset, n_users: int = DEFAULT_USERS, strategies: list[str] | None = None, seed: int = 0,
    name: str = "", ig_steps: int = 20, owner=None,
) -> Experiment:
    strategies = validate_strategies(strategies)
    if seed < 0:
        raise ExperimentError("The seed must be a whole number of 0 or more.")
    model_row = _active_ready_model(dataset)
    _check_users(n_users, len(eligible_sequence_ids(dataset)))
    params = {"n_users": n_users, "strategies": strategies, "seed": seed, "ig_steps": ig_steps,
              "num_injected": population.NUM_INJECTED, "num_negatives": population.NUM_NEGATIVES}
    return Experiment.objects.create(
        name=name or f"{model_row.get_architecture_display()} · {n_users} users · seed {seed}",
        dataset=dataset, trained_model=model_row, params=params, created_by=owner,
    )


def run_experiment(*, experiment: Experiment, progress: ProgressFn | None = None) -> Experiment:
    """Run a created experiment and store its results (status done or failed)."""
    Experiment.objects.filter(pk=experiment.pk).update(status=Experiment.Status.RUNNING, error="")
    params = experiment.params
    try:
        results = population_experiment(
            dataset=experiment.dataset, n_users=params["n_users"], strategies=params["strategies"],
            seed=params["seed"], ig_steps=params.get("ig_steps", 20), progress=progress,
        )
    except BaseException as exc:
        Experiment.objects.filter(pk=experiment.pk).update(status=Experiment.Status.FAILED, error=str(exc)[:2000])
        raise
    Experiment.objects.filter(pk=experiment.pk).update(status=Experiment.Status.DONE, results=results)
    experiment.refresh_from_db()
    return experiment


def population_experiment(
    *, dataset: Dataset, n_users: int = DEFAULT_USERS, strategies: list[str] | None = None, seed: int = 0,
    ig_steps: int = 20, progress: ProgressFn | None = None,
) -> dict:
    """Run every strategy on the same sampled members; returns JSON-ready results."""
    report = progress or _silent
    strategies = validate_strategies(strategies)
    started = time.monotonic()
    report(1, "Loading the model and the members' histories")
    setup = prepare(dataset=dataset, n_users=n_users, seed=seed)
    by_strategy, timings = {}, {}
    for number, strategy in enumerate(strategies):
        begin = time.monotonic()
        share = _scaled(report, start=5 + 90 * number / len(strategies), width=90 / len(strategies))
        run = population.strategy_run(setup.network, setup.categories, setup.members, strategy=strategy, seed=seed,
                                      ig_steps=ig_steps, progress=share)
        by_strategy[strategy] = population.summarize_strategy(run, seed=seed)
        timings[strategy] = round(time.monotonic() - begin, 2)
    report(99, "Summarising")
    return population.results_document(
        model_id=setup.model_row.pk, network=setup.network, members=len(setup.members), by_strategy=by_strategy,
        timings=timings, seconds=time.monotonic() - started, n_users=n_users, seed=seed, ig_steps=ig_steps,
    )


def _scaled(report: ProgressFn, *, start: float, width: float) -> ProgressFn:
    """Progress of one strategy (fraction 0..1) as its slice of the whole run (percent)."""
    return lambda fraction, message: report(start + width * fraction, message)


def validate_strategies(strategies: list[str] | None) -> list[str]:
    """None means every strategy; an empty list (every box unticked) is refused, not read as "all"."""
    strategies = list(STRATEGIES if strategies is None else strategies)
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown:
        raise ExperimentError(f"Unknown drift strategy {unknown[0]!r}; choose from {', '.join(STRATEGIES)}.")
    if not strategies:
        raise ExperimentError("Choose at least one drift strategy.")
    return strategies


def _active_ready_model(dataset: Dataset) -> TrainedModel:
    model_row = recsys_selectors.active_model(dataset)
    if model_row is None:
        raise ExperimentError(f"No model is active for {dataset}; train and activate one before running experiments.")
    return model_row


def _check_users(n_users: int, eligible: int) -> None:
    if n_users < 1:
        raise ExperimentError("The number of users must be at least 1.")
    if n_users > eligible:
        raise ExperimentError(
            f"Asked for {n_users} users but only {eligible} members have at least {MIN_LENGTH} interactions; "
            f"choose N <= {eligible}."
        )


def _eligible(dataset: Dataset):
    """Sequences with the MIN_LENGTH active interactions a member of an experiment needs."""
    return (dataset.sequences.annotate(active=Count("interactions",
                                                    filter=Q(interactions__state=Interaction.State.ACTIVE)))
            .filter(active__gte=MIN_LENGTH))


def eligible_sequence_ids(dataset: Dataset) -> list[int]:
    return list(_eligible(dataset).order_by("pk").values_list("pk", flat=True))


def eligible_count(dataset: Dataset) -> int:
    """How many members an experiment can sample (the metrics form's bound), counted by the database."""
    return _eligible(dataset).count()


def prepare(*, dataset: Dataset, n_users: int, seed: int) -> Setup:
    """The active model, the dataset's categories and a seeded sample of members split leave-one-out."""
    model_row = _active_ready_model(dataset)
    eligible = eligible_sequence_ids(dataset)
    _check_users(n_users, len(eligible))
    _, recommender = serving.loaded_model(dataset)
    chosen = sorted(np.random.default_rng(seed).choice(eligible, size=n_users, replace=False).tolist())
    histories = model_histories(chosen, recommender.index)
    empty = History(np.zeros(0, np.int64), np.zeros(0, np.float32))
    members = [member for sid in chosen if (member := population.split_member(sid, histories.get(sid, empty)))]
    if not members:
        raise ExperimentError("None of the sampled members has enough interactions the model knows.")
    return Setup(model_row, recommender.model, category_index(dataset, recommender.index), members)


def result_rows(experiment: Experiment) -> list[dict]:
    """Flat rows (strategy, condition, metric, mean, CI) for CSV export and tables."""
    rows = []
    for strategy, summary in (experiment.results.get("strategies") or {}).items():
        for condition, metrics in summary["conditions"].items():
            for metric, stats in (metrics or {}).items():
                protocol, _, name = metric.rpartition(":")
                rows.append({"strategy": strategy, "condition": condition, "protocol": protocol or "-",
                             "metric": name, "mean": stats["mean"], "ci_low": stats["low"],
                             "ci_high": stats["high"], "n": stats["n"]})
    return rows
