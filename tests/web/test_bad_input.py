"""Junk input gets a clear 400/404 or a form message, never a 500, a traceback or raw Python error text."""

from types import SimpleNamespace

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from recourse.models import RecourseResult
from recsys.models import Interaction, Job

from .factories import make_dataset, make_history

pytestmark = pytest.mark.django_db

RAW_PYTHON = ("Traceback", "could not convert", "invalid literal", "NoneType", "KeyError", "TypeError",
              "ValueError", "OverflowError", "out of range", "must be in 1..")


def _messages(response) -> str:
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


def _assert_no_raw_error(response):
    text = response.content.decode(errors="replace") + _messages(response)
    for raw in RAW_PYTHON:
        assert raw not in text, f"{raw!r} shown to the reader"


@pytest.mark.parametrize("changes", ['{"1": null}', "[1]", "{}", '{"1": "abc"}', '{"²": 0.5}', '{"1": true}',
                                     "not json", '{"1": [0.5]}', "[" * 100_000 + "]" * 100_000])
def test_applying_junk_changes_says_nothing_was_changed(member_client, changes):
    make_history(make_dataset(), user=member_client.user, external_user_id="alice")
    response = member_client.post(reverse("recourse:apply-fix"), {"changes": changes, "fingerprint": "x"})
    assert response.status_code == 302
    assert "Nothing was changed" in _messages(response)
    _assert_no_raw_error(response)


@pytest.mark.parametrize("form", [
    {"action-1": "lower", "weight-1": "abc"},
    {"action-1": "lower", "weight-1": "nan"},
    {"action-²": "remove"},
    {"action-1": "explode"},
])
def test_the_fix_form_explains_junk_without_python_error_text(member_client, form, monkeypatch):
    from recourse import views

    make_history(make_dataset(), user=member_client.user, external_user_id="alice")
    # The form is read before any model is used: stand in for the active model and the member's history.
    monkeypatch.setattr(views.serving, "loaded_model", lambda dataset: (None, None))
    monkeypatch.setattr(views, "member_history", lambda user, dataset, recommender: SimpleNamespace(interactions=[]))
    response = member_client.post(reverse("recourse:fix"), form)
    assert response.status_code == 200
    assert response.context["error"]
    _assert_no_raw_error(response)


def test_job_status_refuses_an_id_too_large_for_the_database(analyst_client):
    response = analyst_client.get(reverse("recsys:job-status") + "?ids=" + "9" * 30)
    assert response.status_code == 400
    assert "job numbers" in response.json()["detail"]


def test_job_status_refuses_a_superscript_digit(analyst_client):
    job = Job.objects.create(kind="import_dataset")
    assert analyst_client.get(reverse("recsys:job-status") + "?ids=²").status_code == 400
    assert analyst_client.get(reverse("recsys:job-status") + f"?ids={job.pk}").json()["jobs"][0]["id"] == job.pk


@pytest.mark.parametrize("url", ["dashboard:overview", "dashboard:registry", "dashboard:metrics"])
def test_a_superscript_dataset_is_a_bad_request(analyst_client, url):
    make_dataset()
    response = analyst_client.get(reverse(url) + "?dataset=²")
    assert response.status_code == 400
    assert "dataset must be a whole number" in response.content.decode()


def test_a_superscript_user_is_reported_as_not_found_on_the_page(analyst_client):
    dataset = make_dataset()
    make_history(dataset)
    response = analyst_client.get(reverse("dashboard:recommendations") + f"?dataset={dataset.pk}&user=²")
    assert response.status_code == 200
    assert "No user" in response.content.decode()


def test_a_superscript_seed_falls_back_to_seed_zero(analyst_client):
    response = analyst_client.get(reverse("dashboard:drift") + "?seed=²")
    assert response.status_code == 200


def test_a_superscript_experiment_is_a_bad_request(analyst_client):
    dataset = make_dataset()
    response = analyst_client.get(reverse("dashboard:metrics") + f"?dataset={dataset.pk}&experiment=²")
    assert response.status_code == 400 and "experiment must be a whole number" in response.content.decode()


@pytest.mark.parametrize("url", ["dashboard:train", "dashboard:start-experiment"])
@pytest.mark.parametrize("dataset", ["abc", "²", "9" * 30, ""])
def test_starting_work_on_a_junk_dataset_is_a_bad_request(analyst_client, url, dataset):
    response = analyst_client.post(reverse(url), {"dataset": dataset, "architecture": "sasrec"})
    assert response.status_code == 400
    assert "dataset must be a whole number" in response.content.decode()
    assert not Job.objects.exists()


@pytest.mark.parametrize("url", ["dashboard:train", "dashboard:start-experiment"])
def test_starting_work_without_a_dataset_says_none_was_given_not_none(analyst_client, url):
    text = analyst_client.post(reverse(url), {"architecture": "sasrec"}).content.decode()
    assert "dataset must be a whole number; none was given." in text and "None" not in text


