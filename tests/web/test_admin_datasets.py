"""Administration: an explicit site-default dataset, deactivating a model, deleting a dataset as a job, job
links in messages, and the trained model's read-only model card."""


import pytest
from django.test import Client
from django.urls import reverse

from recsys import jobs, selectors
from recsys.models import Dataset, Interaction, Job, TrainedModel
from recsys.services import artefacts

from .factories import make_dataset, make_history

pytestmark = pytest.mark.django_db

METRICS = {
    protocol: {
        name: {"protocol": protocol, "num_users": 25, "metrics": {"HR@10": hr, "NDCG@10": hr / 2},
               "ci": {"HR@10": [hr - 0.05, hr + 0.05], "NDCG@10": [hr / 2 - 0.02, hr / 2 + 0.02]}}
        for name, hr in (("model", 0.42 if protocol == "full" else 0.61), ("most-popular", 0.12))
    }
    for protocol in ("full", "sampled")
}
CURVE = [{"epoch": 1, "loss": 6.4, "valid": {"NDCG@10": 0.05, "HR@10": 0.1}},
         {"epoch": 2, "loss": 5.9, "valid": {"NDCG@10": 0.09, "HR@10": 0.2}}]


@pytest.fixture
def root(django_user_model):
    client = Client()  # its own, so a test can also use member_client
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.org", "pw-long-enough"))
    return client


def ready_model(dataset, **fields) -> TrainedModel:
    return TrainedModel.objects.create(
        dataset=dataset, architecture="sasrec", status="ready", metrics=METRICS, training_curve=CURVE,
        hyperparameters={"max_len": 50, "hidden": 64}, data_snapshot={"interactions": 30, "last_timestamp": 1_000_000,
                                                                      "changed_at": 99}, **fields)


def test_new_members_land_on_the_default_dataset_not_the_last_activated(root, make_user, rf):
    chosen, later = make_dataset("chosen"), make_dataset("later")
    ready_model(chosen, is_active=True)
    ready_model(later, is_active=True)  # activated last
    root.post(reverse("admin:recsys_dataset_changelist"), {"action": "make_default", "_selected_action": [chosen.pk]})
    assert list(Dataset.objects.filter(is_default=True)) == [chosen]
    request = rf.get("/")
    request.user, request.session = make_user("newcomer"), {}
    assert selectors.current_dataset(request) == chosen

    root.post(reverse("admin:recsys_dataset_changelist"), {"action": "make_default", "_selected_action": [later.pk]})
    assert list(Dataset.objects.filter(is_default=True)) == [later]  # one default at a time


def test_a_model_can_be_deactivated_from_the_list_and_from_its_card(root):
    model = ready_model(make_dataset(), is_active=True)
    root.post(reverse("admin:recsys_trainedmodel_changelist"),
              {"action": "deactivate_models", "_selected_action": [model.pk]})
    model.refresh_from_db()
    assert not model.is_active
    root.post(reverse("admin:recsys_trainedmodel_change", args=[model.pk]), {"action": "activate"})
    model.refresh_from_db()
    assert model.is_active
    response = root.post(reverse("admin:recsys_trainedmodel_change", args=[model.pk]), {"action": "deactivate"},
                         follow=True)
    model.refresh_from_db()
    assert not model.is_active and "no active model now" in response.content.decode()


