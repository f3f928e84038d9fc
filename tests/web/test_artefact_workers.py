"""Celery workers on several machines share artefacts through the S3 store (moto's server standing in for
MinIO): a real worker process with its own cache and no shared folder trains a model version; this process,
another "machine" with an empty cache, serves it. Runs on the suite's broker (Redis in bin/test's first leg)."""

import uuid

import pytest
from django.core.management import call_command

from recsys import jobs
from recsys.models import Job, TrainedModel
from recsys.services import artefacts, serving, training
from tests.conftest import start_worker, stop_worker
from tests.helpers import wait_for_job

from .conftest import TINY
from .factories import make_dataset, make_history
from .s3 import S3_ENV, s3_settings

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.worker, pytest.mark.s3, pytest.mark.trains]


def test_a_worker_on_another_machine_trains_and_this_one_serves_through_s3(s3_server, settings, tmp_path, make_user):
    bucket = f"workers-{uuid.uuid4().hex[:8]}"
    settings.STORAGES = s3_settings(s3_server, bucket)
    call_command("ensure_artefact_store")
    dataset = make_dataset(n_items=30)
    for u in range(25):
        make_history(dataset, external_user_id=f"u{u}", item_ids=[(u + k) % 30 + 1 for k in range(8)])
    alice = make_user("alice")
    make_history(dataset, user=alice, external_user_id="alice", item_ids=(1, 2, 3, 4))
    job = training.start_training(dataset=dataset, architecture="sasrec", hyperparameters=TINY, activate=True,
                                  enqueue=False)
    queue = f"storage-{uuid.uuid4().hex[:8]}"  # a queue of its own: no other test worker takes the job
    Job.objects.filter(pk=job.pk).update(queue=queue)
    job.refresh_from_db()

    machine = tmp_path / "machine-2"
    worker = start_worker(queue, f"{queue}.log", **S3_ENV, S3_BUCKET=bucket, S3_ENDPOINT_URL=s3_server,
                          ARTEFACT_CACHE_DIR=str(machine / "cache"), MEDIA_ROOT=str(machine / "media"))
    try:
        jobs._send(job)
        job = wait_for_job(job, timeout=300)
    finally:
        stop_worker(worker)
    assert job.status == Job.Status.SUCCEEDED, job.error
    model = TrainedModel.objects.get(pk=job.params["model_id"])
    assert model.status == TrainedModel.Status.READY and model.is_active
    assert artefacts.storage().exists(model.artefact_path)
    assert not (machine / "media").exists() or not any((machine / "media").rglob("*")), "the worker wrote locally"

    serving._loaded.clear()
    settings.ARTEFACT_CACHE_DIR = tmp_path / "web-cache"  # this machine never saw the model
    shown = serving.recommend_for_member(alice, dataset)
    assert shown.model.pk == model.pk and len(shown.items) == 10
    assert not {1, 2, 3, 4} & {row.item.pk for row in shown.items}
    assert [p.name for p in settings.ARTEFACT_CACHE_DIR.iterdir()] == [artefacts.content_hash(model.artefact_path)]
