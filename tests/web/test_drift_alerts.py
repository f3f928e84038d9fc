"""Proactive drift alerts (issue 19, item 5): a burst arriving through the API raises a notice for that member
only; checks are coalesced and rate-limited; dismissing is remembered; "Don't flag this again" is respected by
the drift check and can be undone; nobody sees or touches another member's alert."""

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pytest
from django.urls import reverse
from django.utils import timezone

from recourse import selectors as recourse_selectors
from recourse.models import DriftAlert, DriftResult, DriftWatch, NeverFlag
from recourse.services import alerts, drift
from recsys import jobs
from recsys.models import Interaction, Job

from .conftest import delete_jobs_since, train_now
from .factories import make_dataset, make_history

pytestmark = pytest.mark.django_db

N_ITEMS = 60  # item i has genre GENRES[i % 5]: 12 items per genre


def genre_items(genre: int) -> list[int]:
    return [i for i in range(1, N_ITEMS + 1) if i % 5 == genre]


COMEDIES, HORROR = genre_items(1), genre_items(3)
BURST = HORROR[:4]  # what no comedy watcher's history predicts


def build_alert_dataset(name="alert-films"):
    """200 reference members who each stick to one genre (one in ten switches genre half-way), a SASRec that
    learns it (d=32, L=20) and its drift calibration, by the production job run in this process (jobs that
    training queues are not sent to any worker: their workers could not read this test's artefacts)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(jobs, "_send", lambda job, countdown=0.0: None)
        dataset = make_dataset(name=name, n_items=N_ITEMS)
        rng = np.random.default_rng(5)
        for u in range(200):
            items = rng.permutation(genre_items(u % 5)).tolist()[:10]
            if u % 10 == 0:
                items = items[:6] + rng.permutation(genre_items((u % 5 + 1 + u % 4) % 5)).tolist()[:6]
            make_history(dataset, external_user_id=f"u{u}", item_ids=items)
        model = train_now(dataset, epochs=30, hidden=32, max_len=20, dropout=0.1)
        job = jobs.start_job(kind="calibrate_drift", params={"model_id": model.pk})  # the one training queued
        jobs.run(job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error
    return dataset


@pytest.fixture(scope="module")
def alert_model(django_db_setup, django_db_blocker, tmp_path_factory):
    """The alert world's dataset and model, shared by the module; its artefacts live in the module's folders."""
    from django.test import override_settings

    folder = tmp_path_factory.mktemp("alert-model")
    storage = {"MEDIA_ROOT": folder / "media", "ARTEFACT_CACHE_DIR": folder / "artefact-cache"}
    with django_db_blocker.unblock(), override_settings(**storage):
        started = timezone.now()
        dataset = build_alert_dataset()
    yield dataset, storage
    with django_db_blocker.unblock(), override_settings(**storage):
        dataset.delete()
        delete_jobs_since(started)


@dataclass
class AlertWorld:
    dataset: object
    planted: object  # gets the burst through the API
    clean: object  # gets more of the same through the API


@pytest.fixture
def alert_world(alert_model, make_user, settings):
    """Two members with the same ten comedies (unrated); no checks have run yet."""
    dataset, storage = alert_model
    for name, value in storage.items():
        setattr(settings, name, value)
    members = make_user("pia"), make_user("carl")
    for member in members:
        make_history(dataset, user=member, external_user_id=member.username, item_ids=COMEDIES[:10])
        Interaction.objects.filter(sequence__user=member).update(rating=None)
    return AlertWorld(dataset, *members)


def add_through_api(client, w, number):
    """Add item `number` (its external id) to the signed-in member's history through the API."""
    item_id = w.dataset.items.get(external_id=str(number)).pk
    response = client.post("/api/history/", {"item_id": item_id}, content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()


def run_queued_checks() -> list[dict]:
    """Run the queued drift-alert jobs in-process (what the xai worker does) and return their results."""
    results = []
    for job in Job.objects.filter(kind=alerts.JOB_KIND, status=Job.Status.QUEUED).order_by("pk"):
        jobs.run(job.pk)
        job.refresh_from_db()
        assert job.status == Job.Status.SUCCEEDED, job.error
        results.append(job.result)
    return results


def test_a_burst_arriving_through_the_api_raises_an_alert_for_that_member_only(client, alert_world):
    w = alert_world
    client.force_login(w.planted)
    added = [add_through_api(client, w, pk)["id"] for pk in BURST]
    client.force_login(w.clean)
    add_through_api(client, w, COMEDIES[10])
    add_through_api(client, w, COMEDIES[11])

    queued = Job.objects.filter(kind=alerts.JOB_KIND)
    assert queued.count() == 1 and queued.get().queue == "xai"  # six arrivals, one queued check (coalesced)
    [result] = run_queued_checks()
    assert result["members"] == 2 and result["still_waiting"] == 0

    alert = DriftAlert.objects.get()
    assert alert.user == w.planted and alert.state == "open"
    named_burst = set(alert.flagged_interaction_ids) & set(added)
    assert len(named_burst) >= 3 and len(named_burst) >= 0.75 * len(alert.flagged_interaction_ids)
    assert recourse_selectors.open_drift_alert(w.clean, w.dataset) is None

    client.force_login(w.planted)
    page = client.get(reverse("recourse:for-you")).content.decode()
    assert "Your recommendations were pulled off your usual taste" in page
    for pk in alert.flagged_interaction_ids:
        title = Interaction.objects.get(pk=pk).item.title
        assert title in page and f'name="action-{pk}" value="remove"' in page
    client.force_login(w.clean)
    for name in ("recourse:for-you", "recsys:home", "recsys:catalogue", "recourse:corrections"):
        assert "pulled off your usual taste" not in client.get(reverse(name)).content.decode(), name


def test_the_notice_previews_the_fix_of_the_flagged_interactions(client, alert_world):
    w = alert_world
    client.force_login(w.planted)
    for pk in BURST:
        add_through_api(client, w, pk)
    run_queued_checks()
    alert = DriftAlert.objects.get(user=w.planted)
    form = {f"action-{pk}": "remove" for pk in alert.flagged_interaction_ids}
    preview = client.post(reverse("recourse:fix"), {**form, "preview": "1"}).context["preview"]
    assert preview.changes == dict.fromkeys(alert.flagged_interaction_ids, 0.0)
    assert len(preview.top_after) == 10


def test_checks_are_rate_limited_and_late_arrivals_are_swept_up(client, alert_world, settings):
    w = alert_world
    client.force_login(w.clean)
    add_through_api(client, w, COMEDIES[10])
    [first] = run_queued_checks()
    assert first["members"] == 1
    add_through_api(client, w, COMEDIES[11])  # within the rate limit: queued, but the member is not checked again yet
    [second] = run_queued_checks()
    assert second["members"] == 0 and second["still_waiting"] == 1
    assert alerts.sweep() == []  # nothing due yet
    DriftWatch.objects.filter(user=w.clean).update(
        last_checked_at=timezone.now() - timedelta(minutes=settings.HIKMAX["DRIFT_ALERT_MINUTES"] + 1))
    assert len(alerts.sweep()) == 1
    [third] = run_queued_checks()
    assert third["members"] == 1 and third["still_waiting"] == 0
    watch = DriftWatch.objects.get(user=w.clean)
    assert watch.arrivals == watch.checked_arrivals == 2 and watch.pending_since is None


def test_a_lost_queued_check_is_replaced_by_the_sweep(client, alert_world):
    w = alert_world
    client.force_login(w.clean)
    add_through_api(client, w, COMEDIES[10])
    lost = Job.objects.get(kind=alerts.JOB_KIND)
    Job.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(hours=1))
    [replacement] = alerts.sweep()
    lost.refresh_from_db()
    assert lost.status == Job.Status.CANCELLED and replacement != lost.pk


