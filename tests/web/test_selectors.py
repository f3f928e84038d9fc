"""The one home of each read: histories, categories and the active model, each read one way."""

import numpy as np
import pytest

from dashboard import reads as dashboard
from recourse.services import context, experiments
from recsys import selectors
from recsys.models import Interaction, Item, TrainedModel
from recsys.services import registry, serving

from .conftest import train_now
from .factories import make_dataset, make_history

pytestmark = pytest.mark.django_db


def test_one_category_parser_splits_on_bars_and_commas():
    assert Item.parse_categories("Action|Comedy") == ["Action", "Comedy"]
    assert Item.parse_categories(" Drama , Horror|Action|") == ["Drama", "Horror", "Action"]
    assert Item.parse_categories("Drama,Drama") == ["Drama"]
    assert Item.parse_categories("") == [] and Item.parse_categories(None) == []
    assert Item(categories="Sci-Fi, Film-Noir").category_list == ["Sci-Fi", "Film-Noir"]


def test_category_filter_reads_categories_as_the_parser_does():
    dataset = make_dataset(n_items=5)
    titles = {"Sci-Fi, Film-Noir": "a", "Action|Sci-Fi": "b", "Sci-Fi": "c", "Sci-Fiction|Drama": "d", "Drama": "e"}
    for item, (categories, title) in zip(dataset.items.order_by("pk"), titles.items(), strict=True):
        Item.objects.filter(pk=item.pk).update(categories=categories, title=title)

    def titles_in(category):
        return sorted(Item.objects.filter(Item.in_category(category), dataset=dataset).values_list("title", flat=True))

    assert titles_in("Sci-Fi") == ["a", "b", "c"]
    assert titles_in("Film-Noir") == ["a"]


def test_history_reads_leave_out_excluded_interactions_and_keep_order():
    dataset = make_dataset(n_items=6)
    sequence = make_history(dataset, external_user_id="u1", item_ids=(3, 1, 2))
    first, second, third = sequence.interactions.chronological()
    Interaction.objects.filter(pk=second.pk).update(state=Interaction.State.EXCLUDED, weight=0.0)
    Interaction.objects.filter(pk=third.pk).update(weight=0.5)
    expected = [(str(first.item_id), 1.0), (str(third.item_id), 0.5)]
    assert selectors.sequence_histories(dataset=dataset) == {str(sequence.pk): expected}
    assert selectors.sequence_histories(sequence_ids=[sequence.pk]) == {str(sequence.pk): expected}
    assert list(Interaction.objects.active().filter(sequence=sequence).chronological()) == [first, third]


def test_active_model_is_the_ready_active_version(trained):
    dataset, model, _ = trained
    assert selectors.active_model(dataset) == model
    TrainedModel.objects.filter(pk=model.pk).update(status=TrainedModel.Status.TRAINING)
    assert selectors.active_model(dataset) is None
    with pytest.raises(serving.NoActiveModel):
        serving.loaded_model(dataset)
    assert not hasattr(registry, "active_model")


def test_drift_page_dashboard_and_experiment_build_the_same_category_matrix():
    dataset = make_dataset(name="mixed", n_items=20)
    mixed = {1: "Action|Comedy", 2: "Drama, Horror", 3: " Comedy ,Romance|Drama", 4: ""}
    for external_id, text in mixed.items():
        Item.objects.filter(dataset=dataset, external_id=str(external_id)).update(categories=text)
    for u in range(8):
        make_history(dataset, external_user_id=f"u{u}", item_ids=[(u + k) % 20 + 1 for k in range(6)])
    model = train_now(dataset, epochs=1)
    _, recommender = serving.loaded_model(dataset)
    drift_page = context.categories_for(model, recommender)
    sequence = dataset.sequences.first()
    analyst = dashboard.member_view(dataset, sequence).categories
    experiment = experiments.prepare(dataset=dataset, n_users=3, seed=0).categories
    for other in (analyst, experiment):
        assert other.names == drift_page.names
        np.testing.assert_array_equal(other.matrix, drift_page.matrix)
    assert "Horror" in drift_page.names and "Drama, Horror" not in drift_page.names
    row = recommender.index.index_of(str(Item.objects.get(dataset=dataset, external_id="3").pk))
    assert [drift_page.names[c] for c in np.flatnonzero(drift_page.matrix[row])] == ["Comedy", "Drama", "Romance"]


def test_title_search_ignores_case_in_every_alphabet(django_user_model):
    """SQLite's LIKE folds ASCII letters only: 'песня' did not find 'Песня', nor 'águas' 'Águas de Março' (the
    embedded default's catalogue and history search); PostgreSQL's did."""
    dataset = make_dataset(n_items=4)
    titles = ["Песня о тревожной молодости", "Águas de Março", "Jóga", "Lose Yourself"]
    for item, title in zip(dataset.items.order_by("pk"), titles, strict=True):
        Item.objects.filter(pk=item.pk).update(title=title)
    member = django_user_model.objects.create_user(username="listener", password="x")
    make_history(dataset, user=member, item_ids=(1, 2, 3, 4))

    def found(query):
        return sorted(item.title for item in selectors.catalogue(dataset, query=query)[:10])

    def in_history(query):
        return sorted(row.item.title for row in selectors.member_interactions(member, dataset, query=query))

    for query, title in (("песня", titles[0]), ("ПЕСНЯ", titles[0]), ("águas", titles[1]), ("JÓGA", titles[2]),
                         ("yourself", titles[3]), ("de mar", titles[1])):
        assert found(query) == [title], query
        assert in_history(query) == [title], query
    assert found("100%") == [] and found("a_u") == []  # LIKE's wildcards are letters here
