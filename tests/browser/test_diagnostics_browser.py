"""An analyst reads a finished deletion diagnostic run: charts with noise bands, ranking, a member's page."""

import pytest
from playwright.sync_api import expect

from diagnostics import services
from recsys import jobs
from tests.diagnostics.conftest import make_films

from .conftest import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_analyst_reads_the_influence_ranking_and_a_members_page(browser_page, live_server, make_user, settings,
                                                                    tmp_path):
    settings.VAR_DIR = tmp_path
    run = services.start_run(dataset=make_films(), architecture="mf", hyperparameters={"factors": 4, "sweeps": 3},
                             seeds=3, users=4, items=4, inline=True)
    jobs.run(run.job_id)
    admin = make_user("root", is_staff=True, is_superuser=True)
    page = browser_page
    sign_in(page, admin, live_server.url)
    page.goto(f"/research/diagnostics/{run.pk}/")
    expect(page.locator("#user-ranking .main-svg").first).to_be_visible()
    expect(page.locator("#influence-distribution .main-svg").first).to_be_visible()
    expect(page.get_by_text("27 of 27")).to_be_visible()
    screenshot(page, "diagnostics-run")
    page.get_by_role("link", name="Member u").first.click()
    expect(page.get_by_role("button", name="Leave out of next training")).to_be_visible()
    screenshot(page, "diagnostics-member")
