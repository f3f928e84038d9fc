import pytest
from django.urls import reverse

from recourse.models import RecourseResult
from recsys.models import Interaction

from .factories import make_dataset, make_history

pytestmark = pytest.mark.django_db


def test_landing_page_is_public(client):
    response = client.get(reverse("landing"))
    assert response.status_code == 200
    assert b"Recommendations you can understand" in response.content


def test_home_requires_sign_in(client):
    response = client.get(reverse("recsys:home"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_member_sees_own_timeline(member_client):
    dataset = make_dataset()
    make_history(dataset, user=member_client.user, item_ids=(1, 2, 3))
    response = member_client.get(reverse("recsys:home"))
    assert response.status_code == 200
    assert b"history-timeline" in response.content
    assert b"Film 01 (1991)" in response.content and b"Film 03 (1993)" in response.content


def test_member_cannot_see_another_members_timeline(member_client, make_user):
    dataset = make_dataset()
    make_history(dataset, user=member_client.user, external_user_id="mine", item_ids=(1,))
    make_history(dataset, user=make_user("bob"), external_user_id="bobs", item_ids=(7, 8))
    home = member_client.get(reverse("recsys:home")).content
    api = member_client.get(reverse("api-history")).json()
    assert b"Film 01" in home and b"Film 07" not in home and b"Film 08" not in home
    assert [row["item"]["title"] for row in api["results"]] == ["Film 01 (1991)"]


def test_history_search_and_paging(member_client):
    dataset = make_dataset(n_items=40)
    make_history(dataset, user=member_client.user, item_ids=range(1, 31))
    def table(url):
        return member_client.get(url).content.decode().split("<table")[1]

    first = table(reverse("recsys:home"))
    second = table(reverse("recsys:home") + "?page=2")
    assert "Film 01 " in first and "Film 26" not in first and "Film 26" in second
    searched = table(reverse("recsys:home") + "?q=Film 12")
    assert "Film 12" in searched and "Film 11" not in searched


def test_new_member_builds_history_from_catalogue(member_client):
    dataset = make_dataset()
    page = member_client.get(reverse("recsys:catalogue") + "?category=Comedy")
    assert page.status_code == 200 and b"Film 01" in page.content and b"Film 02" not in page.content
    film = dataset.items.get(external_id="1")
    member_client.post(reverse("recsys:add-to-history", args=[film.pk]), {"rating": "4.5"})
    member_client.post(reverse("recsys:add-to-history", args=[dataset.items.get(external_id="6").pk]), {"rating": ""})
    rows = Interaction.objects.filter(sequence__user=member_client.user).order_by(*Interaction.CHRONOLOGICAL)
    assert [(r.item.external_id, r.rating, r.source) for r in rows] == [("1", 4.5, "manual"), ("6", None, "manual")]
    assert b"Film 06" in member_client.get(reverse("recsys:home")).content


@pytest.mark.parametrize("rating", ["9", "0", "1.3", "nan", "abc"])
def test_catalogue_rejects_a_rating_the_stars_cannot_show(member_client, rating):
    dataset = make_dataset()
    film = dataset.items.first()
    page = member_client.post(reverse("recsys:add-to-history", args=[film.pk]), {"rating": rating}, follow=True)
    assert not Interaction.objects.exists()
    assert "half-star steps" in page.content.decode()


def test_history_api_takes_half_stars_only(member_client):
    film = make_dataset().items.first()

    def add(rating):
        return member_client.post(reverse("api-history"), {"item_id": film.pk, "rating": rating},
                                  content_type="application/json")

    refused = add(1.3)
    assert refused.status_code == 400 and "half-star steps" in refused.json()["rating"][0]
    added = add(1.5)
    assert added.status_code == 201 and added.json()["rating"] == 1.5


def test_my_history_remove_is_an_undoable_exclusion_never_a_deletion(member_client, make_user):
    dataset = make_dataset()
    imported = make_history(dataset, user=member_client.user, item_ids=(1,)).interactions.get()
    member_client.post(reverse("recsys:add-to-history", args=[dataset.items.get(external_id="2").pk]))
    manual = Interaction.objects.get(source="manual")
    other = make_history(dataset, user=make_user("bob"), external_user_id="b", item_ids=(3,)).interactions.get()

    assert member_client.post(reverse("recourse:remove-interaction", args=[other.pk])).status_code == 404
    assert member_client.post(reverse("recourse:add-back-interaction", args=[other.pk])).status_code == 404
    member_client.post(reverse("recourse:remove-interaction", args=[imported.pk]))
    member_client.post(reverse("recourse:remove-interaction", args=[manual.pk]))
    assert Interaction.objects.count() == 3  # nothing deleted
    assert set(Interaction.objects.filter(state="excluded").values_list("pk", flat=True)) == {imported.pk, manual.pk}
    page = member_client.get(reverse("recsys:home")).content.decode()
    assert page.count("back to your history") == 2 and "Removed" in page

    again = member_client.post(reverse("recourse:remove-interaction", args=[manual.pk]), follow=True)
    assert "already removed" in again.content.decode()
    results = RecourseResult.objects.filter(user=member_client.user)
    assert [r.origin for r in results] == ["history", "history"]
    member_client.post(reverse("recourse:undo", args=[results.get(changes__0__interaction_id=manual.pk).pk]))
    assert Interaction.objects.get(pk=manual.pk).state == "active"
    assert Interaction.objects.get(pk=other.pk).state == "active"


def test_unknown_item_gives_404(member_client):
    make_dataset()
    assert member_client.post(reverse("recsys:add-to-history", args=[999999])).status_code == 404


def test_next_parameter_cannot_redirect_off_site(member_client):
    dataset = make_dataset()
    film = dataset.items.first()
    response = member_client.post(reverse("recsys:add-to-history", args=[film.pk]), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("recsys:catalogue")
    response = member_client.post(reverse("recsys:add-to-history", args=[film.pk]), {"next": "/home/?page=2"})
    assert response["Location"] == "/home/?page=2"


def test_catalogue_puts_popular_items_first_and_marks_items_new_to_the_model(client, trained):
    from recsys.models import Item
    from recsys.services import serving
    from recsys.vocabulary import words_for

    dataset, model, alice = trained
    newcomer = Item.objects.create(dataset=dataset, external_id="999", title="A Newcomer (2024)")
    client.force_login(alice)
    page = client.get(reverse("recsys:catalogue"))
    counts = serving.training_counts(dataset)
    listed = [item.pk for item in page.context["page"]]
    assert counts[listed[0]] == max(counts.values()) and newcomer.pk not in listed  # last, on page 2
    assert [counts.get(pk, 0) for pk in listed] == sorted((counts.get(pk, 0) for pk in listed), reverse=True)
    marked = f"{words_for(dataset).items.capitalize()} marked".encode()
    assert b"New to the model</span>" not in page.content
    assert marked not in page.content  # no sentence about marks on a page without them
    second = client.get(reverse("recsys:catalogue") + "?page=2").content
    assert b"New to the model</span>" in second and marked in second
    count = dataset.items.count()
    assert f"<caption>{count} {words_for(dataset).items}</caption>".encode() in second  # the dataset's own word
    by_title = client.get(reverse("recsys:catalogue") + "?order=title").context["page"]
    assert [item.title for item in by_title] == sorted(item.title for item in by_title)


def test_catalogues_popular_order_is_the_most_popular_list_a_new_member_gets(client, trained, make_user):
    """Ties in popularity are frequent; the catalogue breaks them as the model's most-popular fallback does."""
    from recsys.services import serving

    dataset, _, _ = trained
    newcomer = make_user("newcomer")
    client.force_login(newcomer)
    catalogue = [item.pk for item in client.get(reverse("recsys:catalogue")).context["page"]][:10]
    for_you = [entry.item.pk for entry in serving.recommend_for_member(newcomer, dataset, n=10).items]
    assert catalogue == for_you


def test_catalogue_decodes_popularity_once_per_model_version(client, trained, monkeypatch):
    from recsys.ml.sequences import ItemIndex
    from recsys.models import TrainedModel
    from recsys.services import registry

    dataset, model, alice = trained
    decoded = []
    decode = ItemIndex.decode
    monkeypatch.setattr(ItemIndex, "decode", lambda index, positions: decoded.append(1) or decode(index, positions))
    client.force_login(alice)
    first = [item.pk for item in client.get(reverse("recsys:catalogue")).context["page"]]
    second = [item.pk for item in client.get(reverse("recsys:catalogue")).context["page"]]
    assert second == first and len(decoded) == 1
    # Another version made active (same artefact: same order) is decoded afresh.
    registry.activate(TrainedModel.objects.create(dataset=dataset, architecture=model.architecture,
                                                  status=TrainedModel.Status.READY, artefact_path=model.artefact_path))
    assert [item.pk for item in client.get(reverse("recsys:catalogue")).context["page"]] == first
    assert len(decoded) == 2


def test_numeric_titles_sort_naturally_in_the_catalogue(member_client):
    """A `sasrec` export titles its items by their ids: "9" comes before "10", as do "Item 9" and "Item 10"."""
    from recsys.models import Dataset, Item

    dataset = Dataset.objects.create(name="clicks", title="Clicks", has_categories=False)
    titles = ["10", "9", "100", "2", "Item 10", "Item 9", "item 11", "Alpha"]
    Item.objects.bulk_create(Item(dataset=dataset, external_id=str(i), title=t) for i, t in enumerate(titles))
    page = member_client.get(reverse("recsys:catalogue") + "?order=title")
    assert [item.title for item in page.context["page"]] == ["2", "9", "10", "100", "Alpha", "Item 9", "Item 10",
                                                            "item 11"]
    searched = member_client.get(reverse("recsys:catalogue") + "?order=title&q=item").context["page"]
    assert [item.title for item in searched] == ["Item 9", "Item 10", "item 11"]


def test_the_cached_title_order_takes_in_new_and_renamed_items(member_client, settings):
    from recsys.models import Dataset, Item

    settings.HIKMAX = {**settings.HIKMAX, "FRAGMENT_CACHE": True}
    dataset = Dataset.objects.create(name="clicks", title="Clicks", has_categories=False)
    Item.objects.bulk_create(Item(dataset=dataset, external_id=t, title=t) for t in ("10", "9", "100"))

    def titles():
        return [item.title for item in member_client.get(reverse("recsys:catalogue")).context["page"]]

    assert titles() == ["9", "10", "100"]
    Item.objects.bulk_create([Item(dataset=dataset, external_id="3", title="3")])  # no signal: as an import adds
    assert titles() == ["3", "9", "10", "100"]
    renamed = Item.objects.get(dataset=dataset, title="100")
    renamed.title = "1"
    renamed.save()
    assert titles() == ["1", "3", "9", "10"]


def _ready_model(dataset, active=True):
    from recsys.models import TrainedModel

    return TrainedModel.objects.create(dataset=dataset, architecture="sasrec", status="ready", is_active=active)


def test_the_switcher_disables_datasets_that_cannot_recommend_and_says_why(member_client):
    import re

    films, books, music = make_dataset("films"), make_dataset("books"), make_dataset("music")
    _ready_model(films)
    _ready_model(books, active=False)  # trained, not active: still nothing to recommend with
    make_history(music, user=member_client.user)  # the member's own history, no model
    member_client.post(reverse("recsys:choose-dataset"), {"dataset": films.pk})
    page = member_client.get(reverse("recsys:home")).content.decode()
    options = dict(re.findall(r'<option value="(\d+)"([^>]*>[^<]*)</option>', page))
    assert options[str(films.pk)] == " selected>Films"
    assert options[str(books.pk)] == " disabled>Books (no recommendations yet)"
    assert options[str(music.pk)] == ">Music (your history; no recommendations yet)"

    refused = member_client.post(reverse("recsys:choose-dataset"), {"dataset": books.pk}, follow=True)
    assert "Books has no recommendations yet (no model is active); pick another dataset." in refused.content.decode()
    assert member_client.session["hikmax_dataset"] == films.pk

    member_client.post(reverse("recsys:choose-dataset"), {"dataset": music.pk})
    assert member_client.session["hikmax_dataset"] == music.pk
    for_you = member_client.get(reverse("recourse:for-you")).content.decode()
    assert "No model is active for Music" in for_you and 'class="inline dataset-switch"' in for_you  # can switch back


def test_members_without_a_choice_land_on_a_dataset_whose_model_is_ready(client, make_user):
    from recsys.models import TrainedModel

    first, second = make_dataset("a-first"), make_dataset("b-second")
    TrainedModel.objects.create(dataset=first, architecture="sasrec", status="failed", is_active=True)
    _ready_model(second)
    client.force_login(make_user("newcomer"))
    assert client.get(reverse("recsys:home")).context["dataset"] == second


def test_my_history_search_does_not_say_the_table_lists_every_interaction(member_client):
    dataset = make_dataset()
    make_history(dataset, user=member_client.user, external_user_id="alice", item_ids=(1, 2, 3))
    everything = member_client.get(reverse("recsys:home")).content.decode()
    assert "one of your 3 interactions" in everything and "The table below lists them all." in everything
    searched = member_client.get(reverse("recsys:home") + "?q=Film 02").content.decode()
    assert "The table below lists them all." not in searched
    assert "The table below lists those matching “Film 02”." in searched


def test_catalogue_does_not_call_a_removed_title_in_your_history(member_client):
    dataset = make_dataset()
    sequence = make_history(dataset, user=member_client.user, external_user_id="alice", item_ids=(1, 2))
    sequence.interactions.filter(item__external_id="2").update(state=Interaction.State.EXCLUDED)
    page = member_client.get(reverse("recsys:catalogue") + "?order=title").content.decode()
    film_01, film_02 = page.index("Film 01"), page.index("Film 02")
    assert "In your history" in page[film_01:film_02] and "Removed from your history" not in page[film_01:film_02]
    row_02 = page[film_02:page.index("</tr>", film_02)]
    assert "Removed from your history" in row_02 and "In your history" not in row_02


def test_catalogue_marks_a_title_the_member_is_not_interested_in(member_client):
    """A title marked "Not interested" looked like any other in the catalogue, with nothing saying it is hidden."""
    from recsys.services import history

    dataset = make_dataset()
    make_history(dataset, user=member_client.user, external_user_id="alice", item_ids=(1,))
    history.not_interested(user=member_client.user, item=dataset.items.get(external_id="3"))
    page = member_client.get(reverse("recsys:catalogue") + "?order=title").content.decode()
    film_02, film_03 = page.index("Film 02"), page.index("Film 03")
    assert "Not interested" not in page[film_02:film_03]
    assert "Not interested" in page[film_03:page.index("</tr>", film_03)]


def test_my_corrections_says_a_removal_from_my_history_was_not_measured(member_client):
    """My corrections showed a bare "—" as the top-10 effect of a removal made on My history (no preview there)."""
    dataset = make_dataset()
    sequence = make_history(dataset, user=member_client.user, external_user_id="alice", item_ids=(1, 2))
    member_client.post(reverse("recourse:remove-interaction", args=[sequence.interactions.first().pk]))
    page = member_client.get(reverse("recourse:corrections")).content.decode()
    assert "Not measured: made without a preview" in page and "<td>—</td>" not in page
