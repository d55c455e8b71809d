"""Row factories for the voice models served by the API (tenant isolation test)."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from tests.factories import factory, unique


@factory("voice.aiextension")
def make_ai_extension(org, **fields) -> models.Model:
    from central.voice.models import AIExtension

    # Numbers are installation-unique (central.core.unique): every row gets its own.
    defaults = {"number": unique("")[:6], "return_number": unique("r")[:7], "port": 0, "return_port": 0,
                "bind_ip": "127.0.0.1"}
    defaults.update(fields)
    return AIExtension.objects.create(organization=org, **defaults)


@factory("voice.unit")
def make_unit(org, **fields) -> models.Model:
    from central.voice.models import Unit

    defaults = {"number": unique("")[:5], "block": "A"}
    defaults.update(fields)
    return Unit.objects.create(organization=org, **defaults)


@factory("voice.resident")
def make_resident(org, **fields) -> models.Model:
    from central.voice.models import Resident

    unit = fields.pop("unit", None) or make_unit(org)
    defaults = {"name": "Ana Souza", "extension": "PJSIP/1101"}
    defaults.update(fields)
    return Resident.objects.create(organization=org, unit=unit, **defaults)


@factory("voice.visitlog")
def make_visit(org, **fields) -> models.Model:
    from central.voice.models import VisitLog

    now = timezone.now()
    defaults = {"visit_id": uuid.uuid4(), "extension_number": "1003", "visitor_name": "João",
                "unit_label": "302 bloco B", "outcome": "authorized", "started_at": now, "ended_at": now}
    defaults.update(fields)
    return VisitLog.objects.create(organization=org, **defaults)
