from django.core.management.base import BaseCommand, CommandError

from recsys.services import artefacts


class Command(BaseCommand):
    help = (
        "Check that this machine can write, read and delete artefacts in the configured storage (STORAGES "
        "default); for an S3-compatible store (MinIO) create the bucket when it is missing. Run before the "
        "web server and the workers start."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-create", action="store_true", help="Fail instead of creating a missing bucket")

    def handle(self, *args, no_create=False, **options):
        try:
            where = artefacts.ensure_store(create_bucket=not no_create)
        except Exception as exc:
            raise CommandError(f"The artefact store is not usable: {type(exc).__name__}: {exc}") from exc
        self.stdout.write(f"Artefact store ready: {where}")
