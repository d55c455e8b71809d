"""Campaign.asterisk_server: from a server *name* to a reference to a server of the same
organization (docs/security.md, "Dial strings and PBX selection").

Names repeat across tenants, so a dialer that picked campaigns by name could dial one
tenant's campaign on another tenant's (or the platform's) PBX. Each campaign's name is
resolved inside its own organization; a name with no server there (the campaign was
served by a server of another tenant, or by none) leaves the reference empty and, for an
active campaign, pauses it with the ``server_missing`` alarm, so it is never moved onto a
PBX its owner did not choose.

Both functions read and write the database being migrated (``schema_editor.connection``),
never the default connection's (tests/dialer/test_pbx_selection.py migrates a database of
its own).
"""

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone

SERVER_MISSING = "server_missing"


def names_to_references(apps, schema_editor):
    db = schema_editor.connection.alias
    Campaign = apps.get_model("dialer", "Campaign")
    AsteriskServer = apps.get_model("telephony", "AsteriskServer")
    for campaign in Campaign.objects.using(db).exclude(asterisk_server_name="").iterator():
        server = AsteriskServer.objects.using(db).filter(organization_id=campaign.organization_id,
                                               name=campaign.asterisk_server_name).first()
        if server is not None:
            campaign.asterisk_server_id = server.pk
            campaign.save(update_fields=["asterisk_server"])
            continue
        if campaign.status == "active":
            campaign.status = "paused"
            campaign.alarm = SERVER_MISSING
            campaign.alarm_message = campaign.asterisk_server_name[:300]
            campaign.alarm_at = timezone.now()
            campaign.save(update_fields=["status", "alarm", "alarm_message", "alarm_at"])


def references_to_names(apps, schema_editor):
    Campaign = apps.get_model("dialer", "Campaign")
    for campaign in Campaign.objects.using(schema_editor.connection.alias).exclude(asterisk_server=None).select_related("asterisk_server"):
        campaign.asterisk_server_name = campaign.asterisk_server.name
        campaign.save(update_fields=["asterisk_server_name"])


class Migration(migrations.Migration):
    dependencies = [
        ("dialer", "0006_legacy_id"),
        ("telephony", "0006_legacy_id"),
    ]

    operations = [
        migrations.RenameField("campaign", "asterisk_server", "asterisk_server_name"),
        migrations.AddField(
            model_name="campaign",
            name="asterisk_server",
            field=models.ForeignKey(blank=True, help_text="Vazio: o servidor padrão.", null=True,
                                    on_delete=django.db.models.deletion.SET_NULL, related_name="campaigns",
                                    to="telephony.asteriskserver", verbose_name="servidor Asterisk"),
        ),
        migrations.RunPython(names_to_references, references_to_names),
        migrations.RemoveField("campaign", "asterisk_server_name"),
    ]
