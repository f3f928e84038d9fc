"""Every artefact goes through Django's storage API, so workers on several machines share them.

- The whole train → serve → evaluate → delete path, admin uploads, diagnostics runs and forecasters run with
  the default storage set to Django's InMemoryStorage: nothing may silently rely on a local path.
- With an S3 store (moto's S3 server standing in for MinIO), a model trained here is loaded by a second
  machine: a fresh process with its own empty cache, configured only from the environment.
- Writes are atomic, the local cache is keyed by content hash, checked, bounded and cleaned up.
"""

import json
import os
import subprocess
import sys
import time

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from hikmax_site.storage import AtomicFileSystemStorage
from recsys import jobs
from recsys.models import Job, TrainedModel
from recsys.services import artefacts, registry, serving, training
from tests.conftest import ROOT

from .conftest import train_now
from .factories import make_dataset, make_history
from .s3 import S3_ENV, s3_settings

pytestmark = pytest.mark.django_db

IN_MEMORY = {"default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
             "staticfiles": {"BACKEND": "hikmax_site.storage.HashedStaticFiles"}}


@pytest.fixture
def in_memory(settings, tmp_path):
    settings.STORAGES = IN_MEMORY
    settings.MEDIA_ROOT = tmp_path / "must-stay-empty"
    store = artefacts.storage()
    assert type(store).__name__ == "InMemoryStorage"
    yield store
    assert not settings.MEDIA_ROOT.exists() or not any(settings.MEDIA_ROOT.rglob("*")), "wrote a local file"


def _files(store, prefix: str) -> list[str]:
    return artefacts._files_under(store, prefix)


def _films(n_users: int = 25):
    dataset = make_dataset(n_items=30)
    for u in range(n_users):
        make_history(dataset, external_user_id=f"u{u}", item_ids=[(u + k) % 30 + 1 for k in range(8)])
    return dataset


# --- the train → serve path on a non-filesystem storage -----------------------------------------------------

@pytest.mark.trains
def test_train_serve_evaluate_and_delete_through_an_in_memory_storage(
        in_memory, settings, tmp_path, make_user, django_capture_on_commit_callbacks):
    dataset = _films()
    alice = make_user("alice")
    make_history(dataset, user=alice, external_user_id="alice", item_ids=(1, 2, 3, 4))
    model = train_now(dataset)
    assert model.artefact_path.startswith(f"models/model-{model.pk}/") and model.artefact_path.endswith(".tar")
    assert in_memory.exists(model.artefact_path)

    # A web process that never saw the training: no model in memory, an empty cache of its own.
    serving._loaded.clear()
    settings.ARTEFACT_CACHE_DIR = tmp_path / "web-cache"
    shown = serving.recommend_for_member(alice, dataset)
    assert len(shown.items) == 10 and not {1, 2, 3, 4} & {row.item.pk for row in shown.items}
    assert [p.name for p in settings.ARTEFACT_CACHE_DIR.iterdir()] == [artefacts.content_hash(model.artefact_path)]

    evaluation = training.start_evaluation(model=model)
    jobs.run(evaluation.pk)
    evaluation.refresh_from_db()
    assert evaluation.status == Job.Status.SUCCEEDED, evaluation.error

    # The job the training queued (drift calibration) loads the model from the storage as well.
    serving._loaded.clear()
    [calibration] = Job.objects.filter(status=Job.Status.QUEUED)
    jobs.run(calibration.pk)
    calibration.refresh_from_db()
    assert calibration.status == Job.Status.SUCCEEDED, calibration.error

    second = train_now(dataset, activate=False)
    assert in_memory.exists(second.artefact_path) and second.artefact_path != model.artefact_path
    with django_capture_on_commit_callbacks(execute=True):
        registry.delete(second)
    assert _files(in_memory, f"models/model-{second.pk}") == [] and in_memory.exists(model.artefact_path)

    # Deleting the dataset (a job) deletes the active model's artefact through the storage API too.
    from recsys.services import datasets

    job = datasets.start_deletion(dataset)
    with django_capture_on_commit_callbacks(execute=True):
        jobs.run(job.pk)
    assert _files(in_memory, "models") == []