def test_starting_work_on_a_missing_dataset_is_not_found(analyst_client):
    assert analyst_client.post(reverse("dashboard:train"), {"dataset": "12345"}).status_code == 404


@pytest.mark.parametrize("n_users,seed", [("²", "0"), ("10", "²"), ("10", "9" * 30), ("abc", "1")])
def test_an_experiment_with_junk_numbers_is_refused_with_a_message(analyst_client, n_users, seed):
    dataset = make_dataset()
    response = analyst_client.post(reverse("dashboard:start-experiment"),
                                   {"dataset": dataset.pk, "n_users": n_users, "seed": seed})
    assert response.status_code == 302
    assert "whole numbers" in _messages(response)


def _correction(member, *, changes_of):
    dataset = make_dataset()
    sequence = make_history(dataset, user=member, external_user_id="alice", item_ids=(1, 2, 3))
    rows = list(sequence.interactions.order_by("position"))
    changes = changes_of(rows)
    for change in changes:
        Interaction.objects.filter(pk=change["interaction_id"]).update(**change["after"])
    return RecourseResult.objects.create(user=member, sequence=sequence, changes=changes), rows


def _excluded(row):
    return {"interaction_id": row.pk, "title": row.item.title, "before": {"state": "active", "weight": 1.0},
            "after": {"state": "excluded", "weight": 1.0}}


def test_undo_after_an_excluded_row_was_deleted_restores_the_rest(member_client):
    result, rows = _correction(member_client.user, changes_of=lambda rows: [_excluded(rows[0]), _excluded(rows[1])])
    Interaction.objects.filter(pk=rows[0].pk).delete()  # removed on My history
    response = member_client.post(reverse("recourse:undo", args=[result.pk]))
    assert response.status_code == 302
    assert "deleted from your history" in _messages(response) and rows[0].item.title in _messages(response)
    result.refresh_from_db()
    assert result.is_undone
    assert Interaction.objects.get(pk=rows[1].pk).state == "active"


def test_undo_of_a_row_changed_since_is_refused_with_a_message(member_client):
    result, rows = _correction(member_client.user, changes_of=lambda rows: [_excluded(rows[0])])
    Interaction.objects.filter(pk=rows[0].pk).update(state="active", weight=0.5)
    response = member_client.post(reverse("recourse:undo", args=[result.pk]))
    assert "changed again" in _messages(response)
    result.refresh_from_db()
    assert not result.is_undone


@pytest.mark.parametrize("changes", [[{"title": "x"}], [{"interaction_id": 1, "before": None, "after": None}],
                                     ["junk"], []])
def test_undo_of_a_damaged_record_never_fails_with_a_server_error(member_client, changes):
    dataset = make_dataset()
    sequence = make_history(dataset, user=member_client.user, external_user_id="alice")
    result = RecourseResult.objects.create(user=member_client.user, sequence=sequence, changes=changes)
    response = member_client.post(reverse("recourse:undo", args=[result.pk]))
    assert response.status_code == 302
    _assert_no_raw_error(response)


def test_another_members_correction_cannot_be_undone(member_client, make_user):
    bob = make_user("bob")
    result, _ = _correction(bob, changes_of=lambda rows: [_excluded(rows[0])])
    assert member_client.post(reverse("recourse:undo", args=[result.pk])).status_code == 404
    assert member_client.post(reverse("recourse:undo", args=[10**30])).status_code == 404



def test_not_found_pages_do_not_show_djangos_internal_wording(member_client):
    """An unknown address showed "Resolver404", an unknown title on Why? "No Item matches the given query."."""
    make_history(make_dataset(), user=member_client.user, external_user_id="alice")
    generic = "That page or object does not exist, or it is not yours."
    for url in ("/no-such-page/", reverse("recourse:why", args=[10**9])):
        response = member_client.get(url)
        text = response.content.decode()
        assert response.status_code == 404 and generic in text, url
        assert "Resolver404" not in text and "matches the given query" not in text, url
    own = member_client.post(reverse("recourse:undo", args=[10**9]))
    assert own.status_code == 404 and "No such correction." in own.content.decode()
    api = member_client.get("/api/no-such-endpoint/")
    assert api.status_code == 404 and api.json() == {"detail": "Not found."}


@pytest.mark.parametrize("hyperparameters,said", [
    ('{"epochs": -3}', "epochs, batch_size"), ('{"epochs": 1e9}', "epochs must be a whole number"),
    ('{"epochs": "ten"}', "epochs must be a whole number"), ('{"lr": -1}', "lr, l2 and patience must be >= 0"),
    ('{"batch_size": 0}', "epochs, batch_size"), ('{"hidden": 64.5}', "hidden must be a whole number"),
    ('{"jit_compile": 1}', "jit_compile must be true or false"), ("[1, 2]", "must be an object"),
])
def test_training_with_impossible_hyperparameters_is_refused_before_anything_is_queued(analyst_client,
                                                                                      hyperparameters, said):
    """Each of these used to queue a job that failed on the training worker (0 epochs, TypeError, ...)."""
    dataset = make_dataset()
    make_history(dataset)
    response = analyst_client.post(reverse("dashboard:train"), {"dataset": dataset.pk, "architecture": "sasrec",
                                                                "hyperparameters": hyperparameters})
    assert response.status_code == 302
    assert said in _messages(response)
    _assert_no_raw_error(response)
    assert not Job.objects.exists()


