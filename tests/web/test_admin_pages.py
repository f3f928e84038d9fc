import numpy as np
import pandas as pd
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from recsys.importers.dataset import ParsedDataset, make_interactions, make_items
from recsys.models import Interaction, InteractionSequence, Item, Job, TrainedModel
from recsys.services.imports import load_parsed

pytestmark = pytest.mark.django_db

N_USERS, N_ITEMS, N_INTERACTIONS = 1000, 800, 100_000


@pytest.fixture
def big_dataset():
    rng = np.random.default_rng(0)
    users = rng.integers(1, N_USERS + 1, N_INTERACTIONS)
    items = rng.integers(1, N_ITEMS + 1, N_INTERACTIONS)
    parsed = ParsedDataset(
        format="csv",
        items=make_items(pd.Series(range(1, N_ITEMS + 1)), pd.Series([f"Item {i}" for i in range(1, N_ITEMS + 1)]),
                         categories=[("Drama",) if i % 2 else ("Comedy", "Drama") for i in range(1, N_ITEMS + 1)]),
        interactions=make_interactions(pd.Series(users), pd.Series(items), np.arange(N_INTERACTIONS), None),
        users=None, tags=None, has_timestamps=True, has_categories=True, source_files=[], checksum="x",
    )
    dataset = load_parsed(name="big", parsed=parsed)
    TrainedModel.objects.create(dataset=dataset, architecture="sasrec", status="ready")
    Job.objects.create(kind="import_dataset", status="succeeded", progress=100)
    return dataset


def admin_urls(dataset):
    sequence = InteractionSequence.objects.first()
    interaction = Interaction.objects.first()
    item = Item.objects.first()
    urls = []
    for model in ("dataset", "item", "interactionsequence", "interaction", "trainedmodel", "job"):
        urls.append(reverse(f"admin:recsys_{model}_changelist"))
    urls += [
        reverse("admin:recsys_dataset_change", args=[dataset.pk]),
        reverse("admin:recsys_item_change", args=[item.pk]),
        reverse("admin:recsys_interactionsequence_change", args=[sequence.pk]),
        reverse("admin:recsys_interaction_change", args=[interaction.pk]),
        reverse("admin:recsys_item_changelist") + "?category=Comedy",
        reverse("admin:recsys_item_changelist") + "?q=Item+7",
        reverse("admin:recsys_dataset_import"),
    ]
    return urls


def test_admin_pages_load_on_100k_interactions_in_few_queries(client, django_user_model, big_dataset):
    assert big_dataset.n_interactions == N_INTERACTIONS
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.org", "pw-long-enough"))
    for url in admin_urls(big_dataset):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, url
        assert len(queries) < 20, f"{url}: {len(queries)} queries"


def test_every_admin_model_is_named_in_proper_plural():
    """The admin index lists models by verbose_name_plural; Django's default only appends "s" ("Drift watchs")."""
    from django.contrib import admin

    for model in admin.site._registry:
        plural = str(model._meta.verbose_name_plural)
        assert not plural.endswith(("chs", "shs", "xs", "ss")), f"{model.__name__}: {plural}"


def test_admin_item_list_orders_titles_and_ids_naturally(client, django_user_model):
    """Numbers compare as numbers ("9" before "10", "Item 9" before "Item 10"), by default and by either column."""
    from recsys.models import Dataset

    dataset = Dataset.objects.create(name="clicks", title="Clicks")
    titles = {"10": "10", "9": "9", "100": "Item 10", "2": "Item 9", "11": "item 11", "1": "Alpha"}
    Item.objects.bulk_create(Item(dataset=dataset, external_id=key, title=title) for key, title in titles.items())
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.org", "pw-long-enough"))
    changelist = reverse("admin:recsys_item_changelist")

    def listed(query=""):
        return [(item.title, item.external_id) for item in client.get(changelist + query).context["cl"].result_list]

    by_title = [("9", "9"), ("10", "10"), ("Alpha", "1"), ("Item 9", "2"), ("Item 10", "100"), ("item 11", "11")]
    assert listed() == by_title and listed("?o=1") == by_title and listed("?o=-1") == by_title[::-1]
    assert [key for _, key in listed("?o=4")] == ["1", "2", "9", "10", "11", "100"]


def test_the_admins_own_pages_carry_their_heading_once(client, django_user_model):
    """'Import a dataset' was shown twice, the admin's title above the page's own heading (Delete and Train a
    forecaster too)."""
    import re

    from .factories import make_dataset

    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw"))
    dataset = make_dataset()
    for url, heading in ((reverse("admin:recsys_dataset_import"), "Import a dataset"),
                         (reverse("admin:recsys_dataset_delete", args=[dataset.pk]), f"Delete {dataset}?"),
                         (reverse("admin:forecast_forecaster_train"), "Train a forecaster of emerging hits")):
        content = client.get(url).content.decode()
        assert re.findall(r"<h1>(.*?)</h1>", content) == [heading], url
