from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from recsys.ml.pipeline import prepare_data
from recsys.ml.sequences import write_recbole_split, write_sasrec_file
from recsys.models import Dataset
from recsys.selectors import sequence_histories


class Command(BaseCommand):
    help = (
        "Write a dataset's exact leave-one-out split (the one HikmaX trains and evaluates on) as RecBole "
        "atomic files and as SASRec 'user item' lines, so a peer implementation sees the very same split."
    )

    def add_arguments(self, parser):
        parser.add_argument("dataset", help="Dataset name")
        parser.add_argument("directory", help="Output folder")

    def handle(self, *args, dataset, directory, **options):
        found = Dataset.objects.filter(name=dataset).first()
        if found is None:
            raise CommandError(f"No dataset named {dataset!r}.")
        histories = sequence_histories(dataset=found, external_ids=True)
        if not histories:
            raise CommandError(f"Dataset {dataset!r} has no active interactions.")
        data = prepare_data(histories)
        paths = write_recbole_split(data.split, data.index, directory, found.name)
        sasrec = write_sasrec_file(data.split, Path(directory) / f"{found.name}.sasrec.txt")
        (Path(directory) / f"{found.name}.sasrec-items.txt").write_text(
            "".join(f"{position}\t{key}\n" for position, key in enumerate(data.index.keys, start=1)))
        for path in [*paths.values(), sasrec]:
            self.stdout.write(f"Wrote {path}")
