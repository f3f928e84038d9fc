"""Population experiment: planted drift on a small synthetic dataset, clear errors, reproducibility."""

import numpy as np
import pytest
from django.core.management import call_command
from django.utils import timezone

from recourse.models import Experiment
from recourse.services import experiments
from recsys import jobs
from recsys.models import Job

from .conftest import delete_jobs_since, train_now
from .factories import GENRES, make_dataset, make_history

pytestmark = pytest.mark.django_db

N_ITEMS = 40  # item i has genre GENRES[i % 5]


def _genre_histories(dataset, users=40, length=12):
    """Each member sticks to two genres, so off-profile injections are visible to alignment."""
    rng = np.random.default_rng(3)
    for u in range(users):
        genres = rng.choice(len(GENRES), size=2, replace=False)
        pool = [i for i in range(1, N_ITEMS + 1) if i % len(GENRES) in genres]
        items = rng.choice(pool, size=length, replace=False).tolist()
        make_history(dataset, external_user_id=f"u{u}", item_ids=items)


@pytest.fixture(scope="module")
def planted(django_db_setup, django_db_blocker):
    """One trained model and one experiment run shared by the module (kept fast)."""
    with django_db_blocker.unblock():
        started = timezone.now()
        dataset = make_dataset(name="planted", n_items=N_ITEMS)
        _genre_histories(dataset)
        train_now(dataset, epochs=8)
        results = experiments.population_experiment(dataset=dataset, n_users=30, seed=1, ig_steps=8)
        yield dataset, results
        dataset.delete()
        delete_jobs_since(started)


def _mean(results, strategy, condition, metric):
    return results["strategies"][strategy]["conditions"][condition][metric]["mean"]


def test_oracle_restores_the_clean_history_and_beats_random_removal(planted):
    _, results = planted
    for strategy in experiments.STRATEGIES:
        summary = results["strategies"][strategy]
        assert summary["coincide"]["oracle = clean"] == 1.0
        assert _mean(results, strategy, "oracle", "ADS") == pytest.approx(0.0, abs=1e-6)
        assert _mean(results, strategy, "oracle", "ADS") < _mean(results, strategy, "random_5", "ADS")
        assert _mean(results, strategy, "oracle", "alignment") > _mean(results, strategy, "random_5", "alignment")


def test_recourse_beats_random_removal_on_alignment(planted):
    _, results = planted
    for strategy in experiments.STRATEGIES:
        assert _mean(results, strategy, "recourse", "alignment") > _mean(results, strategy, "random_5", "alignment")
        assert _mean(results, strategy, "recourse", "alignment") > _mean(results, strategy, "drifted", "alignment")


def test_appended_drift_makes_most_recent_removal_the_oracle(planted):
    _, results = planted
    for strategy in ("random", "category"):
        assert results["strategies"][strategy]["coincide"]["recent_5 = oracle"] == 1.0


def test_confidence_intervals_contain_the_mean(planted):
    _, results = planted
    for summary in results["strategies"].values():
        for metrics in summary["conditions"].values():
            for stats in (metrics or {}).values():
                if stats["mean"] is not None:
                    assert stats["low"] - 1e-9 <= stats["mean"] <= stats["high"] + 1e-9


def test_metric_bounds_hold_with_one_held_out_item(planted):
    _, results = planted
    for summary in results["strategies"].values():
        for metrics in summary["conditions"].values():
            for protocol in ("sampled", "full"):
                hr10 = metrics[f"{protocol}:HR@10"]["mean"]
                assert metrics[f"{protocol}:Precision@10"]["mean"] == pytest.approx(hr10 / 10)
                assert metrics[f"{protocol}:Recall@10"]["mean"] == pytest.approx(hr10)
                assert metrics[f"{protocol}:Accuracy"]["mean"] <= hr10 + 1e-12


def test_paired_tests_and_detection_are_reported(planted):
    _, results = planted
    summary = results["strategies"]["random"]
    assert 0.0 <= summary["tests"]["recourse vs drifted"]["alignment"]["p_value"] <= 1.0
    assert summary["detection"]["ig_alignment"]["precision_at_5"] >= 0.0
    assert results["model"]["architecture"] == "sasrec"


def test_same_seed_gives_identical_results(planted):
    dataset, results = planted
    again = experiments.population_experiment(dataset=dataset, n_users=30, seed=1, ig_steps=8)
    for key in ("seconds", "seconds_per_strategy"):
        results, again = {**results, key: None}, {**again, key: None}
    assert again == results


def test_more_users_than_members_is_a_clear_error(trained):
    dataset, _, _ = trained
    with pytest.raises(experiments.ExperimentError, match="only 26 members"):
        experiments.create_experiment(dataset=dataset, n_users=500)


def test_unknown_strategy_is_a_clear_error(trained):
    dataset, _, _ = trained
    with pytest.raises(experiments.ExperimentError, match="Unknown drift strategy 'sideways'"):
        experiments.create_experiment(dataset=dataset, n_users=5, strategies=["sideways"])


def test_no_active_model_is_a_clear_error():
    dataset = make_dataset(name="untrained")
    make_history(dataset, item_ids=(1, 2, 3, 4))
    with pytest.raises(experiments.ExperimentError, match="No model is active"):
        experiments.create_experiment(dataset=dataset, n_users=1)


def test_job_runs_the_experiment_and_stores_results(trained):
    dataset, _, _ = trained
    experiment = experiments.start_experiment(dataset=dataset, n_users=6, strategies=["random"], seed=2, ig_steps=4)
    assert experiment.job.queue == "xai"
    jobs.run(experiment.job.pk)
    experiment.refresh_from_db()
    assert Job.objects.get(pk=experiment.job.pk).status == Job.Status.SUCCEEDED
    assert experiment.status == Experiment.Status.DONE
    assert experiment.results["n_users"] == 6
    rows = experiments.result_rows(experiment)
    assert {"strategy": "random", "condition": "recourse", "protocol": "full", "metric": "HR@10"}.items() <= next(
        r for r in rows if r["condition"] == "recourse" and r["metric"] == "HR@10" and r["protocol"] == "full"
    ).items()


def test_management_command_runs_an_experiment(trained, capsys):
    dataset, _, _ = trained
    call_command("run_experiment", dataset.name, "--users", "5", "--strategies", "category", "--ig-steps", "4")
    experiment = Experiment.objects.get(dataset=dataset)
    assert experiment.status == Experiment.Status.DONE
    assert "category" in experiment.results["strategies"]
