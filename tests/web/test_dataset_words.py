"""Member pages speak the dataset's language: no films, watching, stars or categories where the data has none
(found importing a click log with string ids, no ratings and no categories)."""

import re

import pytest
from django.urls import reverse

from recsys.models import Interaction, Item
from tests.helpers import write_ml100k_folder

pytestmark = pytest.mark.django_db

FILM_WORDS = re.compile(r"\bfilms?\b|\bwatched\b|\bstars?\b|\bgenres?\b|\(no category\)|>Categories<|>Rating<",
                        re.IGNORECASE)


def member_pages(client, item_id) -> dict[str, str]:
    names = {"for-you": reverse("recourse:for-you"), "why": reverse("recourse:why", args=[item_id]),
             "drift": reverse("recourse:drift"), "fix": reverse("recourse:fix"), "home": reverse("recsys:home"),
             "catalogue": reverse("recsys:catalogue"), "corrections": reverse("recourse:corrections")}
    pages = {}
    for name, url in names.items():
        response = client.get(url)
        assert response.status_code == 200, name
        pages[name] = response.content.decode()
    return pages


def as_a_click_log(dataset) -> None:
    """What the generic CSV importer makes of a shop's click log: unknown domain, no categories, no ratings."""
    dataset.name, dataset.title, dataset.source_format, dataset.has_categories = "shop", "Shop", "csv", False
    dataset.item_kind = dataset.ItemKind.ITEMS
    dataset.save()
    for item in Item.objects.filter(dataset=dataset):
        Item.objects.filter(pk=item.pk).update(title=f"Product {item.external_id}", categories="", year=None)
    Interaction.objects.filter(sequence__dataset=dataset).update(rating=None)


def test_a_click_log_without_categories_or_ratings_reads_in_neutral_words(client, trained):
    dataset, model, alice = trained
    as_a_click_log(dataset)
    client.force_login(alice)
    first = client.get(reverse("recourse:for-you")).context["recs"].items[0].item
    pages = member_pages(client, first.pk)
    for name, content in pages.items():
        assert not FILM_WORDS.search(content), (name, FILM_WORDS.search(content))
    assert "Because you picked" in pages["for-you"] or "Based on many of your items together" in pages["for-you"]
    assert "Nothing you picked is recommended to you again." in pages["home"]
    assert 'name="category"' not in pages["catalogue"] and 'name="year"' not in pages["catalogue"]
    assert "Number in your history" in pages["home"]


def test_a_film_dataset_whose_member_rated_keeps_film_words_and_the_star_rules(client, trained):
    dataset, model, alice = trained
    client.force_login(alice)
    home = client.get(reverse("recsys:home")).content.decode()
    assert "a film you rated 1.5 stars or lower is not used" in home and ">Categories<" in home and ">Rating<" in home
    catalogue = client.get(reverse("recsys:catalogue")).content.decode()
    assert 'name="category"' in catalogue and ">Watched</button>" in catalogue


def test_a_catalogue_without_a_model_does_not_offer_most_popular_first(member_client):
    from .factories import make_dataset, make_history

    make_history(make_dataset(), user=member_client.user, external_user_id="alice", item_ids=(3, 1, 2))
    content = member_client.get(reverse("recsys:catalogue")).content.decode()
    assert "Most popular first" not in content and "Title A–Z" in content
    titles = re.findall(r"<td>(Film \d+ \(\d+\))</td>", content)
    assert titles == sorted(titles)  # what the order field says is what the list shows


def test_an_explanation_stored_in_film_words_is_reworded_for_a_dataset_of_items(client, trained):
    dataset, model, alice = trained
    client.force_login(alice)
    first = client.get(reverse("recourse:for-you")).context["recs"].items[0].item
    assert "films" in client.get(reverse("recourse:why", args=[first.pk])).content.decode()  # stored, film words
    dataset.name, dataset.item_kind = "shop", dataset.ItemKind.ITEMS  # the same history (so the same stored row)
    dataset.save()
    content = client.get(reverse("recourse:why", args=[first.pk])).content.decode()
    assert re.search(r"of the top \d+ items are the same", content) or "could not be compared" in content
    found = re.search(r"\bfilms\b|\bwatched\b", content)
    assert not found, repr(content[found.start() - 120:found.end() + 20])


