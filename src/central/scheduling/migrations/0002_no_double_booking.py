"""No double booking, in the database: on PostgreSQL an exclusion constraint forbids two
active appointments (holds included) of one professional whose blocks overlap.

``btree_gist`` lets the GiST index compare the professional id with ``=`` next to the
range's ``&&``. The constraint is the last word under concurrency: two transactions that
both passed the service's re-check cannot both commit. SQLite has no exclusion
constraints; there the service serialises writers (``BEGIN IMMEDIATE``) and re-checks.
tests/scheduling/test_booking_race.py checks the constraint is present.
"""

from django.db import migrations

CONSTRAINT = "sched_no_overlap"
ACTIVE = "('held', 'booked', 'confirmed', 'checked_in', 'completed')"


def add(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    schema_editor.execute(
        f"ALTER TABLE scheduling_appointment ADD CONSTRAINT {CONSTRAINT} EXCLUDE USING gist "
        f"(professional_id WITH =, tstzrange(block_start, block_end, '[)') WITH &&) "
        f"WHERE (status IN {ACTIVE})"
    )


def remove(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"ALTER TABLE scheduling_appointment DROP CONSTRAINT IF EXISTS {CONSTRAINT}")


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0001_initial")]
    operations = [migrations.RunPython(add, remove)]
