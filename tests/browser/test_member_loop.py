"""The member's loop keeps its promises (issue 18), each checked in the browser against the model itself:
what is removed stays gone, the preview is what is applied, "Why?" names only what matters, its chart
is drawn inside its plot area, "Not interested" hides and undo brings back, My-history removal is undoable.
"""

import re

import pytest
from playwright.sync_api import expect

from recsys import selectors
from recsys.models import Interaction
from recsys.services import history as history_service
from recsys.services import serving

from .conftest import FIRST_LOAD_MS, screenshot, sign_in
from .loop_world import item_pk, title_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

QUOTED = re.compile(r"“([^”]+)”")


def for_you_titles(page) -> list[str]:
    page.goto("/for-you/", timeout=FIRST_LOAD_MS)
    return [text.strip() for text in page.locator("ol.recommendations > li strong").all_inner_texts()]


def full_ranking(world, entries) -> list[str]:
    """Every item the model can recommend for these history entries, best first (titles)."""
    _, recommender = serving.loaded_model(world.dataset)
    [result] = recommender.recommend([entries], n=len(recommender.index))
    return [title_of(int(key)) for key in result.items]


def returning_item(world) -> Interaction:
    """An interaction whose item ranks in the top 10 once that interaction alone is left out of the history:
    the item a careless "remove" would bring straight back."""
    entries = selectors.member_history_entries(world.member, world.dataset)
    rows = list(Interaction.objects.filter(sequence__user=world.member).chronological())
    for row in reversed(rows):
        without = [entry for entry in entries if entry[0] != str(row.item_id)]
        if title_of(row.item_id) in full_ranking(world, without)[:10]:
            return row
    pytest.fail("The test world has no interaction whose item would come back; change the world.")


def remove_on_fix_page(page, title: str) -> list[str]:
    """Choose "Remove" for one title, preview, and return the previewed top 10 (after the change)."""
    page.goto("/fix/", timeout=FIRST_LOAD_MS)
    page.get_by_label(f"Change for {title}").select_option("remove")
    page.get_by_role("button", name="Preview", exact=True).click()
    after = page.locator("#preview ol").last.locator("li")
    expect(after).to_have_count(10)
    return [re.sub(r"\s+new$", "", text.strip()) for text in after.all_inner_texts()]


def test_a_removed_item_never_reappears_in_for_you(browser_page, live_server, world):
    page = browser_page
    sign_in(page, world.member, live_server.url)
    removed = title_of(returning_item(world).item_id)
    remove_on_fix_page(page, removed)
    page.get_by_role("button", name="Apply these changes").click()
    expect(page.get_by_text("Applied 1 change")).to_be_visible()
    assert removed not in for_you_titles(page)
    screenshot(page, "loop-for-you-after-removal")


def test_the_applied_top_10_is_exactly_the_previewed_one(browser_page, live_server, world):
    page = browser_page
    sign_in(page, world.member, live_server.url)
    previewed = remove_on_fix_page(page, title_of(returning_item(world).item_id))
    screenshot(page, "loop-fix-preview")
    page.get_by_role("button", name="Apply these changes").click()
    expect(page.get_by_text("Applied 1 change")).to_be_visible()
    assert for_you_titles(page) == previewed


def test_why_names_only_interactions_whose_removal_moves_the_item(browser_page, live_server, world):
    page = browser_page
    sign_in(page, world.member, live_server.url)
    entries = selectors.member_history_entries(world.member, world.dataset)
    titles = for_you_titles(page)
    ranking = full_ranking(world, entries)
    named_any = False
    for rank, target in enumerate(titles[:3], start=1):
        page.goto("/for-you/")
        page.get_by_role("link", name=f"Why is {target} recommended?").click()
        narrative = page.locator("#narrative").inner_text()
        because = next((s for s in narrative.split(". ") if "mainly because" in s), "")
        named = [t for t in QUOTED.findall(because) if t != target]
        if not named:
            assert "many" in narrative or "popular" in narrative, narrative
            continue
        named_any = True
        for name in named:
            without = [(key, 0.0 if title_of(int(key)) == name else weight) for key, weight in entries]
            assert full_ranking(world, without).index(target) > ranking.index(target), (
                f"#{rank} “{target}”: the narrative names “{name}”, yet removing it does not move the item")
    screenshot(page, "loop-why")
    assert named_any or "many" in narrative