def test_an_experiment_with_every_strategy_unticked_is_refused_not_run_with_all_three(analyst_client):
    """The form sends no strategies at all; that was read as "every strategy" and queued the slowest run."""
    dataset = make_dataset()
    response = analyst_client.post(reverse("dashboard:start-experiment"), {"dataset": dataset.pk, "n_users": 5,
                                                                           "seed": 0})
    assert "Choose at least one drift strategy" in _messages(response)
    assert not Job.objects.exists()


def test_the_experiment_form_offers_no_more_users_than_can_be_sampled(analyst_client):
    """The form's default N was 500 on a dataset with 400 eligible members: submitting it as shown failed."""
    dataset = make_dataset()
    for u in range(4):
        make_history(dataset, external_user_id=f"u{u}", item_ids=(1, 2, 3))
    make_history(dataset, external_user_id="short", item_ids=(1, 2))
    page = analyst_client.get(reverse("dashboard:metrics") + f"?dataset={dataset.pk}").content.decode()
    assert 'name="n_users" type="number" min="1" max="4" value="4"' in page
    assert "4 members have enough history to sample." in page
    one = make_dataset(name="one")
    make_history(one, external_user_id="u", item_ids=(1, 2, 3))
    page = analyst_client.get(reverse("dashboard:metrics") + f"?dataset={one.pk}").content.decode()
    assert "1 member has enough history to sample." in page  # not "1 member have"
    none = make_dataset(name="none")
    make_history(none, external_user_id="short", item_ids=(1, 2))
    page = analyst_client.get(reverse("dashboard:metrics") + f"?dataset={none.pk}").content.decode()
    assert 'id="no-eligible"' in page and 'name="n_users"' not in page  # N = 0 under min="1" could never be sent


DEEP_JSON = "[" * 100_000 + "]" * 100_000  # Python's json parser raises RecursionError, not a ValueError


def test_json_nested_too_deeply_for_the_parser_is_a_400_from_the_api_not_a_500(member_client):
    make_history(make_dataset(), user=member_client.user, external_user_id="alice")
    member_client.raise_request_exception = False
    for url in (reverse("api-recourse-preview"), reverse("api-recourse-apply"), reverse("api-history")):
        for body in (DEEP_JSON, '{"changes": ' + DEEP_JSON + "}"):
            response = member_client.post(url, body, content_type="application/json")
            assert response.status_code == 400, url
            assert "nested too deeply" in response.json()["detail"]
    assert not RecourseResult.objects.exists()


def test_the_api_module_can_be_imported_first_as_a_workers_system_checks_import_it():
    """hikmax_site.api imported rest_framework.views, which reads DEFAULT_PARSER_CLASSES (this module's JSONParser)
    on import: imported before any view (a Celery worker's start-up checks), it failed and no worker started."""
    import os
    import subprocess
    import sys

    code = "import django; django.setup(); import hikmax_site.api; print('imported')"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "hikmax_site.settings", "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "imported", done.stderr[-2000:]


def test_hyperparameters_nested_too_deeply_are_refused_with_a_message(analyst_client):
    dataset = make_dataset()
    make_history(dataset)
    analyst_client.raise_request_exception = False
    response = analyst_client.post(reverse("dashboard:train"), {"dataset": dataset.pk, "architecture": "sasrec",
                                                                "hyperparameters": DEEP_JSON})
    assert response.status_code == 302
    assert "Hyper-parameters must be a JSON object" in _messages(response)
    assert not Job.objects.exists()


@pytest.mark.parametrize("status", ["succeeded", "failed", "cancelled"])
def test_cancelling_a_job_that_has_already_ended_says_so_and_changes_nothing(analyst_client, status):
    """A second click on Cancel (or a stale Jobs page) said 'Cancellation requested' for a job that had ended."""
    job = Job.objects.create(kind="import_dataset", status=status, progress=100, message="done")
    response = analyst_client.post(reverse("recsys:job-cancel", args=[job.pk]))
    assert response.status_code == 302
    said = _messages(response)
    assert "requested" not in said and f"Job #{job.pk} has already ended" in said
    job.refresh_from_db()
    assert job.status == status and job.message == "done" and not job.cancel_requested


def test_the_json_api_refuses_a_junk_dataset_in_json_not_with_the_html_error_page(analyst_client):
    response = analyst_client.get(reverse("dashboard:api-overview"), {"dataset": "abc"})
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "dataset must be a whole number, got 'abc'."}
