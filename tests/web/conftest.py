import pytest

from recsys import jobs
from recsys.models import Job, TrainedModel
from recsys.services import training

from .factories import make_dataset, make_history
from .s3 import s3_server  # noqa: F401 (a fixture: moto's S3 server for the artefact-storage tests)


def delete_jobs_since(started) -> None:
    """Teardown for module fixtures that commit data: their jobs are not tied to the dataset they delete."""
    Job.objects.filter(created_at__gte=started).delete()


@pytest.fixture(autouse=True, scope="module")
def module_artefacts(tmp_path_factory):
    """Each test module stores artefacts in its own folder (the default storage's root: database ids restart
    between test databases) and unpacks them into its own cache; module-scoped so that a model a module
    fixture trained stays loadable in every test of that module."""
    from django.test import override_settings

    root = tmp_path_factory.mktemp("artefacts")
    with override_settings(MEDIA_ROOT=root / "media", ARTEFACT_CACHE_DIR=root / "artefact-cache"):
        yield root


@pytest.fixture(autouse=True)
def empty_cache():
    """Cache keys hold database ids, which restart between test databases."""
    from django.core.cache import cache

    cache.clear()


TINY = {"max_len": 12, "hidden": 16, "blocks": 1, "epochs": 4, "batch_size": 32, "jit_compile": False,
        "length_buckets": 1}


def train_now(dataset, architecture="sasrec", activate=True, **overrides):
    job = training.start_training(dataset=dataset, architecture=architecture,
                                  hyperparameters={**TINY, **overrides}, activate=activate)
    jobs.run(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    return TrainedModel.objects.get(pk=job.params["model_id"])


@pytest.fixture
def trained(make_user):
    dataset = make_dataset(n_items=30)
    for u in range(25):
        make_history(dataset, external_user_id=f"u{u}", item_ids=[(u + k) % 30 + 1 for k in range(8)])
    alice = make_user("alice")
    make_history(dataset, user=alice, external_user_id="alice", item_ids=(1, 2, 3, 4))
    model = train_now(dataset)
    return dataset, model, alice


