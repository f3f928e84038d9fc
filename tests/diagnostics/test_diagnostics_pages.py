import csv
import io
import json
import re

import pytest
from django.urls import reverse

from diagnostics import services
from diagnostics.models import DiagnosticRun
from recsys import jobs
from recsys.models import TrainingExclusion
from recsys.selectors import sequence_histories
from recsys.services.training import data_snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def finished_run(films):
    run = services.start_run(dataset=films, architecture="mf", hyperparameters={"factors": 4, "sweeps": 3},
                             seeds=2, users=3, items=2)
    jobs.run(run.job_id)
    for row in run.retrains.all():
        services.run_retrain(row.pk)
    return run


def pages(run):
    user_key = run.retrains.filter(kind="user").first().key
    return [reverse("diagnostics:runs"), reverse("diagnostics:run", args=[run.pk]),
            reverse("diagnostics:export", args=[run.pk, "csv"]), reverse("diagnostics:exclusions"),
            reverse("diagnostics:entity", args=[run.pk, "user", user_key])]


def test_members_get_403_and_visitors_go_to_sign_in(client, member_client, finished_run):
    for url in pages(finished_run):
        assert member_client.get(url).status_code == 403, url
    assert member_client.post(reverse("diagnostics:start"), {}).status_code == 403
    assert member_client.post(reverse("diagnostics:cancel", args=[finished_run.pk])).status_code == 403
    client.logout()
    assert client.get(pages(finished_run)[1]).status_code == 302


def test_analysts_see_the_rankings_with_noise_and_every_page(analyst_client, finished_run):
    for url in pages(finished_run):
        assert analyst_client.get(url).status_code == 200, url
    page = analyst_client.get(reverse("diagnostics:run", args=[finished_run.pk])).content.decode()
    assert "12 of 12" in page and "Seed noise" in page and 'id="user-ranking"' in page
    assert "within seed noise" in page or "helps the model" in page or "hurts the model" in page
    assert "Film " in page  # titles are named


def test_the_run_charts_have_text_alternatives(analyst_client, finished_run):
    """Each chart's aria-label and caption were its bare title ("Members by influence: ")."""
    page = analyst_client.get(reverse("diagnostics:run", args=[finished_run.pk])).content.decode()
    labels = re.findall(r'role="img" aria-label="([^"]*)"', page)
    assert len(labels) == 3
    assert labels[0].startswith("Members by influence: ") and "outside seed noise. Largest: Member " in labels[0]
    assert "outside seed noise. Largest: Film " in labels[1]
    assert "3 members, from " in labels[2] and "2 titles, from " in labels[2]
    assert "whiskers: half the range of the per-seed influences" in page
    assert page.count('"tickformat":"~g"') == 3  # 0.0008 on the axis, not plotly's "800μ"


def test_a_run_not_started_yet_shows_no_nan_and_does_not_blame_one_seed(analyst_client, films):
    """A queued run showed "NDCG@10, full model: nan", "one seed: unknown" for two seeds and a stray ". Settings"."""
    run = services.start_run(dataset=films, architecture="mf", hyperparameters={"factors": 4, "sweeps": 3},
                             seeds=2, users=3, items=2)
    run.job.message = ""
    run.job.save(update_fields=["message"])
    page = analyst_client.get(reverse("diagnostics:run", args=[run.pk])).content.decode()
    assert "nan" not in page and "one seed" not in page and "<p>. Settings" not in page
    assert page.count("not known yet") == 2
    assert "Settings: factors = 4, sweeps = 3; seeds" in page  # not the Python dict {&#x27;factors&#x27;: 4, …}


