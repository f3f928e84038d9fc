"""The curators' forecaster: training as a job, the staff-only pages, bad input, the command and the admin."""

import re

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from forecast import services
from forecast.engine.toy import toy_input, write_movielens
from forecast.models import EmergingTitle, Forecaster
from recsys import jobs
from recsys.models import Dataset, ItemTag, Job
from recsys.services.imports import import_dataset

from .factories import make_dataset, make_history

pytestmark = pytest.mark.django_db

QUICK = {"policy": {"count": 8, "avg": 3.0, "neg": 0.6}, "full_grid": False, "bootstrap": 50, "lime_items": 4,
         "lime_samples": 200, "ice_items": 10, "sensitivity": False, "explain_top": 20, "models": ["rf", "lr"]}


@pytest.fixture(autouse=True)
def isolated_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def toy_dataset(tmp_path, name="toy", tags=True) -> Dataset:
    return import_dataset(name=name, path=write_movielens(toy_input(tags=tags), str(tmp_path / name)))


def train_now(dataset, settings=QUICK) -> tuple[Job, Forecaster]:
    job = services.start_training(dataset=dataset, settings=settings, enqueue=False)
    jobs.run(job.pk)
    job.refresh_from_db()
    return job, Forecaster.objects.get(pk=job.params["forecaster_id"])


@pytest.fixture
def forecaster(tmp_path):
    job, forecaster = train_now(toy_dataset(tmp_path))
    assert job.status == Job.Status.SUCCEEDED, job.error
    return forecaster


def test_importer_keeps_ml_latest_tags_and_reimport_adds_none(tmp_path):
    data = toy_input(n_items=40)
    folder = write_movielens(data, str(tmp_path / "small"))
    dataset = import_dataset(name="small", path=folder)
    assert ItemTag.objects.filter(item__dataset=dataset).count() == len(data.tags.drop_duplicates())
    tag = ItemTag.objects.filter(item__dataset=dataset).select_related("item", "sequence").first()
    assert tag.item.dataset == dataset and tag.sequence.dataset == dataset and tag.tag
    import_dataset(name="small", path=folder)
    assert ItemTag.objects.filter(item__dataset=dataset).count() == len(data.tags.drop_duplicates())


def test_training_registers_a_versioned_forecaster_with_artefacts_and_ranking(forecaster):
    assert forecaster.status == Forecaster.Status.READY and forecaster.is_active and forecaster.version == 1
    assert forecaster.has_tags and forecaster.n_positives >= 12 and 0 < forecaster.threshold < 1
    loaded = services.load_artefact(forecaster)
    assert set(loaded["pipelines"]) == {"rf", "lr"} and loaded["sentiment"] is not None
    titles = EmergingTitle.objects.filter(forecaster=forecaster)
    assert titles.count() == forecaster.report["ranking"]["candidates"]
    top = titles.order_by("rank").first()
    explanation = top.explanation
    assert top.rank == 1 and explanation["base_value"] + sum(explanation["contributions"]) == pytest.approx(
        top.probability, abs=1e-5)
    with forecaster.card.open("rb") as handle:
        assert b"Model Governance Card" in handle.read()
    _, second = train_now(forecaster.dataset)
    forecaster.refresh_from_db()
    assert second.version == 2 and second.is_active and not forecaster.is_active


def test_staff_see_every_page_and_download_the_card(forecaster, analyst_client):
    client = analyst_client
    page = client.get(reverse("forecast:emerging"), {"dataset": forecaster.dataset_id})
    assert page.status_code == 200
    assert b'id="threshold"' in page.content and b"SHAP waterfall" in page.content
    top = EmergingTitle.objects.filter(forecaster=forecaster).order_by("rank").select_related("item").first()
    assert top.item.title.encode() in page.content
    title = client.get(reverse("forecast:title", args=[forecaster.pk, top.item_id]))
    assert title.status_code == 200 and b"shap-waterfall" in title.content and b"obs_count" in title.content
    audit = client.get(reverse("forecast:audit", args=[forecaster.pk]))
    assert audit.status_code == 200
    for marker in (b"model-comparison", b"shap-importance", b"fairness-genre", b"fairness-decade", b"ice-0",
                   b"lime-agreement", b"Additivity check"):
        assert marker in audit.content
    assert client.get(reverse("forecast:sensitivity", args=[forecaster.pk])).status_code == 200
    assert b"Download the governance card" in client.get(reverse("forecast:card", args=[forecaster.pk])).content
    download = client.get(reverse("forecast:card-download", args=[forecaster.pk]))
    assert download.status_code == 200 and "attachment" in download["Content-Disposition"]
    assert b"Fairness audit" in download.content and b"Policy sensitivity" in download.content


