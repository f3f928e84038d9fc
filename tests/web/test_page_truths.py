"""Sentences on member pages agree with the numbers beside them and with the other pages (found walking the demo)."""

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
from django.urls import reverse

from recourse.engine.sequences import History
from recourse.engine.taste_recourse import TasteAnalysis, TasteCalibration, TasteChange
from recourse.services import drift, taste_policy
from recsys.models import Interaction, Item
from recsys.ratings import STARS

from .factories import make_dataset, make_history

pytestmark = pytest.mark.django_db


def first_recommendation(client):
    return client.get(reverse("recourse:for-you")).context["recs"].items[0].item


def test_why_counts_column_shows_what_a_film_counts_for_under_the_ratings_policy(client, trained):
    dataset, model, alice = trained
    so_so = Interaction.objects.filter(sequence__user=alice).order_by("position").first()
    Interaction.objects.filter(pk=so_so.pk).update(rating=2.0)  # the ratings policy: 2 stars counts half
    client.force_login(alice)
    page = client.get(reverse("recourse:why", args=[first_recommendation(client).pk]))
    counts = {row[0].pk: row[4] for row in page.context["scored"]}
    assert counts[so_so.pk] == pytest.approx(0.5)
    assert all(value == pytest.approx(1.0) for pk, value in counts.items() if pk != so_so.pk)


def test_a_film_watched_twice_is_named_once_in_a_reason(client, trained, monkeypatch):
    from recourse.services import explanations

    dataset, model, alice = trained
    # The verified reasons of every recommendation: the same film at two positions of the history.
    monkeypatch.setattr(explanations.faithful, "verified_reasons",
                        lambda model, history, attributions, targets, exclude, **options:
                        [[int(history.items[0])] * 2 for _ in targets])
    client.force_login(alice)
    reasons = client.get(reverse("recourse:for-you")).context["reasons"]
    assert reasons and all(reason.count("“") == 1 for reason in reasons.values()), reasons


def test_for_you_lists_categories_as_every_other_page_does(client, trained):
    dataset, model, alice = trained
    Item.objects.filter(dataset=dataset).update(categories="Action|Comedy")
    client.force_login(alice)
    content = client.get(reverse("recourse:for-you")).content.decode()
    assert "Action, Comedy" in content and "Action|Comedy" not in content


def test_profile_counts_one_interaction_in_the_singular(member_client):
    make_history(make_dataset(), user=member_client.user, external_user_id="alice", item_ids=(1,))
    content = member_client.get(reverse("profile")).content.decode()
    assert "(1 interaction)" in content


def test_why_without_a_single_reason_does_not_claim_it_rests_on_many_films():
    """Attention found no single film for the demo's #1 while Integrated Gradients (and For you) named one."""
    from recourse.engine import faithful

    checked = faithful.CheckedWhy(target=7, rank=1, reasons=[], smallest=None, tried_up_to=10, candidates_scored=10)
    narrative = faithful.why_words(checked, {7: "Film 7"}, popular=False).narrative
    assert "by this way of explaining" in narrative and "rests on many" not in narrative


def test_why_without_a_single_reason_says_how_many_it_tried_beside_a_single_removal_found_further_down():
    """A shop log: no one of attention's top 3 lowered the #1, while one further down the order took it out of the
    top 10; "removing any one of the items that count most would not move it down" contradicted that."""
    from recourse.engine import faithful

    fifth = faithful.Removal(positions=(4,), items=(9,), rank_after=63)
    checked = faithful.CheckedWhy(target=7, rank=1, reasons=[], smallest=fifth, tried_up_to=10, candidates_scored=48)
    words = faithful.why_words(checked, {7: "Kettle", 9: "Mug"}, popular=False, verb="picked", items="items")
    assert "removing any one of the 3 items that count most for it would not move it down" in words.narrative
    assert words.change.startswith("Removing “Mug” would take “Kettle” out of your top 10 (from #1 to #63)")


