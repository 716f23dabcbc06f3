"""A trigram index for ``?search=`` on incident titles (PostgreSQL only).

``title__icontains`` compiles to ``UPPER(title) LIKE UPPER('%term%')``, which no B-tree can
serve: without this index a search for a rare word reads every incident the user may see. The
index needs the ``pg_trgm`` extension, a trusted one that a database owner may create. Where it
cannot be created (a role without the right), search still works, only slower, so the migration
goes on rather than failing a deploy. SQLite gets nothing.
"""

from django.db import DatabaseError, migrations, transaction

INDEX = "incident_title_trgm_idx"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    try:
        with transaction.atomic(using=schema_editor.connection.alias):
            schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DatabaseError:
        return
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON incidents_incident USING gin (UPPER(title) gin_trgm_ops)"
    )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("incidents", "0001_initial")]

    operations = [migrations.RunPython(create_index, drop_index, elidable=False)]
