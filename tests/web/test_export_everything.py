"""The account export holds every row of member data: each model with a foreign-key path to the user is
declared by its app (``EXPORTED_MODELS``) and its rows really appear in the JSON and the zipped CSV files."""

import csv
import io
import json
import zipfile

import pytest
from django.apps import apps
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db.models import Q
from django.urls import reverse

from accounts.export import exported_models
from diagnostics.models import DiagnosticRun
from forecast.models import Forecaster
from recourse.models import (
    DriftAlert,
    DriftResult,
    DriftWatch,
    Experiment,
    Explanation,
    ExplanationFeedback,
    NeverFlag,
    RecourseResult,
)
from recsys.models import Interaction, ItemTag, Job, NotInterested, TrainedModel, TrainingExclusion

from .factories import make_dataset, make_history

pytestmark = pytest.mark.django_db


def user_paths() -> dict[str, list[str]]:
    """Every concrete model (M2M tables excepted) that refers to the user model, directly or through a model
    the user owns (one whose foreign key to the user is called ``user``): label -> ORM lookups to the user."""
    user_model = get_user_model()
    direct: dict[type, list[str]] = {}
    for model in apps.get_models():
        if model is not user_model:
            names = [f.name for f in model._meta.get_fields() if _is_fk_to(f, user_model)]
            if names:
                direct[model] = names
    owned = [model for model, names in direct.items() if "user" in names]
    paths = {model._meta.label: list(names) for model, names in direct.items()}
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if any(_is_fk_to(field, owner) for owner in owned):
                paths.setdefault(model._meta.label, []).append(f"{field.name}__user")
    return paths


def _is_fk_to(field, target) -> bool:
    return bool(field.many_to_one and field.concrete and field.related_model is target)


def rows_of(label: str, lookups: list[str], user) -> int:
    condition = Q()
    for lookup in lookups:
        condition |= Q(**{lookup: user})
    return apps.get_model(label)._default_manager.filter(condition).distinct().count()


def section_rows(data: dict, section: str) -> list:
    """``"histories[].interactions"``: the interactions of every history, in one list."""
    head, _, nested = section.partition("[].")
    rows = data[head]
    return [child for row in rows for child in row[nested]] if nested else rows


@pytest.fixture
def member_with_everything(make_user):
    """One or more rows of every model that holds member data, for the member and for another account."""
    rows = {}
    for username in ("alice", "bob"):
        user = make_user(username, is_staff=True)
        dataset = make_dataset(name=f"films-{username}")
        sequence = make_history(dataset, user=user, external_user_id=f"{username}-import", item_ids=(1, 2, 3))
        interaction = sequence.interactions.order_by("position").first()
        item = dataset.items.get(external_id="7")
        model = TrainedModel.objects.create(dataset=dataset, architecture="sasrec", status="ready", created_by=user,
                                            metrics={})
        job = Job.objects.create(kind="train", owner=user, message=f"{username}'s job")
        explanation = Explanation.objects.create(
            user=user, trained_model=model, target_item=item, method="ig", history_fingerprint="f",
            interaction_ids=[interaction.pk], raw_scores=[0.5], normalized_scores=[1.0])
        ExplanationFeedback.objects.create(explanation=explanation, user=user, helpful=True, comment=f"{username} ok")
        check = DriftResult.objects.create(
            user=user, trained_model=model, drift=True, reason="off-taste", alignment=0.5,
            alignment_without_flagged=0.7, ads_without_flagged=0.1, ads_cutoff=0.05,
            interaction_ids=[interaction.pk], drift_scores=[0.9], flagged_interaction_ids=[interaction.pk],
            history_fingerprint="f")
        RecourseResult.objects.create(
            user=user, sequence=sequence, trained_model=model,
            changes=[{"interaction_id": interaction.pk, "title": interaction.item.title,
                      "before": {"state": "active", "weight": 1.0}, "after": {"state": "excluded", "weight": 1.0}}],
            metrics={"top_before": [item.pk], "top_after": [item.pk]})
        Experiment.objects.create(name=f"{username}'s experiment", dataset=dataset, trained_model=model,
                                  created_by=user)
        TrainingExclusion.objects.create(sequence=sequence, reason=f"{username}'s history looks automated",
                                         created_by=user)  # excluded and excluding (the fixture's staff)
        DiagnosticRun.objects.create(dataset=dataset, architecture="mf", created_by=user)
        Forecaster.objects.create(dataset=dataset, version=1, created_by=user)
        NotInterested.objects.create(user=user, item=item)
        DriftAlert.objects.create(user=user, dataset=dataset, drift_result=check,
                                  flagged_interaction_ids=[interaction.pk], narrative=f"{username}'s alert")
        DriftWatch.objects.create(user=user, dataset=dataset, arrivals=2, checked_arrivals=1)
        NeverFlag.objects.create(user=user, interaction=interaction)
        ItemTag.objects.create(item=item, sequence=sequence, tag=f"{username}'s tag", timestamp=1_000_000)
        LogEntry.objects.create(user=user, content_type=ContentType.objects.get_for_model(job), object_id=str(job.pk),
                                object_repr=str(job), action_flag=ADDITION)
        rows[username] = user
    return rows


