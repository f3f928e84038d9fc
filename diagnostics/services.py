"""Deletion diagnostic runs: start, fan out one Celery task per retrain, record each as it finishes.

A run's parent Job shows "n of N retrains"; cancelling it stops retrains that have not started;
retrying it (from the jobs page or ``resume``) sends only the retrains that are not done, so
finished work is never repeated. A retrain whose worker dies is redelivered by the broker
(acks_late) and recorded once: a row turns "done" at most once.
"""

import json
import socket

import numpy as np
from celery import group
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from diagnostics.engine.exact import MF, DiagnosticData, RetrainSpec, als_config, retrain
from diagnostics.engine.removal import Removal
from diagnostics.models import DiagnosticRun, Retrain
from recsys import jobs
from recsys.ml.config import ModelConfig
from recsys.models import Dataset, Job, TrainingExclusion
from recsys.selectors import sequence_histories
from recsys.services import artefacts

JOB_KIND = "deletion_diagnostics"
MAX_SEEDS = 10
MAX_ENTITIES = 1000
_data_cache: dict[str, DiagnosticData] = {}


class DiagnosticsError(Exception):
    pass


def start_run(
    *, dataset: Dataset, architecture: str, hyperparameters: dict | None = None, seeds: int = 3,
    users: int = 100, items: int = 100, sample_seed: int = 0, owner=None, inline: bool = False,
) -> DiagnosticRun:
    """Sample the entities, write the histories every retrain will read, and queue the run's job."""
    spec = _spec(architecture, hyperparameters or {})
    if not 1 <= seeds <= MAX_SEEDS:
        raise DiagnosticsError(f"Choose between 1 and {MAX_SEEDS} seeds.")
    if users < 0 or items < 0 or not 0 < users + items <= MAX_ENTITIES:
        raise DiagnosticsError(f"Choose between 1 and {MAX_ENTITIES} members and titles in total.")
    histories = sequence_histories(dataset=dataset, external_ids=True, for_training=True)
    try:
        data = DiagnosticData.from_histories(histories)
    except ValueError as exc:
        raise DiagnosticsError(f"Dataset {dataset.name} cannot be evaluated: {exc}") from exc
    rng = np.random.default_rng(sample_seed)
    sampled_users = _sample(rng, data.split.train.users, users)
    sampled_items = _sample(rng, data.index.keys, items)
    with transaction.atomic():
        run = DiagnosticRun.objects.create(
            dataset=dataset, architecture=spec.architecture, hyperparameters=dict(spec.hyperparameters),
            seeds=list(range(seeds)), sample_seed=sample_seed, evaluated_users=data.evaluated_users,
            created_by=owner,
        )
        run.data_path = _write_histories(run, histories)
        entities = [("none", "")] + [("user", u) for u in sampled_users] + [("item", i) for i in sampled_items]
        Retrain.objects.bulk_create(Retrain(run=run, kind=kind, key=key, seed=seed)
                                    for kind, key in entities for seed in run.seeds)
        run.job = jobs.start_job(kind=JOB_KIND, params={"run_id": run.pk, "inline": inline}, owner=owner,
                                 enqueue=not inline)
        run.save(update_fields=["data_path", "job"])
    return run


def _spec(architecture: str, hyperparameters: dict) -> RetrainSpec:
    try:
        spec = RetrainSpec(architecture, hyperparameters)
        if architecture == MF:
            als_config(spec, 0)
        else:
            ModelConfig.from_dict(hyperparameters)
    except (TypeError, ValueError) as exc:
        raise DiagnosticsError(f"Invalid settings: {exc}") from exc
    return spec


def _sample(rng: np.random.Generator, keys: list[str], count: int) -> list[str]:
    chosen = rng.choice(len(keys), size=min(count, len(keys)), replace=False)
    return [keys[i] for i in sorted(chosen)]


def data_prefix(run_id: int) -> str:
    return f"diagnostics/run-{run_id}"


def _write_histories(run: DiagnosticRun, histories: dict) -> str:
    """Store the run's histories through the storage API: retrains run on workers of any machine."""
    return artefacts.save_bytes(data_prefix(run.pk), json.dumps(histories).encode(), ".json")


def run_data(run: DiagnosticRun) -> DiagnosticData:
    """The run's data, read from the storage once per worker process."""
    if run.data_path not in _data_cache:
        histories = json.loads(artefacts.read_bytes(run.data_path))
        _data_cache[run.data_path] = DiagnosticData.from_histories(
            {user: [tuple(entry) for entry in entries] for user, entries in histories.items()})
    return _data_cache[run.data_path]


def dispatch(run: DiagnosticRun) -> int:
    """Send every retrain that is not done as one task on the training queue (a Celery group)."""
    Retrain.objects.filter(run=run, status=Retrain.Status.FAILED).update(status=Retrain.Status.PENDING, error="")
    waiting = list(Retrain.objects.filter(run=run).exclude(status=Retrain.Status.DONE).values_list("pk", flat=True))
    settle(run)
    if waiting:
        from diagnostics.tasks import run_retrain  # tasks import this module

        transaction.on_commit(lambda: group(run_retrain.si(pk).set(queue="training") for pk in waiting).apply_async())
    return len(waiting)


