"""Database side of the PBX link: write what the live state learnt, return what to push.

Plain synchronous Django code, called by ``link.py`` in a worker thread
(``database_sync_to_async``) with *batches*: one flush writes every extension that changed
since the last one, the current set of calls in progress and the call records that
finished. Each function returns the rows as the API serializes them, so a dashboard
receives over the WebSocket exactly what ``/api/v1/telephony/...`` would answer.

Inputs are plain dicts keyed by model field names (``link.py`` converts the pure state
and CDR objects); times may be ``datetime`` or epoch seconds (what Asterisk prints).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import AsteriskServer, CallRecord, Extension, LiveCall, QueueMember

EXTENSION_FIELDS = ("context", "device", "label", "registered", "state", "status_text", "last_activity")
LIVE_FIELDS = ("direction", "from_number", "to_number", "state", "queue", "agent", "attempt_id",
               "channels", "started_at", "answered_at", "queued_at")
RECORD_FIELDS = ("direction", "from_number", "to_number", "campaign_id", "attempt_id", "queue",
                 "agent", "agent_interface", "legs", "started_at", "ring_at", "answered_at", "ended_at", "disposition",
                 "hangup_cause", "hangup_cause_text", "duration", "billsec", "queue_wait",
                 "hangup_by", "adopted")
MEMBER_FIELDS = ("name", "availability", "paused_reason", "calls_taken", "last_change", "call_ended_at",
                 "wrapup_time")
TIME_FIELDS = {"last_change", "call_ended_at", "last_activity", "started_at", "answered_at", "ring_at", "ended_at",
               "queued_at"}
_CHAR_LIMITS: dict[tuple[type, str], int] = {}


@dataclass(frozen=True)
class ServerRef:
    """What the link needs to know about the server row it writes for."""

    id: int
    organization_id: int
    name: str


def to_datetime(value) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value, dt.UTC)
    return dt.datetime.fromtimestamp(float(value), tz=dt.UTC)


def _clean(model: type, fields: Iterable[str], data: dict) -> dict:
    """Keep known fields, convert times, clip text to the column size (a long CallerID
    from a misbehaving trunk must not fail the whole batch)."""
    out = {}
    for name in fields:
        if name not in data:
            continue
        value = data[name]
        if name in TIME_FIELDS:
            value = to_datetime(value)
        elif isinstance(value, str):
            limit = _CHAR_LIMITS.get((model, name))
            if limit is None:
                limit = _CHAR_LIMITS[(model, name)] = model._meta.get_field(name).max_length or 0
            if limit and len(value) > limit:
                value = value[:limit]
        elif value is None and name not in ("registered", "hangup_cause", "queue_wait", "queued_at"):
            continue
        out[name] = value
    return out


def server_ref(server: AsteriskServer) -> ServerRef:
    return ServerRef(server.pk, server.organization_id, server.name)


# --- extensions ---------------------------------------------------------------------------

def save_extensions(ref: ServerRef, changes: Iterable[dict]) -> list[dict]:
    """Upsert the extensions that changed (bulk: a resync of a 10,000-extension PBX is one
    transaction of a few statements); returns them serialized for the live push."""
    from .api import ExtensionSerializer

    by_exten = {str(c["exten"])[:80]: c for c in changes if c.get("exten")}
    if not by_exten:
        return []
    now = timezone.now()
    touched: set[str] = {"updated_at"}
    with transaction.atomic():
        existing = {e.exten: e for e in Extension.objects.filter(server_id=ref.id, exten__in=list(by_exten))}
        new: list[Extension] = []
        for exten, change in by_exten.items():
            data = _clean(Extension, EXTENSION_FIELDS, change)
            row = existing.get(exten)
            if row is None:
                row = Extension(organization_id=ref.organization_id, server_id=ref.id, exten=exten)
                new.append(row)
            for key, value in data.items():
                setattr(row, key, value)
                touched.add(key)
            row.updated_at = now
        if existing:
            Extension.objects.bulk_update(list(existing.values()), sorted(touched), batch_size=500)
        created = Extension.objects.bulk_create(new, batch_size=500)
    rows = {**existing, **{r.exten: r for r in created}}
    server = AsteriskServer(pk=ref.id, name=ref.name, organization_id=ref.organization_id)
    out = [rows[k] for k in by_exten]
    for row in out:
        row.server = server
    return list(ExtensionSerializer(out, many=True).data)


# --- queue members ------------------------------------------------------------------------

def _pause_interval(ref: ServerRef, row, ended_at, *, reason: str | None = None, since=None) -> dict:
    return {"organization_id": ref.organization_id, "server_id": ref.id, "queue": row.queue,
            "interface": row.interface, "reason": row.paused_reason if reason is None else reason,
            "started_at": row.last_change if since is None else since, "ended_at": ended_at}


def save_queue_members(ref: ServerRef, changes: Iterable[dict], removed: Iterable[tuple[str, str]] = ()) -> list[dict]:
    """Upsert changed members, delete removed ones ((queue, interface) pairs); returns the
    changed rows serialized (removed ones with ``"removed": true``)."""
    from .api import QueueMemberSerializer

    by_key = {(str(c["queue"])[:80], str(c["interface"])[:120]): c for c in changes
              if c.get("queue") and c.get("interface")}
    gone = [k for k in removed if k not in by_key]
    now = timezone.now()
    ended: list[dict] = []  # pauses that ended in this batch (signals.pause_ended)
    with transaction.atomic():
        for queue, interface in gone:
            for row in QueueMember.objects.filter(server_id=ref.id, queue=queue, interface=interface):
                if row.availability == QueueMember.Availability.PAUSED:
                    ended.append(_pause_interval(ref, row, now))
                row.delete()
        existing = {(m.queue, m.interface): m for m in QueueMember.objects.filter(
            server_id=ref.id, queue__in={q for q, _ in by_key}, interface__in={i for _, i in by_key})}
        rows = []
        for key, change in by_key.items():
            row = existing.get(key) or QueueMember(organization_id=ref.organization_id, server_id=ref.id,
                                                   queue=key[0], interface=key[1])
            was_paused = row.pk is not None and row.availability == QueueMember.Availability.PAUSED
            before = (row.paused_reason, row.last_change)
            for name, value in _clean(QueueMember, MEMBER_FIELDS, change).items():
                setattr(row, name, value)
            if was_paused and (row.availability != QueueMember.Availability.PAUSED
                               or row.paused_reason != before[0]):
                ended.append(_pause_interval(ref, row, row.last_change or now, reason=before[0], since=before[1]))
            row.updated_at = now
            row.save()
            rows.append(row)
    if ended:
        from .signals import pause_ended

        for interval in ended:
            pause_ended.send(sender=QueueMember, **interval)
    server = AsteriskServer(pk=ref.id, name=ref.name, organization_id=ref.organization_id)
    for row in rows:
        row.server = server
    out = list(QueueMemberSerializer(rows, many=True).data)
    out += [{"queue": q, "interface": i, "server": ref.name, "removed": True} for q, i in gone]
    return out


# --- calls in progress --------------------------------------------------------------------

def replace_live_calls(ref: ServerRef, calls: Iterable[dict]) -> list[dict]:
    """Make the server's LiveCall rows equal ``calls`` (keyed by linkedid)."""
    from .api import LiveCallSerializer

    wanted = {str(c["linkedid"]): c for c in calls if c.get("linkedid")}
    now = timezone.now()
    with transaction.atomic():
        LiveCall.objects.filter(server_id=ref.id).exclude(linkedid__in=list(wanted)).delete()
        existing = {c.linkedid: c for c in LiveCall.objects.filter(server_id=ref.id)}
        for linkedid, call in wanted.items():
            data = _clean(LiveCall, LIVE_FIELDS, call)
            if data.get("started_at") is None:
                data.pop("started_at", None)
            row = existing.get(linkedid)
            if row is None:
                row = LiveCall(organization_id=ref.organization_id, server_id=ref.id,
                               linkedid=linkedid[:64])
            changed = row.pk is None
            for key, value in data.items():
                if getattr(row, key) != value:
                    setattr(row, key, value)
                    changed = True
            if changed:
                row.updated_at = now
                row.save()
            existing[linkedid] = row
    rows = sorted((existing[k] for k in wanted), key=lambda r: (r.started_at, r.linkedid))
    for row in rows:
        row.server = AsteriskServer(pk=ref.id, name=ref.name, organization_id=ref.organization_id)
    return list(LiveCallSerializer(rows, many=True).data)