def test_members_get_403_and_visitors_the_sign_in_page(forecaster, client, make_user):
    top = EmergingTitle.objects.filter(forecaster=forecaster).order_by("rank").first()
    urls = [reverse("forecast:emerging"), reverse("forecast:title", args=[forecaster.pk, top.item_id]),
            reverse("forecast:audit", args=[forecaster.pk]), reverse("forecast:sensitivity", args=[forecaster.pk]),
            reverse("forecast:card", args=[forecaster.pk]), reverse("forecast:card-download", args=[forecaster.pk])]
    for url in urls:
        assert client.get(url).status_code == 302
    client.force_login(make_user("member"))
    for url in urls:
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("forecast:train"), {"dataset": forecaster.dataset_id}).status_code == 403
    assert client.post(reverse("forecast:activate", args=[forecaster.pk])).status_code == 403
    assert Forecaster.objects.count() == 1


def test_staff_page_queues_training_as_a_job(tmp_path, analyst_client, django_capture_on_commit_callbacks):
    dataset = toy_dataset(tmp_path)
    form = {"dataset": dataset.pk, "count": 8, "avg": 3.0, "neg": 0.6, "cutoff_quantile": 0.75, "min_recall": 0.1,
            "sensitivity_count_scale": 1.0, "activate": "on"}
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = analyst_client.post(reverse("forecast:train"), form, follow=True)
    job = Job.objects.get(kind="train_forecaster")
    assert job.params["dataset_id"] == dataset.pk and len(callbacks) == 1
    assert f"Training job #{job.pk} queued".encode() in response.content
    assert f'aria-label="Progress of job {job.pk}"'.encode() in response.content
    forecaster = Forecaster.objects.get(pk=job.params["forecaster_id"])
    assert forecaster.settings["policy"]["count"] == 8 and forecaster.settings["full_grid"] is False


@pytest.mark.parametrize("dataset", ["abc", "²", "9" * 30, ""])
def test_training_on_a_junk_dataset_is_a_bad_request_not_a_server_error(analyst_client, dataset):
    response = analyst_client.post(reverse("forecast:train"), {"dataset": dataset, "count": 8})
    assert response.status_code == 400 and b"dataset must be a whole number" in response.content
    assert not Job.objects.exists()


def test_a_future_mean_above_the_top_of_the_scale_is_refused_before_a_job_is_queued(analyst_client):
    """τ_avg = 100 on five stars queued a job that could only fail ("0 of 509 candidates are future hits")."""
    dataset = make_dataset()
    make_history(dataset)
    form = {"dataset": dataset.pk, "count": 8, "avg": 100, "neg": 0.6, "cutoff_quantile": 0.75, "min_recall": 0.1,
            "sensitivity_count_scale": 1.0}
    response = analyst_client.post(reverse("forecast:train"), form, follow=True)
    assert b"less than or equal to 5.0" in response.content and not Job.objects.exists()
    page = analyst_client.get(reverse("forecast:emerging") + f"?dataset={dataset.pk}").content.decode()
    assert 'name="avg"' in page and 'max="5.0"' in page


