"""A run's histories move from a local file (an absolute path in data_path) into the default storage."""

from pathlib import Path

from django.db import migrations


def to_storage(apps, schema_editor):
    from recsys.services import artefacts

    DiagnosticRun = apps.get_model("diagnostics", "DiagnosticRun")
    for run in DiagnosticRun.objects.exclude(data_path="").iterator():
        path = Path(run.data_path)
        if path.is_absolute() and path.is_file():
            name = artefacts.save_bytes(f"diagnostics/run-{run.pk}", path.read_bytes(), ".json")
            DiagnosticRun.objects.filter(pk=run.pk).update(data_path=name)


class Migration(migrations.Migration):

    dependencies = [
        ("diagnostics", "0001_diagnostic_runs_and_retrains"),
    ]

    operations = [migrations.RunPython(to_storage, migrations.RunPython.noop)]
