from django.db import migrations, models


def number_existing(apps, schema_editor):
    """Versions trained so far keep the number every page showed for them (their id): unique per dataset too.
    Each dataset's counter starts after the highest id ever given to one of its versions."""
    TrainedModel = apps.get_model("recsys", "TrainedModel")
    Dataset = apps.get_model("recsys", "Dataset")
    TrainedModel.objects.update(version=models.F("id"))
    for dataset in Dataset.objects.annotate(latest=models.Max("models__id")).filter(latest__isnull=False):
        Dataset.objects.filter(pk=dataset.pk).update(last_model_version=dataset.latest)


class Migration(migrations.Migration):
    dependencies = [("recsys", "0007_artefacts_in_storage")]

    operations = [
        migrations.AddField(
            model_name="dataset",
            name="last_model_version",
            field=models.PositiveIntegerField(
                default=0, editable=False,
                help_text="The highest model version number given out here (never given again)"),
        ),
        migrations.AddField(
            model_name="trainedmodel",
            name="version",
            field=models.PositiveIntegerField(editable=False, null=True),
        ),
        migrations.RunPython(number_existing, migrations.RunPython.noop),
    ]
