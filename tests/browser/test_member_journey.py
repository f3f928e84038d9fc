"""A new member signs up (keyboard: the skip link comes first), finds films in the catalogue, adds
them and manages "My history"."""

import re

import pytest
from playwright.sync_api import expect

from tests.web.factories import make_dataset

from .conftest import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-browser-password"


@pytest.fixture
def films():
    return make_dataset(n_items=20)


def skip_link_is_the_first_tab_stop(page) -> None:
    """On a page without autofocus (sign-up focuses its first field, as Django's form asks)."""
    page.goto("/")
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to content")
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    screenshot(page, "landing-skip-link-used")


def sign_up(page, username: str) -> None:
    page.goto("/accounts/signup/")
    screenshot(page, "signup")
    page.get_by_label("Username").fill(username)
    page.get_by_label(re.compile(r"^Password:?$")).fill(PASSWORD)
    page.get_by_label("Password confirmation").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()


def add_to_history(page, title: str, rating: str | None = None) -> None:
    if rating is not None:
        page.get_by_label(f"Your rating for {title}").fill(rating)
    page.get_by_role("button", name=f"Add {title} to my history as watched").click()


def history_row(page, title: str):
    return page.get_by_role("row").filter(has_text=title)


def test_new_member_builds_and_edits_a_history(browser_page, films):
    page = browser_page
    skip_link_is_the_first_tab_stop(page)
    sign_up(page, "newcomer")
    expect(page.get_by_role("heading", name="Catalogue")).to_be_visible()
    screenshot(page, "catalogue")

    page.get_by_label("Title contains").fill("Film 0")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("caption")).to_have_text("9 films")  # the dataset's own word
    screenshot(page, "catalogue-search")
    add_to_history(page, "Film 03 (1993)", rating="4.5")
    add_to_history(page, "Film 07 (1997)")

    page.get_by_role("link", name="My history").click()
    expect(history_row(page, "Film 03 (1993)")).to_contain_text("4.5")
    expect(history_row(page, "Film 07 (1997)")).to_contain_text("added by you")
    expect(page.locator("#history-timeline svg").first).to_be_visible()
    screenshot(page, "history")

    page.get_by_role("button", name="Remove Film 07 (1997) from your history").click()
    expect(history_row(page, "Film 07 (1997)")).to_contain_text("Removed")  # kept on record, undoable
    expect(history_row(page, "Film 07 (1997)").get_by_role("button", name="Add Film 07 (1997) back")).to_be_visible()
    expect(history_row(page, "Film 03 (1993)")).to_have_count(1)
    screenshot(page, "history-after-removal")