def test_why_by_a_method_that_finds_nothing_pushing_up_says_so_instead_of_any_one_of_0_films():
    """Leave one out found both of a new member's films pushing the #1 down: the page said "removing any one of the
    0 films that count most for it would not move it down" and "No removal of up to 0 of the interactions", beside
    Contributions' verified "Without “Gladiator (2000)”, it would drop from #1 to #2"."""
    from recourse.engine import faithful

    checked = faithful.CheckedWhy(target=7, rank=1, reasons=[], smallest=None, tried_up_to=0, candidates_scored=0)
    words = faithful.why_words(checked, {7: "Craft"}, popular=True)
    assert " 0 " not in words.narrative and " 0 " not in words.change
    assert "would not move it down" not in words.narrative  # nothing was tried, so nothing is claimed
    assert words.narrative == ("“Craft” has no single main reason by this way of explaining: it finds none of your "
                               "films pushing it up. It is also one of the most popular films overall.")
    assert words.change == ("This way of explaining finds none of your films pushing “Craft” up, so it has no removal "
                            "to try.")


# --- the drift check's words -------------------------------------------------------------------------------------


def _item(pk):
    return Item(pk=pk, title=f"Film {pk}")


def _row(pk, rating=2.0):
    return SimpleNamespace(pk=100 + pk, item=_item(pk), timestamp=1_000_000 + pk, rating=rating)


def _check(*, flagged, top_now, top_after, is_drift=False, before=-7.0, after=-6.8, explicit=(), unusual=(),
           kept=()):
    rows = [_row(pk) for pk in flagged]
    result = SimpleNamespace(drift=is_drift, details={
        "objective_before": before, "objective_after": after,
        "explicit_interaction_ids": [100 + pk for pk in explicit]})
    check = drift.DriftCheck(result=result, narrative="", flagged=rows, scores={}, heat={}, interactions=rows,
                             changes={row.pk: 0.0 for row in rows}, top_now=[_item(pk) for pk in top_now],
                             top_after=[_item(pk) for pk in top_after], unusual=[_row(pk) for pk in unusual],
                             kept=[(_row(pk, 4.0), "you rated it 4 stars") for pk in kept], scale=STARS,
                             scored=len(rows), scored_are_latest=True)
    check.narrative = drift.narrative(check)
    return check


TOP_NOW = list(range(1, 11))
TOP_AFTER = [*range(1, 9), 11, 12]


def test_one_flagged_title_is_spoken_of_in_the_singular():
    text = _check(flagged=[50], top_now=TOP_NOW, top_after=TOP_AFTER, explicit=[50]).narrative
    assert text.startswith("1 title does not fit the rest of your history (you rated it 2.5 stars or lower);")
    assert "leaving it out would change 2 of your top 10" in text
    assert "(1 of 1)" not in text and "them" not in text


def test_flagged_low_rated_titles_are_said_to_not_fit_and_be_rated_low_and_hidden_ones_as_an_alternative():
    """A low rating counts only on a title the check finds unusual: 'do not fit ... or got 2.5 stars or lower'
    undersold it. A "Not interested" counts whether or not it fits."""
    text = _check(flagged=[50, 51, 52], top_now=TOP_NOW, top_after=TOP_AFTER, explicit=[50, 51],
                  is_drift=True).narrative
    assert text.startswith("3 titles do not fit the rest of your history (you rated 2 of them 2.5 stars or lower), "
                           "and pull")
    check = _check(flagged=[50, 51], top_now=TOP_NOW, top_after=TOP_AFTER, explicit=[50], is_drift=True)
    check.flagged[0].rating = None  # marked Not interested, never rated
    assert drift.narrative(check).startswith("2 titles do not fit the rest of your history or you marked 1 of them "
                                             "“Not interested”, and pull")


def test_the_drift_check_does_not_call_the_start_of_a_history_recent():
    for check in (_check(flagged=[50, 51], top_now=TOP_NOW, top_after=TOP_AFTER),
                  _check(flagged=[50, 51], top_now=TOP_NOW, top_after=TOP_AFTER, is_drift=True),
                  _check(flagged=[], top_now=TOP_NOW, top_after=TOP_NOW)):
        assert "recent" not in check.narrative and "recent" not in check.headline