def test_a_one_seed_run_does_not_call_influences_within_a_seed_noise_it_could_not_measure(analyst_client, films):
    """With one seed the noise is unknown; every row said "within seed noise" beside "Seed noise: one seed: unknown"."""
    run = services.start_run(dataset=films, architecture="mf", hyperparameters={"factors": 4, "sweeps": 3},
                             seeds=1, users=2, items=1)
    jobs.run(run.job_id)
    for row in run.retrains.all():
        services.run_retrain(row.pk)
    user_key = run.retrains.filter(kind="user").first().key
    for url in (reverse("diagnostics:run", args=[run.pk]),
                reverse("diagnostics:entity", args=[run.pk, "user", user_key])):
        page = analyst_client.get(url).content.decode()
        assert "<td>within seed noise" not in page and "nan" not in page, url
        assert "not judged: seed noise needs two seeds or more" in page, url
    exported = json.loads(analyst_client.get(reverse("diagnostics:export", args=[run.pk, "json"])).content,
                          parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))
    assert {(row["noise"], row["within_noise"]) for row in exported["influences"]} == {(None, None)}


def test_a_two_seed_run_with_one_baseline_done_says_not_known_yet_not_one_seed(analyst_client, films):
    """Item retrains finish before the baselines: every row said "unknown (one seed)" during a two-seed run."""
    run = services.start_run(dataset=films, architecture="mf", hyperparameters={"factors": 4, "sweeps": 3},
                             seeds=2, users=2, items=1)
    jobs.run(run.job_id)
    waiting = run.retrains.filter(kind="none").order_by("seed").last()
    for row in run.retrains.exclude(pk=waiting.pk):
        services.run_retrain(row.pk)
    user_key = run.retrains.filter(kind="user").first().key
    page = analyst_client.get(reverse("diagnostics:entity", args=[run.pk, "user", user_key])).content.decode()
    assert "one seed" not in page and "seed noise needs two seeds" not in page
    assert "not known yet" in page
    run_page = analyst_client.get(reverse("diagnostics:run", args=[run.pk])).content.decode()
    assert "one seed" not in run_page  # the charts' text alternatives too
    assert "seed noise not known yet: the other seeds&#x27; baselines are not done" in run_page


def test_export_lists_every_influence_in_csv_and_json(analyst_client, finished_run):
    text = analyst_client.get(reverse("diagnostics:export", args=[finished_run.pk, "csv"])).content.decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 5 * 2  # 3 members + 2 titles, NDCG@10 and MAP@10
    assert {row["kind"] for row in rows} == {"user", "item"} and all(row["noise"] for row in rows)
    data = json.loads(analyst_client.get(reverse("diagnostics:export", args=[finished_run.pk, "json"])).content)
    assert len(data["influences"]) == 10 and data["seeds"] == [0, 1]
    # The settings the page states beside the numbers (it gave only the run's number and seeds): enough to re-run it.
    assert data["dataset"] == finished_run.dataset.name and data["hyperparameters"] == {"factors": 4, "sweeps": 3}
    assert data["sample_seed"] == 0 and data["evaluated_members"] == len(finished_run.evaluated_users) > 0
    assert data["sampled"] == {"members": 3, "titles": 2}
    assert analyst_client.get(reverse("diagnostics:export", args=[finished_run.pk, "xml"])).status_code == 404


def test_an_analyst_starts_a_run_from_the_page(analyst_client, films):
    response = analyst_client.post(reverse("diagnostics:start"), {
        "dataset": films.pk, "architecture": "mf", "users": 2, "items": 1, "seeds": 1, "sample_seed": 0,
        "epochs": 1})
    run = DiagnosticRun.objects.get()
    assert response.status_code == 302 and run.retrains.count() == 4 and run.created_by == analyst_client.user
    bad = analyst_client.post(reverse("diagnostics:start"), {"dataset": films.pk, "architecture": "mf",
                                                             "users": -1, "items": 1, "seeds": 1})
    assert bad.status_code == 400 and DiagnosticRun.objects.count() == 1


def test_a_sampling_seed_too_large_to_store_is_a_form_error_not_a_server_error(analyst_client, films):
    response = analyst_client.post(reverse("diagnostics:start"), {
        "dataset": films.pk, "architecture": "mf", "users": 2, "items": 1, "seeds": 1,
        "sample_seed": "9" * 23, "epochs": 1})
    assert response.status_code == 400 and "less than or equal to 2147483647" in response.content.decode()
    assert not DiagnosticRun.objects.exists()