def test_datasets_without_timestamps_or_ratings_get_a_clear_message(analyst_client):
    ordinal = make_dataset(name="ordinal", has_timestamps=False)
    make_history(ordinal)
    response = analyst_client.post(reverse("forecast:train"), {"dataset": ordinal.pk, "count": 60, "avg": 3,
                                                                "neg": 0.6, "cutoff_quantile": 0.75, "min_recall": 0.1,
                                                                "sensitivity_count_scale": 1}, follow=True)
    assert b"no real timestamps" in response.content and not Job.objects.exists()
    implicit = make_dataset(name="implicit")
    sequence = make_history(implicit)
    sequence.interactions.update(rating=None)
    with pytest.raises(services.ForecastSetupError, match="no ratings"):
        services.start_training(dataset=implicit, settings=QUICK)


def test_too_few_positives_fails_the_job_with_a_clear_message(tmp_path, analyst_client):
    dataset = toy_dataset(tmp_path)
    job, forecaster = train_now(dataset, settings={**QUICK, "policy": {"count": 60, "avg": 3.0, "neg": 0.6}})
    assert job.status == Job.Status.FAILED and "training needs at least 12" in job.message
    assert job.message.startswith("Only ") and not job.error  # the curator's message alone, no class or traceback
    assert forecaster.status == Forecaster.Status.FAILED and "future hits" in forecaster.error
    page = analyst_client.get(reverse("forecast:emerging"), {"dataset": dataset.pk})
    assert b"training needs at least 12" in page.content and b"No forecaster is ready" in page.content


def test_dataset_without_tags_trains_without_the_sentiment_feature(tmp_path):
    job, forecaster = train_now(toy_dataset(tmp_path, name="untagged", tags=False))
    assert job.status == Job.Status.SUCCEEDED, job.error
    assert not forecaster.has_tags and "obs_max_neg_tag" in forecaster.report["tag_features_absent"]
    with forecaster.card.open("rb") as handle:
        assert b"The tag-sentiment feature is absent" in handle.read()


def test_command_trains_with_a_progress_bar(tmp_path, capsys):
    dataset = toy_dataset(tmp_path)
    small = [f"--set={field}={value}" for field, value in QUICK.items() if field not in ("policy", "models")]
    call_command("train_forecaster", "--dataset", dataset.name, "--count", "8", "--quick", "--no-sensitivity",
                 "--set", 'models=["rf"]', *small)
    captured = capsys.readouterr()
    assert "Forecaster v1 on toy ready" in captured.out and "100%" in captured.err
    with pytest.raises(CommandError, match="training needs at least 12"):
        call_command("train_forecaster", "--dataset", dataset.name, "--quick", "--no-sensitivity")


def test_admin_lists_forecasters_and_queues_training(tmp_path, client, django_user_model):
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "a-long-test-password")
    client.force_login(admin)
    dataset = toy_dataset(tmp_path)
    assert client.get(reverse("admin:forecast_forecaster_changelist")).status_code == 200
    form = {"dataset": dataset.pk, "count": 8, "avg": 3.0, "neg": 0.6, "cutoff_quantile": 0.75, "min_recall": 0.1,
            "sensitivity_count_scale": 1.0}
    response = client.post(reverse("admin:forecast_forecaster_train"), form)
    assert response.status_code == 302
    assert Job.objects.filter(kind="train_forecaster", params__dataset_id=dataset.pk).exists()


def test_a_dataset_rated_1_to_10_gets_its_rating_thresholds_on_its_own_scale(tmp_path, analyst_client):
    """The paper's rating thresholds are on five stars: on a 1-10 dataset τ_avg 3.0 let almost every title count
    as a hit and a tag was negative under a rating of 2 of 10."""
    from forecast.engine import ForecastConfig
    from forecast.engine.sensitivity import policy_grid

    dataset = toy_dataset(tmp_path)
    dataset.rating_low, dataset.rating_high = 1.0, 10.0
    dataset.save(update_fields=["rating_low", "rating_high"])
    page = analyst_client.get(reverse("forecast:emerging") + f"?dataset={dataset.pk}").content.decode()
    assert "τ_avg: future mean rating at least, on this dataset&#x27;s scale of 1 to 10" in page
    assert 'name="avg" value="6.0"' in page
    job = services.start_training(dataset=dataset, settings=QUICK, enqueue=False)
    config = ForecastConfig.from_dict(Forecaster.objects.get(pk=job.params["forecaster_id"]).settings)
    assert config.rating_scale == 2.0 and config.policy.avg == 3.0  # the curator's own τ_avg is kept as given
    assert sorted({p.avg for p in policy_grid(1.0, config.rating_scale)}) == [5.0, 6.0, 7.0]


