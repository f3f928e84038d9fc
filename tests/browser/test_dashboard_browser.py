"""An analyst opens all nine research dashboard sections: no console errors, a screenshot of each."""

import struct

import pytest
from playwright.sync_api import expect

from dashboard import reads as dashboard
from recourse.services import experiments
from tests.web.conftest import train_now
from tests.web.factories import make_dataset, make_history

from .conftest import SCREENSHOTS, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ARTIFACTS = SCREENSHOTS.parent / "downloads"


def _demo_data():
    dataset = make_dataset(name="browser-demo", n_items=30)
    for u in range(25):
        make_history(dataset, external_user_id=f"u{u}", item_ids=[(u * 7 + k * 3) % 30 + 1 for k in range(10)])
    train_now(dataset)
    experiment = experiments.create_experiment(dataset=dataset, n_users=8, seed=1, ig_steps=4)
    experiments.run_experiment(experiment=experiment)
    return dataset


def test_analyst_opens_every_section(browser_page, live_server, make_user):
    dataset = _demo_data()
    analyst = make_user("analyst", is_staff=True)
    page = browser_page
    sign_in(page, analyst, live_server.url)
    sections = [slug for slug, _, _ in dashboard.SECTIONS]
    for number, slug in enumerate(sections, start=1):
        page.goto(f"/research/{_path(slug)}?dataset={dataset.pk}&user=u3&strategy=category&seed=2")
        nav = page.get_by_role("navigation", name="Research dashboard sections")
        expect(nav.locator("[aria-current=page]")).to_have_count(1)
        expect(page.locator("h1")).to_be_visible()
        screenshot(page, f"dashboard-{number:02d}-{slug}")
    page.goto(f"/research/overview/?dataset={dataset.pk}")
    page.get_by_role("link", name="5 Drift analysis").focus()
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server.url}/research/drift/?dataset={dataset.pk}")


def _path(slug: str) -> str:
    return {"registry": "models/"}.get(slug, f"{slug}/")


def test_analyst_downloads_summary_as_png(browser_page, live_server, make_user):
    dataset = _demo_data()
    analyst = make_user("analyst", is_staff=True)
    page = browser_page
    sign_in(page, analyst, live_server.url)
    page.goto(f"/research/summary/?dataset={dataset.pk}")
    expect(page.locator("#summary-body .js-plotly-plot")).to_have_count(4)
    button = page.get_by_role("button", name="Download as PNG")
    button.focus()
    with page.expect_download() as download_info:
        page.keyboard.press("Enter")
    download = download_info.value
    assert download.suggested_filename == f"hikmax-summary-{dataset.name}.png"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / download.suggested_filename
    download.save_as(path)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 600 and height > 4 * 300, (width, height)  # the heading, the stats and four charts
    assert len(data) > 50_000
    expect(page.get_by_role("status").filter(has_text="PNG ready")).to_be_visible()
    expect(page.get_by_role("link", name="Download as standalone HTML")).to_have_attribute(
        "href", f"/research/summary/download/?dataset={dataset.pk}"
    )
    screenshot(page, "dashboard-09-summary-png-exported")