def _check(user, dataset, flagged, drifting=True):
    """A real drift check of the member with the verdict and flags set, for the alert rules alone."""
    check = drift.check_drift(user=user, dataset=dataset)
    check.result.drift, check.flagged, check.narrative = drifting, flagged, "because of a burst"
    return check


def test_one_open_alert_per_member_and_a_dismissal_is_remembered(alert_world):
    w = alert_world
    rows = list(Interaction.objects.filter(sequence__user=w.planted).chronological())
    assert alerts.record(_check(w.planted, w.dataset, rows[-2:]), user=w.planted, dataset=w.dataset) == (
        "drift: alert raised")
    assert alerts.record(_check(w.planted, w.dataset, rows[-1:]), user=w.planted, dataset=w.dataset) == (
        "drift: alert updated")
    alert = DriftAlert.objects.get()
    assert alert.flagged_interaction_ids == [rows[-1].pk]
    alerts.dismiss(user=w.planted, alert_id=alert.pk)
    assert alerts.record(_check(w.planted, w.dataset, rows[-1:]), user=w.planted, dataset=w.dataset) == (
        "drift: already dismissed")
    assert alerts.record(_check(w.planted, w.dataset, rows[-3:]), user=w.planted, dataset=w.dataset) == (
        "drift: alert raised")  # something new pulls: a new alert
    assert DriftAlert.objects.filter(dismissed_at__isnull=True, closed_at__isnull=True).count() == 1
    assert alerts.record(_check(w.planted, w.dataset, [], drifting=False), user=w.planted, dataset=w.dataset) == (
        "no drift: alert closed")
    assert recourse_selectors.open_drift_alert(w.planted, w.dataset) is None


