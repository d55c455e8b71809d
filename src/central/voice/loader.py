"""Database side of the voice config: read AI extensions into plain config, save visits.

Synchronous Django code; the voice service calls it in worker threads, so every entry
point gives its connection back when done (``gives_connection_back``).
"""

from __future__ import annotations

import datetime as dt
import uuid

from central.core.db import gives_connection_back
from central.voice.calls import VisitRecord
from central.voice.config import ExtensionConfig, ResidentConfig, UnitConfig, VoiceConfig


@gives_connection_back
def load_from_database() -> VoiceConfig:
    from central.core.db import drop_stale_connections
    from central.voice.models import AIExtension, Unit

    drop_stale_connections()  # a connection that died with the database must not linger
    exts = list(AIExtension.objects.select_related("organization").filter(enabled=True, organization__is_active=True))
    org_ids = {e.organization_id for e in exts}
    units_by_org: dict[int, list[UnitConfig]] = {}
    for unit in Unit.objects.filter(organization_id__in=org_ids).prefetch_related("residents"):
        residents = tuple(
            ResidentConfig(r.name, r.extension)
            for r in sorted(unit.residents.all(), key=lambda r: (r.priority, r.name))
            if r.active
        )
        units_by_org.setdefault(unit.organization_id, []).append(UnitConfig(unit.number, unit.block, residents))
    out = []
    for e in exts:
        out.append(
            ExtensionConfig(
                number=e.number, return_number=e.return_number, bind_ip=e.bind_ip, port=e.port,
                return_port=e.return_port, organization=e.organization.name, organization_id=e.organization_id,
                greeting=e.greeting, instructions=e.instructions, providers=e.providers or {},
                enabled=e.enabled, concierge_extension=e.concierge_extension,
                units=tuple(units_by_org.get(e.organization_id, [])),
            )
        )
    return VoiceConfig(tuple(out), source="database")


@gives_connection_back
def config_version() -> int:
    """The config version (one indexed single-row read): the voice process polls it and
    reloads when it moved (:meth:`central.voice.service.VoiceService.watch`)."""
    from central.core.db import drop_stale_connections
    from central.voice.models import ConfigVersion

    drop_stale_connections()
    return ConfigVersion.current()


@gives_connection_back
def save_visit(record: VisitRecord) -> None:
    """Persist one visit with its audit trail (called in a worker thread)."""
    from central.core.db import drop_stale_connections
    from central.voice.models import Unit, VisitLog

    if record.organization_id is None:
        return  # compat pair / snapshot without an organization: log only
    drop_stale_connections()
    unit = None
    if record.unit:
        number, _, block = record.unit.partition(" bloco ")
        unit = Unit.objects.filter(organization_id=record.organization_id, number=number, block=block).first()
    tz = dt.UTC
    VisitLog.objects.update_or_create(
        visit_id=uuid.UUID(record.visit_id),
        defaults=dict(
            organization_id=record.organization_id, extension_number=record.extension,
            visitor_name=(record.visitor_name or "")[:120], unit=unit, unit_label=(record.unit or "")[:60],
            outcome=record.outcome,
            started_at=dt.datetime.fromtimestamp(record.started_at, tz),
            ended_at=dt.datetime.fromtimestamp(record.ended_at, tz),
            audit=[{"t": dt.datetime.fromtimestamp(t, tz).isoformat(), "event": e, "detail": d} for t, e, d in record.audit],
        ),
    )
