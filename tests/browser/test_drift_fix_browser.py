"""Drift check, its suggested fix, apply and undo in the browser, on a dataset imported from a ``sasrec`` file
(no categories, no timestamps): after applying the suggested fix the drift check is consistent with it."""

import re

import pytest
from playwright.sync_api import expect

from recourse.models import RecourseResult
from recourse.services import context
from recsys.models import Interaction
from recsys.services import serving
from tests.web.conftest import train_now
from tests.web.sasrec_world import BURST, HYPERPARAMETERS, import_world

from .conftest import FIRST_LOAD_MS, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]



@pytest.fixture
def casey(make_user, tmp_path):
    member = make_user("casey")
    dataset = import_world(tmp_path, member)
    model = train_now(dataset, **HYPERPARAMETERS)
    context.calibrate_all(model, serving.loaded_model(dataset)[1])
    return member


def flagged_titles(page) -> list[str]:
    return [text.strip() for text in page.locator("table tbody tr td:first-child").all_inner_texts()]


def test_after_applying_the_suggested_fix_the_drift_check_is_consistent_with_it(browser_page, live_server, casey):
    page = browser_page
    sign_in(page, casey, live_server.url)
    page.goto("/drift/", timeout=FIRST_LOAD_MS)
    expect(page.locator("section.verdict h2")).to_have_text("Yes — your recommendations are drifting")
    flagged = flagged_titles(page)
    burst_titles = {row.item.title for row in Interaction.objects.filter(sequence__user=casey)
                    .select_related("item") if int(row.item.external_id) in BURST}
    assert flagged and len(set(flagged) & burst_titles) > len(set(flagged) - burst_titles)
    screenshot(page, "drift-taste-yes")

    page.get_by_role("button", name="Preview this fix").click()
    expect(page.get_by_role("heading", name="Preview — nothing has changed yet")).to_be_visible()
    removed = [text.removeprefix("Remove “").removesuffix("”").strip()
               for text in page.locator("#preview ul li").all_inner_texts()]
    assert sorted(removed) == sorted(flagged)  # the fix offered is exactly the check's
    previewed = page.locator("#preview ol").last.locator("li").all_inner_texts()
    screenshot(page, "drift-taste-preview")
    page.get_by_role("button", name="Apply these changes").click()
    expect(page.get_by_text(f"Applied {len(flagged)} change{'' if len(flagged) == 1 else 's'}.")).to_be_visible()

    page.goto("/for-you/")
    shown = [text.strip() for text in page.locator("ol.recommendations > li strong").all_inner_texts()]
    assert shown == [re.sub(r"\s+new$", "", text.strip()) for text in previewed]
    page.goto("/drift/")
    expect(page.locator("section.verdict h2")).not_to_have_text("Yes — your recommendations are drifting")
    assert not set(flagged_titles(page)) & set(flagged)
    screenshot(page, "drift-taste-after-fix")


def test_category_free_dataset_drift_check_fix_preview_apply_and_undo(browser_page, live_server, casey):
    page = browser_page
    sign_in(page, casey, live_server.url)
    page.goto("/drift/", timeout=FIRST_LOAD_MS)
    expect(page.locator("section.verdict h2")).to_have_text("Yes — your recommendations are drifting")
    expect(page.get_by_text("has no item categories")).to_have_count(0)
    page.get_by_text("Details: how this was measured").click()
    expect(page.get_by_text("What the check measured")).to_be_visible()
    page.get_by_role("button", name="Preview this fix").click()
    page.get_by_role("button", name="Apply these changes").click()
    expect(page.get_by_text("you can undo this any time")).to_be_visible()
    result = RecourseResult.objects.get(user=casey)
    assert result.suggested_by_engine and Interaction.objects.filter(sequence__user=casey, state="excluded").count()
    page.goto("/corrections/")
    page.get_by_role("button", name="Undo").click()
    expect(page.get_by_text("Undone: your history is exactly as it was")).to_be_visible()
    assert not Interaction.objects.filter(sequence__user=casey, state="excluded").exists()
    page.goto("/drift/")
    expect(page.locator("section.verdict h2")).to_have_text("Yes — your recommendations are drifting")
    screenshot(page, "drift-taste-after-undo")
