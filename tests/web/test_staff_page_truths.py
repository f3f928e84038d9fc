"""Sentences and numbers on the staff pages (research dashboard) agree with each other (found walking the demo)."""

import pytest
from django.urls import reverse

from dashboard.figures import experiment_figure
from recourse.models import Experiment
from recsys.models import TrainedModel

from .factories import make_dataset

pytestmark = pytest.mark.django_db


def test_the_registry_says_why_a_version_failed(analyst_client):
    """A failed or cancelled training showed a bare "Failed" in the registry; the reason was only in the jobs list."""
    dataset = make_dataset()
    TrainedModel.objects.create(dataset=dataset, architecture="sasrec", status=TrainedModel.Status.FAILED,
                                error="Cancelled before it started")
    page = analyst_client.get(reverse("dashboard:registry") + f"?dataset={dataset.pk}").content.decode()
    assert "Failed: Cancelled before it started" in page


def test_the_summary_names_the_model_its_experiment_ran_on_when_another_is_active(analyst_client):
    """The summary showed "Active model v2 GRU4Rec" above an experiment run on SASRec v1, without saying so."""
    dataset = make_dataset()
    old = TrainedModel.objects.create(dataset=dataset, architecture="sasrec", status=TrainedModel.Status.READY)
    TrainedModel.objects.create(dataset=dataset, architecture="gru4rec", status=TrainedModel.Status.READY,
                                is_active=True)
    Experiment.objects.create(name="five members", dataset=dataset, trained_model=old, status=Experiment.Status.DONE,
                              results={"strategies": {}, "n_users": 5, "seed": 0, "notes": []})
    page = analyst_client.get(reverse("dashboard:summary") + f"?dataset={dataset.pk}").content.decode()
    assert (f"run on SASRec v{old.version} on {dataset.name}, not on the active model (v{old.version + 1} GRU4Rec); "
            "5 members, seed 0.") in page
    Experiment.objects.filter(dataset=dataset).update(results={"strategies": {}, "n_users": 1, "seed": 0, "notes": []})
    page = analyst_client.get(reverse("dashboard:summary") + f"?dataset={dataset.pk}").content.decode()
    assert "; 1 member, seed 0." in page  # not "1 members"


def test_experiment_charts_name_the_protocol_in_words():
    """The chart was titled with the internal key "full:HR@10"."""
    stats = {"mean": 0.2, "low": 0.1, "high": 0.3, "n": 5}
    experiment = Experiment(pk=7, results={"strategies": {"random": {"conditions": {"clean": {
        "full:HR@10": stats, "sampled:HR@10": stats, "alignment": stats}}}}})
    assert experiment_figure(experiment, "full:HR@10")["title"] == "HR@10 (full ranking) by condition"
    assert experiment_figure(experiment, "sampled:HR@10")["title"] == "HR@10 (sampled, 1 + 100) by condition"
    assert experiment_figure(experiment, "alignment")["title"] == "alignment by condition"
    assert '"rangemode":"tozero"' in experiment_figure(experiment, "full:HR@10")["html"]  # not -1..1 when all 0
