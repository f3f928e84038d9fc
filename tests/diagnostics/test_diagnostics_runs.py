"""A run fans out one retrain per (entity, seed); progress, cancel and resume, run as the workers would run them."""

import pytest

from diagnostics import services
from diagnostics.models import Retrain
from recsys import jobs
from recsys.models import Job

from .conftest import make_films

pytestmark = pytest.mark.django_db


def start(dataset, **options):
    options = {"architecture": "mf", "hyperparameters": {"factors": 4, "sweeps": 3}, "seeds": 2, "users": 3,
               "items": 2, **options}
    return services.start_run(dataset=dataset, **options)


def work(run, count=None):
    """What the training workers do: run waiting retrains (on_commit never fires here, so nothing is queued)."""
    rows = list(run.retrains.exclude(status=Retrain.Status.DONE).order_by("pk"))[:count]
    for row in rows:
        services.run_retrain(row.pk, worker="test-worker")


def test_a_run_has_one_retrain_per_entity_and_seed_and_counts_progress(films):
    run = start(films)
    assert run.retrains.count() == (1 + 3 + 2) * 2  # the unablated model, 3 members, 2 titles; 2 seeds
    jobs.run(run.job_id)  # the parent job fans out and stays running
    run.job.refresh_from_db()
    assert run.job.status == Job.Status.RUNNING
    work(run, 5)
    run.job.refresh_from_db()
    assert run.job.message == "5 of 12 retrains" and run.job.progress == 41
    work(run)
    run.job.refresh_from_db()
    assert run.job.status == Job.Status.SUCCEEDED and run.job.progress == 100
    assert run.job.result["retrains_done"] == 12
    assert set(run.retrains.values_list("attempts", flat=True)) == {1}


def test_cancel_stops_the_retrains_that_have_not_started_and_keeps_the_finished_ones(films):
    run = start(films)
    jobs.run(run.job_id)
    work(run, 3)
    run.job.refresh_from_db()
    jobs.cancel_job(run.job)
    work(run, 1)  # the next task sees the request, runs nothing and ends the job
    run.job.refresh_from_db()
    assert run.job.status == Job.Status.CANCELLED and "3 of 12" in run.job.message
    assert run.retrains.filter(status=Retrain.Status.DONE).count() == 3
    assert run.retrains.filter(status=Retrain.Status.PENDING).count() == 9


def test_resume_sends_only_the_retrains_that_are_not_done(films):
    run = start(films)
    jobs.run(run.job_id)
    work(run, 4)
    finished = {row.pk: row.finished_at for row in run.retrains.filter(status=Retrain.Status.DONE)}
    run.job.refresh_from_db()
    jobs.cancel_job(run.job)
    work(run, 1)
    run.refresh_from_db()
    services.resume(run)
    jobs.run(run.job_id)  # the worker picks the retried job up: it dispatches what is left
    run.job.refresh_from_db()
    assert run.job.status == Job.Status.RUNNING and run.job.message == "4 of 12 retrains"
    work(run)
    run.job.refresh_from_db()
    assert run.job.status == Job.Status.SUCCEEDED and run.job.attempts == 2
    for row in run.retrains.filter(pk__in=finished):
        assert row.finished_at == finished[row.pk] and row.attempts == 1  # not redone


def test_a_retrain_delivered_twice_is_counted_once(films):
    run = start(films, seeds=1, users=1, items=0)
    jobs.run(run.job_id)
    row = run.retrains.first()
    services.run_retrain(row.pk)
    services.run_retrain(row.pk)  # the broker redelivers after a lost acknowledgement
    row.refresh_from_db()
    assert row.attempts == 1 and run.retrains.filter(status=Retrain.Status.DONE).count() == 1


def test_a_failing_retrain_fails_the_run_with_a_message_and_resume_runs_it_again(films):
    run = start(films, seeds=1, users=1, items=0)
    jobs.run(run.job_id)
    run.retrains.filter(kind="user").update(key="nobody")  # the removal can no longer be applied
    run.hyperparameters = {"factors": 4, "sweeps": 3, "unknown": 1}
    run.save()
    work(run)
    run.job.refresh_from_db()
    assert run.job.status == Job.Status.FAILED and "2 failed" in run.job.message
    assert "unexpected keyword" in run.retrains.first().error


@pytest.mark.parametrize("options, message", [
    ({"seeds": 0}, "between 1 and 10 seeds"),
    ({"users": 0, "items": 0}, "between 1 and 1000"),
    ({"architecture": "svd"}, "unknown architecture"),
    ({"architecture": "sasrec", "hyperparameters": {"epochz": 1}}, "unknown ModelConfig fields"),
])
def test_bad_settings_are_refused_with_a_clear_message(films, options, message):
    with pytest.raises(services.DiagnosticsError, match=message):
        start(films, **options)


def test_the_management_command_runs_inline_with_a_progress_bar(db, capsys):
    from django.core.management import call_command

    make_films()
    call_command("run_diagnostics", "--dataset", "films", "--users", "2", "--items", "1", "--seeds", "1",
                 "--hyperparameters", '{"factors": 4, "sweeps": 2}', "--inline")
    out = capsys.readouterr()
    assert "Succeeded" in out.out and "4 of 4 retrains" in out.out
    assert "retrains" in out.err  # tqdm draws on stderr