def run_inline(run: DiagnosticRun, progress: jobs.Progress) -> dict:
    """Every waiting retrain in this process, in order (management command without workers)."""
    waiting = Retrain.objects.filter(run=run).exclude(status=Retrain.Status.DONE).order_by("kind", "key", "seed")
    total = run.retrains.count()
    for row in waiting:
        run_retrain(row.pk, worker="inline", settle_job=False)
        done = run.retrains.filter(status=Retrain.Status.DONE).count()
        progress(100 * done / total, f"{done} of {total} retrains")
    return summary(run)


def run_retrain(retrain_id: int, *, worker: str = "", settle_job: bool = True) -> None:
    row = Retrain.objects.select_related("run", "run__job").filter(pk=retrain_id).first()
    if row is None:
        return
    run = row.run
    if row.status == Retrain.Status.DONE or _cancelled(run.job):
        if settle_job:
            settle(run)
        return
    Retrain.objects.filter(pk=row.pk).update(status=Retrain.Status.RUNNING, attempts=F("attempts") + 1,
                                             worker=worker or socket.gethostname())
    spec = RetrainSpec(run.architecture, run.hyperparameters)
    try:
        outcome = retrain(run_data(run), spec, Removal(row.kind, row.key), row.seed)  # type: ignore[arg-type]
    except Exception as exc:
        Retrain.objects.filter(pk=row.pk).exclude(status=Retrain.Status.DONE).update(
            status=Retrain.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000])
    else:
        Retrain.objects.filter(pk=row.pk).exclude(status=Retrain.Status.DONE).update(
            status=Retrain.Status.DONE, ranks=outcome.ranks.tolist(), seconds=outcome.seconds,
            finished_at=timezone.now(), error="")
    if settle_job:
        settle(run)


def _cancelled(job: Job | None) -> bool:
    if job is None:
        return False
    job.refresh_from_db(fields=["status", "cancel_requested"])
    return job.cancel_requested or job.status == Job.Status.CANCELLED


def settle(run: DiagnosticRun) -> None:
    """Progress "n of N"; the job ends when every retrain is done or failed, or when cancelled and idle."""
    job = run.job
    if job is None:
        return
    counts = run.retrains.aggregate(
        total=Count("id"), done=Count("id", filter=Q(status=Retrain.Status.DONE)),
        failed=Count("id", filter=Q(status=Retrain.Status.FAILED)),
        running=Count("id", filter=Q(status=Retrain.Status.RUNNING)),
    )
    total, done, failed = counts["total"], counts["done"], counts["failed"]
    message = f"{done} of {total} retrains" + (f", {failed} failed" if failed else "")
    Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(
        progress=int(100 * done / max(total, 1)), message=message)
    job.refresh_from_db()
    if job.is_finished:
        return
    if done + failed == total:
        status = Job.Status.SUCCEEDED if not failed else Job.Status.FAILED
        with transaction.atomic():
            if Job.objects.select_for_update().filter(pk=job.pk, status=Job.Status.RUNNING).exists():
                jobs.finish(job, status, message=message, result=summary(run), progress=int(100 * done / total))
    elif job.cancel_requested and not counts["running"]:
        jobs.finish(job, Job.Status.CANCELLED, message=f"Cancelled: {message}; retry resumes the rest")


def summary(run: DiagnosticRun) -> dict:
    rows = run.retrains.filter(status=Retrain.Status.DONE)
    return {"run_id": run.pk, "retrains_done": rows.count(), "retrains": run.retrains.count(),
            "retrain_seconds": sum(rows.values_list("seconds", flat=True))}


def resume(run: DiagnosticRun) -> Job:
    if run.job is None or run.job.status not in (Job.Status.FAILED, Job.Status.CANCELLED):
        raise DiagnosticsError("Only a cancelled or failed run can be resumed.")
    return jobs.retry_job(run.job)


def exclude_from_training(*, dataset: Dataset, user_key: str, reason: str, by) -> TrainingExclusion:
    sequence = dataset.sequences.filter(external_user_id=user_key).first()
    if sequence is None:
        raise DiagnosticsError(f"Member {user_key} is not in {dataset.name}.")
    if not reason.strip():
        raise DiagnosticsError("Say why this member is left out of training.")
    existing = sequence.training_exclusions.filter(lifted_at__isnull=True).first()
    if existing:
        return existing
    return TrainingExclusion.objects.create(sequence=sequence, reason=reason.strip()[:300], created_by=by)


def lift_exclusion(*, exclusion: TrainingExclusion, by) -> TrainingExclusion:
    if exclusion.lifted_at is None:
        exclusion.lifted_at, exclusion.lifted_by = timezone.now(), by
        exclusion.save(update_fields=["lifted_at", "lifted_by"])
    return exclusion
