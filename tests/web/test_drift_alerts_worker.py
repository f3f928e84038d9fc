"""The proactive drift check end to end through a real Celery worker: a burst posted to the API is committed,
the check is queued on the xai queue with its settle delay, the worker runs it and the alert appears for that
member only."""

import pytest
from django.utils import timezone

from recourse.models import DriftAlert
from recourse.services import alerts
from recsys.models import Dataset, Interaction, Job
from tests.helpers import wait_for_job

from .conftest import delete_jobs_since
from .factories import make_history
from .test_drift_alerts import BURST, COMEDIES, AlertWorld, add_through_api, build_alert_dataset

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker]


@pytest.fixture
def alert_world(make_user):
    started = timezone.now()
    dataset = build_alert_dataset(name="alert-films-worker")
    members = make_user("pia"), make_user("carl")
    for member in members:
        make_history(dataset, user=member, external_user_id=member.username, item_ids=COMEDIES[:10])
        Interaction.objects.filter(sequence__user=member).update(rating=None)
    yield AlertWorld(dataset, *members)
    Dataset.objects.filter(pk=dataset.pk).delete()
    delete_jobs_since(started)


def test_a_burst_through_the_api_is_checked_by_the_xai_worker_once(celery_worker_process, client, alert_world,
                                                                  settings):
    settings.HIKMAX = {**settings.HIKMAX, "DRIFT_ALERT_SETTLE_SECONDS": 8.0}  # the burst is posted within it
    w = alert_world
    client.force_login(w.planted)
    added = [add_through_api(client, w, number)["id"] for number in BURST]
    client.force_login(w.clean)
    add_through_api(client, w, COMEDIES[10])
    job = Job.objects.get(kind=alerts.JOB_KIND)  # six arrivals, one check
    assert job.queue == "xai"
    job = wait_for_job(job, timeout=180)
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.result["members"] == 2 and job.result["still_waiting"] == 0
    alert = DriftAlert.objects.get()
    assert alert.user == w.planted and set(alert.flagged_interaction_ids) <= set(added)