def test_a_too_short_history_is_explained_without_stars_to_a_member_who_never_rated(client, trained):
    dataset, model, alice = trained
    as_a_click_log(dataset)
    Interaction.objects.filter(sequence__user=alice, position__gte=2).delete()
    client.force_login(alice)
    content = client.get(reverse("recourse:drift")).content.decode()
    assert "A drift check needs at least three interactions in your history that the recommender knows." in content
    Interaction.objects.filter(sequence__user=alice).update(rating=1.0)
    content = client.get(reverse("recourse:drift")).content.decode()
    assert "recommender knows (titles rated 1.5 stars or lower do not count)." in content


def test_the_rating_rules_put_the_right_article_before_item_and_film():
    from recsys import ratings
    from recsys.vocabulary import FILMS, ITEMS

    assert "Your ratings: an item you rated 1.5 stars or lower" in ratings.policy(ITEMS, True, ratings.STARS)
    assert "Your ratings: a film you rated 1.5 stars or lower" in ratings.policy(FILMS, True, ratings.STARS)


def test_a_history_without_timestamps_is_not_said_to_be_placed_by_time(member_client):
    """A SASRec file has only an order: the chart's x axis is the step, and the caption says so."""
    from .factories import make_dataset, make_history

    dataset = make_dataset(name="plays", source_format="sasrec", has_timestamps=False, has_categories=False)
    make_history(dataset, user=member_client.user, external_user_id="7", item_ids=(3, 1, 2))
    content = member_client.get(reverse("recsys:home")).content.decode()
    assert "placed by step (this dataset has no times, only an order) and by its number" in content
    assert "placed by time" not in content


def test_a_title_gets_its_year_once_whether_or_not_it_already_holds_it():
    from types import SimpleNamespace

    from recsys.templatetags.hikmax import with_year

    assert with_year(SimpleNamespace(title="Toy Story (1995)", year=1995)) == "Toy Story (1995)"
    assert with_year(SimpleNamespace(title="Artist 3 – Track 15", year=2001)) == "Artist 3 – Track 15 (2001)"
    assert with_year(SimpleNamespace(title="Brand 4 product #12", year=None)) == "Brand 4 product #12"


def _music_in_movielens_format(folder) -> None:
    """An ML-100K-format folder that holds tracks: u.data (user, track, 1-5, time), u.item titles, no genres."""
    write_ml100k_folder(folder, title=lambda i: f"Artist {i % 4} – Track {i}",
                        rating=lambda user, k: 1 + (user + k) % 5)


