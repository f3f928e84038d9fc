import threading

import pytest
from django.db import connection
from django.urls import reverse
from django.utils.timezone import localtime

from recourse import selectors as recourse_selectors
from recourse.models import DriftResult, RecourseResult
from recourse.services import context, corrections, drift
from recsys import selectors
from recsys.models import Dataset, Interaction
from recsys.services import serving

from .factories import make_history

pytestmark = pytest.mark.django_db


@pytest.fixture
def calibrated(trained):
    dataset, model, alice = trained
    context.calibrate_all(model, serving.loaded_model(dataset)[1])
    return dataset, model, alice


def snapshot():
    return list(Interaction.objects.order_by("pk").values_list("pk", "state", "weight", "item_id", "timestamp"))


def alice_rows(alice):
    return list(Interaction.objects.filter(sequence__user=alice).order_by("pk"))


def test_drift_check_page_gives_a_verdict_and_stores_it(client, calibrated):
    dataset, model, alice = calibrated
    client.force_login(alice)
    page = client.get(reverse("recourse:drift"))
    assert page.status_code == 200
    check = page.context["check"]
    assert check.headline in page.content.decode()
    result = DriftResult.objects.get(user=alice)
    assert len(result.interaction_ids) == 4 and result.trained_model == model and result.method == "taste"
    assert result.details["top_now"] == [rec.item.pk for rec in serving.recommend_for_member(alice, dataset).items]


def test_the_drift_page_previews_exactly_the_checks_fix(client, calibrated, monkeypatch):
    dataset, model, alice = calibrated
    client.force_login(alice)
    page = client.get(reverse("recourse:drift"))
    result = page.context["check"].result
    fix = {str(row.pk): 0.0 for row in alice_rows(alice)[:2]}
    DriftResult.objects.filter(pk=result.pk).update(drift=True, details={**result.details, "changes": fix})
    preview = client.post(reverse("recourse:fix"), {"suggest": "1"}).context["preview"]
    assert preview.changes == {int(pk): w for pk, w in fix.items()} and preview.check_id == result.pk
    assert preview.top_after == [rec.item for rec in serving.recommend_for_member(
        alice, dataset, changes=preview.changes).items]


def test_first_with_verdict_follows_the_drift_check(calibrated):
    dataset, model, alice = calibrated
    verdict = drift.check_drift(user=alice, dataset=dataset).result.drift
    assert drift.first_with_verdict(dataset, ["u1", "alice"], drift=verdict) in ("u1", "alice")
    assert drift.first_with_verdict(dataset, ["alice"], drift=verdict) == "alice"
    assert drift.first_with_verdict(dataset, ["alice"], drift=not verdict) is None
    assert drift.first_with_verdict(dataset, ["nobody"], drift=verdict) is None


def test_uncalibrated_model_queues_calibration_and_says_so(client, trained):
    dataset, model, alice = trained
    client.force_login(alice)
    assert b"being calibrated" in client.get(reverse("recourse:drift")).content


def test_preview_changes_nothing(client, calibrated):
    dataset, model, alice = calibrated
    before = snapshot()
    client.force_login(alice)
    first = alice_rows(alice)[0]
    page = client.post(reverse("recourse:fix"), {f"action-{first.pk}": "remove"})
    assert page.status_code == 200 and page.context["preview"].changes == {first.pk: 0.0}
    assert len(page.context["preview"].top_after) == 10
    suggestion = client.post(reverse("recourse:fix"), {"suggest": "1"})
    assert suggestion.context["preview"].suggested
    assert snapshot() == before and not RecourseResult.objects.exists()


def test_suggestion_reuses_the_drift_check_of_the_same_history(calibrated, monkeypatch):
    dataset, model, alice = calibrated
    check = drift.check_drift(user=alice, dataset=dataset).result
    fix = {str(alice_rows(alice)[0].pk): 0.0}
    DriftResult.objects.filter(pk=check.pk).update(drift=True, details={**check.details, "changes": fix})

    def recompute(*args, **kwargs):
        raise AssertionError("the analysis was recomputed instead of reused")

    monkeypatch.setattr(drift, "analyze_member", recompute)
    assert corrections.suggest(user=alice, dataset=dataset).changes == {alice_rows(alice)[0].pk: 0.0}


