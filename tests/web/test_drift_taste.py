"""The member's drift check is the category-free taste check, and drift check, fix and suggestion agree (issues 18, 19).

On a dataset imported from a ``sasrec`` file (no categories): drift check, suggested fix previewed through
``serving.recommend_for_member(changes=...)``, apply, the next check, undo — services and pages.
"""

import re

import pytest
from django.urls import reverse

from recourse.models import DriftResult, RecourseResult
from recourse.services import context, corrections, drift
from recsys.models import Interaction
from recsys.services import serving

from .conftest import train_now
from .sasrec_world import BURST, HYPERPARAMETERS, import_world

pytestmark = pytest.mark.django_db


@pytest.fixture
def clicks(make_user, tmp_path):
    member = make_user("casey")
    dataset = import_world(tmp_path, member)
    model = train_now(dataset, **HYPERPARAMETERS)
    context.calibrate_all(model, serving.loaded_model(dataset)[1])
    model.refresh_from_db()
    return dataset, model, member


def member_rows(member):
    return list(Interaction.objects.filter(sequence__user=member).chronological())


def test_calibration_of_a_category_free_model_stores_the_taste_check_and_its_false_alarm_rate(clicks):
    dataset, model, member = clicks
    assert not dataset.has_categories
    assert "taste" in model.calibration and "drift" not in model.calibration  # no genre method without genres
    stored = context.taste_calibration(model, serving.loaded_model(dataset)[1])
    assert 0.0 <= stored.false_alarm_rate <= 1.0 and stored.false_alarm_basis == "held-out"
    assert stored.n_reference == 120


def test_drift_check_fix_apply_and_undo_without_categories(clicks):
    dataset, model, member = clicks
    check = drift.check_drift(user=member, dataset=dataset)
    burst = {row.pk for row in member_rows(member) if int(row.item.external_id) in BURST}
    assert check.result.drift, check.result.reason
    assert check.result.method == "taste" and check.described == ""  # no categories: no words about them
    flagged = {row.pk for row in check.flagged}
    assert len(flagged & burst) >= 3 and len(flagged & burst) > len(flagged - burst)  # mostly the burst
    assert check.returning, "a 'yes' must come with items that return to the top 10"

    shown = corrections.suggest(user=member, dataset=dataset)
    assert shown.changes == check.changes == dict.fromkeys(check.result.flagged_interaction_ids, 0.0)
    assert shown.check_id == check.result.pk and shown.satisfied
    assert [item.pk for item in shown.top_after] == [item.pk for item in check.top_after]
    with_fix = serving.recommend_for_member(member, dataset, changes=shown.changes)
    assert [rec.item.pk for rec in with_fix.items] == [item.pk for item in shown.top_after]

    result = corrections.apply(user=member, dataset=dataset, changes=shown.changes, fingerprint=shown.fingerprint,
                               suggested=True)
    assert result.metrics["drift_check_id"] == check.result.pk
    assert [rec.item.pk for rec in serving.recommend_for_member(member, dataset).items] == [
        item.pk for item in shown.top_after]
    again = drift.check_drift(user=member, dataset=dataset)
    assert not again.result.drift, again.narrative  # the suggested fix was the whole fix
    assert not set(again.result.flagged_interaction_ids) & flagged

    corrections.undo(user=member, result_id=result.pk)
    assert all(row.state == "active" for row in member_rows(member))
    assert drift.check_drift(user=member, dataset=dataset).result.drift


def test_pages_and_api_on_a_category_free_dataset(client, clicks):
    dataset, model, member = clicks
    client.force_login(member)
    page = client.get(reverse("recourse:drift"))
    text = page.content.decode()
    assert page.status_code == 200 and "Yes — your recommendations are drifting" in text
    assert re.search(r"\d+ of your top 10 match(es)? your usual taste", text)
    assert "Details: how this was measured" in text
    assert "has no item categories" not in text
    suggestion = client.post(reverse("recourse:fix"), {"suggest": "1"})
    shown = suggestion.context["preview"]
    check = DriftResult.objects.filter(user=member).first()
    assert shown.changes == {int(pk): w for pk, w in check.details["changes"].items()}
    assert b"Apply these changes" in suggestion.content and "exactly the fix your drift check found" in shown.note

    api = client.post(reverse("api-recourse-preview"), {}, content_type="application/json").json()
    assert {c["interaction_id"] for c in api["changes"]} == set(shown.changes)
    assert api["drift_check_id"] == check.pk
    applied = client.post(reverse("recourse:apply-fix"), {
        "changes": suggestion.context["changes_json"], "fingerprint": shown.fingerprint, "suggested": "1"})
    assert applied.status_code == 302 and RecourseResult.objects.get().suggested_by_engine
    after = client.post(reverse("api-drift-check")).json()
    assert after["drift"] is False and after["method"] == "taste"
    undone = client.post(reverse("api-recourse-undo", args=[RecourseResult.objects.get().pk]))
    assert undone.status_code == 200 and undone.json()["undone_at"]
    assert client.post(reverse("api-drift-check")).json()["drift"] is True


def test_liked_films_are_never_suggested_for_removal(clicks):
    dataset, model, member = clicks
    rows = member_rows(member)
    burst = [row for row in rows if int(row.item.external_id) in BURST]
    Interaction.objects.filter(pk__in=[row.pk for row in burst]).update(rating=5.0)
    check = drift.check_drift(user=member, dataset=dataset)
    assert not set(check.changes) & {row.pk for row in burst}
    assert not check.result.drift or check.returning


def test_low_ratings_are_passed_to_the_engine_as_explicit_evidence(clicks):
    dataset, model, member = clicks
    rows = member_rows(member)
    Interaction.objects.filter(pk=rows[-1].pk).update(rating=2.0)
    check = drift.check_drift(user=member, dataset=dataset)
    assert check.result.details["explicit_interaction_ids"] == [rows[-1].pk]


def test_a_low_rating_on_a_title_of_the_members_usual_kind_is_not_evidence_of_drift(clicks):
    """The member walks walk 0 in order before the burst: the check finds those titles usual, so a low rating on one
    of them is established history (taste_policy), while a low-rated burst title still counts."""
    dataset, model, member = clicks
    rows = member_rows(member)
    usual, odd = rows[4], rows[-1]
    Interaction.objects.filter(pk__in=[usual.pk, odd.pk]).update(rating=2.0)
    check = drift.check_drift(user=member, dataset=dataset)
    assert check.result.details["explicit_interaction_ids"] == [odd.pk]
    assert usual.pk not in {row.pk for row in check.flagged} | set(check.result.details["unusual_interaction_ids"])
    assert check.result.drift and check.scores[usual.pk] < check.result.details["flag_threshold"]