def test_a_suggested_fix_that_brings_one_title_speaks_of_it_in_the_singular():
    from recourse.services import corrections

    one = SimpleNamespace(changes={101: 0.0, 102: 0.0}, entered=[_item(7)])
    assert "puts 1 new title into your top 10 (Film 7)" in corrections._suggestion_note(one)
    two = SimpleNamespace(changes={101: 0.0}, entered=[_item(7), _item(8)])
    assert "puts 2 new titles into your top 10 (Film 7, Film 8)" in corrections._suggestion_note(two)


def test_no_drift_says_which_condition_failed_as_the_numbers_show():
    evidence = _check(flagged=[50, 51], top_now=TOP_NOW, top_after=TOP_AFTER, before=-7.0, after=-6.8)
    assert "the evidence is no stronger" in evidence.narrative
    not_closer = _check(flagged=[50, 51], top_now=TOP_NOW, top_after=TOP_AFTER, before=-6.8, after=-7.0)
    assert "would not bring your recommendations closer" in not_closer.narrative
    assert "evidence" not in not_closer.narrative
    same_top = _check(flagged=[50, 51], top_now=TOP_NOW, top_after=TOP_NOW, before=-7.0, after=-6.8)
    assert "would not bring any new title into your top 10" in same_top.narrative
    assert "closer" not in same_top.narrative


def test_a_fix_without_liked_films_is_not_said_to_move_away_when_it_moves_closer():
    """The demo after its fix: -6.648 now, -6.457 without the titles, and the reason said it would not help."""
    engine = "the unusual interactions are within what clean histories show (evidence 3.10 <= 7.83)"

    def reason(changes=True, moved=True, before=-6.6, after=-6.4, evidence=None, cutoff=None):
        measured = taste_policy.Remeasured(before=before, after=after, evidence=evidence, cutoff=cutoff)
        return taste_policy.restricted_reason(engine, changes=changes, moved=moved, measured=measured,
                                             scale=STARS)

    assert reason(before=-6.648, after=-6.457) == engine
    assert "closer" in reason(before=-6.4, after=-6.5)
    assert "top 10" in reason(moved=False)
    assert "4 stars" in reason(changes=False, moved=False, after=-6.6)
    assert reason(evidence=4.10, cutoff=5.25).endswith("within what clean histories show (evidence 4.10 <= 5.25)")


def test_no_fix_without_liked_films_does_not_claim_only_liked_films_are_unusual():
    """calm: the engine's fix was one film rated 4 stars, while a film rated 3 was unusual too."""
    measured = taste_policy.Remeasured(before=-7.5, after=-7.5)
    reason = taste_policy.restricted_reason("engine", changes=False, moved=False, measured=measured, scale=STARS)
    assert "the only unusual" not in reason and "would only leave out titles you rated 4 stars" in reason


def _demo_engine_fix(history):
    """demo: the engine's fix left out 3 titles with evidence 5.90 > 5.25 (suspicion 1.2 + 2.9 + 1.8 over the flag
    threshold 0), one of them (position 5) rated 4 stars."""
    scores = np.zeros(8)
    scores[[7, 6, 5]] = [1.2, 2.9, 1.8]
    return TasteAnalysis(
        method="taste", positions=np.arange(8), items=history.items, scores=scores, surprisal=np.zeros(8),
        pull=np.zeros(8), flagged_positions=np.asarray([6, 5, 7]), explicit_positions=np.asarray([], np.int64),
        changes=[TasteChange(p, p + 1, "remove", 0.0) for p in (6, 5, 7)], objective_before=-6.016,
        objective_after=-5.920, gain_cutoff=5.25, drift=True, verdict="drift: yes", reason=(
            "3 interactions are far less predictable from the rest of your history than usual (evidence 5.90 > "
            "5.25, what clean histories show); leaving them out raises the likelihood of your established taste by "
            "0.096 nats"), top_before=np.arange(9, 19), top_after=np.arange(10, 20), corrected=history,
        candidates_scored=3)


