from django.core.management.base import BaseCommand, CommandError

from recsys import jobs
from recsys.management.progress import progress_bar
from recsys.models import Dataset, Job, TrainedModel


class Command(BaseCommand):
    help = "Calibrate drift detection for a dataset's active model (runs the calibration job in this process)."

    def add_arguments(self, parser):
        parser.add_argument("dataset", help="Dataset name")

    def handle(self, *args, dataset, **options):
        model = TrainedModel.objects.filter(dataset__name=dataset, is_active=True).first()
        if model is None:
            raise CommandError(f"No active model for dataset {dataset!r}." if Dataset.objects.filter(
                name=dataset).exists() else f"No dataset named {dataset!r}.")
        queued = Job.objects.filter(kind="calibrate_drift", params__model_id=model.pk, status=Job.Status.QUEUED)
        job = queued.first() or jobs.start_job(
            kind="calibrate_drift", params={"model_id": model.pk}, enqueue=False)
        with progress_bar("Calibrating drift detection") as progress:
            jobs.run(job.pk, on_progress=progress)
        job.refresh_from_db()
        if job.status != Job.Status.SUCCEEDED:
            raise CommandError(job.message)
        self.stdout.write(self.style.SUCCESS(f"Calibrated: {job.result}"))