def test_every_model_holding_member_data_is_declared_for_the_export():
    paths = user_paths()
    assert {"recsys.Interaction", "recsys.InteractionSequence", "recourse.RecourseResult"} <= set(paths)
    assert set(paths["recsys.TrainingExclusion"]) == {"sequence__user", "created_by", "lifted_by"}
    missing = sorted(set(paths) - set(exported_models()))
    assert not missing, f"these models hold member data but no app exports them (EXPORTED_MODELS): {missing}"


def test_the_json_export_holds_every_row_of_every_member_data_model(client, member_with_everything):
    alice = member_with_everything["alice"]
    client.force_login(alice)
    data = json.loads(client.get(reverse("export-json")).content)
    declared = exported_models()
    for label, lookups in user_paths().items():
        expected = rows_of(label, lookups, alice)
        assert expected >= 1, f"the fixture makes no {label} row: add one"
        assert len(section_rows(data, declared[label])) == expected, label
    assert "bob" not in json.dumps(data)


def test_exported_references_are_readable(client, member_with_everything):
    client.force_login(member_with_everything["alice"])
    data = json.loads(client.get(reverse("export-json")).content)
    first = data["histories"][0]["interactions"][0]
    assert first["title"] == "Film 01 (1991)" and first["interacted_at"] == "1970-01-12T13:46:40+00:00"
    assert data["explanations"][0]["item"] == "Film 07 (1997)"
    assert data["explanations"][0]["contributions"] == [
        {"interaction_id": first["interaction_id"], "title": "Film 01 (1991)", "interacted_at": first["interacted_at"],
         "score": 0.5}]
    assert data["drift_checks"][0]["flagged"][0]["title"] == "Film 01 (1991)"
    correction = data["corrections"][0]
    [change] = correction["changes"]
    assert change["title"] == "Film 01 (1991)" and change["after"]["state"] == "excluded"
    assert correction["metrics"]["top_after"] == ["Film 07 (1997)"]
    assert data["explanation_feedback"][0]["explanation"] == "Integrated Gradients of Film 07 (1997)"
    assert data["admin_actions"][0]["action"] == "added"


def test_a_dataset_without_times_exports_no_invented_dates(client, make_user):
    user = make_user("carol")
    make_history(make_dataset(has_timestamps=False), user=user, item_ids=(1,))
    client.force_login(user)
    [row] = json.loads(client.get(reverse("export-json")).content)["histories"][0]["interactions"]
    assert row["interacted_at"] is None and row["timestamp"] == 1_000_000


def test_the_csv_export_is_one_file_per_section(client, member_with_everything):
    client.force_login(member_with_everything["alice"])
    response = client.get(reverse("export-csv"))
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    tables = {name: list(csv.DictReader(io.StringIO(archive.read(name).decode()))) for name in archive.namelist()}
    assert [row["title"] for row in tables["histories-interactions.csv"]] == [
        "Film 01 (1991)", "Film 02 (1992)", "Film 03 (1993)"]
    assert tables["histories-interactions.csv"][0]["interacted_at"].startswith("1970-01-12T")
    assert "interactions" not in tables["histories.csv"][0]
    [change] = tables["corrections-changes.csv"]
    assert change["title"] == "Film 01 (1991)"
    assert change["corrections_row"] == tables["corrections.csv"][0]["corrections_row"] == "1"
    assert json.loads(change["after"]) == {"state": "excluded", "weight": 1.0}
    assert tables["profile.csv"][0]["username"] == "alice"
    for name in ("drift_checks.csv", "drift_checks-flagged.csv", "explanations.csv", "explanations-contributions.csv",
                 "explanation_feedback.csv", "jobs.csv", "experiments.csv", "models_trained.csv", "admin_actions.csv"):
        assert len(tables[name]) == 1, name
    assert not any("bob" in archive.read(name).decode() for name in archive.namelist())


def test_an_interaction_removed_from_the_history_is_named_as_such(client, member_with_everything):
    alice = member_with_everything["alice"]
    Interaction.objects.filter(sequence__user=alice, position=0).delete()
    client.force_login(alice)
    data = json.loads(client.get(reverse("export-json")).content)
    assert data["drift_checks"][0]["flagged"][0]["note"] == "no longer in your history"


def test_an_export_of_items_that_are_not_films_says_nothing_about_watching(client, make_user):
    from recsys.models import Dataset

    user = make_user("dora")
    shop = make_dataset("shop")
    Dataset.objects.filter(pk=shop.pk).update(source_format="csv", item_kind="items")  # neutral words
    make_history(shop, user=user, item_ids=(1,))
    client.force_login(user)
    exported = client.get(reverse("export-json")).content.decode()
    [row] = json.loads(exported)["histories"][0]["interactions"]
    assert row["interacted_at"] == "1970-01-12T13:46:40+00:00" and "watched" not in exported
    archive = zipfile.ZipFile(io.BytesIO(client.get(reverse("export-csv")).content))
    assert "watched" not in archive.read("histories-interactions.csv").decode()
