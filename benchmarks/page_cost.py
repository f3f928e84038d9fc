"""Per-request CPU cost of For you and Why? (cached), in-process, with the SQL queries each request runs.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hikmax_rel_load CACHE_URL=redis://127.0.0.1:6379/5 \
        HIKMAX_VAR_DIR=var/load .venv/bin/python benchmarks/page_cost.py --requests 200
    ... benchmarks/page_cost.py --profile for-you      # cProfile of 50 requests, top 30 by cumulative time

Against the load world of benchmarks/load.py (``setup_demo`` into the database). Signs the demo member in
through Django's test client (the whole middleware stack and the cache and session backends the settings
name), warms the page (model load, caches) with a few requests, then times ``--requests`` requests of each
page: process-CPU and wall milliseconds per request (p50, mean), SQL queries per request and response bytes.
Prints JSON lines and writes var/bench/page-cost-<UTC>.json. ``--code /path/to/other/checkout`` measures
that checkout's code on the same database (a before/after on the same machine and data).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hikmax_site.settings")
os.environ.setdefault("DEBUG", "false")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--warm", type=int, default=5)
    parser.add_argument("--username", default="demo")
    parser.add_argument("--profile", choices=("for-you", "why"), help="cProfile this page instead of timing")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--code", type=Path, default=ROOT,
                        help="the checkout whose code is measured (e.g. another branch's worktree, for a before/after)")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    sys.path.insert(0, str(args.code.resolve()))
    os.chdir(args.code)
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User

    client = Client()
    client.force_login(User.objects.get(username=args.username))
    page = client.get("/for-you/")
    found = re.search(r'href="(/why/\d+/)', page.content.decode())
    if page.status_code != 200 or not found:
        raise SystemExit("For you shows no recommendation with a Why? link; run setup_demo on this database.")
    pages = {"for-you": "/for-you/", "why": found.group(1)}

    if args.profile:
        path = pages[args.profile]
        for _ in range(args.warm):
            client.get(path)
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(50):
            client.get(path)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(args.top)
        return

    results = []
    for name, path in pages.items():
        for _ in range(args.warm):
            assert client.get(path).status_code == 200
        cpu, wall, queries, sizes = [], [], [], []
        for _ in range(args.requests):
            with CaptureQueriesContext(connection) as captured:
                c0, w0 = time.process_time(), time.perf_counter()
                response = client.get(path)
                c1, w1 = time.process_time(), time.perf_counter()
            assert response.status_code == 200, response.status_code
            cpu.append(1000 * (c1 - c0))
            wall.append(1000 * (w1 - w0))
            queries.append(len(captured))
            sizes.append(len(response.content))
        result = {"page": name, "path": path, "requests": args.requests,
                  "cpu_ms_p50": round(statistics.median(cpu), 2), "cpu_ms_mean": round(statistics.fmean(cpu), 2),
                  "wall_ms_p50": round(statistics.median(wall), 2), "wall_ms_mean": round(statistics.fmean(wall), 2),
                  "queries": round(statistics.fmean(queries), 1), "bytes": int(statistics.median(sizes))}
        results.append(result)
        print(json.dumps(result))
    from django.conf import settings

    out = ROOT / "var" / "bench" / f"page-cost-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load_average": os.getloadavg(),
        "code": str(args.code.resolve()),
        "cache": settings.CACHES["default"]["BACKEND"], "session_engine": settings.SESSION_ENGINE,
        "results": results}, indent=1))
    print(f"Written to {out}")


if __name__ == "__main__":
    main()