def _restricted(monkeypatch, protected, cutoff=5.25):
    """The demo's fix re-measured without `protected` by the threshold rule (its verdict counts the fix's evidence)."""
    history = History(np.arange(1, 9, dtype=np.int64), np.ones(8, np.float32))
    final = np.zeros((2, 20))
    final[1, 19] = 1.0  # the fix brings item 20 into the top 10
    monkeypatch.setattr(taste_policy, "final_log_probs", lambda network, histories: final)
    monkeypatch.setattr(taste_policy, "established_likelihood", lambda final, established: np.asarray([-6.016, -5.938]))
    calibration = TasteCalibration(norm=None, flag_threshold=0.0, gain_cutoff=cutoff, false_alarm_rate=0.0,
                                   false_alarm_basis="held-out", n_reference=100)
    engine = replace(_demo_engine_fix(history), gain_cutoff=cutoff)
    return taste_policy._restricted(None, history, engine, protected, calibration, scale=STARS)


def test_a_fix_kept_without_a_liked_film_states_its_own_count_evidence_and_gain(monkeypatch):
    """The page showed the fix of 2 and -6.016 → -5.938 beside a reason that still said 3, 5.90 and 0.096."""
    kept = _restricted(monkeypatch, protected={7}, cutoff=4.0)
    assert kept.drift and [change.position for change in kept.changes] == [6, 5]
    assert kept.reason.startswith("2 interactions are") and "(evidence 4.70 > 5.25)" not in kept.reason
    assert "(evidence 4.70 > 4.00)" in kept.reason and "0.078 nats" in kept.reason and "0.096" not in kept.reason


def test_a_fix_whose_evidence_falls_below_the_cutoff_without_a_liked_film_is_not_drift(monkeypatch):
    """Without the film rated 4 stars (suspicion 1.8) the fix's evidence is 4.10, under the cutoff 5.25:
    the verdict the page shows must be the smaller fix's, not the engine's."""
    judged = _restricted(monkeypatch, protected={5})
    assert not judged.drift and judged.verdict == "drift: no"
    assert judged.reason.endswith("within what clean histories show (evidence 4.10 <= 5.25)")


def test_unusual_titles_the_member_rated_highly_are_not_said_to_be_unhelpful(member_client, monkeypatch):
    from recourse import views

    only_kept = _check(flagged=[], top_now=TOP_NOW, top_after=TOP_NOW, kept=[60])
    assert "closer" not in only_kept.narrative and "never left out" in only_kept.narrative
    both = _check(flagged=[], top_now=TOP_NOW, top_after=TOP_NOW, kept=[60], unusual=[61])
    assert "leaving the others out would not bring" in both.narrative

    make_history(make_dataset(), user=member_client.user, external_user_id="alice")
    both.result.details.update(flag_quantile=0.8, verdict_quantile=0.96)
    both.result.reason = "measured"
    monkeypatch.setattr(views.drift, "check_drift", lambda user, dataset: both)
    monkeypatch.setattr(views.recsys_charts, "history_timeline", lambda *args, **kwargs: "")
    content = member_client.get(reverse("recourse:drift")).content.decode()
    never, unhelpful = content.index("never left out: you said"), content.index("leaving them out would not help")
    assert never < content.index("Film 60 (you rated it 4 stars)") < unhelpful < content.index("Film 61")


@pytest.mark.parametrize("is_drift, flagged, expected, absent", [
    (False, [], "; no fix is suggested", "with the suggested fix"),
    (False, [50], "without the titles listed above", "with the suggested fix"),
    (True, [50], "with the suggested fix", "no fix is suggested"),
])
def test_drift_details_name_a_suggested_fix_only_when_there_is_one(member_client, monkeypatch, is_drift, flagged,
                                                                   expected, absent):
    from recourse import views

    make_history(make_dataset(), user=member_client.user, external_user_id="alice")
    check = _check(flagged=flagged, top_now=TOP_NOW, top_after=TOP_AFTER if flagged else TOP_NOW, is_drift=is_drift)
    check.result.details.update(flag_quantile=0.8, verdict_quantile=0.96)
    check.result.reason = "measured"
    monkeypatch.setattr(views.drift, "check_drift", lambda user, dataset: check)
    monkeypatch.setattr(views.recsys_charts, "history_timeline", lambda *args, **kwargs: "")
    content = member_client.get(reverse("recourse:drift")).content.decode()
    assert expected in content and absent not in content