def test_only_an_administrator_leaves_a_member_out_of_training_and_it_is_reversible(
    analyst_client, make_user, finished_run
):
    key = finished_run.retrains.filter(kind="user").first().key
    form = {"run": finished_run.pk, "key": key, "reason": "Influence below noise in run 1"}
    assert analyst_client.post(reverse("diagnostics:exclude"), form).status_code == 403
    admin = make_user("root", is_staff=True, is_superuser=True)
    analyst_client.force_login(admin)
    before = data_snapshot(finished_run.dataset)["interactions"]
    analyst_client.post(reverse("diagnostics:exclude"), form)
    exclusion = TrainingExclusion.objects.get()
    assert exclusion.created_by == admin and exclusion.in_force
    histories = sequence_histories(dataset=finished_run.dataset, external_ids=True, for_training=True)
    assert key not in histories and key in sequence_histories(dataset=finished_run.dataset, external_ids=True)
    assert data_snapshot(finished_run.dataset)["interactions"] == before - 6  # the active model becomes stale
    lifted = analyst_client.post(reverse("diagnostics:lift", args=[exclusion.pk]), follow=True).content.decode()
    assert f"Member {key} of Films is back in the next training." in lifted  # not "history u3 in dataset films"
    exclusion.refresh_from_db()
    assert exclusion.lifted_by == admin and not exclusion.in_force  # the record stays
    assert key in sequence_histories(dataset=finished_run.dataset, external_ids=True, for_training=True)


def test_an_unknown_entity_or_run_is_404(analyst_client, finished_run):
    assert analyst_client.get(reverse("diagnostics:entity", args=[finished_run.pk, "user", "zz"])).status_code == 404
    assert analyst_client.get(reverse("diagnostics:run", args=[999])).status_code == 404


def test_training_honours_an_exclusion_in_force(films, make_user, monkeypatch):
    from recsys.models import TrainedModel
    from recsys.services import training

    read = {}

    def capture(histories, *args, **kwargs):
        read.update(histories)
        raise RuntimeError("stop after reading the histories")

    class Progress:
        def __call__(self, percent, message=""):
            pass

        def cancel_requested(self):
            return False

    monkeypatch.setattr(training, "train_recommender", capture)
    sequence = films.sequences.get(external_user_id="u0")
    services.exclude_from_training(dataset=films, user_key="u0", reason="test", by=make_user("root"))
    model = TrainedModel.objects.create(dataset=films, architecture="sasrec")
    with pytest.raises(RuntimeError, match="stop after"):
        training.train(model, Progress())
    assert str(sequence.pk) not in read and len(read) == films.sequences.count() - 1


def test_the_admin_shows_runs_and_retrains_but_does_not_let_anyone_add_or_edit_them(client, make_user,
                                                                                    finished_run):
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    retrain = finished_run.retrains.first()
    for model, pk in (("diagnosticrun", finished_run.pk), ("retrain", retrain.pk)):
        assert client.get(reverse(f"admin:diagnostics_{model}_changelist")).status_code == 200
        assert client.get(reverse(f"admin:diagnostics_{model}_change", args=[pk])).status_code == 200
        assert client.get(reverse(f"admin:diagnostics_{model}_add")).status_code == 403
    response = client.post(reverse("admin:diagnostics_retrain_change", args=[retrain.pk]),
                           {"run": finished_run.pk, "kind": "user", "key": "x", "seed": 9, "status": "done"})
    assert response.status_code == 403
    retrain.refresh_from_db()
    assert retrain.seed != 9


def test_a_members_history_on_the_entity_page_is_dated_not_raw_unix_seconds(analyst_client, finished_run):
    """The "When" column read 957038188."""
    user_key = finished_run.retrains.filter(kind="user").first().key
    page = analyst_client.get(reverse("diagnostics:entity", args=[finished_run.pk, "user", user_key])).content.decode()
    assert "<td>1970-01-12</td>" in page and "<td>1000000</td>" not in page