def test_a_movielens_format_file_imported_as_items_reads_in_item_words_on_every_member_page(
        client, django_user_model, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from recsys import jobs
    from recsys.models import Dataset, InteractionSequence, Job

    from .conftest import train_now

    _music_in_movielens_format(tmp_path / "music")
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.org", "pw-long-enough"))
    response = client.post(reverse("admin:recsys_dataset_import"), {
        "name": "music", "format": "ml-100k", "item_kind": "items",
        "files": [SimpleUploadedFile(path.name, path.read_bytes()) for path in sorted((tmp_path / "music").iterdir())]})
    assert response.status_code == 302
    jobs.run(Job.objects.get(kind="import_dataset").pk)
    dataset = Dataset.objects.get(name="music")
    assert (dataset.source_format, dataset.item_kind) == ("ml-100k", "items")
    change_form = client.get(reverse("admin:recsys_dataset_change", args=[dataset.pk])).content.decode()
    assert '<select name="item_kind"' in change_form  # the administrator can change it later

    member = django_user_model.objects.create_user("alice", password="pw-long-enough")
    InteractionSequence.objects.filter(dataset=dataset, external_user_id="1").update(user=member)
    train_now(dataset)
    client.force_login(member)
    first = client.get(reverse("recourse:for-you")).context["recs"].items[0].item
    pages = member_pages(client, first.pk)
    for name, content in pages.items():
        found = re.search(r"\bfilms?\b|\bwatched\b", content, re.IGNORECASE)
        assert not found, (name, content[found.start() - 120:found.end() + 20])
    assert "Because you picked" in pages["for-you"] or "Based on many of your items together" in pages["for-you"]
    assert "Nothing you picked is recommended to you again" in pages["home"]


def test_the_item_kind_is_taken_from_the_format_unless_chosen_and_kept_by_more_files(tmp_path):
    from django.core.management import call_command

    from recsys.models import Dataset
    from recsys.services.imports import import_dataset

    from . import conftest_data as data

    assert import_dataset(name="ml", path=data.write_ml100k(tmp_path / "ml")).item_kind == "films"
    csv = data.write_generic_csv(tmp_path)
    assert import_dataset(name="shop", path=csv).item_kind == "items"
    assert import_dataset(name="films-in-csv", path=csv, item_kind="films").item_kind == "films"
    assert import_dataset(name="films-in-csv", path=csv).item_kind == "films"  # more files keep the choice
    call_command("import_dataset", "by-command", str(csv), "--item-kind", "films")
    assert Dataset.objects.get(name="by-command").item_kind == "films"


def test_pages_cached_before_the_administrator_changes_what_the_items_are_or_their_scale_are_not_served_after(
        client, trained):
    dataset, model, alice = trained
    dataset.name, dataset.title = "shop", "Shop"  # not "films": the model's card names its dataset
    dataset.save()
    client.force_login(alice)
    first = client.get(reverse("recourse:for-you")).context["recs"].items[0].item
    before = client.get(reverse("recourse:for-you")).content.decode() + client.get(
        reverse("recourse:why", args=[first.pk])).content.decode()
    assert "stars" in before and re.search(r"\bfilms?\b|\bwatched\b", before)
    dataset.item_kind, dataset.rating_low, dataset.rating_high = dataset.ItemKind.ITEMS, 1, 10
    dataset.save()
    after = client.get(reverse("recourse:for-you")).content.decode() + client.get(
        reverse("recourse:why", args=[first.pk])).content.decode()
    found = re.search(r"\bfilms?\b|\bwatched\b|\bstars?\b", after)
    assert not found, after[found.start() - 120:found.end() + 20]


def test_a_member_with_one_interaction_is_not_told_of_many_items_or_of_disagreeing_methods(client, trained):
    """Found on a shop's CSV with one-purchase customers: For you said 'Based on many of your items together', Why?
    'a second way of explaining it disagrees (1 of the top 1 items is the same)' and '1 histories … were scored'."""
    dataset, model, alice = trained
    as_a_click_log(dataset)
    dataset.has_timestamps = False
    dataset.save()
    Interaction.objects.filter(sequence__user=alice, position__gte=1).delete()
    client.force_login(alice)
    response = client.get(reverse("recourse:for-you"))
    reasons = response.context["reasons"].values() if response.context["reasons"] else []
    assert reasons and not any("many of your" in reason for reason in reasons)
    assert all(reason.startswith(("Because you picked", "Not clearly because of the one item you picked"))
               for reason in reasons)
    first = response.context["recs"].items[0].item
    why = client.get(reverse("recourse:why", args=[first.pk]) + "?method=occlusion").content.decode()
    assert "1 histories" not in why and "disagrees (1 of the top 1" not in why
    assert "of the top 1 interactions are" not in why and "The top interaction is" in why
    assert "Your history in order (this dataset has no times, only an order)" in why
    assert "Your history over time" not in why
    home = client.get(reverse("recsys:home")).content.decode()
    assert "The dot is your one interaction, placed by step" in home and "Your history over time" not in home
    assert home.count('"tick0":0,"dtick":1') == 2  # whole steps and numbers: no tick at 0.5 or 48.5


def test_a_fix_that_keeps_no_interaction_unchanged_shows_no_taste_figures(client, trained):
    """A one-purchase customer lowering that purchase was shown '-> every title you keep: 0.000 → 0.000', a perfect
    score over nothing."""
    dataset, model, alice = trained
    Interaction.objects.filter(sequence__user=alice, position__gte=1).delete()
    only = Interaction.objects.get(sequence__user=alice)
    client.force_login(alice)
    content = client.post(reverse("recourse:fix"), {f"action-{only.pk}": "lower", f"weight-{only.pk}": "0.3"}
                          ).content.decode()
    assert "Preview — nothing has changed yet" in content
    assert "cannot be measured here: this change keeps none of your titles unchanged" in content
    assert "0.000 → 0.000" not in content
    api = client.post(reverse("api-recourse-preview"), {"changes": [{"interaction_id": only.pk, "weight": 0.3}]},
                      content_type="application/json").json()
    assert api["taste_before"] is None and api["taste_after"] is None  # not 0.0, the best figure there is
    Interaction.objects.create(sequence=only.sequence, item=Item.objects.filter(dataset=dataset).last(),
                               timestamp=only.timestamp + 1, position=1)
    content = client.post(reverse("recourse:fix"), {f"action-{only.pk}": "lower", f"weight-{only.pk}": "0.3"}
                          ).content.decode()
    assert "How well your recommendations predict every title you keep" in content
