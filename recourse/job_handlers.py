"""Job kinds of the recourse app: each calls one service."""

from recsys import jobs
from recsys.models import Dataset, TrainedModel
from recsys.services import serving

from .models import Experiment
from .services import alerts, context, experiments, explanations


@jobs.register("explain_members", queue="xai")
def explain_members(job, progress):
    dataset = Dataset.objects.get(pk=job.params["dataset_id"])
    return explanations.explain_members(dataset=dataset, top_k=job.params.get("top_k", 3), progress=progress)


@jobs.register("population_experiment", queue="xai")
def population_experiment(job, progress):
    experiment = Experiment.objects.get(pk=job.params["experiment_id"])
    experiment = experiments.run_experiment(experiment=experiment, progress=progress)
    return {"experiment_id": experiment.pk, "seconds": experiment.results.get("seconds")}


@jobs.register("calibrate_drift", queue="xai")
def calibrate_drift(job, progress):
    model = TrainedModel.objects.select_related("dataset").get(pk=job.params["model_id"])
    if not model.dataset.has_categories:
        return {"skipped": "the dataset has no item categories"}
    if "drift" in model.calibration:
        return {"skipped": "already calibrated"}
    progress(5, "Calibrating drift detection on reference histories")
    recommender = serving.load_recommender(model)
    calibration = context.calibrate(model, recommender)
    return {"reference_histories": calibration.n_reference, "false_alarm_rate": calibration.false_alarm_rate,
            "flag_threshold": calibration.flag_threshold, "ads_cutoff": calibration.ads_cutoff}


@jobs.register(alerts.JOB_KIND, queue="xai")
def drift_alerts(job, progress):
    return alerts.check_due(dataset=Dataset.objects.get(pk=job.params["dataset_id"]), progress=progress)