def test_a_later_check_of_the_member_finding_no_drift_hides_the_notice(client, alert_world):
    w = alert_world
    rows = list(Interaction.objects.filter(sequence__user=w.planted).chronological())
    alerts.record(_check(w.planted, w.dataset, rows[-1:]), user=w.planted, dataset=w.dataset)
    notice = recourse_selectors.open_drift_alert(w.planted, w.dataset)
    assert notice is not None and notice.flagged == rows[-1:]
    check = drift.check_drift(user=w.planted, dataset=w.dataset)  # ten comedies: no drift
    assert not check.result.drift
    assert recourse_selectors.open_drift_alert(w.planted, w.dataset) is None
    client.force_login(w.planted)
    assert "pulled off your usual taste" not in client.get(reverse("recourse:for-you")).content.decode()


def _alert_then_a_later_check_naming_another(w):
    """A background alert on the last two interactions, then the member's own check flagging only the third last."""
    rows = list(Interaction.objects.filter(sequence__user=w.planted).chronological())
    alerts.record(_check(w.planted, w.dataset, rows[-2:]), user=w.planted, dataset=w.dataset)
    later = drift.check_drift(user=w.planted, dataset=w.dataset).result
    DriftResult.objects.filter(pk=later.pk).update(drift=True, flagged_interaction_ids=[rows[-3].pk])
    notice = recourse_selectors.open_drift_alert(w.planted, w.dataset)
    assert notice is not None and notice.flagged == [rows[-3]]
    return rows, notice


def test_a_later_check_of_the_member_finding_other_titles_is_what_the_notice_names(client, alert_world):
    """The Drift check page ran the member's check (which left out a title they asked never to flag and named another
    instead) under a notice still naming the background check's list: the notice listed a title the check's own
    table said leaving out would not help, and its "Preview the fix" posted another fix than "Preview this fix"."""
    w = alert_world
    rows, notice = _alert_then_a_later_check_naming_another(w)
    client.force_login(w.planted)
    content = client.get(reverse("recourse:for-you")).content.decode()
    assert "After your latest additions, a drift check found one interaction" in content
    assert f'name="action-{rows[-3].pk}" value="remove"' in content
    assert f'name="action-{rows[-1].pk}" value="remove"' not in content


def test_dismissing_a_notice_that_names_the_members_later_check_remembers_what_it_named(alert_world):
    """The notice names the member's own later check; Dismiss remembered only the background check's list, so a
    later background check naming exactly the dismissed notice's title raised it again."""
    w = alert_world
    rows, notice = _alert_then_a_later_check_naming_another(w)
    alerts.dismiss(user=w.planted, alert_id=notice.alert.pk)
    assert alerts.record(_check(w.planted, w.dataset, [rows[-3]]), user=w.planted, dataset=w.dataset) == (
        "drift: already dismissed")


def test_dont_flag_on_a_notice_of_the_members_later_check_keeps_naming_that_check(alert_world):
    """"Don't flag this again" on a title both checks named updated the alert, and a check older than the alert's
    update no longer counted: the notice went back to the background check's list (a title the member's own check,
    on the Drift check page beside it, did not flag)."""
    w = alert_world
    rows = list(Interaction.objects.filter(sequence__user=w.planted).chronological())
    alerts.record(_check(w.planted, w.dataset, [rows[-1], rows[-2]]), user=w.planted, dataset=w.dataset)
    later = drift.check_drift(user=w.planted, dataset=w.dataset).result
    DriftResult.objects.filter(pk=later.pk).update(drift=True, flagged_interaction_ids=[rows[-2].pk, rows[-3].pk])
    alerts.never_flag_interaction(user=w.planted, interaction_id=rows[-2].pk)
    notice = recourse_selectors.open_drift_alert(w.planted, w.dataset)
    assert notice is not None and notice.flagged == [rows[-3]]


