"""Telephony pages: the extensions panel (ramais), the calls page and a call's detail.

The ramais panel and the calls page's "in progress" and queue tables render their first
state from the database as JSON (the same shape the API and the live WebSocket messages
use) and let one script draw it, so the first paint and every live update go through the
same code. Updates arrive as ``extensions`` and ``calls`` messages published by the
``central pbx`` process to the tenant's group.

The call history is server-rendered: filters and keyset pages over millions of records
(:mod:`central.telephony.calls`), exports streamed (:mod:`central.telephony.export`).
Every time is shown in the tenant's zone, and the page says which.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from central.core.streaming import SyncStreamingHttpResponse
from central.core.tenancy import membership_for_request, organization_zone

from . import export as call_export
from .api import (
    ExtensionSerializer,
    LiveCallSerializer,
    QueueMemberSerializer,
)
from .calls import CallFilters, Cursor, filtered, page
from .causes import CAUSE_LABELS, cause_label
from .models import AsteriskServer, CallRecord, Direction, Extension, LiveCall, QueueMember
from .people import agent_options, extension_interfaces, names_for


def _state_labels() -> dict:
    return {str(k): str(v) for k, v in Extension.State.choices}


def _hangup_by_labels() -> dict[str, str]:
    """Who hung up (``CallRecord.hangup_by``, from AgentComplete) as the page says it."""
    return {"agent": _("o agente"), "customer": _("o cliente"), "transfer": _("transferida")}


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


def _secs(n: int | None) -> str:
    if n is None:
        return ""
    n = max(0, int(n))
    hours, rest = divmod(n, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _display(records: list[CallRecord], organization_id: int) -> list[dict]:
    """Rows as the table shows them: labels and names (one query per kind). Times stay
    datetimes: templates print them with ``|when`` in the tenant's zone."""
    from central.dialer.lookups import campaign_names

    campaigns = campaign_names(organization_id, {r.campaign_id for r in records if r.campaign_id})
    people = names_for(organization_id, [r.agent_interface for r in records])
    directions = {str(k): str(v) for k, v in Direction.choices}
    results = {str(k): str(v) for k, v in CallRecord.Disposition.choices}
    out = []
    for r in records:
        out.append({
            "id": r.pk, "linkedid": r.linkedid,
            "started_at": r.started_at,
            "direction": r.direction, "direction_label": directions.get(r.direction, r.direction),
            "from_number": r.from_number, "to_number": r.to_number,
            "result": r.disposition, "result_label": results.get(r.disposition, r.disposition),
            "campaign": campaigns.get(r.campaign_id, r.campaign_id), "campaign_id": r.campaign_id,
            "agent": people.get(r.agent_interface) or r.agent or r.agent_interface,
            "queue": r.queue, "talk": _secs(r.billsec) if r.answered_at else "",
            "cause": cause_label(r.hangup_cause, r.hangup_cause_text),
        })
    return out


def _link(filters: CallFilters, **cursor) -> str:
    return "?" + urlencode({**filters.as_query(), **cursor})


@login_required
def calls(request):
    org = membership_for_request(request).organization  # 404 for foreign orgs
    zone = organization_zone(org)
    filters, errors = CallFilters.from_query(request.GET)
    before, after = Cursor.decode(request.GET.get("before")), Cursor.decode(request.GET.get("after"))
    # the list never shows the legs: not read (a JSON list per call)
    qs = filtered(org.pk, filters, zone, extension_interfaces(org.pk, filters.extension)).defer("legs")
    result = page(qs, before=before, after=after)
    first_page = result.newer is None
    live = LiveCall.objects.for_org(org).select_related("server")
    members = QueueMember.objects.for_org(org).select_related("server")
    from central.dialer.lookups import campaign_choices

    campaigns = campaign_choices(org.pk)
    return render(request, "telephony/calls.html", {
        "rows": _display(result.rows, org.pk),
        "filters": filters, "filter_query": urlencode(filters.as_query()), "errors": errors,
        # detail links are relative to /telephony/calls/ and carry the way back to this list
        "detail_suffix": "?" + urlencode({"back": "?" + urlencode(filters.as_query())}) if filters.active else "",
        "older_url": _link(filters, before=result.older) if result.older else "",
        "newer_url": _link(filters, after=result.newer) if result.newer else "",
        "first_url": _link(filters) if not first_page else "",
        "live_prepend": first_page and not filters.active,
        "directions": Direction.choices, "results": CallRecord.Disposition.choices,
        "campaigns": campaigns, "campaign_names": dict(campaigns),
        "cause_labels": {str(code): str(label) for code, label in CAUSE_LABELS.items()},
        "agents": agent_options(org.pk, filters.agent),
        "live_data": LiveCallSerializer(live, many=True).data,
        "members_data": QueueMemberSerializer(members, many=True).data,
        "availability_labels": {str(k): str(v) for k, v in QueueMember.Availability.choices},
        "call_state_labels": {str(k): str(v) for k, v in LiveCall.State.choices},
        "disposition_labels": {str(k): str(v) for k, v in CallRecord.Disposition.choices},
        "direction_labels": {str(k): str(v) for k, v in Direction.choices},
        "agent_names": names_for(org.pk, [m.interface for m in members]),
    })


@login_required
def call_detail(request, pk: int):
    membership = membership_for_request(request)
    org = membership.organization  # 404 for foreign orgs
    record = CallRecord.objects.filter(organization=org, pk=pk).select_related("server").first()
    if record is None:
        raise Http404  # another tenant's id looks exactly like a missing one
    from central.dialer.lookups import attempt_for_call, campaign_names
    from central.recordings.services import recordings_for_call

    row = _display([record], org.pk)[0]
    attempt = attempt_for_call(org.pk, record.attempt_id)
    campaign_name = campaign_names(org.pk, [record.campaign_id]).get(record.campaign_id, "") \
        if record.campaign_id else ""

    timeline = [(label, value) for label, value in (
        (_("Início"), record.started_at), (_("Tocou"), record.ring_at),
        (_("Atendida"), record.answered_at), (_("Fim"), record.ended_at)) if value]
    legs = [{"channel": leg.get("channel", ""), "cause": cause_label(leg.get("cause"), leg.get("cause_text") or "")}
            for leg in (record.legs or []) if isinstance(leg, dict)]
    return render(request, "telephony/call_detail.html", {
        "record": record, "row": row, "attempt": attempt, "campaign_name": campaign_name,
        "timeline": timeline, "legs": legs,
        "hangup_by": _hangup_by_labels().get(record.hangup_by, record.hangup_by),
        "duration": _secs(record.duration), "talk": _secs(record.billsec),
        "queue_wait": _secs(record.queue_wait) if record.queue_wait is not None else "",
        "back_url": request.GET.get("back", "") if request.GET.get("back", "").startswith("?") else "",
        "recordings": recordings_for_call(record, membership),  # the ones this member may hear
    })


@login_required
def calls_export(request, fmt: str):
    org = membership_for_request(request).organization  # 404 for foreign orgs
    if fmt not in call_export.FORMATS:
        raise Http404
    zone = organization_zone(org)
    filters, _errors = CallFilters.from_query(request.GET)
    qs = filtered(org.pk, filters, zone, extension_interfaces(org.pk, filters.extension))
    body = call_export.stream(fmt, qs, org.pk, zone)
    response = SyncStreamingHttpResponse(body, content_type=call_export.FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="{call_export.filename(fmt, zone)}"'
    response["Cache-Control"] = "no-store"
    return response