def test_the_drift_checks_timeline_names_its_colours_unusualness_not_influence(member_client, monkeypatch):
    """The colours on the drift check measure how unusual each title is; "Influence" is what they mean on Why?."""
    from recourse import views

    make_history(make_dataset(), user=member_client.user, external_user_id="alice")
    check = _check(flagged=[50], top_now=TOP_NOW, top_after=TOP_AFTER, is_drift=True)
    check.result.details.update(flag_quantile=0.8, verdict_quantile=0.96)
    check.result.reason = "measured"
    for row in check.interactions:
        row.state, row.item.categories = "active", "Drama"
    check.heat = {row.pk: 1.0 for row in check.flagged}
    monkeypatch.setattr(views.drift, "check_drift", lambda user, dataset: check)
    content = member_client.get(reverse("recourse:drift")).content.decode()
    assert "How unusual" in content and "Influence" not in content


def test_pages_that_name_no_icon_get_the_site_icon_not_a_404(client):
    """The Django admin names no icon, so the browser asks for /favicon.ico (a console error on every admin page)."""
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith(".svg")


def test_the_preview_says_why_its_taste_figure_differs_from_the_drift_checks(member_client, monkeypatch):
    """The demo's suggested fix: -7.965 → -6.598 on Drift check, -7.866 → -6.744 in the preview (other titles)."""
    from recourse import views

    make_history(make_dataset(), user=member_client.user, external_user_id="alice")
    monkeypatch.setattr(views.serving, "loaded_model", lambda dataset: (None, None))
    monkeypatch.setattr(views, "member_history", lambda user, dataset, recommender: SimpleNamespace(interactions=[]))
    shown = SimpleNamespace(note="", changes={101: 0.0}, titles={101: "Film 1"}, entered=[], left=[], top_before=[],
                            top_after=[], taste_before=-7.866, taste_after=-6.744, ads=0.7, suggested=True,
                            satisfied=True, fingerprint="f")
    monkeypatch.setattr(views.corrections, "suggest", lambda user, dataset: shown)
    content = member_client.post(reverse("recourse:fix"), {"suggest": "1"}).content.decode()
    assert "-7.866 → -6.744" in content and "only the titles it found to fit" in content


def test_research_recourse_does_not_present_changes_that_lower_alignment_as_a_fix(analyst_client, trained,
                                                                                  monkeypatch):
    """The demo's user 10: target not reached, alignment 0.709 → 0.609, under "Changes made"."""
    from dataclasses import replace

    from dashboard import reads
    from recourse.engine.recourse_search import Change

    dataset, model, alice = trained
    real = reads.recourse_run

    def unreached(view, drift_view):
        item = int(drift_view.injection.history.items[0])
        return replace(real(view, drift_view), changes=[Change(position=0, item=item, action="remove", weight=0.0)],
                       satisfied=False, alignment_before=0.709, alignment_after=0.609)

    monkeypatch.setattr(reads, "recourse_run", unreached)
    content = analyst_client.get(reverse("dashboard:recourse"), {"dataset": dataset.pk, "method": "paper"}
                                 ).content.decode()
    assert "Changes made" not in content and "Changes tried, target not reached" in content
    assert "lower the alignment (0.709 → 0.609)" in content
    assert content.count("not reached") == 2  # the verdict and the caption, not the engine's echo of the verdict


def _taste_run_removing_one_injected(*, drift: bool, reason: str, ads_before: float, ads_after: float):
    """A stand-in for dashboard.reads.taste_recourse_run whose analysis removes the first injected interaction."""
    def run(view, drift_view):
        history = drift_view.injection.history
        position = int(drift_view.injection.injected_positions[0])
        change = SimpleNamespace(position=position, item=int(history.items[position]), action="remove", weight=0.0)
        analysis = SimpleNamespace(drift=drift, verdict=f"drift: {'yes' if drift else 'no'}", reason=reason,
                                   changes=[change], top_before=history.items[:3], top_after=history.items[:3])
        return SimpleNamespace(analysis=analysis, ads_before=ads_before, ads_after=ads_after)

    return run


