"""The proactive drift alert in the browser (issue 19, item 5): the notice on the member's pages names what
pulled them, previews the fix in one click, "Don't flag this again" drops an item, Dismiss hides it for good,
and another member never sees it."""

import re

import pytest
from playwright.sync_api import expect

from recourse.models import DriftAlert, NeverFlag
from recsys.models import Interaction

from .conftest import FIRST_LOAD_MS, screenshot, sign_in
from .loop_world import item_pk, title_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

HEADING = "Your recommendations were pulled off your usual taste"


def horror_rows(world) -> list[Interaction]:
    """The member's late horror picks, as a background check's alert would name them (most suspicious first)."""
    horror = [item_pk(1, k) for k in range(3)]
    return list(Interaction.objects.filter(sequence__user=world.member, item_id__in=horror).order_by("-timestamp"))


def test_the_alert_previews_the_fix_drops_a_choice_and_stays_dismissed(browser_page, live_server, world, make_user):
    page = browser_page
    rows = horror_rows(world)
    alert = DriftAlert.objects.create(user=world.member, dataset=world.dataset,
                                      flagged_interaction_ids=[row.pk for row in rows], narrative="a burst")
    sign_in(page, world.member, live_server.url)
    page.goto("/for-you/", timeout=FIRST_LOAD_MS)
    notice = page.locator("#drift-alert")
    expect(notice.get_by_role("heading", name=HEADING)).to_be_visible()
    for row in rows:
        expect(notice.get_by_text(title_of(row.item_id), exact=True)).to_be_visible()
    screenshot(page, "drift-alert-for-you")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: the notice wraps, nothing scrolls sideways
    page.goto("/for-you/")
    expect(page.locator("#drift-alert").get_by_role("button", name="Preview the fix")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "drift-alert-for-you-390")
    page.set_viewport_size({"width": 1280, "height": 900})

    notice.get_by_role("button", name="Preview the fix").click()
    preview = page.locator("#preview")
    expect(preview.get_by_role("heading", name=re.compile("Preview"))).to_be_visible()
    for row in rows:
        expect(preview.get_by_text(f"Remove “{title_of(row.item_id)}”")).to_be_visible()
    expect(preview.locator("ol").last.locator("li")).to_have_count(10)
    expect(page.get_by_role("button", name="Apply these changes")).to_be_visible()
    screenshot(page, "drift-alert-fix-preview")

    page.goto("/home/")
    first = title_of(rows[0].item_id)
    page.locator("#drift-alert").get_by_role("button", name=f"Don't flag {first} again").click()
    expect(page.get_by_text(f"HikmaX will not flag “{first}” again")).to_be_visible()
    assert page.url.endswith("/home/")
    expect(page.locator("#drift-alert").get_by_text(first, exact=True)).to_have_count(0)
    expect(page.locator("#drift-alert").get_by_text(title_of(rows[1].item_id), exact=True)).to_be_visible()
    assert NeverFlag.objects.filter(user=world.member, interaction=rows[0], undone_at__isnull=True).exists()

    page.locator("#drift-alert").get_by_role("button", name="Dismiss").click()
    expect(page.get_by_text("Dismissed.")).to_be_visible()
    expect(page.locator("#drift-alert")).to_have_count(0)
    for path in ("/for-you/", "/catalogue/", "/corrections/"):
        page.goto(path)
        expect(page.locator("#drift-alert")).to_have_count(0)
    alert.refresh_from_db()
    assert alert.state == "dismissed"

    page.get_by_role("button", name=f"Undo: don't flag {first} again").click()
    expect(page.get_by_text(f"Undone: drift checks may flag “{first}” again.")).to_be_visible()


def test_another_member_never_sees_the_alert(browser_page, live_server, world, make_user):
    rows = horror_rows(world)
    DriftAlert.objects.create(user=world.member, dataset=world.dataset,
                              flagged_interaction_ids=[row.pk for row in rows], narrative="a burst")
    other = make_user("olga")
    page = browser_page
    sign_in(page, other, live_server.url)
    page.goto("/for-you/", timeout=FIRST_LOAD_MS)
    expect(page.get_by_role("heading", name=re.compile("For you"))).to_be_visible()
    expect(page.locator("#drift-alert")).to_have_count(0)
