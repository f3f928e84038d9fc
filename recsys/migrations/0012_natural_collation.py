from django.db import migrations

# Django's CreateCollation skips other databases going forwards but not backwards; SQLite is given the collation
# per connection (recsys.collation), so only PostgreSQL's is made here.
CREATE = """CREATE COLLATION "natural" (provider = icu, locale = 'und-u-kn-true')"""
DROP = 'DROP COLLATION "natural"'


def on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    """The "natural" collation of recsys.collation."""

    dependencies = [("recsys", "0011_erased_history")]

    operations = [migrations.RunPython(on_postgresql(CREATE), on_postgresql(DROP))]