def test_research_recourse_does_not_call_changes_the_taste_check_advises_against_a_fix(analyst_client, trained,
                                                                                      monkeypatch):
    """Verdict "Drift: no" with changes considered: the status said "The fix removes 4 interactions" above the
    caption "Changes considered; the check advises none"."""
    from dashboard import reads

    dataset, model, alice = trained
    monkeypatch.setattr(reads, "taste_recourse_run", _taste_run_removing_one_injected(
        drift=False, reason="the suggested change would not help", ads_before=0.2, ads_after=0.3))
    content = analyst_client.get(reverse("dashboard:recourse"), {"dataset": dataset.pk, "user": "alice"}
                                 ).content.decode()
    assert "The fix removes" not in content
    assert "The changes considered remove 1 interaction, 1 of them injected" in content
    assert "; the check advises none." in content


def test_research_recourse_does_not_promise_a_fix_brings_the_recommendations_back(analyst_client, trained,
                                                                                  monkeypatch):
    """The taste check's fix raises the likelihood of the established taste; on the drifted copies of a 30-film
    world its ADS to the clean history rose (0.2859 -> 0.4665) under an intro saying the removals "bring the
    recommendations back"."""
    from dashboard import reads

    dataset, model, alice = trained
    monkeypatch.setattr(reads, "taste_recourse_run", _taste_run_removing_one_injected(
        drift=True, reason="leaving it out raises your taste", ads_before=0.2859, ads_after=0.4665))
    content = analyst_client.get(reverse("dashboard:recourse"), {"dataset": dataset.pk, "user": "alice"}
                                 ).content.decode()
    assert "bring the recommendations back" not in content
    assert "the ADS row shows whether they also bring the recommendations closer" in content
    assert "0.2859" in content and "0.4665" in content


def test_my_history_status_says_what_each_film_counts_for_under_the_ratings_policy(member_client):
    """The page states the policy (1.5 stars or lower: not used; 2-2.5: half) above a Status column that said
    "In use" for every film the member had not lowered or removed."""
    make_history(make_dataset(), user=member_client.user, external_user_id="alice", item_ids=(1, 2, 3, 4))
    rows = list(Interaction.objects.filter(sequence__user=member_client.user).order_by("position"))
    for row, rating, weight in zip(rows, (1.0, 2.0, 2.0, 4.0), (1.0, 1.0, 0.5, 1.0), strict=True):
        Interaction.objects.filter(pk=row.pk).update(rating=rating, weight=weight)
    content = member_client.get(reverse("recsys:home")).content.decode()
    statuses = [cell.split("<", 1)[0].strip() for cell in content.split('<td>')[1:]
                if cell.startswith(("In use", "Not used", "Counts", "Removed"))]
    assert statuses == ["Not used (your rating)", "Counts 50.0%", "Counts 25.0%", "In use"]


def test_a_preview_that_only_reorders_the_top_10_does_not_say_it_stays_the_same(client, trained, monkeypatch):
    from recourse import views

    dataset, model, alice = trained
    real_preview = views.corrections.preview

    def reordered(**kwargs):
        shown = real_preview(**kwargs)
        shown.top_after, shown.entered = list(reversed(shown.top_before)), []
        return shown

    monkeypatch.setattr(views.corrections, "preview", reordered)
    client.force_login(alice)
    first = Interaction.objects.filter(sequence__user=alice).order_by("position").first()
    content = client.post(reverse("recourse:fix"), {f"action-{first.pk}": "remove"}).content.decode()
    assert "Your top 10 would keep the same titles, in a different order." in content
    assert "would stay the same" not in content


