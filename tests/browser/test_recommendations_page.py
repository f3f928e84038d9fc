"""A member whose dataset has an active model sees ten recommendations on "For you"."""

import pytest
from playwright.sync_api import expect

from .conftest import FIRST_LOAD_MS, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]



def test_for_you_lists_ten_recommendations(browser_page, live_server, member_with_model):
    page = browser_page
    sign_in(page, member_with_model, live_server.url)
    page.goto("/for-you/", timeout=FIRST_LOAD_MS)
    recommendations = page.locator("ol.recommendations > li")
    expect(recommendations).to_have_count(10)
    expect(page.get_by_text("most popular")).to_have_count(0)
    expect(recommendations.first.get_by_role("link", name="Why is")).to_be_visible()
    screenshot(page, "for-you")