def test_the_audit_shows_wilson_intervals_even_for_a_report_stored_with_bootstrap_ones(forecaster, analyst_client):
    """5 of 5 hits found was shown as recall 1.00 [1.00, 1.00], "the CI excludes the global recall" (0.74)."""
    stored = {"group": "Adventure", "positives": 5, "found": 5, "recall": 1.0, "ci": [1.0, 1.0], "gap": 0.26,
              "flagged": True, "ci_excludes_global": True, "enough_positives": True}
    report = forecaster.report
    report["fairness"]["genre"] |= {"global_recall": 0.74, "groups": [stored]}
    Forecaster.objects.filter(pk=forecaster.pk).update(report=report)
    page = analyst_client.get(reverse("forecast:audit", args=[forecaster.pk])).content.decode()
    assert ("genre Adventure: recall 1.00 [0.57, 1.00] (95% Wilson interval) vs global 0.74 (5 hits); "
            "the interval still reaches the global recall") in page
    assert "excludes the global recall" not in page


def test_every_audit_chart_has_its_own_text_alternative(forecaster, analyst_client):
    """The four ICE charts were all labelled "ICE curves and partial dependence", both fairness charts alike."""
    page = analyst_client.get(reverse("forecast:audit", args=[forecaster.pk])).content.decode()
    labels = re.findall(r'role="img" aria-label="([^"]*)"', page)
    assert len(labels) == len(set(labels)) == 5 + len(forecaster.report["ice"])
    for name in forecaster.report["ice"]:
        assert any(label.startswith(f"ICE curves and partial dependence of {name}: the average forecast goes from ")
                   for label in labels), name
    assert any(label.startswith("Recall by genre against the global recall ") for label in labels)
    assert any(label.startswith("Global feature importance by mean absolute SHAP value; the largest: ")
               for label in labels)


def test_the_ice_text_alternative_writes_whole_feature_values_as_they_are():
    """As the waterfall: a release decade from 1920 to 2010, not from 1.92e+03 to 2.01e+03."""
    from forecast import charts

    text = charts.ice_summary("release_decade", {"grid": [1920.0, 2010.0], "average": [0.2, 0.4], "individual": []})
    assert "0.200 at 1920 to 0.400 at 2010" in text and "e+03" not in text


def test_a_subgroup_with_one_hit_is_labelled_one_hit():
    from forecast import charts

    group = {"group": "War", "positives": 1, "found": 1, "recall": 1.0, "ci": [0.21, 1.0], "gap": 0.3,
             "flagged": False, "ci_excludes_global": False, "enough_positives": False}
    html = charts.fairness({"global_recall": 0.7, "groups": [group]}, "genre")
    assert '"1 hit"' in html and "1 hits" not in html


def test_the_waterfall_writes_whole_feature_values_as_they_are():
    """release_decade 2010 was labelled "release_decade = 2.01e+03"."""
    from forecast import charts

    html = charts.waterfall(["release_decade", "obs_std"], [2010.0, 0.91644], [0.1, 0.05], 0.5,
                            output_space="probability")
    assert "release_decade = 2010" in html and "obs_std = 0.916" in html and "e+03" not in html


def test_the_emerging_page_says_a_generated_dataset_has_no_release_dates_and_a_real_one_gets_no_such_note(
        analyst_client, tmp_path):
    generated = make_dataset(name="world")
    Dataset.objects.filter(pk=generated.pk).update(source_format="synthetic")
    page = analyst_client.get(reverse("forecast:emerging"), {"dataset": generated.pk}).content.decode()
    assert 'id="synthetic-note"' in page and "no release dates" in page
    real = toy_dataset(tmp_path)
    assert 'id="synthetic-note"' not in analyst_client.get(reverse("forecast:emerging"),
                                                         {"dataset": real.pk}).content.decode()