def test_my_corrections_calls_a_lowered_weight_a_weight_not_what_the_film_counts_for(member_client):
    """A film rated 2 (counts half) lowered to 0.3 counts 0.15 on My history and Why?; My corrections said
    "Counts 1.00 → 0.30"."""
    from recourse.models import RecourseResult

    sequence = make_history(make_dataset(), user=member_client.user, external_user_id="alice", item_ids=(1, 2))
    row = sequence.interactions.get(item__external_id="1")
    Interaction.objects.filter(pk=row.pk).update(rating=2.0, weight=0.3)
    RecourseResult.objects.create(user=member_client.user, sequence=sequence, changes=[{
        "interaction_id": row.pk, "title": row.item.title, "before": {"state": "active", "weight": 1.0},
        "after": {"state": "active", "weight": 0.3}}])
    corrections = member_client.get(reverse("recourse:corrections")).content.decode()
    assert "Weight 1.00 → 0.30: “Film 01 (1991)”" in corrections and "Counts 1.00" not in corrections
    assert "Counts 15.0%" in member_client.get(reverse("recsys:home")).content.decode()


def test_a_preview_of_changes_older_than_the_model_reads_says_why_nothing_changes(client, trained, monkeypatch):
    """A fix that only touches interactions older than the model's window previewed "would stay the same" without
    saying why. Here the model is made to read only the 3 most recent of alice's 4 interactions."""
    from recourse.services import corrections

    dataset, model, alice = trained
    monkeypatch.setattr(corrections, "visible", lambda history, max_len: np.flatnonzero(history.weights != 0)[-3:])
    client.force_login(alice)
    rows = list(Interaction.objects.filter(sequence__user=alice).order_by("position"))
    oldest = client.post(reverse("recourse:fix"), {f"action-{rows[0].pk}": "remove"}).content.decode()
    assert "most recent interactions; the one you chose is older, so your recommendations would not change" in oldest
    newest = client.post(reverse("recourse:fix"), {f"action-{rows[-1].pk}": "remove"}).content.decode()
    assert "would not change" not in newest


def test_why_says_how_much_of_a_short_history_the_model_reads_and_labels_the_rating_rules_once(client, trained):
    """A member with 4 interactions read "(your most recent 12 at most)" and "Used: Your ratings: …"."""
    dataset, model, alice = trained
    client.force_login(alice)
    first = client.get(reverse("recourse:for-you")).context["recs"].items[0].item
    content = client.get(reverse("recourse:why", args=[first.pk])).content.decode()
    assert "which films are in your history and their order (all 4 that the model knows)" in content
    assert "most recent" not in content
    assert "<li>Your ratings: a film you rated 1.5 stars or lower" in content and "Used:</strong> Your" not in content


def test_why_does_not_say_all_films_are_used_when_a_rating_keeps_one_from_counting(client, trained):
    """A new member with 3 films, one rated 1 star, read "Used: … (all 3 that the model knows)" right above "a film
    you rated 1.5 stars or lower is not used"."""
    dataset, model, alice = trained
    Interaction.objects.filter(sequence__user=alice, position=0).update(rating=1.0)
    client.force_login(alice)
    first = client.get(reverse("recourse:for-you")).context["recs"].items[0].item
    content = client.get(reverse("recourse:why", args=[first.pk])).content.decode()
    assert "(all 4 that the model knows; your rating keeps 1 of them from counting)" in content


def test_fix_and_drift_check_give_the_same_reason_when_ratings_leave_too_few_films(client, trained):
    """Three films, one rated 1 star: the drift check said "(titles rated 1.5 stars or lower do not count)", while
    Suggest on Fix said only "needs at least three interactions in your history that the model knows" (there were
    three)."""
    dataset, model, alice = trained
    Interaction.objects.filter(sequence__user=alice, position__in=(0, 1)).update(rating=1.0)
    client.force_login(alice)
    said = ("needs at least three interactions in your history that the recommender knows (titles rated 1.5 stars "
            "or lower do not count).")
    assert f"A drift check {said}" in client.get(reverse("recourse:drift")).content.decode()
    assert f"A suggestion {said}" in client.post(reverse("recourse:fix"), {"suggest": "1"}).content.decode()


