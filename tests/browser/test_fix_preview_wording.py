"""The live preview on Fix my recommendations says what the two lists beside it show: a reordered top 10 is not
one that "would stay the same" (found walking a shop's click log, where lowering a weight swapped ranks)."""

import json

import pytest
from playwright.sync_api import expect

from .conftest import FIRST_LOAD_MS, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]




def answer_preview_with(page, before: list[int], after: list[int]) -> None:
    """The preview API's answer, fixed: the sentence is about these two lists, whatever the model says."""
    top_before = [{"id": pk, "title": f"Title {pk}", "left": pk not in after} for pk in before]
    top_after = [{"id": pk, "title": f"Title {pk}", "new": pk not in before} for pk in after]
    body = json.dumps({"top_before": top_before, "top_after": top_after})
    page.route("**/api/recourse/preview/",
               lambda route: route.fulfill(status=200, content_type="application/json", body=body))


@pytest.mark.parametrize(("after", "sentence"), [
    ([2, 1, 3], "Your top 10 would keep the same titles, in a different order."),
    ([1, 2, 3], "Your top 10 would stay the same."),
    ([1, 2, 4], "1 of your top 10 would be replaced."),
])
def test_the_live_preview_sentence_matches_its_lists(browser_page, live_server, member_with_model, after, sentence):
    page = browser_page
    sign_in(page, member_with_model, live_server.url)
    answer_preview_with(page, [1, 2, 3], after)
    page.goto("/fix/", timeout=FIRST_LOAD_MS)
    page.locator("select[id^=action-]").first.select_option("remove")
    expect(page.locator("#live-preview")).to_contain_text(sentence)
