"""Ratings are read on their dataset's scale (recsys.ratings): a 1-10 or 0-1 file is not five stars. Found importing
a shop's 1-10 ratings: its pages said "rated 1.5 stars or lower", called a 4 of 10 "your taste" ("you rated it
4 stars") and offered members a 0.5-5 input."""

import re

import pytest
from django.urls import reverse

from recsys import ratings, selectors
from recsys.models import Interaction
from recsys.vocabulary import ITEMS

from .factories import make_dataset, make_history

pytestmark = pytest.mark.django_db

TEN = ratings.RatingScale(low=1, high=10)


def test_the_thresholds_sit_at_the_same_share_of_every_scale_s_top():
    assert (ratings.STARS.disliked_at_most, ratings.STARS.so_so_at_most, ratings.STARS.liked_at_least) == (1.5, 2.5, 4)
    assert (TEN.disliked_at_most, TEN.so_so_at_most, TEN.liked_at_least) == (3, 5, 8)
    assert [TEN.factor(r) for r in (None, 10, 6, 5, 4, 3, 1)] == [1, 1, 1, 0.5, 0.5, 0, 0]
    unit = ratings.RatingScale(low=0, high=1)
    assert unit.factor(0.9) == 1 and unit.factor(0.4) == 0.5 and unit.factor(0.2) == 0  # not all "1.5 or lower"
    assert not TEN.is_liked(4) and TEN.is_liked(8) and TEN.is_low(5) and not TEN.is_low(6)


def test_only_a_scale_topped_at_five_speaks_of_stars():
    assert ratings.STARS.liked_words == "4 stars or more" and ratings.STARS.rated(4.5) == "you rated it 4.5 stars"
    assert TEN.liked_words == "8 or more" and TEN.rated(8) == "you rated it 8 on this dataset's scale of 1 to 10"
    policy = ratings.policy(ITEMS, True, TEN)
    assert "star" not in policy
    assert ("on this dataset's scale of 1 to 10, an item you rated 3 or lower is not used to find recommendations, "
            "one you rated above 3 up to 5 counts half") in policy


def test_the_scale_is_the_range_of_the_imported_ratings_and_more_files_widen_it(tmp_path):
    from recsys.services.imports import import_dataset

    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    first.write_text("user,item,timestamp,rating\nu1,i1,1,2\nu1,i2,2,7\nu2,i1,3,9\n")
    second.write_text("user,item,timestamp,rating\nu3,i2,4,10\nu3,i1,5,1\n")
    dataset = import_dataset(name="shop", path=first)
    assert (dataset.rating_low, dataset.rating_high) == (2, 9)
    dataset = import_dataset(name="shop", path=second)
    assert (dataset.rating_low, dataset.rating_high) == (1, 10)
    assert ratings.scale_of(dataset) == TEN
    clicks = tmp_path / "clicks.csv"
    clicks.write_text("user,item,timestamp\nu1,i1,1\nu1,i2,2\n")
    assert ratings.scale_of(import_dataset(name="clicks", path=clicks)) == ratings.STARS  # what members rate on


def _rated_one_to_ten(member_client):
    dataset = make_dataset(name="shop", source_format="csv", rating_low=1, rating_high=10)
    make_history(dataset, user=member_client.user, external_user_id="alice", item_ids=(1, 2, 3, 4))
    for position, rating in enumerate((2, 4, 6, 9)):
        Interaction.objects.filter(sequence__user=member_client.user, position=position).update(rating=rating)
    return dataset


def test_a_member_s_one_to_ten_ratings_count_and_read_on_that_scale(member_client):
    dataset = _rated_one_to_ten(member_client)
    counts = [weight for _, weight in selectors.member_history_entries(member_client.user, dataset)]
    assert counts == [0, 0.5, 1, 1]  # 2 of 10 is a dislike, 4 so-so (on stars: 1, 1, 1, 1)
    home = member_client.get(reverse("recsys:home")).content.decode()
    found = re.search(r"\bstars?\b", home)
    assert not found, found
    assert "an item you rated 3 or lower is not used" in home
    assert "Not used (your rating)" in home and "Counts 50.0%" in home


def test_a_member_rates_on_the_dataset_s_scale_in_the_catalogue(member_client):
    dataset = _rated_one_to_ten(member_client)
    item = dataset.items.get(external_id="7")
    catalogue = member_client.get(reverse("recsys:catalogue")).content.decode()
    assert 'min="1" max="10" step="1"' in catalogue and "(optional, 1–10)" in catalogue
    refused = member_client.post(reverse("recsys:add-to-history", args=[item.pk]), {"rating": "7.5"}, follow=True)
    assert "A rating must be 1 to 10 in steps of 1 (1, 2, 3 … 10), on this dataset&#x27;s scale" in (
        refused.content.decode())
    member_client.post(reverse("recsys:add-to-history", args=[item.pk]), {"rating": "7"})
    assert Interaction.objects.get(sequence__user=member_client.user, item=item).rating == 7


