"""Phones and page weight: at 390 px no table cell breaks a word letter by letter, the Fix page's live preview
is on screen beside (1280 px) or below (390 px) the row the member changed, and chart-free pages never fetch
plotly.js while chart pages do. The full-load times are printed (benchmarks/page_load.py measures the demo)."""

import statistics

import pytest
from playwright.sync_api import expect

from recourse.services import context
from recsys.models import Interaction
from recsys.services import serving
from tests.web.conftest import train_now
from tests.web.factories import make_dataset, make_history

from .conftest import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONGEST_WORDS = """(cells) => cells.map((cell) => {
  const words = cell.innerText.split(/\\s+/).filter(Boolean);
  const range = document.createRange();
  range.selectNodeContents(cell);
  const lines = new Set([...range.getClientRects()].map((rect) => Math.round(rect.top))).size;
  return {text: cell.innerText.slice(0, 40), words: words.length, lines: lines};
})"""
CHART_TITLE_EDGES = """() => [...document.querySelectorAll('.main-svg text.gtitle, .main-svg text.xtitle')]
.map((text) => {
  const box = text.getBoundingClientRect();
  return {text: text.textContent, left: box.left, right: box.right};
})"""
FULL_LOAD = "() => { const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd - n.startTime; }"


@pytest.fixture
def member(make_user):
    dataset = make_dataset(n_items=30)
    dataset.items.filter(external_id="3").update(
        title="Prisoner of the Mountains (Kavkazsky Plennik) (1996)", categories="Action|Adventure|Comedy|Sci-Fi|War")
    for number in range(25):
        make_history(dataset, external_user_id=f"u{number}", item_ids=[(number + k) % 30 + 1 for k in range(8)])
    alice = make_user("alice")
    make_history(dataset, user=alice, external_user_id="alice", item_ids=(1, 6, 11, 2, 3, 4, 7, 8, 9, 10, 12, 13))
    model = train_now(dataset)
    context.calibrate_all(model, serving.loaded_model(dataset)[1])
    return alice


def assert_no_letter_by_letter_wrapping(page, table: str) -> None:
    cells = page.locator(f"{table} td").evaluate_all(LONGEST_WORDS)
    assert cells
    broken = [cell for cell in cells if cell["words"] and cell["lines"] > cell["words"]]
    assert not broken, f"words broken across lines in {table}: {broken[:3]}"


def test_tables_read_as_words_at_390_px(browser_page, live_server, member):
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    # the dataset switcher then lists "… (your history; no recommendations yet)": it must not widen the page
    make_history(make_dataset(name="Another catalogue without a model"), user=member, external_user_id="alice",
                 item_ids=(1, 2))
    sign_in(page, member, live_server.url)
    for path, table in (("/catalogue/", "table.catalogue-table"), ("/fix/", "table.fix-table"),
                        ("/home/", "table.history-table")):
        page.goto(path)
        assert_no_letter_by_letter_wrapping(page, table)
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
        screenshot(page, f"mobile-{path.strip('/')}-390")
    page.goto("/for-you/")
    expect(page.locator("option", has_text="no recommendations yet")).to_have_count(1)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390


CELL_LABELS = """(table) => {
  const headers = [...table.querySelectorAll('thead th')].map((th) => th.textContent.trim());
  return [...table.querySelectorAll('tbody tr')].flatMap((row) => [...row.cells].map((cell, column) => ({
    header: headers[column], label: getComputedStyle(cell, '::before').content.replace(/^"|"$/g, '').trim(),
  }))).filter((cell) => cell.label && cell.label !== 'none' && cell.label !== '#');
}"""


def test_phone_cell_labels_name_the_column_they_sit_in(browser_page, live_server, member):
    """At 390 px the header row is hidden and cells carry their own labels; with a categories column (and without a
    rating column) the labels sat one column off: "weight if lowered" beside the Keep/Remove choice, "Rating:" on
    the status of a member who never rated."""
    Interaction.objects.filter(sequence__user=member).update(rating=None)
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, member, live_server.url)
    for path, table in (("/fix/", "table.fix-table"), ("/home/", "table.history-table"),
                        ("/catalogue/", "table.catalogue-table")):
        page.goto(path)
        labels = page.locator(table).evaluate(CELL_LABELS)
        wrong = [cell for cell in labels if cell["label"].rstrip(":").lower() != cell["header"].lower()]
        assert not wrong, f"{path}: labels in the wrong column: {wrong[:3]}"
        if path == "/fix/":
            assert labels, "the weight cells lost their label"


def test_why_chart_titles_stay_on_a_390_px_screen(browser_page, live_server, member):
    """The contributions chart's title and axis title each ran off both sides of a phone's screen."""
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, member, live_server.url)
    page.goto("/for-you/")
    page.locator("main a", has_text="Why?").first.click()
    page.locator("#top-contributors .main-svg").first.wait_for()
    titles = page.evaluate(CHART_TITLE_EDGES)
    assert any("pushed" in title["text"] for title in titles)
    cut = [title for title in titles if title["left"] < 0 or title["right"] > 390]
    assert not cut, f"chart titles cut off at 390 px: {cut}"
    screenshot(page, "why-390")


@pytest.mark.parametrize("width", [1280, 390])
def test_the_live_preview_is_on_screen_next_to_the_change(browser_page, live_server, member, width):
    page = browser_page
    page.set_viewport_size({"width": width, "height": 844})
    sign_in(page, member, live_server.url)
    page.goto("/fix/")
    select = page.get_by_label("Change for Film 09 (1999)")
    select.scroll_into_view_if_needed()
    select.select_option("remove")
    preview = page.locator("#live-preview")
    expect(preview).to_contain_text("Live preview — nothing has changed yet")
    expect(preview.locator("ol").last.locator("li")).to_have_count(10)
    select.scroll_into_view_if_needed()  # where the member is looking once the preview has updated
    box, row = preview.bounding_box(), select.bounding_box()
    viewport = page.viewport_size
    assert box["y"] < viewport["height"] and box["y"] + box["height"] > 0, "the preview is off screen"
    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"] + 1
    assert row["y"] >= 0 and row["y"] + row["height"] <= viewport["height"], "the changed row is off screen"
    if width == 1280:
        assert box["x"] > row["x"] + row["width"], "the preview should sit beside the list"
    else:
        assert box["y"] >= row["y"] + row["height"] - 1, "the preview should not hide the changed row"
    screenshot(page.context.pages[0], f"fix-live-preview-{width}")


def test_only_pages_with_charts_fetch_plotly_and_they_load_quickly(browser_page, live_server, member):
    page = browser_page
    fetched = []
    page.on("request", lambda request: fetched.append(request.url))
    sign_in(page, member, live_server.url)
    timings = {}
    for path, has_chart in (("/for-you/", False), ("/catalogue/", False), ("/fix/", False),
                            ("/corrections/", False), ("/accounts/profile/", False), ("/home/", True),
                            ("/drift/", True)):
        fetched.clear()
        page.goto(path, wait_until="load")
        assert any("plotly" in url for url in fetched) == has_chart, path
        loads = []
        for _ in range(3):
            page.goto(path, wait_until="load")
            loads.append(page.evaluate(FULL_LOAD))
        timings[path] = statistics.median(loads)
    print("full load, median of 3 warm loads (ms):", {path: round(ms) for path, ms in timings.items()})
