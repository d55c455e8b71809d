"""Existing organizations get the default pause codes (new ones get them from a signal)."""

from django.db import migrations

# A copy, not an import: a migration must keep working when the model module changes.
DEFAULTS = (("almoco", "Almoço"), ("intervalo", "Intervalo"), ("treinamento", "Treinamento"),
            ("back-office", "Back office"))


def seed(apps, schema_editor):
    Organization = apps.get_model("core", "Organization")
    PauseCode = apps.get_model("agents", "PauseCode")
    for org_id in Organization.objects.values_list("pk", flat=True):
        have = set(PauseCode.objects.filter(organization_id=org_id).values_list("code", flat=True))
        PauseCode.objects.bulk_create([PauseCode(organization_id=org_id, code=c, label=label, position=i)
                                       for i, (c, label) in enumerate(DEFAULTS) if c not in have])


class Migration(migrations.Migration):
    dependencies = [("agents", "0001_initial"), ("core", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
