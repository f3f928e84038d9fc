import pytest
from django.urls import reverse

from recsys import jobs
from recsys.models import Job, TrainedModel
from recsys.services import registry, serving, training

from .factories import make_dataset, make_history

pytestmark = pytest.mark.django_db

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


def test_training_records_a_ready_active_model_with_both_protocols(trained):
    dataset, model, _ = trained
    assert model.status == "ready" and model.is_active and model.device
    assert set(model.metrics) == {"sampled", "full"}
    assert "NDCG@10" in model.metrics["full"]["model"]["metrics"]
    assert len(model.training_curve) >= 1 and model.data_snapshot["interactions"] == 25 * 8 + 4


def test_for_you_shows_ten_unseen_items(client, trained):
    dataset, model, alice = trained
    client.force_login(alice)
    page = client.get(reverse("recsys:for-you"))
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
    page = client.get(reverse("recsys:for-you"))
    assert page.context["recs"].fallback and b"most popular" in page.content


def test_no_active_model_gives_a_clear_message(client, make_user):
    make_dataset()
    client.force_login(make_user("x"))
    assert b"No model is active" in client.get(reverse("recsys:for-you")).content
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
