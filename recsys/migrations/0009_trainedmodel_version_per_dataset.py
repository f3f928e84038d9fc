from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("recsys", "0008_trainedmodel_version")]

    operations = [
        migrations.AlterField(
            model_name="trainedmodel",
            name="version",
            field=models.PositiveIntegerField(
                editable=False,
                help_text="v1, v2, … per dataset, in the order the versions were created (set on the first save). "
                          "Versions created before numbering per dataset keep the number they had (their id).",
            ),
            preserve_default=False,
        ),
        migrations.AddConstraint(
            model_name="trainedmodel",
            constraint=models.UniqueConstraint(fields=("dataset", "version"), name="trained_model_unique_version"),
        ),
    ]