def test_a_changed_history_gets_a_fresh_check_before_a_suggestion(calibrated):
    dataset, model, alice = calibrated
    old = drift.check_drift(user=alice, dataset=dataset).result
    Interaction.objects.filter(pk=alice_rows(alice)[0].pk).update(weight=0.5)
    shown = corrections.suggest(user=alice, dataset=dataset)
    latest = DriftResult.objects.filter(user=alice).first()
    assert latest.pk != old.pk and shown.check_id == latest.pk
    assert latest.history_fingerprint == recourse_selectors.history_fingerprint(alice, dataset)


def test_no_drift_means_no_suggested_change(client, calibrated):
    dataset, model, alice = calibrated
    check = drift.check_drift(user=alice, dataset=dataset).result
    DriftResult.objects.filter(pk=check.pk).update(drift=False)
    shown = corrections.suggest(user=alice, dataset=dataset)
    assert shown.changes == {} and shown.note == corrections.NO_DRIFT_NOTE
    client.force_login(alice)
    page = client.post(reverse("recourse:fix"), {"suggest": "1"})
    assert b"Apply these changes" not in page.content and corrections.NO_DRIFT_NOTE in page.content.decode()


def test_unreached_target_is_shown_without_an_apply_button(client, calibrated, monkeypatch):
    dataset, model, alice = calibrated
    real_suggest = corrections.suggest

    def unreached(**kwargs):
        shown = real_suggest(**kwargs)
        shown.satisfied = False
        return shown

    monkeypatch.setattr(corrections, "suggest", unreached)
    client.force_login(alice)
    page = client.post(reverse("recourse:fix"), {"suggest": "1"})
    assert page.status_code == 200 and b"Apply these changes" not in page.content


def test_apply_then_undo_restores_the_exact_rows(client, calibrated):
    dataset, model, alice = calibrated
    before = snapshot()
    client.force_login(alice)
    first, second = alice_rows(alice)[:2]
    shown = corrections.preview(user=alice, dataset=dataset, changes={first.pk: 0.0, second.pk: 0.4})
    response = client.post(reverse("recourse:apply-fix"), {
        "changes": f'{{"{first.pk}": 0.0, "{second.pk}": 0.4}}', "fingerprint": shown.fingerprint})
    assert response.status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, first.weight, second.state, second.weight) == ("excluded", 1.0, "active", 0.4)
    assert Interaction.objects.count() == len(before)  # nothing deleted
    assert len(serving.recommend_for_member(alice, dataset).items) == 10
    entries = selectors.member_history_entries(alice, dataset)
    assert entries[:2] == [(str(first.item_id), 0.0), (str(second.item_id), 0.4)]

    result = RecourseResult.objects.get()
    client.post(reverse("recourse:undo", args=[result.pk]))
    assert snapshot() == before
    with pytest.raises(corrections.CorrectionError, match="already been undone"):
        corrections.undo(user=alice, result_id=result.pk)


def test_bad_corrections_are_refused_and_change_nothing(calibrated, make_user):
    dataset, model, alice = calibrated
    bob = make_user("bob")
    bobs = make_history(dataset, user=bob, external_user_id="bob", item_ids=(5, 6, 7)).interactions.first()
    before = snapshot()
    first = alice_rows(alice)[0]
    fingerprint = recourse_selectors.history_fingerprint(alice, dataset)
    for changes, message in [({first.pk: 1.5}, "weight"), ({first.pk: -0.1}, "weight"),
                             ({bobs.pk: 0.0}, "not an active entry"), ({}, "at least one")]:
        with pytest.raises(corrections.CorrectionError, match=message):
            corrections.apply(user=alice, dataset=dataset, changes=changes, fingerprint=fingerprint)
    with pytest.raises(corrections.CorrectionError, match="changed since this preview"):
        corrections.apply(user=alice, dataset=dataset, changes={first.pk: 0.0}, fingerprint="stale")
    assert snapshot() == before