# --- call records -------------------------------------------------------------------------

def save_call_records(ref: ServerRef, records: Iterable[dict]) -> list[dict]:
    """Insert finished calls in one transaction; a record already stored (same linkedid:
    a replay after a reconnect) is updated, never duplicated."""
    from .api import CallRecordSerializer

    cleaned: dict[str, dict] = {}
    for record in records:
        linkedid = str(record.get("linkedid") or "")[:64]
        if not linkedid:
            continue
        data = _clean(CallRecord, RECORD_FIELDS, record)
        if data.get("started_at") is None:
            data["started_at"] = data.get("ended_at") or timezone.now()
        data.setdefault("disposition", CallRecord.Disposition.FAILED)
        cleaned[linkedid] = data
    if not cleaned:
        return []
    try:
        with transaction.atomic():
            saved = _upsert_records(ref, cleaned)
    except IntegrityError:
        # A concurrent writer (a second link on the same server) inserted some of them
        # between our read and our insert: retry once, now they are "existing".
        with transaction.atomic():
            saved = _upsert_records(ref, cleaned)
    server = AsteriskServer(pk=ref.id, name=ref.name, organization_id=ref.organization_id)
    for row in saved:
        row.server = server
    return list(CallRecordSerializer(saved, many=True).data)


def _upsert_records(ref: ServerRef, cleaned: dict[str, dict]) -> list[CallRecord]:
    existing = {r.linkedid: r for r in CallRecord.objects.filter(server_id=ref.id, linkedid__in=list(cleaned))}
    new = []
    for linkedid, data in cleaned.items():
        row = existing.get(linkedid)
        if row is None:
            new.append(CallRecord(organization_id=ref.organization_id, server_id=ref.id,
                                  linkedid=linkedid, **data))
        else:
            for key, value in data.items():
                setattr(row, key, value)
            row.save()
    created = CallRecord.objects.bulk_create(new, batch_size=500)
    by_id = {r.linkedid: r for r in [*existing.values(), *created]}
    return [by_id[k] for k in cleaned]


