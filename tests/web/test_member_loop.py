"""One meaning of "remove", "Not interested", preview == apply, the rating policy (issue 18)."""

import pytest
from django.db import models
from django.urls import reverse

from recourse import selectors as recourse_selectors
from recourse.models import RecourseResult
from recourse.services import context, corrections
from recsys import ratings, selectors
from recsys.models import Interaction, NotInterested
from recsys.services import history, serving

from .factories import make_history

pytestmark = pytest.mark.django_db


@pytest.fixture
def calibrated(trained):
    dataset, model, alice = trained
    context.calibrate_all(model, serving.loaded_model(dataset)[1])
    return dataset, model, alice


def top(alice, dataset, n=10):
    return [rec.item.pk for rec in serving.recommend_for_member(alice, dataset, n=n).items]


def alice_rows(alice):
    return list(Interaction.objects.filter(sequence__user=alice).order_by("pk"))


def test_the_applied_top_10_is_exactly_the_previewed_one(calibrated):
    """Through earlier removals, a hidden item, a so-so rating and a down-weight: preview and For you agree."""
    dataset, model, alice = calibrated
    first, second, third, fourth = alice_rows(alice)
    Interaction.objects.filter(pk=second.pk).update(rating=2.0)
    corrections.remove_from_history(user=alice, interaction_id=first.pk)
    history.not_interested(user=alice, item=dataset.items.get(pk=top(alice, dataset)[0]))
    shown = corrections.preview(user=alice, dataset=dataset, changes={third.pk: 0.0, fourth.pk: 0.5})
    assert [item.pk for item in shown.top_before] == top(alice, dataset)
    corrections.apply(user=alice, dataset=dataset, changes=shown.changes, fingerprint=shown.fingerprint)
    assert top(alice, dataset) == [item.pk for item in shown.top_after]
    assert RecourseResult.objects.filter(origin="fix").get().metrics["top_after"] == top(alice, dataset)


def test_a_removed_item_is_never_recommended_until_added_back(trained):
    dataset, model, alice = trained
    row = alice_rows(alice)[0]
    corrections.remove_from_history(user=alice, interaction_id=row.pk)
    assert row.item_id not in top(alice, dataset, n=30)
    result = corrections.add_back(user=alice, interaction_id=row.pk)
    assert Interaction.objects.get(pk=row.pk).state == "active"
    corrections.undo(user=alice, result_id=result.pk)  # undoing the add-back removes it again
    assert Interaction.objects.get(pk=row.pk).state == "excluded"
    assert row.item_id not in top(alice, dataset, n=30)


def test_not_interested_hides_is_a_signal_and_undo_brings_it_back(client, trained, make_user):
    dataset, model, alice = trained
    client.force_login(alice)
    before = top(alice, dataset)
    response = client.post(reverse("recourse:not-interested", args=[before[2]]), follow=True)
    assert "will not be recommended to you again" in response.content.decode()
    assert before[2] not in top(alice, dataset, n=30)
    assert selectors.not_interested_item_ids(alice, dataset) == [before[2]]
    page = client.get(reverse("recourse:corrections")).content.decode()
    assert "Not interested: “" in page
    signal = NotInterested.objects.get()

    bob = make_user("bob")
    make_history(dataset, user=bob, external_user_id="bob", item_ids=(5, 6))
    client.force_login(bob)
    assert client.post(reverse("recourse:undo-not-interested", args=[signal.pk])).status_code == 404
    assert before[2] in top(bob, dataset, n=30) or before[2] in (5, 6)

    client.force_login(alice)
    client.post(reverse("recourse:undo-not-interested", args=[signal.pk]))
    assert top(alice, dataset) == before
    assert selectors.not_interested_item_ids(alice, dataset) == []


def test_rating_policy_decides_what_an_interaction_counts_for(trained):
    dataset, model, alice = trained
    assert [ratings.STARS.factor(r) for r in (None, 5, 3, 2.5, 2, 1.5, 0.5)] == [1, 1, 1, 0.5, 0.5, 0, 0]
    first, second, *_ = alice_rows(alice)
    Interaction.objects.filter(pk=first.pk).update(rating=1.0)
    Interaction.objects.filter(pk=second.pk).update(rating=2.0, weight=0.8)
    entries = selectors.member_history_entries(alice, dataset)
    assert entries[:2] == [(str(first.item_id), 0.0), (str(second.item_id), pytest.approx(0.4))]
    assert first.item_id not in top(alice, dataset, n=30)  # disliked: not used, still never recommended
    mine = recourse_selectors.member_history(alice, dataset, serving.loaded_model(dataset)[1])
    assert mine.history.weights[:2].tolist() == pytest.approx([0.0, 0.4])


def test_why_names_only_reasons_that_move_the_item(client, trained):
    dataset, model, alice = trained
    client.force_login(alice)
    item = top(alice, dataset)[0]
    explanation = client.get(reverse("recourse:why", args=[item])).context["explanation"]
    rank = explanation.details["rank"]
    assert rank == 1
    for reason in explanation.details["reasons"]:
        assert reason["rank_after"] > rank
    smallest = explanation.details["smallest_removal"]
    if smallest is not None:
        assert smallest["rank_after"] > 10
        changes = dict.fromkeys(smallest["interaction_ids"], 0.0)
        after = serving.recommend_for_member(alice, dataset, changes=changes).items
        assert item not in [rec.item.pk for rec in after]
    else:
        assert "No removal of up to" in explanation.details["change"]
    assert all(-1.0 <= s <= 1.0 for s in explanation.normalized_scores)
    assert any(s < 0 for s in explanation.normalized_scores) == any(s < 0 for s in explanation.raw_scores)


def _removals_shown(client, alice, dataset):
    rows = [row for row in alice_rows(alice) if row.item.external_id == "1"]
    for row in rows:
        corrections.remove_from_history(user=alice, interaction_id=row.pk)
    client.force_login(alice)
    page = client.get(reverse("recourse:corrections")).content.decode()
    return [line.strip() for line in page.splitlines() if "Removed" in line]


def test_my_corrections_tell_repeated_plays_of_a_title_apart(client, make_user):
    from .factories import make_dataset

    dataset = make_dataset()
    alice = make_user("alice")
    make_history(dataset, user=alice, external_user_id="alice", item_ids=(1, 2, 1, 3, 1))
    removed = _removals_shown(client, alice, dataset)  # newest first
    assert [line.split("</li>")[0].removeprefix("<td><ul><li>") for line in removed] == [
        f"Removed “Film 01 (1991)” <span class=\"reason\">(watched 1970-01-12, {nth} of 3 times)</span>"
        for nth in ("3rd", "2nd", "1st")]


def test_my_corrections_tell_repeated_picks_apart_in_the_dataset_s_words_without_dates(client, make_user):
    from .factories import make_dataset

    dataset = make_dataset(name="shop", source_format="csv", has_timestamps=False)
    alice = make_user("alice")
    make_history(dataset, user=alice, external_user_id="alice", item_ids=(1, 1))
    Interaction.objects.filter(sequence__user=alice).update(timestamp=models.F("position"))
    removed = _removals_shown(client, alice, dataset)
    assert "(picked at step 1, 2nd of 2 times)" in removed[0] and "(picked at step 0, 1st of 2 times)" in removed[1]
    assert "watched" not in "".join(removed)