def test_tampered_apply_form_changes_nothing(client, calibrated):
    dataset, model, alice = calibrated
    before = snapshot()
    client.force_login(alice)
    fingerprint = recourse_selectors.history_fingerprint(alice, dataset)
    for changes in ("[1, 2]", "not json", '{"x": 0}'):
        response = client.post(reverse("recourse:apply-fix"), {"changes": changes, "fingerprint": fingerprint},
                               follow=True)
        assert response.status_code == 200 and "Nothing was changed" in response.content.decode(), changes
    assert snapshot() == before


def test_stale_preview_after_another_apply(calibrated):
    dataset, model, alice = calibrated
    first, second = alice_rows(alice)[:2]
    fingerprint = recourse_selectors.history_fingerprint(alice, dataset)
    corrections.apply(user=alice, dataset=dataset, changes={first.pk: 0.0}, fingerprint=fingerprint)
    with pytest.raises(corrections.CorrectionError, match="changed since this preview"):
        corrections.apply(user=alice, dataset=dataset, changes={second.pk: 0.0}, fingerprint=fingerprint)
    assert RecourseResult.objects.count() == 1


def test_member_cannot_touch_another_members_corrections(client, calibrated, make_user):
    dataset, model, alice = calibrated
    first = alice_rows(alice)[0]
    result = corrections.apply(user=alice, dataset=dataset, changes={first.pk: 0.0},
                               fingerprint=recourse_selectors.history_fingerprint(alice, dataset))
    bob = make_user("bob")
    make_history(dataset, user=bob, external_user_id="bob", item_ids=(5, 6, 7))
    client.force_login(bob)
    assert client.post(reverse("recourse:undo", args=[result.pk])).status_code == 404
    assert client.post(reverse("api-recourse-undo", args=[result.pk])).status_code == 404
    assert client.get(reverse("api-recourse-list")).json()["results"] == []
    preview = client.post(reverse("api-recourse-preview"), {"changes": [{"interaction_id": first.pk, "weight": 0}]},
                          content_type="application/json")
    assert preview.status_code == 400 and "not an active entry" in preview.json()["detail"]
    assert b"Nothing was changed" in client.post(reverse("recourse:apply-fix"), {
        "changes": f'{{"{first.pk}": 0.0}}', "fingerprint": recourse_selectors.history_fingerprint(bob, dataset)},
        follow=True).content
    result.refresh_from_db()
    assert not result.is_undone


def test_api_round_trip(client, calibrated):
    dataset, model, alice = calibrated
    client.force_login(alice)
    assert client.post(reverse("api-drift-check")).status_code == 200
    first = alice_rows(alice)[0]
    shown = client.post(reverse("api-recourse-preview"), {"changes": [{"interaction_id": first.pk, "weight": 0.5}]},
                        content_type="application/json").json()
    assert len(shown["top_after"]) == 10
    applied = client.post(reverse("api-recourse-apply"), {"changes": shown["changes"],
                          "fingerprint": shown["fingerprint"]}, content_type="application/json")
    assert applied.status_code == 201
    undone = client.post(reverse("api-recourse-undo", args=[applied.json()["id"]]))
    assert undone.status_code == 200 and undone.json()["undone_at"]


def test_dataset_without_categories_still_gets_a_drift_check(client, calibrated):
    dataset, model, alice = calibrated
    Dataset.objects.filter(pk=dataset.pk).update(has_categories=False)
    client.force_login(alice)
    page = client.get(reverse("recourse:drift"))
    assert page.status_code == 200 and b"has no item categories" not in page.content
    assert page.context["check"].described == ""


