from django.core.management.base import BaseCommand, CommandError

from recsys.management.progress import progress_bar
from recsys.models import Dataset
from recsys.services.imports import DatasetImportError, import_dataset_reported


class Command(BaseCommand):
    help = "Import a dataset (MovieLens-100K/1M/latest, RecBole atomic, SASRec lines, generic CSV) atomically."

    def add_arguments(self, parser):
        parser.add_argument("name", help="Dataset name (slug)")
        parser.add_argument("path", help="A file or a folder with the dataset's files")
        parser.add_argument(
            "--format", default=None, help="ml-100k, ml-1m, ml-latest, recbole, sasrec, csv (default: detect)"
        )
        parser.add_argument("--title", default="")
        parser.add_argument("--item-kind", choices=Dataset.ItemKind.values, default=None,
                            help="What the items are, for the member's pages (default: from the format)")

    def handle(self, *args, name, path, format, title, item_kind, **options):
        held = Dataset.objects.filter(name=name).values_list("n_interactions", flat=True).first()
        added = "" if held is None else " ({:,} new; rows already imported are kept once)"
        try:
            with progress_bar(f"Importing {name}") as progress:
                dataset, report = import_dataset_reported(name=name, path=path, format=format, title=title,
                                                          progress=progress, item_kind=item_kind)
        except DatasetImportError as exc:
            raise CommandError(str(exc)) from exc
        for warning in report.warnings:
            self.stdout.write(self.style.WARNING(warning))
        self.stdout.write(report.summary())
        self.stdout.write(
            self.style.SUCCESS(
                f"{dataset.name}: {dataset.n_users:,} users, {dataset.n_items:,} items, "
                f"{dataset.n_interactions:,} interactions"
                + added.format(dataset.n_interactions - (held or 0))
            )
        )

