"""Row factories for the telephony models served by the API (tenant isolation test)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from tests.factories import factory, unique


def server_for(org, **fields) -> models.Model:
    from central.telephony.models import AsteriskServer

    defaults = {"name": unique("pbx"), "host": "127.0.0.1", "port": 5038, "username": "central",
                "secret_env": "CENTRAL_TENANT_SECRET_TEST_AMI"}
    defaults.update(fields)
    return AsteriskServer.objects.create(organization=org, **defaults)


@factory("telephony.asteriskserver")
def make_server(org) -> models.Model:
    return server_for(org)


@factory("telephony.extension")
def make_extension(org, **fields) -> models.Model:
    from central.telephony.models import Extension

    server = fields.pop("server", None) or server_for(org)
    defaults = {"exten": unique("")[:6], "state": "free", "registered": True}
    defaults.update(fields)
    return Extension.objects.create(organization=org, server=server, **defaults)


@factory("telephony.queuemember")
def make_queue_member(org, **fields) -> models.Model:
    from central.telephony.models import QueueMember

    server = fields.pop("server", None) or server_for(org)
    defaults = {"queue": "sales", "interface": unique("Local/agent") + "@agent-phones",
                "name": "Agent One", "availability": "free"}
    defaults.update(fields)
    return QueueMember.objects.create(organization=org, server=server, **defaults)


@factory("telephony.livecall")
def make_live_call(org, **fields) -> models.Model:
    from central.telephony.models import LiveCall

    server = fields.pop("server", None) or server_for(org)
    defaults = {"linkedid": unique("1795."), "from_number": "1100", "to_number": "5511999990001",
                "state": "ringing"}
    defaults.update(fields)
    return LiveCall.objects.create(organization=org, server=server, **defaults)


@factory("telephony.callrecord")
def make_call_record(org, **fields) -> models.Model:
    from central.telephony.models import CallRecord

    server = fields.pop("server", None) or server_for(org)
    now = timezone.now()
    defaults = {"linkedid": unique("1795."), "from_number": "1100", "to_number": "5511999990001",
                "direction": "outbound", "started_at": now, "ended_at": now,
                "disposition": "answered", "billsec": 10, "duration": 15,
                "hangup_cause": 16, "hangup_cause_text": "Normal Clearing"}
    defaults.update(fields)
    return CallRecord.objects.create(organization=org, server=server, **defaults)