def test_uncalibrated_category_free_model_queues_its_calibration(client, trained):
    from recsys.models import Job

    dataset, model, alice = trained
    Dataset.objects.filter(pk=dataset.pk).update(has_categories=False)
    client.force_login(alice)
    assert b"being calibrated" in client.get(reverse("recourse:drift")).content
    assert Job.objects.filter(kind="calibrate_drift", params__model_id=model.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_applies_end_consistent(calibrated):
    dataset, model, alice = calibrated
    first, second = alice_rows(alice)[:2]
    fingerprint = recourse_selectors.history_fingerprint(alice, dataset)
    outcomes = []

    def apply(changes):
        try:
            corrections.apply(user=alice, dataset=dataset, changes=changes, fingerprint=fingerprint)
            outcomes.append("applied")
        except corrections.CorrectionError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=apply, args=(c,)) for c in ({first.pk: 0.0}, {second.pk: 0.0})]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["applied", "refused"]
    assert RecourseResult.objects.count() == 1
    excluded = Interaction.objects.filter(sequence__user=alice, state="excluded").count()
    assert excluded == 1


def test_each_undo_button_on_my_corrections_says_what_it_undoes(client, calibrated):
    """Every correction's button was a bare "Undo", so a screen reader's list of buttons read "Undo, Undo, Undo"
    beside "Undo: not interested in X"; each names what it undoes, as the "Not interested" ones do."""
    dataset, model, alice = calibrated
    first, second, third, _ = Interaction.objects.filter(sequence__user=alice).order_by("position")
    corrections.remove_from_history(user=alice, interaction_id=first.pk)
    corrections.add_back(user=alice, interaction_id=first.pk)
    shown = corrections.preview(user=alice, dataset=dataset, changes={second.pk: 0.0, third.pk: 0.5})
    applied = corrections.apply(user=alice, dataset=dataset, changes=shown.changes, fingerprint=shown.fingerprint)
    client.force_login(alice)
    content = client.get(reverse("recourse:corrections")).content.decode()
    assert f'aria-label="Undo: removed “{first.item.title}”"' in content
    assert f'aria-label="Undo: added back “{first.item.title}”"' in content
    assert f'aria-label="Undo the 2 changes of {localtime(applied.created_at):%Y-%m-%d %H:%M}"' in content
    assert 'class="secondary">Undo</button>' not in content


def test_a_model_whose_dataset_cannot_calibrate_the_check_says_so_and_queues_no_more_jobs(client, trained):
    """A tiny dataset (fewer than 5 other histories): the calibration job fails, and the drift check kept saying
    "being calibrated ... try again shortly" and queued another failing job on every visit."""
    from recsys import jobs
    from recsys.models import InteractionSequence, Job

    dataset, model, alice = trained
    InteractionSequence.objects.filter(dataset=dataset, user__isnull=True).delete()
    client.force_login(alice)
    assert b"being calibrated" in client.get(reverse("recourse:drift")).content
    job = Job.objects.get(kind="calibrate_drift", params__model_id=model.pk)
    jobs.run(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.message.startswith("Too few histories") and not job.error  # the reason alone, no traceback
    for page in (client.get(reverse("recourse:drift")), client.post(reverse("recourse:fix"), {"suggest": "1"})):
        text = page.content.decode()
        assert page.status_code == 200 and "being calibrated" not in text and "at least 5 other histories" in text
    assert Job.objects.filter(kind="calibrate_drift", params__model_id=model.pk).count() == 1


def test_a_change_to_an_interaction_the_model_does_not_know_says_so(trained):
    """An item imported after the model was trained (marked "New to the model"): the API's preview said its
    interaction 'is not an active entry of your history', which it is."""
    from recsys.models import InteractionSequence, Item

    dataset, model, alice = trained
    new = Item.objects.create(dataset=dataset, external_id="new", title="Imported After Training")
    row = Interaction.objects.create(sequence=InteractionSequence.objects.get(dataset=dataset, user=alice),
                                     item=new, timestamp=3_000_000, position=50)
    with pytest.raises(corrections.CorrectionError, match="the current model does not know"):
        corrections.preview(user=alice, dataset=dataset, changes={row.pk: 0.0})
    with pytest.raises(corrections.CorrectionError, match="is not an active entry of your history"):
        corrections.preview(user=alice, dataset=dataset, changes={row.pk + 1000: 0.0})
