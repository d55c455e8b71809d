"""Telephony pages: the extensions panel (ramais) and the calls page.

Both render their first state from the database as JSON (the same shape the API and the
live WebSocket messages use) and let one script draw it, so the first paint and every live
update go through the same code. Updates arrive as ``extensions`` and ``calls`` messages
published by the ``central pbx`` process to the tenant's group.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from central.core.tenancy import membership_for_request

from .api import (
    CallRecordSerializer,
    ExtensionSerializer,
    LiveCallSerializer,
    QueueMemberSerializer,
)
from .models import AsteriskServer, CallRecord, Extension, LiveCall, QueueMember

RECENT_RECORDS = 50


def _state_labels() -> dict:
    return {str(k): str(v) for k, v in Extension.State.choices}


@login_required
def extensions(request):
    org = membership_for_request(request).organization  # 404 for foreign orgs
    rows = Extension.objects.for_org(org).select_related("server").order_by("server__name", "exten")
    servers = AsteriskServer.objects.for_org(org).order_by("name")
    return render(request, "telephony/extensions.html", {
        "extensions_data": ExtensionSerializer(rows, many=True).data,
        "state_labels": _state_labels(),
        "servers": servers,
        "server_status_labels": {str(k): str(v) for k, v in AsteriskServer.Status.choices},
    })


@login_required
def calls(request):
    org = membership_for_request(request).organization  # 404 for foreign orgs
    live = LiveCall.objects.for_org(org).select_related("server")
    records = CallRecord.objects.for_org(org).select_related("server")[:RECENT_RECORDS]
    members = QueueMember.objects.for_org(org).select_related("server")
    return render(request, "telephony/calls.html", {
        "live_data": LiveCallSerializer(live, many=True).data,
        "records_data": CallRecordSerializer(records, many=True).data,
        "members_data": QueueMemberSerializer(members, many=True).data,
        "availability_labels": {str(k): str(v) for k, v in QueueMember.Availability.choices},
        "call_state_labels": {str(k): str(v) for k, v in LiveCall.State.choices},
        "disposition_labels": {str(k): str(v) for k, v in CallRecord.Disposition.choices},
        "direction_labels": {str(k): str(v) for k, v in CallRecord._meta.get_field("direction").choices},
        "recent_limit": RECENT_RECORDS,
    })