def test_a_member_whose_only_films_are_rated_too_low_gets_no_why_of_an_empty_history(client, trained):
    """A new member whose one film was rated 1 star got the most popular list on For you ("You have no history the
    model knows yet", untrue) while /why/<#1>/ explained it from nothing: "removing any one of the 0 films"."""
    dataset, model, alice = trained
    Interaction.objects.filter(sequence__user=alice).update(rating=1.0)
    client.force_login(alice)
    page = client.get(reverse("recourse:for-you"))
    content = page.content.decode()
    assert page.context["recs"].fallback
    assert ("Nothing in your history counts for the model yet (films rated 1.5 stars or lower do not count), so "
            "these are the <strong>most popular</strong> films.") in content
    why = client.get(reverse("recourse:why", args=[page.context["recs"].items[0].item.pk])).content.decode()
    assert ("Nothing in your history counts for the model yet (films rated 1.5 stars or lower do not count), so your "
            "recommendations are the most popular films and there is nothing personal to explain.") in why
    assert "0 films" not in why


def test_fix_with_an_empty_history_spans_every_column_of_its_table(client, trained, make_user):
    """A new member's Fix table had 5 columns and its "no interactions yet" row spanned 4."""
    import re

    client.force_login(make_user("newbie"))
    content = client.get(reverse("recourse:fix")).content.decode()
    table = content[content.index('class="stack fix-table"'):content.index("</table>")]
    columns = table[table.index("<thead>"):table.index("</thead>")].count('<th scope="col">')
    assert re.search(r'<td colspan="(\d+)">Your history has no interactions', table).group(1) == str(columns)


def test_a_drift_check_that_finds_nothing_unusual_says_what_it_read_without_calling_a_short_history_recent():
    assert drift.all_fit(4, 4) == "every title in your history fits the rest of it"
    assert drift.all_fit(15, 60) == ("each of your latest 15 titles (the ones the check scores) fits the rest of "
                                     "your history")
    rows = [_row(pk) for pk in range(1, 5)]
    check = drift.DriftCheck(result=SimpleNamespace(drift=False, details={}), narrative="", flagged=[], scores={},
                             heat={}, interactions=rows, scale=STARS, scored=4, scored_are_latest=True)
    assert drift.narrative(check) == "Every title in your history fits the rest of it."
    # a 4-title history whose second title is rated too low to count: titles 1, 3 and 4 were scored, not "the latest 3"
    assert drift.all_fit(3, 4, latest=False) == ("each of the 3 titles the check scores (titles your ratings keep "
                                                 "from counting are not scored) fits the rest of your history")


@pytest.mark.parametrize("ordinal_time, expected", [(True, [41, 43]), (False, ["2001-09-08", "2001-09-10"])])
def test_a_one_moment_timeline_spans_a_step_or_a_day_each_side_not_fractions_of_a_millisecond(ordinal_time,
                                                                                                 expected):
    import re

    from recsys import charts

    row = SimpleNamespace(pk=1, timestamp=42 if ordinal_time else 1_000_000_000, state="active",
                          item=SimpleNamespace(title="Film", category_list=[]))
    html = charts.history_timeline([row], ordinal_time=ordinal_time)
    span = re.search(r'"range":\s*\[([^\]]*)\]', html).group(1)
    assert all(str(value) in span for value in expected)


def test_a_preview_of_a_title_rated_too_low_to_count_does_not_call_it_older(client, trained):
    """A 3-film member who rated every film 1 star removed one on Fix and read "The model reads only your 50 most
    recent interactions; the one you chose is older" and "this change keeps none of your titles unchanged": the
    film is their newest, and two stayed unchanged; the model reads none of them because of the ratings."""
    dataset, model, alice = trained
    rows = list(Interaction.objects.filter(sequence__user=alice).order_by("position"))
    Interaction.objects.filter(pk=rows[0].pk).delete()
    Interaction.objects.filter(sequence__user=alice).update(rating=1.0)
    client.force_login(alice)
    content = client.post(reverse("recourse:fix"), {f"action-{rows[-1].pk}": "remove"}).content.decode()
    assert "Preview — nothing has changed yet" in content
    assert "is older" not in content and "keeps none of your titles unchanged" not in content
    assert "Your rating already keeps the one you chose from counting, so your recommendations would not change." \
        in content
    assert ("cannot be measured here: the titles this change leaves unchanged do not count for the model (you rated "
            "them 1.5 stars or lower)") in content