def test_the_ranking_calls_its_number_a_score_and_gives_the_real_share_of_hits(forecaster, analyst_client):
    """Trained on SMOTE-balanced data, the number ranks titles but is no chance of a hit (the base value is ~0.5
    where a few percent of titles became hits)."""
    page = analyst_client.get(reverse("forecast:emerging"), {"dataset": forecaster.dataset_id}).content.decode()
    share = f"{100 * forecaster.report['data']['prevalence']:.1f}% of the candidates at the cutoff became hits"
    assert "is not the chance of a hit" in page and share in page and ">Probability<" not in page


def test_the_audit_text_alternatives_round_as_the_page_and_the_card_do():
    """A stored Spearman of 0.615 was "Spearman 0.61" in the LIME chart's text alternative and 0.62 on the
    governance card (Python's format rounds the binary 0.615 down; the card and floatformat round half up)."""
    from forecast import charts
    from forecast.engine.card import rounded

    lime = charts.lime_summary({"borderline": {"top5_overlap": 0.745, "sign_agreement": 0.9, "spearman": 0.615,
                                               "items": 10}})
    assert "top-5 overlap 0.75" in lime and "Spearman 0.62" in lime and rounded(0.615, 2) == "0.62"
    group = {"group": "Thriller", "positives": 8, "found": 5, "recall": 0.625, "ci": [0.31, 0.86], "gap": -0.12,
             "flagged": True, "ci_excludes_global": False, "enough_positives": True}
    fairness = charts.fairness_summary({"global_recall": 0.745, "groups": [group]}, "genre")
    assert "global recall 0.75" in fairness and "Thriller 0.63" in fairness
    importance = charts.importance_summary([{"feature": "obs_density", "mean_abs_shap": 0.1265}])
    assert "obs_density (0.127)" in importance


def test_one_subgroup_is_one_subgroup_in_the_fairness_text_alternative():
    """"1 subgroups with enough hits" (a decade audit where one decade had enough test hits)."""
    from forecast import charts

    group = {"group": "2010s", "positives": 25, "found": 20, "recall": 0.8, "ci": [0.61, 0.91], "gap": 0.06,
             "flagged": False, "ci_excludes_global": False, "enough_positives": True}
    text = charts.fairness_summary({"global_recall": 0.74, "groups": [group]}, "decade")
    assert "1 subgroup with enough hits" in text and "1 subgroups" not in text


def test_a_policy_whose_forecaster_finds_no_test_hit_shows_recall_0_not_a_dash(forecaster, analyst_client):
    """Recall and F1 of 0 (no test hit reaches the threshold) were shown as "—", the mark of a policy that was not
    trained."""
    rows = [{"count": 8, "avg": 3.0, "neg": 0.6, "candidates": 90, "support": 12, "status": "ok", "roc_auc": 0.61,
             "recall": 0.0, "f1": 0.0, "threshold": 0.9, "test_support": 3, "positive_rate": 0.13},
            {"count": 9, "avg": 3.0, "neg": 0.6, "candidates": 80, "support": 5,
             "status": "too few positives (5 < 12)"}]
    Forecaster.objects.filter(pk=forecaster.pk).update(report=forecaster.report | {"sensitivity": rows})
    page = analyst_client.get(reverse("forecast:sensitivity", args=[forecaster.pk])).content.decode()
    table = page[page.index('id="sensitivity-table"'):]
    trained, untrained = re.findall(r"<tr><td class=\"num\">.*?</tr>", table, flags=re.S)
    cells = re.findall(r'<td class="num">([^<]*)</td>', trained)
    assert cells[3:7] == ["0.61", "0.0", "0.0", "0.9"], cells
    assert re.findall(r'<td class="num">([^<]*)</td>', untrained)[3:7] == ["—"] * 4