@pytest.mark.trains
def test_a_store_refusing_the_archive_never_leaves_a_ready_model_and_strays_go_with_the_model(
        in_memory, monkeypatch, django_capture_on_commit_callbacks):
    """The store refuses the archive (as a storage outage would): the model is failed, not ready; whatever a run
    stored before dying (here a stray file under the model's prefix) is deleted with the model."""
    dataset = _films()
    job = training.start_training(dataset=dataset, architecture="sasrec",
                                  hyperparameters={"max_len": 8, "hidden": 8, "epochs": 2, "jit_compile": False})
    model = TrainedModel.objects.get(pk=job.params["model_id"])
    stray = in_memory.save(f"models/model-{model.pk}/{'0' * 64}.tar", ContentFile(b"half an archive"))

    def refuse(*args, **kwargs):
        raise OSError("simulated storage outage")

    monkeypatch.setattr(artefacts, "save_directory", refuse)
    jobs.run(job.pk)
    job.refresh_from_db()
    model.refresh_from_db()
    assert job.status == Job.Status.FAILED and model.status == TrainedModel.Status.FAILED
    assert not model.artefact_path and "storage outage" in model.error
    with django_capture_on_commit_callbacks(execute=True):
        registry.delete(model)
    assert not in_memory.exists(stray)