def test_a_five_star_dataset_keeps_its_half_star_input(member_client):
    dataset = make_dataset(rating_low=1, rating_high=5)
    make_history(dataset, user=member_client.user, external_user_id="alice", item_ids=(1, 2, 3))
    catalogue = member_client.get(reverse("recsys:catalogue")).content.decode()
    assert 'min="0.5" max="5" step="0.5"' in catalogue
    item = dataset.items.get(external_id="7")
    member_client.post(reverse("recsys:add-to-history", args=[item.pk]), {"rating": "4.5"})
    assert Interaction.objects.filter(sequence__user=member_client.user, rating=4.5).exists()


def test_the_drift_check_and_fix_name_their_rating_thresholds_on_the_dataset_s_scale(client, trained):
    dataset, model, alice = trained
    dataset.rating_low, dataset.rating_high = 1, 10
    dataset.save()
    Interaction.objects.filter(sequence__user=alice, position=0).update(rating=4)
    client.force_login(alice)
    fix = client.get(reverse("recourse:fix")).content.decode()
    assert "Titles you rated 5 or lower count as evidence" in fix and "titles you rated 8 or more are never" in fix
    drift = client.get(reverse("recourse:drift")).content.decode()
    found = re.search(r"\bstars?\b|rated 4 or more|2\.5", drift)
    assert not found, drift[found.start() - 100:found.end() + 40]


def test_the_api_takes_a_rating_on_the_dataset_s_scale(member_client):
    dataset = _rated_one_to_ten(member_client)
    item = dataset.items.get(external_id="8")
    refused = member_client.post("/api/history/", {"item_id": item.pk, "rating": 7.5}, content_type="application/json")
    assert refused.status_code == 400 and "1 to 10 in steps of 1" in refused.json()["rating"][0]
    added = member_client.post("/api/history/", {"item_id": item.pk, "rating": 7}, content_type="application/json")
    assert added.status_code == 201 and added.json()["rating"] == 7


@pytest.mark.parametrize(("low", "high"), [(1, None), (None, 10), (5, 5), (-1, 0)])
def test_the_admin_cannot_store_a_rating_range_that_is_no_scale(low, high):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        make_dataset(rating_low=low, rating_high=high).full_clean()


def test_the_admin_can_store_a_scale_or_none():
    make_dataset(name="ten", rating_low=1, rating_high=10).full_clean()
    make_dataset(name="clicks").full_clean()


@pytest.mark.parametrize(("low", "high", "thresholds", "lowest", "step", "stars"), [
    (0.5, 5, (1.5, 2.5, 4.0), 0.5, 0.5, True),
    (1, 5, (1.5, 2.5, 4.0), 0.5, 0.5, True),  # MovieLens 1-5: members still rate half stars
    (1, 10, (3.0, 5.0, 8.0), 1, 1.0, False),
    (1, 7, (2.1, 3.5, 5.6), 1, 0.5, False),  # was a step of 0.7, so no whole number but 7 could be given
    (-10, 10, (-4.0, 0.0, 6.0), -10, 2.0, False),  # 0 (neutral) was "disliked"; no negative rating could be given
    (-5, 5, (-2.0, 0.0, 3.0), -5, 1.0, False),  # was called stars
])
def test_scale_thresholds_and_member_steps_fit_scales_off_five_stars(low, high, thresholds, lowest, step, stars):
    scale = ratings.RatingScale(low=low, high=high)
    assert (scale.disliked_at_most, scale.so_so_at_most, scale.liked_at_least) == thresholds
    assert (scale.member_lowest, scale.member_step, scale.stars) == (lowest, step, stars)
    assert scale.is_member_rating(lowest) and scale.is_member_rating(high) and not scale.is_member_rating(high + step)
    assert not scale.is_member_rating(lowest + step / 2)


def test_a_range_of_one_value_is_no_scale():
    """A dataset whose files held one rating value got the range 3 to 3: member steps of 0.3 and an admin page that
    could not be saved (its own check refuses such a range)."""
    from types import SimpleNamespace

    assert ratings.scale_of(SimpleNamespace(rating_low=3.0, rating_high=3.0)) == ratings.STARS
    assert ratings.scale_of(SimpleNamespace(rating_low=1.0, rating_high=10.0)) == ratings.RatingScale(1.0, 10.0)
