import pytest
from django.urls import reverse

from recsys import jobs
from recsys.models import Dataset, Job
from tests.helpers import wait_for_job

from .conftest_data import write_generic_csv

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


def test_import_job_runs_on_a_real_worker_and_records_progress(celery_worker_process, tmp_path):
    path = write_generic_csv(tmp_path)
    job = jobs.start_job(kind="import_dataset", params={"name": "tiny", "path": str(path)})
    job = wait_for_job(job)
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.progress == 100 and job.attempts == 1 and job.started_at and job.finished_at
    assert job.result["interactions"] == 6
    assert Dataset.objects.get(name="tiny").n_interactions == 6


def test_failed_job_records_the_error_and_can_be_retried(celery_worker_process, tmp_path):
    job = wait_for_job(
        jobs.start_job(kind="import_dataset", params={"name": "x", "path": str(tmp_path / "missing.csv")})
    )
    assert job.status == Job.Status.FAILED
    assert "missing.csv" in job.message and not job.error  # a refused input is its message, not a traceback
    assert not Dataset.objects.filter(name="x").exists()

    write_generic_csv(tmp_path, name="missing.csv")
    job = wait_for_job(jobs.retry_job(job))
    assert job.status == Job.Status.SUCCEEDED and job.attempts == 2


def test_rerunning_a_finished_job_does_nothing(celery_worker_process, tmp_path):
    job = wait_for_job(
        jobs.start_job(kind="import_dataset", params={"name": "tiny", "path": str(write_generic_csv(tmp_path))})
    )
    jobs.run(job.pk)
    job.refresh_from_db()
    assert job.attempts == 1


def test_jobs_page_is_staff_only_and_shows_progress(client, make_user):
    job = Job.objects.create(kind="import_dataset", status="running", progress=42, message="Writing")
    assert client.get(reverse("recsys:jobs")).status_code == 302  # anonymous: to sign in
    client.force_login(make_user("member"))
    assert client.get(reverse("recsys:jobs")).status_code == 403
    client.force_login(make_user("staff", is_staff=True))
    page = client.get(reverse("recsys:jobs")).content.decode()
    assert 'value="42"' in page and "Writing" in page and "Import dataset" in page
    status = client.get(reverse("recsys:job-status") + f"?ids={job.pk}").json()
    assert status["jobs"][0]["progress"] == 42


def test_unknown_job_kind_is_refused():
    with pytest.raises(ValueError, match="Unknown job kind"):
        jobs.start_job(kind="does-not-exist")
