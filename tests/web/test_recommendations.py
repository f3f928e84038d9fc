import pytest
from django.urls import reverse

from recsys.models import TrainedModel
from recsys.services import registry, serving, training

from .conftest import train_now
from .factories import make_dataset, make_history

pytestmark = pytest.mark.django_db

def test_training_records_a_ready_active_model_with_both_protocols(trained):
    dataset, model, _ = trained
    assert model.status == "ready" and model.is_active and model.device
    assert set(model.metrics) == {"sampled", "full"}
    assert "NDCG@10" in model.metrics["full"]["model"]["metrics"]
    assert len(model.training_curve) >= 1 and model.data_snapshot["interactions"] == 25 * 8 + 4


def test_for_you_shows_ten_unseen_items(client, trained):
    dataset, model, alice = trained
    client.force_login(alice)
    page = client.get(reverse("recourse:for-you"))
    recs = page.context["recs"]
    assert len(recs.items) == 10 and not recs.fallback
    assert not {r.item.external_id for r in recs.items} & {"1", "2", "3", "4"}
    assert recs.items[0].item.title.encode() in page.content


def test_member_only_gets_their_own_recommendations(client, trained, make_user):
    dataset, model, alice = trained
    bob = make_user("bob")
    make_history(dataset, user=bob, external_user_id="bob", item_ids=(20, 21, 22))
    client.force_login(bob)
    bob_items = {row["item"]["external_id"] for row in client.get(reverse("api-recommendations")).json()["items"]}
    assert not bob_items & {"20", "21", "22"}
    client.force_login(alice)
    alice_items = {row["item"]["external_id"] for row in client.get(reverse("api-recommendations")).json()["items"]}
    assert not alice_items & {"1", "2", "3", "4"} and alice_items != bob_items


def test_empty_history_gets_labelled_most_popular(client, trained, make_user):
    client.force_login(make_user("newbie"))
    page = client.get(reverse("recourse:for-you"))
    assert page.context["recs"].fallback and b"most popular" in page.content


def test_no_active_model_gives_a_clear_message(client, make_user):
    make_dataset()
    client.force_login(make_user("x"))
    assert b"No model is active" in client.get(reverse("recourse:for-you")).content
    assert client.get(reverse("api-recommendations")).status_code == 404


def test_activation_keeps_exactly_one_active_model(trained):
    dataset, first, _ = trained
    second = train_now(dataset, architecture="gru4rec", activate=False)
    registry.activate(second)
    assert list(TrainedModel.objects.filter(is_active=True)) == [second]
    assert serving.loaded_model(dataset)[0] == second


def test_bad_training_requests_are_refused(make_user):
    dataset = make_dataset()
    with pytest.raises(training.TrainingError, match="no interactions"):
        training.start_training(dataset=dataset, architecture="sasrec")
    make_history(dataset)
    with pytest.raises(training.TrainingError, match="Unknown architecture"):
        training.start_training(dataset=dataset, architecture="bert4rec")
    with pytest.raises(training.TrainingError, match="Invalid hyper-parameters"):
        training.start_training(dataset=dataset, architecture="sasrec", hyperparameters={"heads": 3, "hidden": 16})
    pending = TrainedModel.objects.create(dataset=dataset, architecture="sasrec")
    with pytest.raises(registry.RegistryError, match="not ready"):
        registry.activate(pending)


def test_warm_up_loads_every_active_model(trained):
    dataset, model, _ = trained
    assert serving.warm_up_recommenders() == [str(model)]


def _dataset_with_histories():
    dataset = make_dataset(n_items=30)
    for u in range(10):
        make_history(dataset, external_user_id=f"u{u}", item_ids=[(u + k) % 30 + 1 for k in range(6)])
    return dataset


def test_cancelled_training_leaves_no_ready_model():
    from recsys import jobs
    from recsys.models import Job

    job = training.start_training(dataset=_dataset_with_histories(), architecture="sasrec",
                                  hyperparameters={"max_len": 8, "hidden": 8, "epochs": 3, "jit_compile": False})
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    jobs.run(job.pk)
    job.refresh_from_db()
    model = TrainedModel.objects.get(pk=job.params["model_id"])
    assert job.status == "cancelled" and model.status == "failed" and not model.artefact_path


def test_failed_training_is_recorded_and_leaves_no_artefact(monkeypatch, settings, tmp_path):
    from recsys import jobs

    settings.MEDIA_ROOT = tmp_path / "media"  # ids repeat on SQLite: an earlier test's model-1 must not count

    def explode(*args, **kwargs):
        raise MemoryError("simulated out-of-memory")

    monkeypatch.setattr(training, "train_recommender", explode)
    job = training.start_training(dataset=_dataset_with_histories(), architecture="tcn")
    jobs.run(job.pk)
    job.refresh_from_db()
    model = TrainedModel.objects.get(pk=job.params["model_id"])
    assert job.status == "failed" and "simulated out-of-memory" in job.message
    assert model.status == "failed" and "simulated" in model.error
    assert not (settings.MEDIA_ROOT / "models" / f"model-{model.pk}").exists()


def test_for_you_says_why_it_is_empty_when_every_item_is_in_the_history(client, trained, make_user):
    """A small catalogue the member has been through (or hid): the page showed an empty list and nothing else."""
    dataset, model, _ = trained
    bob = make_user("bob")
    make_history(dataset, user=bob, external_user_id="bob", item_ids=range(1, 31))
    client.force_login(bob)
    page = client.get(reverse("recourse:for-you"))
    assert page.status_code == 200 and page.context["recs"].items == []
    assert "Nothing is left to recommend" in page.content.decode()
