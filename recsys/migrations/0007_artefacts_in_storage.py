"""Model artefacts move from local folders (an absolute path in artefact_path) into the default storage (a
content-addressed name). A ready model whose folder is gone cannot be served: it is marked failed."""

from pathlib import Path

from django.db import migrations


def to_storage(apps, schema_editor):
    from recsys.services import artefacts

    TrainedModel = apps.get_model("recsys", "TrainedModel")
    for model in TrainedModel.objects.exclude(artefact_path="").iterator():
        folder = Path(model.artefact_path)
        if not folder.is_absolute():
            continue  # a storage name already
        if folder.is_dir():
            name = artefacts.save_directory(f"models/model-{model.pk}", folder)
            TrainedModel.objects.filter(pk=model.pk).update(artefact_path=name)
        else:
            TrainedModel.objects.filter(pk=model.pk).update(
                artefact_path="", status="failed", is_active=False,
                error=f"The artefact folder {folder} was missing when artefacts moved to the storage; train again.")


class Migration(migrations.Migration):

    dependencies = [
        ("recsys", "0006_not_interested"),
    ]

    operations = [migrations.RunPython(to_storage, migrations.RunPython.noop)]
