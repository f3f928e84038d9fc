"""HTTP load on For you and Why? (cached) through gunicorn + PostgreSQL, loopback only, bounded in time.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hikmax_rel_load HIKMAX_VAR_DIR=var/load \
        .venv/bin/python manage.py setup_demo            # once: demo dataset, accounts, active model
    DATABASE_URL=... HIKMAX_VAR_DIR=var/load .venv/bin/python benchmarks/load.py --seconds 60 --clients 8

Starts gunicorn on 127.0.0.1 (its own port, --workers/--threads), signs the demo member in once per client,
warms the Why? cache for the member's top-10, then runs `--clients` keep-alive clients for `--seconds`
per page, each in a closed loop (next request as soon as the previous answers). Prints and writes to
var/bench/load-<UTC>.json: requests/s, p50/p95/p99 latency, errors, the load average before and after, and
where the CPU went: milliseconds of CPU per request in gunicorn (all its processes), in the PostgreSQL
backends serving this database, in Redis, and in this load generator (read from /proc, so Linux only).
Targets (issue 20): For you p95 < 100 ms at >= 150 requests/s; Why? (cached) p95 < 300 ms; 0 errors.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"  # loopback only, by design


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="per page; at most 300")
    parser.add_argument("--clients", type=int, default=8, help="concurrent keep-alive clients (at most 64)")
    parser.add_argument("--workers", type=int, help="default: hikmax_site/gunicorn.conf.py's")
    parser.add_argument("--threads", type=int, help="default: hikmax_site/gunicorn.conf.py's")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--page", choices=("for-you", "why", "both"), default="both")
    parser.add_argument("--username", default="demo")
    parser.add_argument("--password", default="hikmax-demo-member")
    args = parser.parse_args(argv)
    args.seconds = min(args.seconds, 300.0)
    args.clients = max(1, min(args.clients, 64))
    return args


class Session:
    """One keep-alive connection with a signed-in session cookie."""

    def __init__(self, port: int):
        self.port = port
        self.cookies: dict[str, str] = {}
        self.connection = http.client.HTTPConnection(HOST, port, timeout=120)

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str, dict]:
        try:
            return self._request(method, path, body)
        except http.client.RemoteDisconnected:  # the server closed an idle keep-alive connection: once more
            return self._request(method, path, body)

    def _request(self, method: str, path: str, body: str | None = None) -> tuple[int, str, dict]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()), "Host": f"{HOST}:{self.port}"}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Referer"] = f"http://{HOST}:{self.port}{path}"
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
        except (http.client.HTTPException, OSError):
            self.connection.close()
            self.connection = http.client.HTTPConnection(HOST, self.port, timeout=30)
            raise
        text = response.read().decode(errors="replace")
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return response.status, text, dict(response.getheaders())

    def sign_in(self, username: str, password: str) -> None:
        self.request("GET", "/accounts/login/")
        body = urlencode({"username": username, "password": password,
                          "csrfmiddlewaretoken": self.cookies.get("csrftoken", "")})
        status, _, headers = self.request("POST", "/accounts/login/", body)
        if status != 302:
            raise SystemExit(f"Sign-in as {username} failed ({status}); run setup_demo on this database first.")


def start_gunicorn(args) -> subprocess.Popen:
    if args.workers is None or args.threads is None:  # the production configuration's own sizing
        config: dict = {}
        exec((ROOT / "hikmax_site/gunicorn.conf.py").read_text(), config)  # noqa: S102 (our own config file)
        args.workers = args.workers or config["workers"]
        args.threads = args.threads or config["threads"]
    env = {**os.environ, "DEBUG": "false"}
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "hikmax_site.wsgi:application", "-c", "hikmax_site/gunicorn.conf.py",
         "--bind", f"{HOST}:{args.port}", "--workers", str(args.workers), "--threads", str(args.threads),
         "--timeout", "120", "--log-level", "warning"],
        cwd=ROOT, env=env, start_new_session=True)
    deadline = time.time() + 240
    while time.time() < deadline:
        try:
            probe = http.client.HTTPConnection(HOST, args.port, timeout=120)
            probe.request("GET", "/accounts/login/")
            probe.getresponse().read()
            return server
        except (OSError, http.client.HTTPException):
            time.sleep(0.5)
    os.killpg(server.pid, signal.SIGTERM)
    raise SystemExit("gunicorn did not start")


def _cpu_of(pid: int) -> float | None:
    """User + system CPU seconds used so far by one process (None once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def _processes() -> list[tuple[int, int, str]]:
    """(pid, process group, command line) of every process."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                group = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[2])
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            found.append((int(entry.name), group, command))
    return found


class CpuMeter:
    """CPU seconds spent during a run by gunicorn (its process group), the PostgreSQL backends of our
    database, Redis and this load generator. Processes are sampled every half second, so a backend that
    ends mid-run (a persistent connection reaching CONN_MAX_AGE) still counts up to its last sample."""

    def __init__(self, server_group: int):
        self.server_group = server_group
        self.database = os.environ.get("DATABASE_URL", "").rsplit("/", 1)[-1].split("?")[0]
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.kind: dict[int, str] = {}
        self.stop = threading.Event()
        self.sample(initial=True)
        self.own_start = time.process_time()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _kind(self, group: int, command: str) -> str | None:
        if group == self.server_group:
            return "gunicorn"
        if self.database and command.startswith("postgres:") and f" {self.database} " in command:
            return "postgres"
        if command.startswith("redis-server"):
            return "redis"
        return None

    def sample(self, initial: bool = False) -> None:
        for pid, group, command in _processes():
            kind = self.kind.get(pid) or self._kind(group, command)
            if kind is None:
                continue
            cpu = _cpu_of(pid)
            if cpu is None:
                continue
            self.kind[pid] = kind
            self.first.setdefault(pid, cpu if initial else 0.0)  # a process started mid-run counts from 0
            self.last[pid] = cpu

    def _loop(self) -> None:
        while not self.stop.wait(0.5):
            self.sample()

    def finish(self) -> dict[str, float]:
        self.stop.set()
        self.thread.join()
        self.sample()
        used = {"gunicorn": 0.0, "postgres": 0.0, "redis": 0.0,
                "load_generator": time.process_time() - self.own_start}
        for pid, kind in self.kind.items():
            used[kind] += self.last[pid] - self.first[pid]
        return used


def run_page(args, path: str, server_group: int) -> dict:
    sessions = []
    for _ in range(args.clients):
        session = Session(args.port)
        session.sign_in(args.username, args.password)
        sessions.append(session)
    for session in sessions:  # warm every worker's model and cache
        session.request("GET", path)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.perf_counter() + args.seconds

    def client(session: Session) -> None:
        mine, failed = [], []
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            try:
                status, _, _ = session.request("GET", path)
            except (http.client.HTTPException, OSError) as exc:
                failed.append(type(exc).__name__)
                continue
            mine.append(1000.0 * (time.perf_counter() - started))
            if status != 200:
                failed.append(str(status))
        with lock:
            latencies.extend(mine)
            errors.extend(failed)

    load_before = os.getloadavg()
    meter = CpuMeter(server_group)
    threads = [threading.Thread(target=client, args=(session,)) for session in sessions]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - began
    cpu_used = meter.finish()
    latencies.sort()
    cpu_ms = {name: round(1000 * seconds / max(1, len(latencies)), 2) for name, seconds in cpu_used.items()}

    def pct(p: float) -> float:
        return round(latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))], 1) if latencies else 0.0

    return {"path": path, "clients": args.clients, "seconds": round(elapsed, 1), "requests": len(latencies),
            "requests_per_second": round(len(latencies) / elapsed, 1), "p50_ms": pct(50), "p95_ms": pct(95),
            "p99_ms": pct(99), "errors": len(errors), "error_kinds": sorted(set(errors))[:5],
            "cpu_ms_per_request": cpu_ms,
            "cpu_cores_busy": round(sum(cpu_used.values()) / elapsed, 2),
            "load_before": [round(x, 2) for x in load_before], "load_after": [round(x, 2) for x in os.getloadavg()]}


def why_path(args) -> str:
    session = Session(args.port)
    session.sign_in(args.username, args.password)
    status, page, _ = session.request("GET", "/for-you/")
    found = re.search(r'href="(/why/\d+/)', page)
    if status != 200 or not found:
        raise SystemExit("For you shows no recommendation with a Why? link; is the demo model active?")
    return found.group(1)


def main(argv=None) -> None:
    args = parse_args(argv)
    server = start_gunicorn(args)
    pages = [] if args.page == "why" else ["/for-you/"]
    try:
        if args.page != "for-you":
            pages.append(why_path(args))
        results = [run_page(args, path, server.pid) for path in pages]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    header = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "cpus": os.cpu_count(),
              "gunicorn": {"workers": args.workers, "threads": args.threads}}
    for result in results:
        print(json.dumps(result))
    out = ROOT / "var" / "bench" / f"load-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**header, "results": results}, indent=1))
    print(f"Written to {out}")


if __name__ == "__main__":
    sys.exit(main())
