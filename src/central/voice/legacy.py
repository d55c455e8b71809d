"""The voice side of ``central import-legacy``: AI extensions from the legacy AudioSocket
server's ``extension_ia`` table.

Numbers and ports are installation-unique (:mod:`central.core.unique`): a legacy value
another tenant already holds is a per-row conflict that names no holder, and the row is
skipped; nothing of another tenant is ever changed or taken over. The database's unique
constraints settle a race the same way. Identity is ``legacy_id`` per organization; an
extension of this organization with the same number and no legacy id is adopted.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from central.core import unique

from .models import AIExtension

__all__ = ["FIELDS", "upsert_ai_extension"]

#: What the legacy row sets; greeting, providers and the rest keep Central's defaults.
FIELDS = ("number", "return_number", "bind_ip", "port", "return_port")


def upsert_ai_extension(organization_id: int, legacy_id: int, values: dict, *,
                        dry_run: bool = True) -> tuple[str, str]:
    """``(action, reason)`` for one legacy AI extension of this organization."""
    values = {f: values[f] for f in FIELDS}
    row = AIExtension.objects.filter(organization_id=organization_id, legacy_id=legacy_id).first()
    adopted = False
    if row is None:
        row = AIExtension.objects.filter(organization_id=organization_id, number=values["number"],
                                         legacy_id__isnull=True).first()
        adopted = row is not None
    diff = list(FIELDS) if row is None else [f for f in FIELDS if getattr(row, f) != values[f]]
    if row is not None and not diff and not adopted:
        return "unchanged", ""
    errors = unique.conflicts(AIExtension._meta.label_lower, {f: values[f] for f in diff}, instance=row)
    if errors:
        return "skipped", "conflito: " + ", ".join(sorted(errors)) + " já em uso nesta instalação"
    action = "created" if row is None else "updated"
    reason = "" if row is None else ("ramal de IA existente vinculado" if adopted else "campos: " + ", ".join(diff))
    if dry_run:
        return action, reason
    try:
        with transaction.atomic():
            if row is None:
                AIExtension.objects.create(organization_id=organization_id, legacy_id=legacy_id, **values)
            else:
                for f in diff:
                    setattr(row, f, values[f])
                row.legacy_id = legacy_id
                row.save(update_fields=[*diff, "legacy_id", "updated_at"])
    except IntegrityError:
        # Another tenant took the value between the check and the write.
        return "skipped", "conflito: ramal ou porta já em uso nesta instalação"
    return action, reason
