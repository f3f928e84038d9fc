import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from recsys.models import Interaction, Job, TrainedModel

from .conftest import TINY
from .factories import make_dataset, make_history

pytestmark = pytest.mark.django_db


def tiny_options(**overrides) -> list[str]:
    """TINY as --set FIELD=VALUE pairs, overridden by the command's own options."""
    settings = {**TINY, "epochs": 2}
    options = []
    for field, value in settings.items():
        options += ["--set", f"{field}={json.dumps(value)}"]
    for option, value in overrides.items():
        options += [f"--{option.replace('_', '-')}", str(value)]
    return options


def train(*args) -> str:
    out = StringIO()
    call_command("train_model", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def films():
    dataset = make_dataset(n_items=30)
    for u in range(25):
        make_history(dataset, external_user_id=f"u{u}", item_ids=[(u + k) % 30 + 1 for k in range(8)])
    return dataset


@pytest.mark.trains
def test_train_model_records_the_job_and_model_like_the_admin_action(films, capsys):
    out = train("--dataset", str(films.pk), "--arch", "gru4rec", "--activate", *tiny_options(epochs=3, hidden=8))

    job = Job.objects.get(kind="train_model")
    model = TrainedModel.objects.get(pk=job.params["model_id"])
    assert (job.queue, job.status, job.progress, job.params["activate"]) == ("training", "succeeded", 100, True)
    assert job.result["model_id"] == model.pk and job.result["active"] is True
    assert (model.status, model.architecture, model.is_active) == ("ready", "gru4rec", True)
    assert (model.hyperparameters["epochs"], model.hyperparameters["hidden"], model.hyperparameters["blocks"]) == (
        3, 8, 1)
    assert len(model.training_curve) == 3
    for protocol in ("sampled", "full"):
        assert f"{protocol:<9} model" in out and f"{protocol:<9} most-popular" in out
    assert "HR@10" in out and "NDCG@10" in out
    assert f"{model} ready (3 epochs" in out and "active" in out
    bar = capsys.readouterr().err
    assert "3/3" in bar and "loss " in bar and "valid NDCG@10 0." in bar


@pytest.mark.trains
def test_train_model_leaves_the_active_model_alone_without_activate(films):
    train("--dataset", films.name, "--arch", "sasrec", *tiny_options(epochs=1, loss="sampled"))
    model = TrainedModel.objects.get()
    assert (model.status, model.is_active, model.hyperparameters["loss"]) == ("ready", False, "sampled")


def test_unknown_dataset_fails_clearly():
    with pytest.raises(CommandError, match="No dataset named 'nope'"):
        train("--dataset", "nope", "--arch", "sasrec")


def test_unknown_architecture_fails_clearly(films):
    with pytest.raises(CommandError, match="invalid choice: 'bert'"):
        train("--dataset", films.name, "--arch", "bert")
    assert not Job.objects.exists()


def test_empty_dataset_fails_clearly():
    dataset = make_dataset(name="empty")
    with pytest.raises(CommandError, match="has no interactions"):
        train("--dataset", "empty", "--arch", "sasrec")
    assert not TrainedModel.objects.filter(dataset=dataset).exists()


@pytest.mark.parametrize(("setting", "message"), [
    ("colour=3", "unknown ModelConfig fields: \\['colour'\\]"),
    ("blocks", "--set expects FIELD=VALUE"),
    ("=3", "--set expects FIELD=VALUE"),
    ("dropout=1.5", "dropout must be in"),
])
def test_bad_settings_fail_before_a_job_is_created(films, setting, message):
    with pytest.raises(CommandError, match=message):
        train("--dataset", films.name, "--arch", "tcn", "--set", setting)
    assert not Job.objects.exists() and not TrainedModel.objects.exists()


def test_a_failed_training_job_is_a_command_error(films, monkeypatch):
    def fails(*args, **kwargs):
        raise RuntimeError("the worker ran out of memory")

    monkeypatch.setattr("recsys.services.training.train_recommender", fails)
    with pytest.raises(CommandError, match="Training job #\\d+ failed"):
        train("--dataset", films.name, "--arch", "sasrec", *tiny_options())
    assert TrainedModel.objects.get().status == "failed"


def test_a_dataset_of_histories_too_short_to_split_is_refused_before_a_job_with_what_it_needs(client,
                                                                                            django_user_model):
    """A tiny click log failed its training job as 'ValueError: no user has the 3 interactions a split needs'
    (histories of one or two), or 'ValueError: no training sequence has two or more items' (all of three)."""
    from django.urls import reverse

    from recsys.services.training import TrainingError, start_training

    dataset = make_dataset(name="clicks", source_format="csv")
    make_history(dataset, external_user_id="a", item_ids=(1, 2))
    make_history(dataset, external_user_id="b", item_ids=(3,))
    expected = ("The histories in clicks are too short to train on: a model is checked on the last two interactions "
                "of each history of 3 or more and learns from what is left, so it needs a history of at least 4 "
                "interactions (or histories of 3 beside some of 2): import longer histories first.")
    with pytest.raises(TrainingError) as refused:
        start_training(dataset=dataset, architecture="sasrec")
    assert str(refused.value) == expected
    with pytest.raises(CommandError, match="The histories in clicks are too short to train on"):
        train("--dataset", "clicks", "--arch", "gru4rec")
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    response = client.post(reverse("admin:recsys_dataset_changelist"),
                           {"action": "train_tcn", "_selected_action": [dataset.pk]}, follow=True)
    assert expected in response.content.decode()
    assert not Job.objects.exists() and not TrainedModel.objects.exists()
    threes = make_dataset(name="threes", source_format="csv")
    for user in "cde":
        make_history(threes, external_user_id=user, item_ids=(1, 2, 3))
    with pytest.raises(TrainingError, match="The histories in threes are too short"):
        start_training(dataset=threes, architecture="sasrec")
    make_history(dataset, external_user_id="c", item_ids=(1, 2, 3))  # beside a's two, which it learns from whole
    assert start_training(dataset=dataset, architecture="sasrec", enqueue=False).kind == "train_model"
    make_history(threes, external_user_id="f", item_ids=(1, 2, 3, 4))
    assert start_training(dataset=threes, architecture="sasrec", enqueue=False).kind == "train_model"


def test_histories_shortened_after_the_job_was_queued_fail_it_with_that_sentence_alone(films):
    from recsys import jobs
    from recsys.services.training import start_training

    job = start_training(dataset=films, architecture="sasrec", hyperparameters={**TINY, "epochs": 1}, enqueue=False)
    Interaction.objects.filter(position__gte=2).delete()
    jobs.run(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.message.startswith("The histories in films are too short to train on")
    assert "ValueError" not in job.message and "Traceback" not in job.message
    # the registry shows the failed version's error: the same sentence, not the split's internal one
    assert TrainedModel.objects.get(pk=job.params["model_id"]).error == job.message
