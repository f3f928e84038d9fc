"""A curator trains the forecaster from its page, watches the job, opens a title's SHAP waterfall and
downloads the Model Governance Card."""

import re
import threading
from pathlib import Path

import pytest
from django.db import connection
from playwright.sync_api import expect

from forecast.engine.toy import toy_input, write_movielens
from forecast.forms import TrainForecasterForm
from forecast.models import Forecaster
from recsys import jobs
from recsys.services.imports import import_dataset

from .conftest import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def job_thread(monkeypatch):
    """The queue is a thread of this process: a Celery worker's start-up (TensorFlow, shap) outlasts the
    worker fixture's deadline on a busy 2-core machine. The job runs through jobs.run exactly as a worker runs it."""
    threads = []

    def run_in_thread(job):
        def work():
            try:
                jobs.run(job.pk)
            finally:
                connection.close()

        thread = threading.Thread(target=work, daemon=True)
        threads.append(thread)
        thread.start()

    monkeypatch.setattr(jobs, "_send", run_in_thread)
    yield threads
    for thread in threads:
        thread.join(timeout=300)


@pytest.fixture
def small_budget(monkeypatch):
    """The page's form plus a small training budget (two models, few resamples), so the job fits a test."""
    settings = TrainForecasterForm.settings
    small = {"models": ["rf", "lr"], "bootstrap": 50, "lime_items": 4, "lime_samples": 200, "ice_items": 10,
             "explain_top": 20}
    monkeypatch.setattr(TrainForecasterForm, "settings", lambda form: {**settings(form), **small})


def test_curator_trains_explains_and_downloads_the_card(browser_page, live_server, make_user, tmp_path, job_thread,
                                                        small_budget):
    staff = make_user("curator", is_staff=True)
    dataset = import_dataset(name="toy-films", path=write_movielens(toy_input(), str(tmp_path / "toy")))
    page = browser_page
    sign_in(page, staff, live_server.url)
    page.set_default_navigation_timeout(180_000)  # plotly.js (3.5 MB) on a 2-core machine shared by 8 engineers
    page.goto(f"/curators/emerging/?dataset={dataset.pk}")
    expect(page.get_by_text("No forecaster is ready for this dataset yet")).to_be_visible()

    page.get_by_label("τ_count").fill("8")
    page.get_by_label("The paper's hyper-parameter grids").uncheck()
    page.get_by_label("Run the 27-policy sensitivity analysis").uncheck()
    page.get_by_role("button", name="Train forecaster").click()
    progress = page.locator("table#jobs progress")
    expect(progress).to_be_visible()
    # The page polls every 2 s: it shows a live step, or, when the job finished before the first poll (a fast
    # machine), it has already reloaded itself with the ranking.
    stepping = page.locator("table#jobs .job-message-text:not(:empty), table#emerging-titles")
    expect(stepping.first).to_be_visible(timeout=120_000)
    screenshot(page, "forecast-training")

    ranking = page.locator("table#emerging-titles")
    expect(ranking).to_be_visible(timeout=300_000)  # the page reloads itself when the job finishes
    forecaster = Forecaster.objects.get(dataset=dataset)
    assert forecaster.status == Forecaster.Status.READY and forecaster.is_active
    expect(page.locator("#threshold")).to_have_text(f"{forecaster.threshold:.3f}")
    expect(ranking).not_to_contain_text(re.compile(r"\((\d{4})\) \(\1\)"))  # a MovieLens title's year once
    screenshot(page, "forecast-emerging")

    page.get_by_role("link", name=re.compile(r"^Why does .* score")).first.click()
    expect(page.locator("#shap-waterfall .main-svg").first).to_be_visible()
    expect(page.locator("#contributions")).to_contain_text("obs_count")
    screenshot(page, "forecast-waterfall")

    page.get_by_role("link", name="Governance card").click()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the governance card (HTML)").click()
    download = download_info.value
    assert download.suggested_filename == f"governance-card-toy-films-v{forecaster.version}.html"
    text = Path(download.path()).read_text()
    assert "Model Governance Card" in text and "Fairness audit" in text
