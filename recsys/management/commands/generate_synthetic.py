from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from recsys.importers import synthetic
from recsys.management.progress import progress_bar
from recsys.services.imports import load_parsed


class Command(BaseCommand):
    help = "Generate a seeded synthetic dataset from the paper's drift model; import it and/or write ML-1M files."

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=6040)
        parser.add_argument("--items", type=int, default=3706)
        parser.add_argument("--interactions", type=int, default=1_000_209)
        parser.add_argument("--categories", type=int, default=18)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--alpha", type=float, default=0.1, help="weight of random interactions")
        parser.add_argument("--beta", type=float, default=0.6, help="weight of the user's stable taste")
        parser.add_argument("--drift-fraction", type=float, default=0.1, help="share of users with a drift episode")
        parser.add_argument("--drift-burst", type=int, default=20, help="length of a drift episode")
        parser.add_argument("--catalogue", help="a MovieLens-1M movies.dat whose titles and genres to use")
        parser.add_argument("--write-ml1m", metavar="DIR", help="write ratings.dat/movies.dat/users.dat here")
        parser.add_argument("--import-as", metavar="NAME", help="import the data as this dataset")

    def handle(self, *args, **options):
        if not options["write_ml1m"] and not options["import_as"]:
            raise CommandError("Say what to do with the data: --write-ml1m DIR and/or --import-as NAME.")
        catalogue = synthetic.load_catalogue(options["catalogue"]) if options["catalogue"] else None
        with progress_bar("Generating") as progress:
            parsed = synthetic.generate(
                n_users=options["users"], n_items=options["items"], n_interactions=options["interactions"],
                n_categories=options["categories"], seed=options["seed"], alpha=options["alpha"],
                beta=options["beta"], drift_users_fraction=options["drift_fraction"],
                drift_burst_len=options["drift_burst"], catalogue=catalogue,
                progress=lambda done, total: progress(100 * done / max(total, 1), "simulating"),
            )
        if options["write_ml1m"]:
            files = synthetic.write_movielens_1m(parsed, Path(options["write_ml1m"]))
            self.stdout.write(f"Wrote {', '.join(str(f) for f in files)}")
        if options["import_as"]:
            with progress_bar(f"Importing {options['import_as']}") as progress:
                dataset = load_parsed(name=options["import_as"], parsed=parsed, title="Synthetic", progress=progress)
            self.stdout.write(self.style.SUCCESS(f"Imported {dataset.n_interactions:,} interactions as {dataset.name}"))
