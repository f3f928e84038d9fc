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
    """The taste check's calibration (every dataset) and the paper's genre method's (datasets with categories)."""
    model = TrainedModel.objects.select_related("dataset").get(pk=job.params["model_id"])
    missing = context.needs_calibration(model)
    if not missing:
        return {"skipped": "already calibrated"}
    recommender = serving.load_recommender(model)
    progress(5, "Calibrating the drift check on reference histories")
    try:
        fitted = context.calibrate_all(model, recommender)
    except context.DriftUnavailable as exc:  # too few histories: the reason alone, as the members read it
        raise jobs.JobInputError(str(exc)) from exc
    result: dict = {}
    if "taste" in fitted:
        taste = fitted["taste"]
        result["taste"] = {"reference_histories": taste.n_reference, "false_alarm_rate": taste.false_alarm_rate,
                           "false_alarm_basis": taste.false_alarm_basis, "flag_threshold": taste.flag_threshold,
                           "evidence_cutoff": taste.gain_cutoff}
    if "drift" in fitted:
        calibration = fitted["drift"]
        result["genre"] = {"reference_histories": calibration.n_reference,
                           "false_alarm_rate": calibration.false_alarm_rate,
                           "flag_threshold": calibration.flag_threshold, "ads_cutoff": calibration.ads_cutoff}
    return result


@jobs.register(alerts.JOB_KIND, queue="xai")
def drift_alerts(job, progress):
    return alerts.check_due(dataset=Dataset.objects.get(pk=job.params["dataset_id"]), progress=progress)
