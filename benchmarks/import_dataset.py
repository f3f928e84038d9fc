"""Time dataset imports into the database in DATABASE_URL; print a Markdown table.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/hikmax_bench .venv/bin/python benchmarks/import_dataset.py

Writes an ML-1M-shaped set (6,040 users, 3,706 rated items, 1,000,209 ratings) with
``recsys.importers.synthetic.generate_movielens_1m_like`` into a temporary folder (real titles and genres when
``--catalogue`` points at an ML-1M ``movies.dat``), then imports it and ``--small`` (ML-100K, RecBole
atomic files) twice each. Every import runs in a fresh Python process, so its wall time and peak RSS
are its own: ``ru_maxrss`` of the whole process (start-up included) and, where Linux allows resetting
it, VmHWM reset just before the import. The second import of each set must leave the row counts unchanged.
By default the database is dropped and re-created first (its name must contain "bench").
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
DEFAULT_CATALOGUE = SHARED_DATA / "ml-1m" / "movies.dat"
DEFAULT_SMALL = SHARED_DATA / "ml-100k-recbole"
TARGETS = {"ml1m": (30.0, 1536.0), "ml100k": (5.0, None)}  # seconds, MiB


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--catalogue",
        type=Path,
        default=DEFAULT_CATALOGUE,
        help="ML-1M movies.dat for real titles (ignored if missing)",
    )
    parser.add_argument("--small", type=Path, default=DEFAULT_SMALL, help="the small set (RecBole files)")
    parser.add_argument("--small-format", default="recbole")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep-database", action="store_true", help="do not drop and re-create the database")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--child", nargs=3, metavar=("NAME", "PATH", "FORMAT"), help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hikmax_site.settings")
    import django

    django.setup()


# ---------------------------------------------------------------- one import (child process)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def proc_status_mib(field: str) -> float | None:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return None


def reset_peak_rss() -> bool:
    """Reset VmHWM (Linux >= 4.0) so it measures the import alone; ru_maxrss cannot be reset."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def run_child_import(name: str, path: str, format: str) -> None:
    """Import once and print one JSON line: wall seconds, memory figures, row counts."""
    setup_django()
    from recsys.services.imports import import_dataset

    rss_at_start = proc_status_mib("VmRSS")
    can_reset = reset_peak_rss()
    started = time.perf_counter()
    import_dataset(name=name, path=path, format=format)
    seconds = time.perf_counter() - started
    result = {
        "seconds": seconds,
        "peak_rss_mib": peak_rss_mib(),
        "import_peak_rss_mib": proc_status_mib("VmHWM") if can_reset else None,
        "rss_at_start_mib": rss_at_start,
    }
    print(json.dumps({**result, "counts": row_counts(name)}))


def row_counts(name: str) -> dict[str, int]:
    from recsys.models import Dataset, Interaction

    dataset = Dataset.objects.get(name=name)
    return {
        "items": dataset.items.count(),
        "users": dataset.sequences.count(),
        "interactions": Interaction.objects.filter(sequence__dataset=dataset).count(),
    }


def import_in_subprocess(name: str, path: Path, format: str) -> dict:
    command = [sys.executable, __file__, "--child", name, str(path), format]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if completed.returncode != 0:
        sys.exit(f"Import of {name} failed:\n{completed.stderr[-4000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- database


def prepare_database(recreate: bool) -> None:
    from django.conf import settings
    from django.core.management import call_command

    database = settings.DATABASES["default"]
    if recreate:
        recreate_database(database)
    call_command("migrate", verbosity=0)


def recreate_database(database: dict) -> None:
    name = str(database["NAME"])
    if "bench" not in Path(name).name:
        sys.exit(f"Refusing to drop {name!r}: the benchmark database's name must contain 'bench'.")
    if database["ENGINE"].endswith("sqlite3"):
        Path(name).unlink(missing_ok=True)
        return
    from django.db import connection

    with connection._nodb_cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')


def describe_database() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0]}"
    return f"{connection.vendor} {connection.Database.sqlite_version}"


