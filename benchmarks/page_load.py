"""Full page-load time of every member page in a real browser (Playwright + Debian chromium).

    .venv/bin/python benchmarks/page_load.py http://127.0.0.1:8000 --user demo --password hikmax-demo-member
    .venv/bin/python benchmarks/page_load.py URL --width 390        # a phone-sized window

Against a running demo (``bin/demo``): signs in through the login form, loads each member page once to warm
the browser cache and the server, then ``--loads`` more times, and reports the median of the warm loads'
full-load time (navigation start to the end of the ``load`` event, from the Navigation Timing API), with the
bytes transferred by the warm-up load (after the sign-in page filled the cache) and whether the page loads
plotly.js.
Prints a Markdown table and writes var/bench/page-load-<UTC time>.json.
Target (issue 18): every member page under 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
MEMBER_PAGES = [
    ("Home", "/home/"),
    ("Catalogue", "/catalogue/"),
    ("For you", "/for-you/"),
    ("Why? (first recommendation)", None),
    ("Drift check", "/drift/"),
    ("Fix my recommendations", "/fix/"),
    ("My corrections", "/corrections/"),
    ("Your account", "/accounts/profile/"),
]
TARGET_MS = 1000.0
FULL_LOAD = "() => { const n = performance.getEntriesByType('navigation')[0]; return n.loadEventEnd - n.startTime; }"
TRANSFERRED = ("() => [performance.getEntriesByType('navigation')[0], ...performance.getEntriesByType('resource')]"
               ".reduce((sum, entry) => sum + entry.transferSize, 0)")
LOADS_PLOTLY = "() => document.querySelector('script[src*=plotly]') !== null"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url")
    parser.add_argument("--user", default="demo")
    parser.add_argument("--password", default="hikmax-demo-member")
    parser.add_argument("--loads", type=int, default=3, help="warm loads per page (the median is reported)")
    parser.add_argument("--width", type=int, default=1280)
    return parser.parse_args(argv)


def measure(base_url: str, user: str, password: str, loads: int = 3, width: int = 1280) -> list[dict]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_context(base_url=base_url, viewport={"width": width, "height": 900}).new_page()
        page.set_default_timeout(120_000)
        sign_in(page, user, password)
        rows = [measure_page(page, name, path or why_path(page), loads) for name, path in MEMBER_PAGES]
        browser.close()
    return rows


def sign_in(page, user: str, password: str) -> None:
    page.goto("/accounts/login/")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit], form input[type=submit]")
    page.wait_for_load_state("load")


def why_path(page) -> str:
    page.goto("/for-you/")
    return page.locator("a[href*='/why/']").first.get_attribute("href")


def measure_page(page, name: str, path: str, loads: int) -> dict:
    page.goto(path, wait_until="load")
    transferred, plotly = page.evaluate(TRANSFERRED), page.evaluate(LOADS_PLOTLY)
    times = []
    for _ in range(loads):
        page.goto(path, wait_until="load")
        times.append(page.evaluate(FULL_LOAD))
    return {"page": name, "path": path, "median_ms": statistics.median(times), "loads_ms": times,
            "transferred_bytes": transferred, "loads_plotly": plotly}


def report(rows: list[dict]) -> str:
    lines = ["| Page | Full load (ms, median) | Warm loads (ms) | Transferred (kB) | Loads plotly.js (4.8 MB) |",
             "|---|---:|---|---:|---|"]
    for row in rows:
        loads = ", ".join(f"{value:.0f}" for value in row["loads_ms"])
        lines.append(f"| {row['page']} | {row['median_ms']:.0f} | {loads} | {row['transferred_bytes'] / 1024:.0f} "
                     f"| {'yes' if row['loads_plotly'] else 'no'} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    args = parse_args(argv)
    load_before = os.getloadavg()
    rows = measure(args.base_url, args.user, args.password, args.loads, args.width)
    print(report(rows))
    slow = [row["page"] for row in rows if row["median_ms"] >= TARGET_MS]
    print(f"\nload average {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after; width {args.width} px; "
          + (f"over {TARGET_MS:.0f} ms: {', '.join(slow)}" if slow else f"every page under {TARGET_MS:.0f} ms"))
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    out = Path(__file__).resolve().parent.parent / "var" / "bench" / f"page-load-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"args": vars(args), "load_average": [load_before, os.getloadavg()], "pages": rows},
                              indent=2))


if __name__ == "__main__":
    main()