def test_deleting_a_dataset_is_a_job_that_removes_its_models_and_artefacts(
        root, settings, django_capture_on_commit_callbacks):
    dataset = make_dataset()
    make_history(dataset)
    model = ready_model(dataset, is_active=True)
    stored = artefacts.save_bytes(f"models/model-{model.pk}", b"weights")
    TrainedModel.objects.filter(pk=model.pk).update(artefact_path=stored)
    left_over = artefacts.save_bytes(f"models/model-{model.pk}", b"from a run that died before recording it")
    other = make_dataset("other")
    make_history(other)

    page = root.get(reverse("admin:recsys_dataset_delete", args=[dataset.pk])).content.decode()
    assert "permission" not in page and "1 trained model" in page and "3 interactions" in page
    response = root.post(reverse("admin:recsys_dataset_delete", args=[dataset.pk]), follow=True)
    job = Job.objects.get(kind="delete_dataset")
    assert f'Deletion of Films queued as <a href="/jobs/#job-{job.pk}">job #{job.pk}</a>' in response.content.decode()
    assert Dataset.objects.filter(pk=dataset.pk).exists()  # nothing is deleted before the job runs

    with django_capture_on_commit_callbacks(execute=True):
        jobs.run(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert not Dataset.objects.filter(pk=dataset.pk).exists()
    assert not artefacts.storage().exists(stored) and not artefacts.storage().exists(left_over)
    assert not TrainedModel.objects.exists() and Interaction.objects.filter(sequence__dataset=other).count() == 3


def test_the_deletion_page_names_the_forecasters_runs_and_experiments_that_go_with_the_dataset(root):
    """They are deleted with it (on_delete CASCADE), stored files included, but the page listed only models,
    histories and the catalogue: an administrator lost a forecaster's governance card unwarned."""
    from diagnostics.models import DiagnosticRun
    from forecast.models import Forecaster
    from recourse.models import Experiment

    dataset = make_dataset()
    make_history(dataset)
    Forecaster.objects.create(dataset=dataset, version=1)
    Forecaster.objects.create(dataset=dataset, version=2)
    DiagnosticRun.objects.create(dataset=dataset, architecture="mf")
    Experiment.objects.create(name="e", dataset=dataset, trained_model=ready_model(dataset))
    page = root.get(reverse("admin:recsys_dataset_delete", args=[dataset.pk])).content.decode()
    assert "2 forecasters" in page and "1 diagnostic run" in page and "1 experiment" in page
    untouched = make_dataset("untouched")
    page = root.get(reverse("admin:recsys_dataset_delete", args=[untouched.pk])).content.decode()
    assert "what was built on it" not in page


def test_deletion_is_refused_only_while_a_job_uses_the_dataset_and_says_which(root):
    dataset = make_dataset()
    model = ready_model(dataset)
    running = Job.objects.create(kind="evaluate_model", status="running", params={"model_id": model.pk})
    response = root.post(reverse("admin:recsys_dataset_changelist"),
                         {"action": "delete_datasets", "_selected_action": [dataset.pk]}, follow=True)
    assert f"in use by unfinished job(s) #{running.pk} (evaluate model, running)" in response.content.decode()
    assert not Job.objects.filter(kind="delete_dataset").exists()
    assert f"#job-{running.pk}" in root.get(reverse("admin:recsys_dataset_delete", args=[dataset.pk])).content.decode()

    Job.objects.filter(pk=running.pk).update(status="succeeded")
    root.post(reverse("admin:recsys_dataset_changelist"),
              {"action": "delete_datasets", "_selected_action": [dataset.pk]})
    assert Job.objects.filter(kind="delete_dataset", params__dataset_id=dataset.pk).exists()


def test_the_trained_model_page_is_a_read_only_model_card(root):
    model = ready_model(make_dataset(), is_active=True)
    page = root.get(reverse("admin:recsys_trainedmodel_change", args=[model.pk])).content.decode()
    assert "<textarea" not in page and "<input type=\"text\"" not in page
    assert "Full ranking (all items)" in page and "Sampled (1 positive vs 100 negatives)" in page
    assert "0.420" in page and "0.120" in page and "[0.370, 0.470]" in page  # model, most-popular, CI
    assert 'id="training-curve"' in page and "plotly.min" in page
    assert "<code>hidden</code>" in page and "1970-01-12 13:46 UTC" in page
    assert "Deactivate" in page

    listing = root.get(reverse("admin:recsys_trainedmodel_changelist")).content.decode()
    assert "HR@10, full ranking (most-popular)" in listing and "0.420 (0.120)" in listing


def test_members_and_analysts_cannot_use_the_model_card(client, make_user):
    model = ready_model(make_dataset(), is_active=True)
    client.force_login(make_user("ana", is_staff=True))  # staff without model permissions
    assert client.post(reverse("admin:recsys_trainedmodel_change", args=[model.pk]),
                       {"action": "deactivate"}).status_code == 403
    client.force_login(make_user("mo"))
    assert client.get(reverse("admin:recsys_trainedmodel_change", args=[model.pk])).status_code == 302  # login
    model.refresh_from_db()
    assert model.is_active
