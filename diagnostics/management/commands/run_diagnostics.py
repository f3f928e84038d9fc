"""Start a deletion diagnostic run and follow it with a progress bar.

    manage.py run_diagnostics --dataset ml-100k --architecture mf --users 100 --items 100 --seeds 3
    manage.py run_diagnostics ... --inline      # no workers: run every retrain in this process
    manage.py run_diagnostics --resume 12       # send a cancelled or failed run's remaining retrains again
"""

import json
import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from diagnostics import services
from diagnostics.models import DiagnosticRun
from recsys import jobs
from recsys.models import Dataset, Job


class Command(BaseCommand):
    help = "Deletion diagnostics: influence of sampled members and titles, exact by retraining."

    def add_arguments(self, parser):
        parser.add_argument("--dataset")
        parser.add_argument("--architecture", default="mf", choices=["mf", "sasrec", "gru4rec", "tcn"])
        parser.add_argument("--hyperparameters", default="{}", help="JSON, e.g. '{\"epochs\": 5}'")
        parser.add_argument("--users", type=int, default=100)
        parser.add_argument("--items", type=int, default=100)
        parser.add_argument("--seeds", type=int, default=3)
        parser.add_argument("--sample-seed", type=int, default=0)
        parser.add_argument("--inline", action="store_true", help="run the retrains here instead of on workers")
        parser.add_argument("--resume", type=int, metavar="RUN", help="resume a cancelled or failed run")
        parser.add_argument("--no-wait", action="store_true", help="queue the run and return")

    def handle(self, *args, **options):
        try:
            run = self._resume(options["resume"]) if options["resume"] else self._start(options)
        except services.DiagnosticsError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Run #{run.pk}: {run.retrains.count()} retrains (job #{run.job_id})")
        if options["inline"]:
            self._run_inline(run)
        elif not options["no_wait"]:
            self._follow(run)
        job = run.job
        assert job is not None  # a run is created with its job
        job.refresh_from_db()
        done = run.retrains.filter(status="done").count()
        self.stdout.write(f"{job.get_status_display()}: {done} of {run.retrains.count()} retrains done. "
                          f"Influences: /research/diagnostics/{run.pk}/")

    def _start(self, options) -> DiagnosticRun:
        dataset = Dataset.objects.filter(name=options["dataset"]).first()
        if dataset is None:
            names = ", ".join(Dataset.objects.values_list("name", flat=True)) or "none imported"
            raise CommandError(f"No dataset {options['dataset']!r}; available: {names}")
        try:
            hyperparameters = json.loads(options["hyperparameters"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"--hyperparameters is not JSON: {exc}") from exc
        return services.start_run(
            dataset=dataset, architecture=options["architecture"], hyperparameters=hyperparameters,
            seeds=options["seeds"], users=options["users"], items=options["items"],
            sample_seed=options["sample_seed"], inline=options["inline"],
        )

    def _resume(self, run_id: int) -> DiagnosticRun:
        run = DiagnosticRun.objects.select_related("job").filter(pk=run_id).first()
        if run is None:
            raise CommandError(f"No diagnostic run #{run_id}")
        services.resume(run)
        return run

    def _run_inline(self, run: DiagnosticRun) -> None:
        with tqdm(total=100, desc="retrains", unit="%") as bar:
            def echo(percent: float, message: str) -> None:
                bar.update(percent - bar.n)
                bar.set_postfix_str(message)

            assert run.job_id is not None  # a run is created with its job
            jobs.run(run.job_id, on_progress=echo)

    def _follow(self, run: DiagnosticRun) -> None:
        total = run.retrains.count()
        with tqdm(total=total, desc="retrains", unit="retrain") as bar:
            job = run.job
            assert job is not None  # a run is created with its job
            while True:
                job.refresh_from_db()
                done = run.retrains.filter(status="done").count()
                bar.update(done - bar.n)
                bar.set_postfix_str(job.get_status_display())
                if job.status in Job.FINISHED:
                    return
                time.sleep(1.0)