def test_a_partly_judged_ranking_counts_only_the_judged_ones_against_seed_noise():
    """'1 of 3 outside seed noise' counted the influences whose seed noise was not known yet as inside it."""
    import math

    from diagnostics.charts import ranking_summary
    from diagnostics.engine.influence import Influence
    from diagnostics.engine.removal import Removal

    found = [Influence(Removal("user", "a"), "MAP@10", 0.5, (0.4, 0.6), 0.1),
             Influence(Removal("user", "b"), "MAP@10", 0.05, (0.0, 0.1), 0.1),
             Influence(Removal("user", "c"), "MAP@10", 0.01, (0.01,), math.nan)]
    text = ranking_summary(found, {}, what="members", seeds=2)
    assert text.startswith("1 of 2 outside seed noise (1 more not judged yet: seed noise not known yet")


def test_a_running_run_shows_its_job_with_live_progress_and_a_finished_one_does_not(analyst_client, films):
    """The run page said "43 of 123" and stayed there until reloaded; it now follows the run's job (jobs.js) and
    reloads when it ends."""
    run = services.start_run(dataset=films, architecture="mf", hyperparameters={"factors": 4, "sweeps": 3},
                             seeds=1, users=1, items=1)
    page = analyst_client.get(reverse("diagnostics:run", args=[run.pk])).content.decode()
    assert f'<tr data-job="{run.job_id}" data-finished="0">' in page and "js/jobs." in page
    jobs.run(run.job_id)
    for row in run.retrains.all():
        services.run_retrain(row.pk)
    page = analyst_client.get(reverse("diagnostics:run", args=[run.pk])).content.decode()
    assert "data-job=" not in page and "js/jobs." not in page


def test_a_titles_page_lists_its_categories_as_every_other_page_does(analyst_client, finished_run):
    """"1993 Drama|Romance": the stored separator, where the catalogue and the forecaster write "Drama, Romance"."""
    from recsys.models import Item

    key = finished_run.retrains.filter(kind="item").first().key
    Item.objects.filter(dataset=finished_run.dataset, external_id=key).update(categories="Drama|Romance", year=1993)
    page = analyst_client.get(reverse("diagnostics:entity", args=[finished_run.pk, "item", key])).content.decode()
    assert "1993 · Drama, Romance · " in page and "Drama|Romance" not in page


def test_leaving_out_with_a_malformed_run_or_key_is_a_clear_refusal_not_a_server_error(client, make_user,
                                                                                        finished_run):
    client.raise_request_exception = False
    client.force_login(make_user("root", is_staff=True, is_superuser=True))
    url = reverse("diagnostics:exclude")
    for run in ("abc", "-1", "1.5", "9" * 30):
        response = client.post(url, {"run": run, "key": "u0", "reason": "r"})
        assert response.status_code == 400 and b"run must be a whole number" in response.content
    for key, reason in (("", ""), ("a/b", ""), ("a/b", "a reason"), ("", "a reason")):
        response = client.post(url, {"run": finished_run.pk, "key": key, "reason": reason}, follow=True)
        assert response.status_code == 200
        assert response.redirect_chain[-1][0] == reverse("diagnostics:run", args=[finished_run.pk])
    assert not TrainingExclusion.objects.exists()


def test_cancelling_a_run_that_has_ended_says_so_not_cancelling(analyst_client, finished_run):
    """The run page's Cancel (a second click, a page older than the run's end) said "Cancelling: retrains that have
    not started will not run" of a run whose job had succeeded."""
    from django.contrib.messages import get_messages

    response = analyst_client.post(reverse("diagnostics:cancel", args=[finished_run.pk]))
    said = " ".join(str(m) for m in get_messages(response.wsgi_request))
    assert "Cancelling" not in said and f"Job #{finished_run.job_id} has already ended (succeeded)" in said
    finished_run.job.refresh_from_db()
    assert finished_run.job.status == "succeeded" and not finished_run.job.cancel_requested
