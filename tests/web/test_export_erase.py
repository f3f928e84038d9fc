import csv
import io
import json
import zipfile

import pytest
from django.urls import reverse

from accounts.models import ErasureRecord, User
from recsys.models import Dataset, Interaction, InteractionSequence

from .factories import make_dataset, make_history

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_members(member_client, make_user):
    dataset = make_dataset()
    make_history(dataset, user=member_client.user, external_user_id="alice-import", item_ids=(1, 2))
    member_client.post(reverse("recsys:add-to-history", args=[dataset.items.get(external_id="5").pk]))
    make_history(dataset, user=make_user("bob"), external_user_id="bob-import", item_ids=(9, 10))
    return dataset


def test_json_export_contains_exactly_the_members_data(member_client, two_members):
    data = json.loads(member_client.get(reverse("export-json")).content)
    assert data["profile"]["username"] == "alice"
    [history] = data["histories"]
    assert history["external_user_id"] == "alice-import"
    assert [row["item_external_id"] for row in history["interactions"]] == ["1", "2", "5"]
    assert "bob" not in json.dumps(data)


def test_csv_export_lists_the_members_interactions(member_client, two_members):
    archive = zipfile.ZipFile(io.BytesIO(member_client.get(reverse("export-csv")).content))
    rows = list(csv.DictReader(io.StringIO(archive.read("histories-interactions.csv").decode())))
    assert [row["item_external_id"] for row in rows] == ["1", "2", "5"]
    assert {row["external_user_id"] for row in rows} == {"alice-import"}


def test_erasure_with_anonymise_policy_keeps_imported_rows_detached(member_client, two_members):
    alice = member_client.user
    response = member_client.post(reverse("erase"), {"password": "a-long-test-password", "confirm": "on"})
    assert response.status_code == 302
    assert not User.objects.filter(username="alice").exists()
    assert not InteractionSequence.objects.filter(external_user_id="alice-import").exists()
    anonymised = InteractionSequence.objects.get(external_user_id__startswith="erased-")
    assert anonymised.user is None and anonymised.attributes == {}
    assert [i.item.external_id for i in anonymised.interactions.order_by("position")] == ["1", "2"]
    assert not Interaction.objects.filter(source="manual").exists()
    record = ErasureRecord.objects.get()
    assert record.former_user_id == alice.pk and record.summary["datasets"]["films"]["policy"] == "anonymised"
    assert InteractionSequence.objects.filter(external_user_id="bob-import").exists()


def test_erasure_with_delete_policy_leaves_nothing(member_client, two_members):
    Dataset.objects.update(erasure_policy="delete")
    member_client.post(reverse("erase"), {"password": "a-long-test-password", "confirm": "on"})
    assert InteractionSequence.objects.count() == 1
    assert Interaction.objects.count() == 2  # Bob's


def test_erasure_needs_the_password(member_client, two_members):
    response = member_client.post(reverse("erase"), {"password": "wrong", "confirm": "on"})
    assert response.status_code == 200 and b"That is not your password" in response.content
    assert User.objects.filter(username="alice").exists()
