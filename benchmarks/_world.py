"""Shared world for the XAI benchmarks (explain.py, recourse.py); built once, cached under var/bench/.

    .venv/bin/python benchmarks/_world.py            # build (or check) the world and print its summary
    .venv/bin/python benchmarks/_world.py --epochs 3 --train-minutes 20

What it holds:
- PostgreSQL database ``hikmax_bench_xai`` (override: ``HIKMAX_BENCH_XAI_DB``; created and migrated here;
  not ``hikmax_bench``, which benchmarks/import_dataset.py drops on every run), ``HIKMAX_VAR_DIR=var/bench``;
- dataset ``bench-ml1m``: the ML-1M-shaped generated set (6,040 users x 3,706 items x 1,000,209
  interactions, ``recsys.importers.synthetic.generate`` seed 0, real ML-1M titles/genres when
  ../shared/data/ml-1m/movies.dat exists), imported with ``load_parsed``;
- MEMBERS member accounts ``bench-00``.. linked to sequences with >= 200 interactions (L=200 full);
- a SASRec (L=200, d=64, 2 blocks, 1 head) trained for a few epochs, saved as the artefact of a ready,
  active ``TrainedModel``; epochs, validation NDCG@10 and training time are recorded in
  var/bench/world.json;
- drift calibrations (taste and genre) stored on the model (``recourse.services.context.calibrate_all``).

Import ``setup_django()`` before any Django import; it points Django at the bench database and var dir.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BENCH_VAR = ROOT / "var" / "bench"
WORLD_FILE = BENCH_VAR / "world.json"
# benchmarks/import_dataset.py drops and re-creates "hikmax_bench" on every run (DROP ... WITH (FORCE)),
# which would destroy this world mid-measurement; so the XAI world lives in its own database by default.
DB_NAME = os.environ.get("HIKMAX_BENCH_XAI_DB", "hikmax_bench_xai")
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"
DATASET = "bench-ml1m"
CATALOGUE = ROOT.parent / "shared" / "data" / "ml-1m" / "movies.dat"
MEMBERS = 30
MEMBER_PREFIX = "bench-"
MEMBER_PASSWORD = "bench-member-password"  # loopback-only benchmark accounts
MIN_HISTORY = 200
MODEL_CONFIG = {"max_len": 200, "hidden": 64, "blocks": 2, "heads": 1, "batch_size": 128, "patience": 100}


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def bench_env() -> dict[str, str]:
    """Environment for anything (manage.py, gunicorn) that should see the bench world."""
    return {
        **os.environ,
        "DATABASE_URL": DATABASE_URL,
        "HIKMAX_VAR_DIR": str(BENCH_VAR),
        "DJANGO_SETTINGS_MODULE": "hikmax_site.settings",
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }


_django_ready = False


def setup_django() -> None:
    global _django_ready
    if _django_ready:
        return
    BENCH_VAR.mkdir(parents=True, exist_ok=True)
    os.environ.update(DATABASE_URL=DATABASE_URL, HIKMAX_VAR_DIR=str(BENCH_VAR),
                      DJANGO_SETTINGS_MODULE="hikmax_site.settings")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    _ensure_database()
    import django

    django.setup()
    _django_ready = True


def _ensure_database() -> None:
    import psycopg2

    connection = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DB_NAME])
        if cursor.fetchone() is None:
            log(f"Creating database {DB_NAME}")
            cursor.execute(f"CREATE DATABASE {DB_NAME}")
    connection.close()


def machine() -> dict:
    """nproc, CPU model, RAM, load average: printed with every figure."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gb": ram_gb, "python": platform.python_version(),
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# --- building ---------------------------------------------------------------------------------------


def migrate() -> None:
    from django.core.management import call_command

    log("Migrating (no-op when up to date)")
    call_command("migrate", verbosity=0, interactive=False)


def ensure_dataset():
    from recsys.importers import synthetic
    from recsys.models import Dataset
    from recsys.services.imports import load_parsed

    dataset = Dataset.objects.filter(name=DATASET).first()
    if dataset is not None and dataset.n_interactions:
        analyze()
        return dataset
    catalogue = synthetic.load_catalogue(CATALOGUE) if CATALOGUE.exists() else None
    log("Generating the ML-1M-shaped set (6,040 x 3,706 x 1,000,209, seed 0)")
    started = time.monotonic()
    last = [0.0]

    def progress(done, total):
        if time.monotonic() - last[0] > 10:
            last[0] = time.monotonic()
            log(f"  generating {100 * done / max(total, 1):.0f}%")

    parsed = synthetic.generate(seed=0, catalogue=catalogue, progress=progress)
    log(f"Generated in {time.monotonic() - started:.0f} s; importing into PostgreSQL")
    started = time.monotonic()
    dataset = load_parsed(name=DATASET, parsed=parsed, title="Benchmark: ML-1M-shaped synthetic",
                          progress=lambda percent, message="": None)
    log(f"Imported {dataset.n_interactions:,} interactions in {time.monotonic() - started:.0f} s")
    analyze()
    return dataset


