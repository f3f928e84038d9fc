import pytest
from django.urls import reverse

from recsys import jobs
from recsys.models import Job, TrainedModel
from recsys.services import training

from .factories import make_dataset, make_history

pytestmark = pytest.mark.django_db


def evaluate_in_admin(client, django_user_model, model):
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.org", "pw-long-enough"))
    return client.post(reverse("admin:recsys_trainedmodel_changelist"),
                       {"action": "evaluate_models", "_selected_action": [model.pk]}, follow=True)


def test_admin_evaluate_action_queues_an_evaluation_job(client, django_user_model):
    model = TrainedModel.objects.create(dataset=make_dataset(), architecture="sasrec", status="ready")
    response = evaluate_in_admin(client, django_user_model, model)
    job = Job.objects.get(kind="evaluate_model", owner__username="root")
    assert (job.queue, job.params) == ("training", {"model_id": model.pk})
    assert f'queued as <a href="/jobs/#job-{job.pk}">job #{job.pk}</a>' in response.content.decode()


def test_only_a_ready_model_can_be_evaluated(client, django_user_model):
    model = TrainedModel.objects.create(dataset=make_dataset(), architecture="sasrec", status="failed")
    response = evaluate_in_admin(client, django_user_model, model)
    assert "only a ready model can be evaluated" in response.content.decode()
    assert not Job.objects.filter(kind="evaluate_model").exists()


def run_evaluation(model) -> Job:
    job = training.start_evaluation(model=model)
    jobs.run(job.pk)
    job.refresh_from_db()
    model.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    return job


def test_evaluation_job_repeats_the_training_evaluation_then_follows_the_data(trained):
    dataset, model, _ = trained
    after_training = model.metrics
    run_evaluation(model)
    for protocol in ("sampled", "full"):
        for scorer in ("model", "most-popular"):
            assert model.metrics[protocol][scorer]["metrics"] == pytest.approx(
                after_training[protocol][scorer]["metrics"], abs=1e-6)

    for u in range(3):
        make_history(dataset, external_user_id=f"new{u}", item_ids=[(u * 7 + k) % 30 + 1 for k in range(6)])
    job = run_evaluation(model)
    for protocol in ("sampled", "full"):
        assert model.metrics[protocol]["model"]["num_users"] == after_training[protocol]["model"]["num_users"] + 3
    assert job.result["previous"] == pytest.approx(training.headline(after_training), abs=1e-6)
    assert job.result["NDCG@10 (full)"] == model.metrics["full"]["model"]["metrics"]["NDCG@10"]
    assert job.result["data"]["interactions"] == training.data_snapshot(dataset)["interactions"]
    assert (model.status, model.is_active) == ("ready", True)