def test_dismiss_hides_the_notice_and_only_its_owner_can_dismiss(client, alert_world):
    w = alert_world
    rows = list(Interaction.objects.filter(sequence__user=w.planted).chronological())
    alerts.record(_check(w.planted, w.dataset, rows[-1:]), user=w.planted, dataset=w.dataset)
    alert = DriftAlert.objects.get()
    client.force_login(w.clean)
    assert client.post(reverse("recourse:dismiss-alert", args=[alert.pk])).status_code == 404
    assert "pulled off your usual taste" not in client.get(reverse("recourse:for-you")).content.decode()
    client.force_login(w.planted)
    assert "pulled off your usual taste" in client.get(reverse("recourse:for-you")).content.decode()
    response = client.post(reverse("recourse:dismiss-alert", args=[alert.pk]),
                           {"next": reverse("recsys:home")}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("recsys:home")
    assert "pulled off your usual taste" not in response.content.decode()
    alert.refresh_from_db()
    assert alert.state == "dismissed"


def test_dont_flag_again_is_respected_by_the_drift_check_and_undoable(client, alert_world):
    w = alert_world
    client.force_login(w.planted)
    for pk in BURST:
        add_through_api(client, w, pk)
    run_queued_checks()
    alert = DriftAlert.objects.get(user=w.planted)
    first, *rest = alert.flagged_interaction_ids

    client.force_login(w.clean)  # another member can neither mute A's interaction nor see it muted
    assert client.post(reverse("recourse:never-flag", args=[first])).status_code == 404
    client.force_login(w.planted)
    client.post(reverse("recourse:never-flag", args=[first]))
    flag = NeverFlag.objects.get(user=w.planted)
    alert.refresh_from_db()
    assert alert.flagged_interaction_ids == rest and (alert.state == "open") == bool(rest)

    check = drift.check_drift(user=w.planted, dataset=w.dataset)
    assert first not in [row.pk for row in check.flagged]
    assert first not in check.result.flagged_interaction_ids
    page = client.get(reverse("recourse:corrections")).content.decode()
    assert "Don't flag this again: “" in page

    client.force_login(w.clean)
    assert client.post(reverse("recourse:undo-never-flag", args=[flag.pk])).status_code == 404
    client.force_login(w.planted)
    client.post(reverse("recourse:undo-never-flag", args=[flag.pk]))
    flag.refresh_from_db()
    assert flag.is_undone and recourse_selectors.never_flag_interaction_ids(w.planted, w.dataset) == set()
    assert DriftWatch.objects.get(user=w.planted).is_pending  # the next background check may flag it again


def test_respecting_a_choice_that_covers_every_flag_turns_the_verdict_to_no(alert_world):
    w = alert_world
    sequence = w.planted.sequences.get()
    for step, external_id in enumerate(BURST):
        Interaction.objects.create(sequence=sequence, item=w.dataset.items.get(external_id=str(external_id)),
                                   timestamp=2_000_000_000 + step)
    check = drift.check_drift(user=w.planted, dataset=w.dataset)
    assert check.result.drift, "the planted burst is not detected by this model"
    for row in check.flagged:
        NeverFlag.objects.create(user=w.planted, interaction=row)
    again = drift.check_drift(user=w.planted, dataset=w.dataset)
    assert not again.result.drift and again.flagged == []
    again.result.refresh_from_db()
    assert not again.result.drift and again.result.flagged_interaction_ids == []


def test_an_import_adding_to_a_members_history_queues_a_check(tmp_path, make_user):
    from recsys.models import InteractionSequence
    from recsys.services.imports import import_dataset

    from .conftest_data import write_generic_csv

    path = write_generic_csv(tmp_path)
    dataset = import_dataset(name="csv", path=path)
    member = make_user("ulla")
    InteractionSequence.objects.filter(dataset=dataset, external_user_id="u1").update(user=member)
    import_dataset(name="csv", path=path)  # nothing new: nobody to check
    assert not DriftWatch.objects.exists() and not Job.objects.filter(kind=alerts.JOB_KIND).exists()

    path.write_text(path.read_text() + "u1,i2,300,4,Beta (2001),Drama\nu2,i1,400,4,Alpha (1999),Action|Comedy\n")
    import_dataset(name="csv", path=path)
    watch = DriftWatch.objects.get()
    assert watch.user == member and watch.dataset == dataset and watch.is_pending
    assert Job.objects.get(kind=alerts.JOB_KIND).params == {"dataset_id": dataset.pk}


def test_the_admin_lists_and_shows_alerts_watches_and_choices(client, make_user):
    from .factories import make_dataset

    admin = make_user("root", is_staff=True, is_superuser=True)
    member = make_user("mona")
    dataset = make_dataset(name="admin-films")
    row = make_history(dataset, user=member, external_user_id="mona", item_ids=(1, 2, 3)).interactions.first()
    objects = [DriftAlert.objects.create(user=member, dataset=dataset, flagged_interaction_ids=[row.pk]),
               DriftWatch.objects.create(user=member, dataset=dataset, arrivals=1),
               NeverFlag.objects.create(user=member, interaction=row)]
    client.force_login(admin)
    for obj in objects:
        name = obj._meta.model_name
        assert client.get(reverse(f"admin:recourse_{name}_changelist")).status_code == 200, name
        assert client.get(reverse(f"admin:recourse_{name}_change", args=[obj.pk])).status_code == 200, name
