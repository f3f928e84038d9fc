"""What storing a model version through the storage API costs: archive size, store, cold load (download, hash
check, unpack) and warm load (cache hit), then Keras loading the weights, on the filesystem storage and on an
S3 server (moto's, standing in for MinIO; started here on loopback).

    .venv/bin/python benchmarks/artefact_store.py [--items 3706] [--repeats 5] [--out var/bench/artefacts.json]

The model is the benchmark world's SASRec shape (L=200, d=64, 2 blocks, 1 head) over --items items, built and
saved untrained: its archive has the same size and layout as a trained one. MOTO_PYTHON may name another
interpreter that has moto and Flask.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_moto() -> tuple[subprocess.Popen, str]:
    port = _free_port()
    server = subprocess.Popen([os.environ.get("MOTO_PYTHON", sys.executable), "-m", "moto.server", "-H",
                               "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return server, url
        except OSError:
            if server.poll() is not None or time.time() > deadline:
                server.kill()
                raise SystemExit("moto's S3 server did not start (MOTO_PYTHON: an interpreter with moto)") from None
            time.sleep(0.2)


def measure(folder: Path, repeats: int, cache_root: Path) -> dict:
    from django.conf import settings

    from recsys.ml.pipeline import TrainedRecommender
    from recsys.services import artefacts

    started = time.perf_counter()
    name = artefacts.save_directory("models/bench", folder)
    store_seconds = time.perf_counter() - started
    cold, warm, keras = [], [], []
    for repeat in range(repeats):
        settings.ARTEFACT_CACHE_DIR = cache_root / f"cold-{repeat}"  # a machine that never loaded it
        started = time.perf_counter()
        local = artefacts.local_directory(name)
        cold.append(time.perf_counter() - started)
        started = time.perf_counter()
        artefacts.local_directory(name)
        warm.append(time.perf_counter() - started)
        started = time.perf_counter()
        TrainedRecommender.load(local)
        keras.append(time.perf_counter() - started)
        shutil.rmtree(settings.ARTEFACT_CACHE_DIR)
    artefacts.delete([name])
    return {"store_s": round(store_seconds, 4), "cold_load_median_s": round(statistics.median(cold), 4),
            "warm_load_median_s": round(statistics.median(warm), 5),
            "keras_load_median_s": round(statistics.median(keras), 3), "repeats": repeats}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=3706)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "var" / "bench" / "artefacts.json"))
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="hikmax-artefact-bench-"))
    os.environ.setdefault("HIKMAX_VAR_DIR", str(scratch / "var"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hikmax_site.settings")
    import django

    django.setup()
    import numpy as np
    from django.test.utils import override_settings

    from recsys.ml.config import ModelConfig
    from recsys.ml.models import build_model
    from recsys.ml.pipeline import TrainedRecommender
    from recsys.ml.popularity import MostPopular
    from recsys.ml.sequences import ItemIndex

    config = ModelConfig.from_dict({"max_len": 200, "hidden": 64, "blocks": 2, "heads": 1,
                                    "num_items": args.items})
    model = build_model("sasrec", config)
    model.is_trained = True
    folder = scratch / "model"
    TrainedRecommender(model, ItemIndex([str(i) for i in range(1, args.items + 1)]),
                       MostPopular(np.ones(args.items + 1))).save(folder)
    size = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())

    results = {"machine": platform.node(), "cpus": os.cpu_count(), "load_average": os.getloadavg(),
               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "items": args.items,
               "folder_bytes": size}
    with override_settings(STORAGES={"default": {"BACKEND": "hikmax_site.storage.AtomicFileSystemStorage",
                                                 "OPTIONS": {"location": str(scratch / "media")}},
                                     "staticfiles": {"BACKEND": "hikmax_site.storage.HashedStaticFiles"}}):
        results["filesystem"] = measure(folder, args.repeats, scratch / "cache-fs")
    server, url = start_moto()
    try:
        s3 = {"bucket_name": "bench", "endpoint_url": url, "access_key": "bench", "secret_key": "bench-secret",
              "region_name": "us-east-1", "addressing_style": "path", "signature_version": "s3v4"}
        with override_settings(STORAGES={"default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": s3},
                                         "staticfiles": {"BACKEND": "hikmax_site.storage.HashedStaticFiles"}}):
            from recsys.services import artefacts

            artefacts.ensure_store()
            results["s3_moto"] = measure(folder, args.repeats, scratch / "cache-s3")
    finally:
        server.terminate()
        server.wait(timeout=20)
    results["load_average_after"] = os.getloadavg()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
