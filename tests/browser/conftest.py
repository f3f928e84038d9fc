"""Playwright (sync API) driving Debian's chromium against pytest-django's live server.

``browser_page`` is a fresh page whose console errors and uncaught exceptions fail the test;
``screenshot(page, name)`` saves ``artifacts/screenshots/<name>.png`` (the CI artefact folder).
"""

import os
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from tests.web.conftest import train_now
from tests.web.factories import make_dataset, make_history

from .loop_world import trained_world_model, world  # noqa: F401 (fixtures of the member-loop tests)

# The live server and Playwright's sync API share this thread's event loop.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000  # actions and expect(); generous because CI machines are often busy
NAVIGATION_TIMEOUT_MS = 45_000  # every page loads plotly.js (3.5 MB) in its head
FIRST_LOAD_MS = 60_000  # a page's first load: the live server loads the model on its first request

expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="session")
def chromium_browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium_browser, live_server):
    """A page in a fresh browser context; ``page.console_errors`` lists what went wrong in the page."""
    context = chromium_browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
    page = context.new_page()
    page.console_errors = []
    page.on("console", lambda message: _record_console_error(page, message))
    page.on("pageerror", lambda error: page.console_errors.append(f"uncaught: {error}"))
    yield page
    errors = list(page.console_errors)
    context.close()
    if errors:
        pytest.fail("Browser console errors:\n" + "\n".join(errors), pytrace=False)


def _record_console_error(page, message) -> None:
    if message.type == "error":
        page.console_errors.append(f"{message.text} ({message.location.get('url', '')})")


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot as ``artifacts/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page, user, base_url: str) -> None:
    """Give the page's browser context a session for ``user`` without going through the sign-in form."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": base_url}])


@pytest.fixture
def member_with_model(make_user):
    """alice, with a 4-item history in a 30-item dataset whose SASRec is trained and active."""
    dataset = make_dataset(n_items=30)
    for number in range(25):
        make_history(dataset, external_user_id=f"u{number}", item_ids=[(number + k) % 30 + 1 for k in range(8)])
    member = make_user("alice")
    make_history(dataset, user=member, external_user_id="alice", item_ids=(1, 2, 3, 4))
    train_now(dataset)
    return member
