"""Staff see background jobs with a progress bar that the page keeps up to date."""

import pytest
from playwright.sync_api import expect

from recsys.models import Job

from .conftest import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_jobs_page_shows_a_progress_bar(browser_page, live_server, make_user):
    staff = make_user("ops", is_staff=True)
    Job.objects.create(kind="import_dataset", status=Job.Status.SUCCEEDED, progress=100, message="Imported")
    running = Job.objects.create(kind="train_model", queue="training", status=Job.Status.RUNNING, progress=40)
    page = browser_page
    sign_in(page, staff, live_server.url)
    page.goto("/jobs/")
    progress = page.get_by_label(f"Progress of job {running.pk}")
    expect(progress).to_be_visible()
    expect(progress).to_have_attribute("value", "40")
    screenshot(page, "jobs")

    Job.objects.filter(pk=running.pk).update(progress=75, message="Epoch 3 of 4")
    expect(page.locator(f"tr[data-job='{running.pk}'] .pct")).to_have_text("75%", timeout=10_000)
    expect(page.locator(f"tr[data-job='{running.pk}'] .job-message-text")).to_have_text("Epoch 3 of 4")
    screenshot(page, "jobs-updated")