def records_for_attempts(organization_id: int, attempt_ids: Iterable[str]) -> dict[str, dict]:
    """The call records the link wrote for dialer attempts, keyed by attempt id (read-only).

    The dialer's reconcile asks this after a crash or a lost AMI link: the link followed
    every event of the call, so its record says how a call that ended while no dialer was
    watching really ended (issue 14). Other apps read through this function and never
    write the telephony tables. Scoped to one organization: attempt ids are not secrets,
    but tenants are mutually hostile.
    """
    ids = [a for a in dict.fromkeys(attempt_ids) if a]
    if not ids:
        return {}
    out: dict[str, dict] = {}
    rows = (CallRecord.objects.filter(organization_id=organization_id, attempt_id__in=ids)
            .order_by("started_at", "id")
            .values("attempt_id", "campaign_id", "linkedid", "disposition", "agent", "queue", "started_at",
                    "ring_at", "answered_at", "ended_at", "hangup_cause", "hangup_cause_text", "duration",
                    "billsec", "queue_wait", "hangup_by"))
    for row in rows:
        out[row["attempt_id"]] = row  # one call per attempt; the latest wins if a trunk split it
    return out


def number_variants(e164: str) -> list[str]:
    """The spellings a dialplan may have written for one number in a CDR's from/to.

    Asterisk writes what the channel carried: ``+5511987654321``, ``5511987654321``, the
    national ``11987654321`` or, through a trunk, ``011987654321``. A Brazilian E.164
    number is matched in all four; a foreign one as written and without the ``+``.
    """
    if not e164.startswith("+"):
        return [e164] if e164 else []
    digits = e164[1:]
    out = [e164, digits]
    if digits.startswith("55") and len(digits) in (12, 13):
        national = digits[2:]
        out += [national, "0" + national]
    return out


def records_for_number(organization_id: int, e164: str, *, limit: int = 50) -> list[dict]:
    """The latest call records to or from one number in one organization (read-only).

    For the messaging app's contact view ("one person across channels"): other apps read
    the CDR through this function and never query the telephony tables. Newest first.
    """
    from django.db.models import Q

    variants = number_variants(e164)
    if not variants:
        return []
    rows = (CallRecord.objects.filter(organization_id=organization_id)
            .filter(Q(from_number__in=variants) | Q(to_number__in=variants))
            .order_by("-started_at", "-id")
            .values("linkedid", "direction", "from_number", "to_number", "campaign_id", "attempt_id", "queue",
                    "agent", "started_at", "answered_at", "ended_at", "disposition", "hangup_cause",
                    "hangup_cause_text", "duration", "billsec")[:limit])
    return list(rows)