# ---------------------------------------------------------------- data


def write_ml1m_like(directory: Path, catalogue: Path | None, seed: int) -> float:
    from recsys.importers.synthetic import generate_movielens_1m_like

    started = time.perf_counter()
    generate_movielens_1m_like(directory, seed=seed, catalogue_path=catalogue)
    return time.perf_counter() - started


def count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)


# ---------------------------------------------------------------- report


def machine_description() -> dict[str, str]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    memory_kib = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal"))
    return {
        "cores": str(os.cpu_count()),
        "cpu": cpu,
        "ram": f"{memory_kib / 1024**2:.1f} GiB",
        "python": platform.python_version(),
    }


def verdict(name: str, run: dict) -> str:
    seconds_limit, memory_limit = TARGETS[name]
    ok = run["seconds"] <= seconds_limit and (memory_limit is None or run["peak_rss_mib"] <= memory_limit)
    return "yes" if ok else "**no**"


def markdown_table(runs: list[dict]) -> str:
    lines = [
        "| set | import | seconds | peak RSS of the process (MiB) | peak RSS during the import (MiB) "
        "| RSS before the import (MiB) | items | users | interactions | rows unchanged | within target |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for run in runs:
        counts = run["counts"]
        import_peak = "n/a" if run["import_peak_rss_mib"] is None else f"{run['import_peak_rss_mib']:,.0f}"
        lines.append(
            f"| {run['label']} | {run['attempt']} | {run['seconds']:.1f} | {run['peak_rss_mib']:,.0f} | "
            f"{import_peak} | {run['rss_at_start_mib']:,.0f} | "
            f"{counts['items']:,} | {counts['users']:,} | {counts['interactions']:,} | "
            f"{run.get('unchanged', '–')} | {verdict(run['name'], run)} |"
        )
    return "\n".join(lines)


def benchmark_set(name: str, label: str, path: Path, format: str) -> list[dict]:
    first = {"name": name, "label": label, "attempt": "first", **import_in_subprocess(name, path, format)}
    again = {"name": name, "label": label, "attempt": "again", **import_in_subprocess(name, path, format)}
    again["unchanged"] = "yes" if again["counts"] == first["counts"] else "**no**"
    return [first, again]


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.child:
        run_child_import(*args.child)
        return 0
    setup_django()
    prepare_database(recreate=not args.keep_database)
    catalogue = args.catalogue if args.catalogue.exists() else None
    with tempfile.TemporaryDirectory(prefix="hikmax-ml1m-") as folder:
        generation_seconds = write_ml1m_like(Path(folder), catalogue, args.seed)
        ratings_lines = count_lines(Path(folder) / "ratings.dat")
        runs = benchmark_set("ml1m", "ML-1M-shaped (synthetic ratings.dat)", Path(folder), "ml-1m")
    runs += benchmark_set("ml100k", f"{args.small.name} ({args.small_format})", args.small, args.small_format)
    print_report(runs, generation_seconds, ratings_lines, catalogue)
    if args.json:
        args.json.write_text(json.dumps({"machine": machine_description(), "runs": runs}, indent=2))
    problems = [run for run in runs if verdict(run["name"], run) != "yes" or run.get("unchanged") == "**no**"]
    return 1 if problems else 0


def print_report(runs: list[dict], generation_seconds: float, ratings_lines: int, catalogue: Path | None) -> None:
    machine = machine_description()
    print(f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"Machine: {machine['cores']} cores, {machine['cpu']}, {machine['ram']} RAM, Python {machine['python']}")
    print(f"Database: {describe_database()}")
    print("Load average (1, 5, 15 min) at the end: " + ", ".join(f"{load:.2f}" for load in os.getloadavg()))
    print(
        f"Generated ratings.dat: {ratings_lines:,} lines in {generation_seconds:.1f} s "
        f"(catalogue: {catalogue or 'invented titles'})"
    )
    print()
    print(markdown_table(runs))


if __name__ == "__main__":
    sys.exit(main())