def analyze() -> None:
    """Planner statistics for the freshly COPYed tables.

    load_parsed does not ANALYZE; until autovacuum gets to it, PostgreSQL believes the 1M-row
    interaction table is tiny and plans sequence_histories() as a nested loop over 6,040 sequences x
    a sequential scan (measured: > 4 min of CPU, cancelled). ANALYZE makes it a sort of a few seconds.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        for table in ("recsys_interaction", "recsys_interactionsequence", "recsys_item"):
            cursor.execute(f"ANALYZE {table}")


def ensure_members(dataset):
    """MEMBERS accounts linked to seeded long sequences (>= MIN_HISTORY active interactions)."""
    import numpy as np
    from django.contrib.auth import get_user_model
    from django.db.models import Count, Q

    from recsys.models import Interaction, InteractionSequence

    User = get_user_model()
    linked = list(InteractionSequence.objects.filter(dataset=dataset, user__username__startswith=MEMBER_PREFIX)
                  .select_related("user").order_by("user__username"))
    if len(linked) >= MEMBERS:
        return [s.user for s in linked[:MEMBERS]]
    long_ids = list(
        InteractionSequence.objects.filter(dataset=dataset, user__isnull=True)
        .annotate(n=Count("interactions", filter=Q(interactions__state=Interaction.State.ACTIVE)))
        .filter(n__gte=MIN_HISTORY).order_by("pk").values_list("pk", flat=True)
    )
    rng = np.random.default_rng(11)
    chosen = sorted(rng.choice(long_ids, size=MEMBERS - len(linked), replace=False).tolist())
    log(f"Linking {len(chosen)} member accounts to sequences with >= {MIN_HISTORY} interactions "
        f"({len(long_ids)} such sequences)")
    for n, sequence_id in enumerate(chosen, start=len(linked)):
        user, _ = User.objects.get_or_create(username=f"{MEMBER_PREFIX}{n:02d}")
        user.set_password(MEMBER_PASSWORD)
        user.save()
        InteractionSequence.objects.filter(pk=sequence_id).update(user=user)
    return ensure_members(dataset)


def _stored(name: str) -> bool:
    from recsys.services import artefacts

    try:
        artefacts.content_hash(name)
    except artefacts.ArtefactMissing:
        return False
    return artefacts.storage().exists(name)


def ensure_model(dataset, epochs: int, train_minutes: float):
    from recsys.ml.pipeline import train_recommender
    from recsys.models import TrainedModel
    from recsys.selectors import sequence_histories
    from recsys.services import artefacts
    from recsys.services.registry import artefact_prefix
    from recsys.services.training import data_snapshot

    model = TrainedModel.objects.filter(dataset=dataset, is_active=True, status=TrainedModel.Status.READY).first()
    if model is not None and _stored(model.artefact_path):
        return model
    log("Reading histories for training")
    histories = sequence_histories(dataset=dataset)
    snapshot = data_snapshot(dataset)
    config = {**MODEL_CONFIG, "epochs": epochs}
    row = TrainedModel.objects.create(dataset=dataset, architecture="sasrec", hyperparameters=config,
                                      status=TrainedModel.Status.TRAINING)
    deadline = time.monotonic() + 60 * train_minutes
    started = time.monotonic()

    def on_epoch(epoch, loss, valid, seconds, *_):
        ndcg = f", valid NDCG@10 {valid['NDCG@10']:.4f}" if valid else ""
        log(f"  epoch {epoch}/{epochs}: loss {loss:.4f}{ndcg} ({seconds:.0f} s; load {load_average()})")

    log(f"Training SASRec {config} on {len(histories):,} histories (budget {train_minutes:.0f} min)")
    trained = train_recommender(histories, "sasrec", config, on_epoch=on_epoch,
                                should_stop=lambda: time.monotonic() > deadline)
    seconds = time.monotonic() - started
    with tempfile.TemporaryDirectory() as scratch:
        trained.save(Path(scratch) / "model")
        artefact = artefacts.save_directory(artefact_prefix(row.pk), Path(scratch) / "model")
    result = trained.training_result.to_dict()
    TrainedModel.objects.filter(dataset=dataset, is_active=True).update(is_active=False)
    TrainedModel.objects.filter(pk=row.pk).update(
        status=TrainedModel.Status.READY, is_active=True, artefact_path=artefact, data_snapshot=snapshot,
        training_curve=result["curve"], device=trained.training_result.device, training_seconds=seconds,
        hyperparameters=trained.model.config.to_dict(),
        metrics={"note": "benchmark model: few epochs, validation only", "best_valid": result.get("best_valid")},
    )
    log(f"Trained in {seconds:.0f} s; artefact {artefact}")
    return TrainedModel.objects.get(pk=row.pk)


def ensure_calibration(model):
    from recourse.services.context import calibrate_all, needs_calibration
    from recsys.services.serving import load_recommender

    if not needs_calibration(model):
        return model
    log("Calibrating the drift checks on reference histories (recourse.services.context.calibrate_all)")
    started = time.monotonic()
    calibrate_all(model, load_recommender(model))
    log(f"Calibrated in {time.monotonic() - started:.0f} s")
    model.refresh_from_db()
    return model


def ensure_world(epochs: int = 3, train_minutes: float = 25.0, calibration: bool = True) -> dict:
    """Build whatever is missing; return the summary (also written to var/bench/world.json).

    calibration=False skips the drift calibration (explanations do not need it)."""
    setup_django()
    migrate()
    dataset = ensure_dataset()
    members = ensure_members(dataset)
    model = ensure_model(dataset, epochs, train_minutes)
    if calibration:
        model = ensure_calibration(model)
    curve = model.training_curve or []
    valid = [e for e in curve if e.get("valid")]
    stored = json.loads(model.calibration["drift"]) if "drift" in model.calibration else None
    summary = {
        "dataset": {"id": dataset.pk, "name": dataset.name, "users": dataset.n_users, "items": dataset.n_items,
                    "interactions": dataset.n_interactions, "catalogue": "ML-1M movies.dat" if CATALOGUE.exists()
                    else "invented"},
        "model": {"id": model.pk, "artefact": model.artefact_path, "config": {
            k: model.hyperparameters.get(k) for k in ("max_len", "hidden", "blocks", "heads", "num_items")},
            "epochs_trained": len(curve), "valid_ndcg10": valid[-1]["valid"]["NDCG@10"] if valid else None,
            "best_valid_ndcg10": max((e["valid"]["NDCG@10"] for e in valid), default=None),
            "training_seconds": model.training_seconds, "device": model.device},
        "calibration": None if stored is None else {
            key: stored[key] for key in ("n_reference", "steps", "false_alarm_rate", "flag_threshold", "ads_cutoff")},
        "members": [u.username for u in members],
    }
    if stored is not None:
        WORLD_FILE.write_text(json.dumps(summary, indent=2))
    return summary


def open_world(epochs: int, train_minutes: float, calibration: bool = True) -> tuple[dict, dict]:
    """Set up Django, build or check the world; returns (world, results header: machine, git, world, when)."""
    setup_django()
    log(f"Machine: {machine()}")
    world = ensure_world(epochs, train_minutes, calibration=calibration)
    log(f"World: model {world['model']['id']} ({world['model']['epochs_trained']} epochs, "
        f"valid NDCG@10 {world['model']['valid_ndcg10']}), {len(world['members'])} members")
    header = {"machine": machine(), "git": git_revision(), "world": world,
              "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    return world, header


def member_users():
    from django.contrib.auth import get_user_model

    return list(get_user_model().objects.filter(username__startswith=MEMBER_PREFIX).order_by("username"))


def bench_dataset():
    from recsys.models import Dataset

    return Dataset.objects.get(name=DATASET)


def long_sequence_ids(dataset, limit: int, seed: int = 5) -> list[int]:
    """Seeded sample of sequence ids with >= MIN_HISTORY active interactions (any, linked or not)."""
    import numpy as np
    from django.db.models import Count, Q

    from recsys.models import Interaction, InteractionSequence

    ids = list(
        InteractionSequence.objects.filter(dataset=dataset)
        .annotate(n=Count("interactions", filter=Q(interactions__state=Interaction.State.ACTIVE)))
        .filter(n__gte=MIN_HISTORY).order_by("pk").values_list("pk", flat=True)
    )
    rng = np.random.default_rng(seed)
    return sorted(rng.choice(ids, size=min(limit, len(ids)), replace=False).tolist())


def engine_histories(dataset, recommender, sequence_ids: list[int]):
    """{sequence id: engine History over model indices} from the database, chronological."""
    from recourse.selectors import model_histories

    return model_histories(sequence_ids, recommender.index)


def percentiles(values_ms) -> dict:
    import numpy as np

    values = np.asarray(values_ms, dtype=float)
    return {"n": int(values.size), "p50": float(np.percentile(values, 50)), "p95": float(np.percentile(values, 95)),
            "mean": float(values.mean()), "min": float(values.min()), "max": float(values.max())}


def git_revision() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description="Build (once) and describe the XAI benchmark world under var/bench/.")
    parser.add_argument("--epochs", type=int, default=3, help="SASRec epochs when a model must be trained")
    parser.add_argument("--train-minutes", type=float, default=25.0,
                        help="stop training after this many minutes (latency does not depend on quality)")
    args = parser.parse_args(argv)
    log(f"Machine: {machine()}")
    summary = ensure_world(args.epochs, args.train_minutes)
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