@pytest.mark.parametrize("width", [1280, 390])
def test_why_bars_are_drawn_inside_the_plot_area(browser_page, live_server, world, width):
    page = browser_page
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, world.member, live_server.url)
    target = for_you_titles(page)[0]
    page.get_by_role("link", name=f"Why is {target} recommended?").click()
    chart = page.locator("#top-contributors")
    bars = chart.locator(".barlayer path")
    expect(bars.first).to_be_attached()
    page.wait_for_timeout(500)  # plotly may redraw once to fit its container
    visible = page.locator("figure.chart").filter(has=chart).bounding_box()
    svg = chart.locator(".main-svg").first.bounding_box()
    assert svg["x"] + svg["width"] <= visible["x"] + visible["width"] + 1, ("the chart is wider than its box", svg,
                                                                           visible)
    area = chart.locator(".nsewdrag").first.bounding_box()
    assert area["x"] >= visible["x"] - 1 and area["x"] + area["width"] <= visible["x"] + visible["width"] + 1
    assert area["width"] >= visible["width"] / 2, "the titles squeeze the bars into a sliver"
    for box in (bar.bounding_box() for bar in bars.all()):
        if box is None or box["width"] == 0:
            continue
        assert area["x"] - 1 <= box["x"] and box["x"] + box["width"] <= area["x"] + area["width"] + 1, (box, area)
        assert area["y"] - 1 <= box["y"] and box["y"] + box["height"] <= area["y"] + area["height"] + 1, (box, area)
    screenshot(page, f"loop-why-chart-{width}")


def test_not_interested_hides_an_item_and_undo_brings_it_back(browser_page, live_server, world):
    page = browser_page
    sign_in(page, world.member, live_server.url)
    before = for_you_titles(page)
    hidden = before[1]
    page.get_by_role("button", name=f"Not interested in {hidden}").click()
    expect(page.locator("ol.recommendations > li strong").filter(has_text=hidden)).to_have_count(0)
    assert hidden not in for_you_titles(page)
    page.goto("/corrections/")
    row = page.get_by_role("row").filter(has_text=hidden)
    expect(row).to_contain_text("Not interested")
    screenshot(page, "loop-corrections-not-interested")
    row.get_by_role("button", name="Undo").click()
    expect(page.locator("ul.messages")).to_contain_text("Undone")
    assert for_you_titles(page) == before


def test_history_remove_is_undoable_and_a_correction_stays_undoable(browser_page, live_server, world):
    page = browser_page
    sign_in(page, world.member, live_server.url)
    added = history_service.add_item(user=world.member, item=world.dataset.items.get(pk=item_pk(2, 0)))
    removed_here = title_of(world.member.sequences.get().interactions.order_by("timestamp").first().item_id)

    page.goto("/home/")
    page.get_by_role("button", name=f"Remove {removed_here} from your history").click()
    row = page.get_by_role("row").filter(has_text=removed_here)
    expect(row).to_contain_text("Removed")
    page.goto("/corrections/")
    page.get_by_role("row").filter(has_text=removed_here).get_by_role("button", name="Undo").click()
    expect(page.locator("ul.messages")).to_contain_text("Undone")
    assert Interaction.objects.filter(sequence__user=world.member, state="active").count() == 10

    remove_on_fix_page(page, added.item.title)
    page.get_by_role("button", name="Apply these changes").click()
    expect(page.get_by_text("Applied 1 change")).to_be_visible()
    page.goto("/home/")
    row = page.get_by_role("row").filter(has_text=added.item.title)
    expect(row).to_contain_text("Removed")
    expect(row.get_by_role("button", name=f"Remove {added.item.title} from your history")).to_have_count(0)
    screenshot(page, "loop-history-removed-row")
    page.goto("/corrections/")
    page.get_by_role("row").filter(has_text=added.item.title).get_by_role("button", name="Undo").click()
    expect(page.locator("ul.messages")).to_contain_text("Undone")
    assert Interaction.objects.get(pk=added.pk).state == Interaction.State.ACTIVE
