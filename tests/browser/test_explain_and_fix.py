"""A member asks "Why?", rates the explanation, runs a drift check, previews and applies a fix, then undoes it."""

import re
import time

import pytest
from playwright.sync_api import expect

from recourse.models import ExplanationFeedback, RecourseResult
from recourse.services import context
from recsys.models import Interaction
from recsys.services import serving
from tests.web.conftest import train_now
from tests.web.factories import make_dataset, make_history

from .conftest import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def member(make_user):
    dataset = make_dataset(n_items=30)
    for number in range(25):
        make_history(dataset, external_user_id=f"u{number}", item_ids=[(number + k) % 30 + 1 for k in range(8)])
    alice = make_user("alice")
    make_history(dataset, user=alice, external_user_id="alice", item_ids=(1, 6, 11, 2, 3, 4))
    model = train_now(dataset)
    context.calibrate_all(model, serving.loaded_model(dataset)[1])
    return alice


def test_why_page_and_feedback(browser_page, live_server, member):
    page = browser_page
    sign_in(page, member, live_server.url)
    page.goto("/for-you/")
    page.locator("ol.recommendations > li").first.get_by_role("link", name="Why is").click()
    expect(page.locator("#narrative")).to_contain_text(
        re.compile("is recommended mainly because|has no single main reason"))
    expect(page.locator("#top-contributors .main-svg").first).to_be_visible()
    page.get_by_role("link", name="Leave one out").click()
    expect(page.locator("a.current")).to_have_text("Leave one out")
    screenshot(page, "why")
    page.get_by_label("Yes").check()
    page.get_by_label("Anything to add? (optional)").fill("Clear enough")
    page.get_by_role("button", name="Send feedback").click()
    expect(page.get_by_text("your feedback was saved")).to_be_visible()
    assert ExplanationFeedback.objects.get().comment == "Clear enough"


def test_drift_check_fix_apply_and_undo(browser_page, live_server, member):
    page = browser_page
    sign_in(page, member, live_server.url)
    page.goto("/drift/")
    expect(page.locator("section.verdict h2")).to_be_visible()
    screenshot(page, "drift-check")
    page.get_by_role("link", name="Fix my recommendations").last.click()
    page.wait_for_load_state()  # the live preview's script is attached at the end of the page
    first_title = "Film 01 (1991)"
    page.get_by_label(f"Change for {first_title}").select_option("remove")
    expect(page.locator("#live-preview")).to_contain_text("Live preview — nothing has changed yet")
    expect(page.locator("#live-preview ol").last.locator("li")).to_have_count(10)
    assert not RecourseResult.objects.exists()
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name="Preview — nothing has changed yet")).to_be_visible()
    assert not RecourseResult.objects.exists()
    screenshot(page, "fix-preview")
    page.get_by_role("button", name="Apply these changes").click()
    expect(page.get_by_text("Applied 1 change.")).to_be_visible()
    assert Interaction.objects.get(sequence__user=member, item__external_id="1").state == "excluded"
    screenshot(page, "corrections")
    page.goto("/for-you/")
    expect(page.locator("ol.recommendations > li")).to_have_count(10)
    page.goto("/corrections/")
    page.get_by_role("button", name="Undo").click()
    expect(page.get_by_text("Undone: your history is exactly as it was")).to_be_visible()
    assert Interaction.objects.get(sequence__user=member, item__external_id="1").state == "active"
    screenshot(page, "corrections-undone")


def test_a_change_made_before_the_preview_script_loads_still_gets_its_live_preview(browser_page, live_server, member):
    page = browser_page
    sign_in(page, member, live_server.url)
    page.route("**/live-preview*.js", lambda route: (time.sleep(2), route.continue_()))  # a slow network
    page.goto("/fix/", wait_until="commit")
    page.get_by_label("Change for Film 01 (1991)").select_option("remove")
    expect(page.locator("#live-preview")).to_contain_text("Live preview — nothing has changed yet")
    expect(page.locator("#live-preview ol").last.locator("li")).to_have_count(10)