def test_an_uploaded_dataset_is_imported_through_the_storage_and_then_deleted(in_memory, client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.org", "pw-long-enough"))
    rows = "user_id,item_id,timestamp\n" + "".join(f"u{u},i{(u + k) % 7},{100 * u + k}\n"
                                                   for u in range(6) for k in range(4))
    response = client.post(reverse("admin:recsys_dataset_import"),
                           {"name": "uploaded", "files": [SimpleUploadedFile("mine.csv", rows.encode())]})
    assert response.status_code == 302
    job = Job.objects.get(kind="import_dataset")
    [stored] = job.params["uploads"]
    assert stored.startswith("uploads/") and stored.endswith("/mine.csv") and not job.params["path"]
    assert in_memory.exists(stored)
    jobs.run(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert job.result["interactions"] == 24 and not in_memory.exists(stored)


def test_a_diagnostics_run_reads_its_histories_from_the_storage(in_memory, settings, tmp_path,
                                                                django_capture_on_commit_callbacks):
    from diagnostics import services
    from diagnostics.models import DiagnosticRun, Retrain

    dataset = make_dataset(name="films", n_items=10)
    for u in range(12):
        make_history(dataset, external_user_id=f"u{u}", item_ids=[(u + 2 * k) % 10 + 1 for k in range(6)])
    run = services.start_run(dataset=dataset, architecture="mf", hyperparameters={"factors": 4, "sweeps": 3},
                             seeds=1, users=1, items=1)
    assert run.data_path.startswith(f"diagnostics/run-{run.pk}/") and in_memory.exists(run.data_path)
    services._data_cache.clear()  # a worker that did not start the run
    for row in run.retrains.all():
        services.run_retrain(row.pk, worker="elsewhere")
    assert set(run.retrains.values_list("status", flat=True)) == {Retrain.Status.DONE}
    with django_capture_on_commit_callbacks(execute=True):
        DiagnosticRun.objects.filter(pk=run.pk).delete()
    assert not in_memory.exists(run.data_path)


def test_a_forecaster_is_stored_loaded_and_deleted_through_the_storage(in_memory, tmp_path,
                                                                       django_capture_on_commit_callbacks):
    from forecast import services
    from forecast.engine.toy import toy_input, write_movielens
    from recsys.services.imports import import_dataset

    from .test_forecast_pages import train_now as train_forecaster

    dataset = import_dataset(name="toy", path=write_movielens(toy_input(tags=True), str(tmp_path / "toy")))
    job, forecaster = train_forecaster(dataset)
    assert job.status == Job.Status.SUCCEEDED, job.error
    names = [forecaster.artefact.name, forecaster.card.name]
    assert all(in_memory.exists(name) for name in names)
    assert "pipelines" in services.load_artefact(forecaster)
    with django_capture_on_commit_callbacks(execute=True):
        dataset.delete()
    assert not any(in_memory.exists(name) for name in names)


# --- writes, the cache ---------------------------------------------------------------------------------------

def test_a_file_appears_under_its_name_only_once_completely_written(tmp_path):
    store = AtomicFileSystemStorage(location=tmp_path)
    seen_while_writing = []

    class Slow(ContentFile):
        def chunks(self, chunk_size=None):
            for part in (b"first half, ", b"second half"):
                seen_while_writing.append((tmp_path / "a" / "x.bin").exists())
                yield part

    assert store.save("a/x.bin", Slow(b"")) == "a/x.bin"
    assert seen_while_writing == [False, False]
    assert (tmp_path / "a" / "x.bin").read_bytes() == b"first half, second half"
    taken = store.save("a/x.bin", ContentFile(b"other"))
    assert taken != "a/x.bin" and store.open(taken).read() == b"other"
    assert sorted(p.name for p in (tmp_path / "a").iterdir() if p.name.startswith(".partial-")) == []


def test_the_cache_is_keyed_by_content_hash_checked_bounded_and_cleaned(in_memory, settings, tmp_path,
                                                                        monkeypatch):
    settings.ARTEFACT_CACHE_DIR = tmp_path / "cache"
    settings.HIKMAX = {**settings.HIKMAX, "ARTEFACT_CACHE_ENTRIES": 2}
    folder = tmp_path / "model"
    (folder / "model").mkdir(parents=True)
    (folder / "model" / "weights.h5").write_bytes(os.urandom(1000))
    (folder / "items.json").write_text("[]")
    name = artefacts.save_directory("models/model-1", folder)
    assert artefacts.save_directory("models/model-1", folder) == name  # the same content is stored once
    assert len(_files(in_memory, "models/model-1")) == 1

    local = artefacts.local_directory(name)
    assert local.name == artefacts.content_hash(name)
    assert (local / "model" / "weights.h5").read_bytes() == (folder / "model" / "weights.h5").read_bytes()
    assert [p.name for p in settings.ARTEFACT_CACHE_DIR.iterdir()] == [local.name]  # no download left behind

    def unreachable(*args, **kwargs):
        raise AssertionError("the storage was asked again")

    with monkeypatch.context() as patch:
        patch.setattr(type(in_memory), "open", unreachable)
        assert artefacts.local_directory(name) == local  # served from the cache

    others = []
    for n in range(3):
        (folder / "items.json").write_text(json.dumps([n]))
        others.append(artefacts.local_directory(artefacts.save_directory(f"models/model-{2 + n}", folder)))
        time.sleep(0.01)
    assert sorted(p.name for p in settings.ARTEFACT_CACHE_DIR.iterdir()) == sorted(o.name for o in others[-2:])

    with in_memory.open(name, "wb") as broken:  # the store returns other bytes than the name promises
        broken.write(b"not the archive")
    with pytest.raises(artefacts.ArtefactCorrupt):
        artefacts.local_directory(name)
    assert sorted(p.name for p in settings.ARTEFACT_CACHE_DIR.iterdir()) == sorted(o.name for o in others[-2:])
    with pytest.raises(artefacts.ArtefactMissing):
        artefacts.local_directory(f"models/model-9/{'a' * 64}.tar")
    with pytest.raises(artefacts.ArtefactMissing):
        artefacts.local_directory("/var/lib/hikmax/artefacts/model-3")  # an old-style local path


def test_the_command_checks_the_store(in_memory, capsys):
    call_command("ensure_artefact_store")
    assert "Artefact store ready: InMemoryStorage" in capsys.readouterr().out
    assert _files(in_memory, "probes") == []


# --- S3 (moto's S3 server standing in for MinIO) and a second machine ---------------------------------------

@pytest.mark.s3
def test_the_command_creates_a_missing_bucket_and_checks_it(s3_server, settings, capsys):
    settings.STORAGES = s3_settings(s3_server, "fresh-bucket")
    with pytest.raises(Exception, match="not usable"):
        call_command("ensure_artefact_store", "--no-create")
    call_command("ensure_artefact_store")
    assert "Artefact store ready: S3 bucket fresh-bucket" in capsys.readouterr().out
    call_command("ensure_artefact_store")  # idempotent
    name = artefacts.save_bytes("diagnostics/run-1", b'{"u1": []}', ".json")
    assert artefacts.read_bytes(name) == b'{"u1": []}'
    with pytest.raises(artefacts.ArtefactMissing):
        artefacts.local_directory(f"models/model-1/{'b' * 64}.tar")
    with pytest.raises(artefacts.ArtefactMissing):
        artefacts.read_bytes(f"diagnostics/run-2/{'c' * 64}.json")
    artefacts.delete([], prefixes=["diagnostics"])
    assert artefacts._files_under(artefacts.storage(), "diagnostics") == []


@pytest.mark.s3
@pytest.mark.trains
def test_a_second_machine_loads_a_model_trained_by_another_through_s3(
        s3_server, settings, tmp_path, django_capture_on_commit_callbacks):
    settings.STORAGES = s3_settings(s3_server, "hikmax-artefacts")
    call_command("ensure_artefact_store")
    model = train_now(_films())
    store = artefacts.storage()
    assert type(store).__name__ == "S3Storage" and store.exists(model.artefact_path)

    history = [[str(pk), 1.0] for pk in (1, 2, 3, 4)]
    here = serving.load_recommender(model).recommend([[tuple(entry) for entry in history]], n=10)[0]
    env = {**os.environ, **S3_ENV, "S3_BUCKET": "hikmax-artefacts", "S3_ENDPOINT_URL": s3_server,
           "DJANGO_SETTINGS_MODULE": "hikmax_site.settings", "HIKMAX_VAR_DIR": str(tmp_path / "machine-2"),
           "ARTEFACT_CACHE_DIR": str(tmp_path / "machine-2" / "cache"), "MEDIA_ROOT": str(tmp_path / "no-media")}
    env.pop("DATABASE_URL", None)
    there = subprocess.run([sys.executable, "-m", "tests.web.second_machine", model.artefact_path,
                            json.dumps(history)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert there.returncode == 0, there.stderr[-3000:]
    shown = json.loads(there.stdout.strip().splitlines()[-1])
    assert shown["storage"] == "S3Storage" and shown["cache"] == [artefacts.content_hash(model.artefact_path)]
    assert shown["items"] == list(here.items)
    assert shown["scores"] == pytest.approx([float(s) for s in here.scores], rel=1e-5)
    assert not (tmp_path / "no-media").exists() or not any((tmp_path / "no-media").rglob("*"))

    with django_capture_on_commit_callbacks(execute=True):
        TrainedModel.objects.filter(pk=model.pk).update(is_active=False)
        model.refresh_from_db()
        registry.delete(model)
    assert not store.exists(model.artefact_path)
    assert artefacts._files_under(store, f"models/model-{model.pk}") == []


def test_the_settings_build_the_s3_storage_from_the_environment(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HIKMAX_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "hikmax_site.settings",
           "S3_BUCKET": "hikmax", "S3_ENDPOINT_URL": "http://minio:9000", **S3_ENV}
    shown = subprocess.run(
        [sys.executable, "-c", "import json; from django.conf import settings; "
         "print(json.dumps(settings.STORAGES['default']))"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert shown.returncode == 0, shown.stderr
    default = json.loads(shown.stdout)
    assert default["BACKEND"] == "storages.backends.s3.S3Storage"
    assert default["OPTIONS"]["bucket_name"] == "hikmax" and default["OPTIONS"]["endpoint_url"] == "http://minio:9000"
    assert default["OPTIONS"]["access_key"] == S3_ENV["S3_ACCESS_KEY"]


def test_the_migration_moves_local_artefacts_into_the_storage(in_memory, settings, tmp_path):
    import importlib

    from django.apps import apps

    from diagnostics.models import DiagnosticRun

    dataset = make_dataset()
    folder = tmp_path / "artefacts" / "model-1"
    (folder / "model").mkdir(parents=True)
    (folder / "model" / "config.json").write_text("{}")
    kept = TrainedModel.objects.create(dataset=dataset, architecture="sasrec", status="ready", is_active=True,
                                       artefact_path=str(folder))
    lost = TrainedModel.objects.create(dataset=dataset, architecture="sasrec", status="ready",
                                       artefact_path=str(tmp_path / "artefacts" / "gone"))
    histories = tmp_path / "diagnostics" / "run-1.json"
    histories.parent.mkdir()
    histories.write_text('{"u1": [["1", 1.0]]}')
    run = DiagnosticRun.objects.create(dataset=dataset, architecture="mf", data_path=str(histories))

    importlib.import_module("recsys.migrations.0007_artefacts_in_storage").to_storage(apps, None)
    importlib.import_module("diagnostics.migrations.0002_histories_in_storage").to_storage(apps, None)
    kept.refresh_from_db()
    lost.refresh_from_db()
    run.refresh_from_db()
    assert kept.artefact_path.startswith(f"models/model-{kept.pk}/") and kept.status == "ready" and kept.is_active
    assert (artefacts.local_directory(kept.artefact_path) / "model" / "config.json").read_text() == "{}"
    assert lost.status == "failed" and not lost.is_active and not lost.artefact_path and "missing" in lost.error
    assert json.loads(artefacts.read_bytes(run.data_path)) == {"u1": [["1", 1.0]]}
