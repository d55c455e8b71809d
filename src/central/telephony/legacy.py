"""The telephony side of ``central import-legacy``: the legacy panel's extensions
(``painel_ramais``) become :class:`Extension` rows of one of the tenant's Asterisk servers.

The panel is a snapshot the PBX link keeps current, so the legacy state, registration and
last activity are written only when the extension is created; later runs compare the
number and the name only (the link's live state is not the legacy one, and a re-run
must not undo it). Identity is ``legacy_id`` per organization; an extension the link
already created with the same number is adopted.
"""

from __future__ import annotations

from django.db import transaction

from .models import AsteriskServer, Extension

__all__ = ["upsert_extension"]

#: Compared on every run; the rest of the values only seed a new row.
COMPARED = ("exten", "label")


def upsert_extension(server: AsteriskServer, legacy_id: int, values: dict, *, dry_run: bool = True) -> tuple[str, str]:
    """``(action, reason)`` for one legacy extension on ``server``."""
    org_id = server.organization_id
    with transaction.atomic():
        row = Extension.objects.filter(organization_id=org_id, legacy_id=legacy_id).first()
        holder = Extension.objects.filter(server=server, exten=values["exten"]).first()
        if row is None:
            if holder is not None and holder.legacy_id is not None:
                return "skipped", f"ramal repetido: mesmo número do ramal legado {holder.legacy_id}"
            if holder is None:
                if not dry_run:
                    Extension.objects.create(organization_id=org_id, server=server, legacy_id=legacy_id, **values)
                return "created", ""
            row, adopted = holder, True
        else:
            adopted = False
            if row.server_id != server.pk:
                return "skipped", "ramal legado já importado em outro servidor"
            if holder is not None and holder.pk != row.pk:
                return "skipped", f"o ramal {values['exten']} já existe neste servidor"
        diff = [f for f in COMPARED if getattr(row, f) != values[f]]
        if not diff and not adopted:
            return "unchanged", ""
        if not dry_run:
            for f in diff:
                setattr(row, f, values[f])
            row.legacy_id = legacy_id
            row.save(update_fields=[*diff, "legacy_id"])
        return "updated", ("ramal existente vinculado" if adopted else "campos: " + ", ".join(diff))
