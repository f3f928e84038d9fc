"""Train a forecaster of emerging hits in the foreground, through the same service and job as the pages."""

from django.core.management.base import BaseCommand, CommandError

from forecast import services
from forecast.engine import Policy
from forecast.models import Forecaster
from recsys import jobs
from recsys.management.commands.train_model import find_dataset, parse_settings
from recsys.management.progress import progress_bar
from recsys.models import Job


class Command(BaseCommand):
    help = "Train, audit and register a glass-box forecaster of emerging hits as a job run in this process."

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True, help="dataset name or id")
        parser.add_argument("--count", type=int, default=Policy.count, help="τ_count (default %(default)s)")
        parser.add_argument("--avg", type=float, default=Policy.avg, help="τ_avg (default %(default)s)")
        parser.add_argument("--neg", type=float, default=Policy.neg, help="τ_neg (default %(default)s)")
        parser.add_argument("--cutoff-quantile", type=float, default=0.75)
        parser.add_argument("--min-recall", type=float, default=0.10)
        parser.add_argument("--quick", action="store_true", help="one hyper-parameter setting per model")
        parser.add_argument("--no-sensitivity", action="store_true", help="skip the 27-policy analysis")
        parser.add_argument("--sensitivity-count-scale", type=float, default=1.0)
        parser.add_argument("--no-activate", action="store_true")
        parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                            help="any other ForecastConfig field, value as JSON (repeatable), e.g. --set bootstrap=200")

    def handle(self, *args, **options):
        dataset = find_dataset(options["dataset"])
        settings = {"policy": {"count": options["count"], "avg": options["avg"], "neg": options["neg"]},
                    "cutoff_quantile": options["cutoff_quantile"], "min_recall": options["min_recall"],
                    "full_grid": not options["quick"], "sensitivity": not options["no_sensitivity"],
                    "sensitivity_count_scale": options["sensitivity_count_scale"], **parse_settings(options["set"])}
        try:
            job = services.start_training(dataset=dataset, settings=settings, activate=not options["no_activate"],
                                          enqueue=False)
        except services.ForecastSetupError as exc:
            raise CommandError(str(exc)) from exc
        with progress_bar(f"Forecaster on {dataset.name}") as bar:
            jobs.run(job.pk, on_progress=bar)
        job.refresh_from_db()
        forecaster = Forecaster.objects.get(pk=job.params["forecaster_id"])
        if job.status != Job.Status.SUCCEEDED:
            raise CommandError(forecaster.error or f"Training job #{job.pk} {job.status}: {job.message}")
        test = forecaster.primary_metrics
        self.stdout.write(self.style.SUCCESS(
            f"{forecaster} ready: {forecaster.n_positives} positives of {forecaster.n_candidates} candidates, "
            f"test ROC-AUC {test['roc_auc']:.3f} [{test['ci']['roc_auc'][0]:.3f}, {test['ci']['roc_auc'][1]:.3f}], "
            f"threshold {forecaster.threshold:.3f} (job #{job.pk})"
        ))