def queues_for_org(organization_id: int, server_id: int | None = None) -> dict[str, dict[str, int]]:
    """The queues the organization's PBXs report, with their members (read-only).

    ``{queue: {"members": n, "available": m}}`` from the QueueMember rows the link keeps
    (``QueueStatus`` at connect, then ``QueueMember*`` events), ``available`` counting
    members neither paused nor unavailable. The dialer's settings form offers these
    queues and warns when a campaign names one the PBX never reported (a typo leaves a
    campaign with no agents). ``server_id`` narrows it to one PBX. Sorted by name.
    """
    rows = QueueMember.objects.filter(organization_id=organization_id)
    if server_id is not None:
        rows = rows.filter(server_id=server_id)
    out: dict[str, dict[str, int]] = {}
    unavailable = {QueueMember.Availability.PAUSED, QueueMember.Availability.UNAVAILABLE}
    for queue, availability in rows.values_list("queue", "availability").order_by("queue"):
        entry = out.setdefault(queue, {"members": 0, "available": 0})
        entry["members"] += 1
        entry["available"] += availability not in unavailable
    return out


# --- server status ------------------------------------------------------------------------

def set_server_status(server_id: int, status: str, detail: str = "") -> None:
    AsteriskServer.objects.filter(pk=server_id).update(
        status=status, status_detail=detail[:300], status_at=timezone.now()
    )


def clear_live_calls(server_id: int) -> None:
    LiveCall.objects.filter(server_id=server_id).delete()


def forget_live_calls(server: ServerRef | AsteriskServer) -> int:
    """A server went away (deleted, disabled, or pointed at another PBX): its calls in
    progress are no longer watched by any link, so nothing would ever end them. Delete
    them and tell the tenant's pages (the same ``calls`` message a link sends, empty)."""
    from central.core.live import org_group, publish

    ref = server if isinstance(server, ServerRef) else server_ref(server)
    deleted, _ = LiveCall.objects.filter(server_id=ref.id).delete()
    publish(org_group(ref.organization_id), {
        "type": "calls", "server": ref.name, "server_id": ref.id, "records": [], "live": []})
    return deleted


def purge_call_records(organization_id: int, before: dt.datetime, *, dry_run: bool = True) -> int:
    """Retention (``central maintenance``): delete the organization's call records that
    started before ``before``; how many (would be) deleted."""
    rows = CallRecord.objects.filter(organization_id=organization_id, started_at__lt=before)
    if dry_run:
        return rows.count()
    return rows.delete()[1].get(CallRecord._meta.label, 0)


# --- the operations overview (read-only, for the dashboard's home and wallboard) ----------

def queue_targets(organization_id: int) -> tuple[int, int]:
    """(service level threshold s, longest acceptable wait s) of the organization
    (``QueueTargets``; defaults when it has none)."""
    from .models import QueueTargets

    row = QueueTargets.objects.filter(organization_id=organization_id).values_list(
        "service_level_s", "max_wait_s").first()
    return row or (QueueTargets.DEFAULT_SERVICE_LEVEL_S, QueueTargets.DEFAULT_MAX_WAIT_S)


def live_overview(organization_id: int) -> dict:
    """What the organization's PBX links say now: queue members, calls in progress (with
    the queue and time a waiting caller joined) and the servers' link status. Plain rows;
    the dashboard's figures (``central.dashboard.figures``) aggregate them."""
    members = list(QueueMember.objects.filter(organization_id=organization_id).values(
        "queue", "interface", "name", "availability", "paused_reason", "last_change"))
    calls = list(LiveCall.objects.filter(organization_id=organization_id).values(
        "state", "queue", "queued_at", "direction", "started_at"))
    servers = list(AsteriskServer.objects.filter(organization_id=organization_id, enabled=True).order_by("name")
                   .values("id", "name", "status", "status_detail", "status_at"))
    return {"members": members, "calls": calls, "servers": servers}


def records_summary(organization_id: int, since: dt.datetime, service_level_s: int) -> dict:
    """Today's call records (``started_at >= since``): totals and, per queue, answered,
    abandoned and answered within ``service_level_s`` of waiting (``queue_wait`` is
    AgentConnect's HoldTime). Two aggregate queries on the (organization, started_at) index."""
    from django.db.models import Count, Q, Sum

    rows = CallRecord.objects.filter(organization_id=organization_id, started_at__gte=since)
    answered = Q(disposition=CallRecord.Disposition.ANSWERED)
    abandoned = Q(disposition=CallRecord.Disposition.ABANDONED)
    totals = rows.aggregate(calls=Count("id"), answered=Count("id", filter=answered),
                            abandoned=Count("id", filter=abandoned), talk_s=Sum("billsec"))
    totals["talk_s"] = totals["talk_s"] or 0
    queues = {}
    for row in (rows.exclude(queue="").values("queue").order_by("queue")
                .annotate(answered=Count("id", filter=answered), abandoned=Count("id", filter=abandoned),
                          within=Count("id", filter=answered & Q(queue_wait__lte=service_level_s)))):
        queues[row.pop("queue")] = row
    return {"totals": totals, "queues": queues}
