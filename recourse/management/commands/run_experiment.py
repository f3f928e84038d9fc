"""Run the population drift/recourse experiment in the foreground with a progress bar."""

import json

from django.core.management.base import BaseCommand, CommandError

from recourse.services import experiments
from recsys.management.progress import progress_bar
from recsys.models import Dataset


class Command(BaseCommand):
    help = "Population experiment (clean / drifted / recourse / baselines) on a dataset's active model."

    def add_arguments(self, parser):
        parser.add_argument("dataset", help="dataset name")
        parser.add_argument("--users", type=int, default=experiments.DEFAULT_USERS)
        parser.add_argument("--strategies", default=",".join(experiments.STRATEGIES),
                            help="comma-separated: random,category,temporal")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--ig-steps", type=int, default=20)
        parser.add_argument("--name", default="")
        parser.add_argument("--json", dest="json_path", help="also write the results to this file")

    def handle(self, *args, dataset, users, strategies, seed, ig_steps, name, json_path, **options):
        found = Dataset.objects.filter(name=dataset).first()
        if found is None:
            raise CommandError(f"No dataset named {dataset!r}.")
        try:
            experiment = experiments.create_experiment(
                dataset=found, n_users=users, strategies=[s for s in strategies.split(",") if s], seed=seed,
                name=name, ig_steps=ig_steps,
            )
            with progress_bar(f"Experiment #{experiment.pk}") as progress:
                experiment = experiments.run_experiment(experiment=experiment, progress=progress)
        except experiments.ExperimentError as exc:
            raise CommandError(str(exc)) from exc
        if json_path:
            with open(json_path, "w") as handle:
                json.dump(experiment.results, handle, indent=1)
        self.stdout.write(self.style.SUCCESS(
            f"Experiment #{experiment.pk} done in {experiment.results['seconds']:.1f}s "
            f"({experiment.results['n_users']} users)."
        ))
