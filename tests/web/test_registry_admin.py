import pytest
from django.urls import reverse

from recsys.models import Job, TrainedModel
from recsys.services import training

from .factories import make_dataset, make_history

pytestmark = pytest.mark.django_db


def test_admin_train_action_queues_a_training_job(client, django_user_model):
    dataset = make_dataset()
    make_history(dataset, item_ids=(1, 2, 3, 4))  # leave-one-out keeps two to learn from
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.org", "pw-long-enough"))
    client.post(reverse("admin:recsys_dataset_changelist"),
                {"action": "train_gru4rec", "_selected_action": [dataset.pk]})
    job = Job.objects.get(kind="train_model", owner__username="root")
    assert job.queue == "training"
    assert TrainedModel.objects.get(pk=job.params["model_id"]).architecture == "gru4rec"


def test_beat_retrains_an_active_model_only_when_histories_changed():
    dataset = make_dataset()
    make_history(dataset, item_ids=(1, 2, 3, 4))
    active = TrainedModel.objects.create(dataset=dataset, architecture="sasrec", status="ready", is_active=True,
                                         hyperparameters={"max_len": 10}, data_snapshot=training.data_snapshot(dataset))
    assert training.schedule_retraining() == []
    make_history(dataset, external_user_id="u2", item_ids=(4, 5, 6))
    [job] = training.schedule_retraining()
    assert job.params["activate"] is True
    assert TrainedModel.objects.get(pk=job.params["model_id"]).hyperparameters == active.hyperparameters


def test_beat_skips_a_dataset_that_can_no_longer_train_and_retrains_the_others():
    """A TrainingError from one dataset (its histories since cut short) stopped the whole periodic retraining."""
    cut, fine = make_dataset("cut"), make_dataset("fine")
    for dataset in (cut, fine):
        make_history(dataset, item_ids=(1, 2, 3, 4))
        TrainedModel.objects.create(dataset=dataset, architecture="sasrec", status="ready", is_active=True,
                                    hyperparameters={"max_len": 10}, data_snapshot=training.data_snapshot(dataset))
    cut.items.get(external_id="4").interactions.update(state="excluded")
    make_history(fine, external_user_id="u2", item_ids=(4, 5, 6))
    [job] = training.schedule_retraining()
    assert TrainedModel.objects.get(pk=job.params["model_id"]).dataset == fine


def test_retraining_chooses_the_automatic_settings_again():
    chosen = {"num_items": 30, "max_len": 10, "loss": "full", "dropout": 0.5, "auto": {"loss": "full: 30 items"}}
    assert training.user_hyperparameters(chosen) == {"max_len": 10, "dropout": 0.5}


def test_admin_shows_the_settings_chosen_from_the_data(client, django_user_model):
    dataset = make_dataset()
    model = TrainedModel.objects.create(dataset=dataset, architecture="sasrec", status="ready",
                                        hyperparameters={"dropout": 0.5, "auto": {"dropout": "0.5: sparse data"}})
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.org", "pw-long-enough"))
    page = client.get(reverse("admin:recsys_trainedmodel_change", args=[model.pk])).content.decode()
    assert "Chosen from the data" in page and "<strong>dropout</strong> = 0.5: sparse data" in page


def test_deleting_a_version_removes_its_artefact_but_never_the_active_one(
        client, django_user_model, trained, django_capture_on_commit_callbacks, settings):
    from recsys.services import artefacts, registry

    dataset, active, _ = trained
    old = TrainedModel.objects.create(dataset=dataset, architecture="sasrec", status=TrainedModel.Status.READY)
    old.artefact_path = artefacts.save_bytes(f"models/model-{old.pk}", b"old version")
    old.save()
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.org", "pw-long-enough"))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:recsys_trainedmodel_changelist"),
                    {"action": "delete_selected", "_selected_action": [old.pk], "post": "yes"})
    assert list(TrainedModel.objects.values_list("pk", flat=True)) == [active.pk]
    store = artefacts.storage()
    assert not store.exists(old.artefact_path) and store.exists(active.artefact_path)
    delete_active = reverse("admin:recsys_trainedmodel_delete", args=[active.pk])
    assert client.post(delete_active, {"post": "yes"}).status_code == 403
    with pytest.raises(registry.RegistryError, match="active"):
        registry.delete(active)
    assert TrainedModel.objects.filter(pk=active.pk).exists()


def test_model_versions_are_numbered_per_dataset(client, django_user_model):
    films, shop = make_dataset("films"), make_dataset("shop")
    make_history(films, item_ids=(1, 2, 3, 4))
    make_history(shop, item_ids=(1, 2, 3, 4))
    created = []
    for dataset, architecture in ((films, "sasrec"), (shop, "sasrec"), (films, "gru4rec"), (shop, "tcn"),
                                  (films, "tcn")):
        job = training.start_training(dataset=dataset, architecture=architecture, enqueue=False)
        created.append(TrainedModel.objects.get(pk=job.params["model_id"]))
    assert [(model.dataset.name, model.version) for model in created] == [
        ("films", 1), ("shop", 1), ("films", 2), ("shop", 2), ("films", 3)]
    assert str(created[3]) == "TCN v2 on shop"
    TrainedModel.objects.filter(pk=created[4].pk).delete()  # a deleted version's number is never given again
    assert TrainedModel.objects.create(dataset=films, architecture="tcn").version == 4
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.org", "pw-long-enough"))
    page = client.get(reverse("dashboard:registry") + f"?dataset={shop.pk}").content.decode()
    assert "<td>v1</td>" in page and "<td>v2</td>" in page and "<td>v3</td>" not in page


@pytest.mark.django_db(transaction=True)
def test_versions_trained_before_numbering_per_dataset_keep_their_numbers():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before, after = [("recsys", "0007_artefacts_in_storage")], [("recsys", "0009_trainedmodel_version_per_dataset")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        films = old.get_model("recsys", "Dataset").objects.create(name="films", title="Films")
        shop = old.get_model("recsys", "Dataset").objects.create(name="shop", title="Shop")
        model = old.get_model("recsys", "TrainedModel")
        ids = [model.objects.create(dataset=dataset, architecture="sasrec").pk for dataset in (films, shop, films)]
        executor = MigrationExecutor(connection)
        executor.migrate(after)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert [TrainedModel.objects.get(pk=pk).version for pk in ids] == ids
    assert TrainedModel.objects.create(dataset_id=films.pk, architecture="tcn").version == ids[2] + 1
    assert TrainedModel.objects.create(dataset_id=shop.pk, architecture="tcn").version == ids[1] + 1


def test_admin_pages_with_an_id_or_filter_that_is_not_a_number_are_404_or_ignored_not_a_server_error(
    client, django_user_model
):
    dataset = make_dataset()
    TrainedModel.objects.create(dataset=dataset, architecture="sasrec", status="ready")
    client.raise_request_exception = False
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.org", "pw-long-enough"))
    for bad in ("abc", "%00", "a" * 300):
        assert client.get(f"/admin/recsys/dataset/{bad}/delete/").status_code == 404
        assert client.post(f"/admin/recsys/dataset/{bad}/delete/").status_code == 404
        assert client.get(f"/admin/recsys/trainedmodel/{bad}/change/").status_code == 404
        assert client.post(f"/admin/recsys/trainedmodel/{bad}/change/", {"action": "activate"}).status_code == 404
    for bad in ("abc", "-1", "9" * 30):  # the category filter's choices for a dataset filter that is not a number
        assert client.get(f"/admin/recsys/item/?dataset__id__exact={bad}").status_code in (200, 302)
    assert Job.objects.count() == 0 and TrainedModel.objects.get().status == "ready"
