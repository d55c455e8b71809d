"""What happens to agents, the index, transfers and the cache: one function per event.

The WebSocket consumer, the upload endpoint, the pages, the API and the periodic jobs all
call these; none of them writes the tables itself. Every function is safe to run on
several processes at once: the rows it changes are locked (``select_for_update``) or
claimed by a conditional ``UPDATE``, so a retried batch, a duplicated chunk or the expiry
job on two workers changes nothing twice.

Live updates go to the organization's dashboard group (``central.core.live``) as
``documents.agent`` / ``documents.transfer`` / ``documents.stats`` messages; orders to a
connected agent go to its own channel-layer group (:func:`agent_group`) and the agent's
consumer turns them into protocol messages.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import storages
from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from central.core import audit
from central.core.live import publish_org_event
from central_agent.protocol import OFFLINE_AFTER_MISSED

from . import metrics
from .models import (
    Agent,
    AgentEvent,
    AgentToken,
    CachedFile,
    Document,
    Download,
    EnrollmentCode,
    Transfer,
    hash_secret,
    new_secret,
)
from .storage import STORAGE_ALIAS

log = logging.getLogger(__name__)

#: Channel-layer message types the agent consumer handles (``documents_request`` etc.).
AGENT_REQUEST_EVENT = "documents.request"
AGENT_REVOKED_EVENT = "documents.revoked"
AGENT_CANCEL_EVENT = "documents.cancel"
AGENT_REPLACED_EVENT = "documents.replaced"
#: Dashboard message types (``Central.on(...)`` in documents.js).
LIVE_AGENT = "documents.agent"
LIVE_TRANSFER = "documents.transfer"
#: Rejected uploads are re-requested this many times before the transfer fails.
MAX_ATTEMPTS = 2
EVENTS_KEPT = 200
#: How long one upload request may take to verify and store a complete file before another
#: request for the same transfer may take the job over.
VERIFY_CLAIM = timedelta(minutes=5)
_SHA256 = re.compile(r"[0-9a-f]{64}")


def agent_group(agent_id: int) -> str:
    """The channel-layer group of one agent's live socket(s)."""
    return f"documents-agent-{agent_id}"


def storage():
    return storages[STORAGE_ALIAS]


def partial_dir() -> Path:
    """Uploads in progress: appended chunk by chunk on local disk (object storage cannot
    append), moved to the documents storage once verified. Private like the data dir."""
    path = Path(settings.DATA_DIR) / "documents-partial"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def partial_path(transfer: Transfer) -> Path:
    return partial_dir() / f"{transfer.pk}-{transfer.attempts}.part"


# --- Enrollment and tokens --------------------------------------------------------------------


class EnrollmentRefused(Exception):
    """The code is unknown or used (``invalid_code``) or expired (``expired_code``, the
    protocol's ENROLL_ERRORS). Only the holder of a real code can tell the two apart."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def create_enrollment_code(organization, agent_name: str, *, user=None, request=None) -> tuple[EnrollmentCode, str]:
    code, code_hash = new_secret()
    row = EnrollmentCode.objects.create(
        organization=organization, agent_name=agent_name.strip()[:120] or _("Agente"),
        code_hash=code_hash, created_by=user,
        expires_at=timezone.now() + timedelta(minutes=settings.DOCUMENTS_ENROLL_MINUTES),
    )
    audit.record("documents.enrollment_code.create", request=request, actor=user,
                 organization=organization, target=row, agent_name=row.agent_name)
    return row, code


def enroll(code: str, *, hostname: str = "", version: str = "", os_name: str = "",
           request=None) -> tuple[Agent, str]:
    """Exchange a one-time code for a new agent and its long-lived token (shown once)."""
    now = timezone.now()
    with transaction.atomic():
        row = (EnrollmentCode.objects.select_for_update()
               .filter(code_hash=hash_secret(code or ""), used_at__isnull=True, expires_at__gt=now).first())
        if row is None:
            expired = EnrollmentCode.objects.filter(code_hash=hash_secret(code or ""), used_at__isnull=True).exists()
            if expired:
                raise EnrollmentRefused("expired_code", _("Código de registro expirado; gere outro no painel."))
            raise EnrollmentRefused("invalid_code", _("Código de registro inválido ou já usado."))
        agent = Agent.objects.create(organization_id=row.organization_id, name=row.agent_name,
                                     hostname=hostname[:255], version=version[:40], os=os_name[:120])
        token, token_hash = new_secret()
        AgentToken.objects.create(organization_id=row.organization_id, agent=agent, token_hash=token_hash)
        row.used_at, row.agent = now, agent
        row.save(update_fields=["used_at", "agent"])
    event(agent, "enrolled", hostname[:200])
    audit.record("documents.agent.enroll", request=request, organization=agent.organization, target=agent,
                 hostname=hostname[:200])
    _publish_agent(agent)  # the monitor lists the new agent at once
    return agent, token


def authenticate(token: str) -> Agent | None:
    """The agent a bearer token speaks for, or None (unknown or revoked)."""
    if not token:
        return None
    row = (AgentToken.objects.select_related("agent", "agent__organization")
           .filter(token_hash=hash_secret(token), revoked_at__isnull=True).first())
    if row is None or not row.agent.organization.is_active:
        return None
    AgentToken.objects.filter(pk=row.pk).update(last_used_at=timezone.now())
    return row.agent


def revoke_agent(agent: Agent, *, request=None, actor=None) -> int:
    """Revoke every token of ``agent`` and close its live socket (the protocol's close code)."""
    count = AgentToken.objects.filter(agent=agent, revoked_at__isnull=True).update(revoked_at=timezone.now())
    event(agent, "revoked", "")
    _publish_agent(agent)
    audit.record("documents.agent.revoke", request=request, actor=actor, organization=agent.organization,
                 target=agent, tokens=count)
    _send_agent(agent.pk, {"type": AGENT_REVOKED_EVENT})
    return count


def _send_agent(agent_id: int, message: dict) -> None:
    """An order to the agent's consumer(s) through the channel layer."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(agent_group(agent_id), message)
    except RuntimeError:
        import asyncio

        asyncio.get_running_loop().create_task(layer.group_send(agent_group(agent_id), message))


# --- Connection state -------------------------------------------------------------------------


def event(agent: Agent, kind: str, detail: str = "") -> None:
    AgentEvent.objects.create(organization_id=agent.organization_id, agent=agent, kind=kind, detail=detail[:500])
    stale = AgentEvent.objects.filter(agent=agent).order_by("-at", "-id").values_list("pk", flat=True)[EVENTS_KEPT:]
    old = list(stale[:100])
    if old:
        AgentEvent.objects.filter(pk__in=old).delete()


def agent_summary(agent: Agent) -> dict[str, Any]:
    """What the monitor page shows for one agent (also the live message's body)."""
    return {
        "id": agent.pk, "name": agent.name, "state": agent.state,
        "state_label": str(agent.get_state_display()),
        "last_heartbeat": agent.last_heartbeat.isoformat() if agent.last_heartbeat else None,
        "offline_since": agent.offline_since.isoformat() if agent.offline_since else None,
        "version": agent.version, "os": agent.os, "hostname": agent.hostname,
        "local_ips": agent.local_ips, "public_ip": agent.public_ip,
        "uptime_seconds": agent.uptime_seconds, "documents_count": agent.documents_count,
        "bytes_total": agent.bytes_total, "pending_transfers": agent.pending_transfers,
        "last_error": agent.last_error, "alert": offline_alert(agent), "folders": agent.folders,
    }


def offline_alert(agent: Agent, now: datetime | None = None) -> bool:
    """Offline longer than ``CENTRAL_DOCUMENTS_OFFLINE_ALERT_MINUTES``."""
    if agent.state != Agent.State.OFFLINE or agent.offline_since is None:
        return False
    now = now or timezone.now()
    return now - agent.offline_since > timedelta(minutes=settings.DOCUMENTS_OFFLINE_ALERT_MINUTES)


def _publish_agent(agent: Agent) -> None:
    publish_org_event(agent.organization_id, {"type": LIVE_AGENT, "agent": agent_summary(agent)})


def connected(agent: Agent, *, public_ip: str | None) -> str:
    """The agent's socket opened: it is online and this socket now speaks for it."""
    connection_id = uuid.uuid4().hex
    now = timezone.now()
    Agent.objects.filter(pk=agent.pk).update(
        state=Agent.State.ONLINE, connection_id=connection_id, connected_at=now, last_heartbeat=now,
        offline_since=None, public_ip=public_ip)
    agent.refresh_from_db()
    event(agent, "connected", public_ip or "")
    _publish_agent(agent)
    return connection_id


def disconnected(agent_id: int, connection_id: str, *, reason: str = "") -> None:
    """A socket closed; the agent is offline unless a newer socket already took over."""
    now = timezone.now()
    changed = Agent.objects.filter(pk=agent_id, connection_id=connection_id).update(
        state=Agent.State.OFFLINE, connection_id="", offline_since=now)
    if changed:
        agent = Agent.objects.get(pk=agent_id)
        event(agent, "disconnected", reason)
        _publish_agent(agent)


def _clip(value: Any, limit: int) -> str:
    return str(value or "")[:limit]


def reported(agent: Agent, info: dict[str, Any], *, heartbeat: bool) -> Agent:
    """Apply what the agent says about itself (hello or heartbeat): version, OS, host,
    local IPs, uptime, folder statistics, last error. Unknown keys are ignored; every
    value is bounded before it is stored."""
    fields: dict[str, Any] = {"last_heartbeat": timezone.now()}
    for key, limit in (("version", 40), ("os", 120), ("hostname", 255)):
        if key in info:
            fields[key] = _clip(info[key], limit)
    if isinstance(info.get("local_ips"), list):
        fields["local_ips"] = [_clip(ip, 45) for ip in info["local_ips"][:16]]
    for key in ("uptime_seconds", "documents_count", "bytes_total"):
        value = info.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**62:
            fields[key] = value
    if "last_error" in info:
        fields["last_error"] = _clip(info["last_error"], 1000)
    if isinstance(info.get("folders"), list):
        fields["folders"] = info["folders"][:32]
    if isinstance(info.get("heartbeat_interval"), int | float):
        fields["heartbeat_interval"] = float(min(max(info["heartbeat_interval"], 1.0), 3600.0))
    Agent.objects.filter(pk=agent.pk).update(**fields)
    for key, value in fields.items():
        setattr(agent, key, value)
    if not heartbeat:
        event(agent, "hello", f"{fields.get('version', '')} {fields.get('os', '')}".strip())
    _publish_agent(agent)
    return agent


def refresh_counts(agent: Agent) -> None:
    """Documents, bytes and pending transfers as Central's own rows say (not the agent's)."""
    docs = Document.objects.filter(agent=agent, removed_at__isnull=True).aggregate(n=Count("id"), b=Sum("size"))
    pending = Transfer.objects.filter(agent=agent, state__in=Transfer.ACTIVE).count()
    Agent.objects.filter(pk=agent.pk).update(documents_count=docs["n"] or 0, bytes_total=docs["b"] or 0,
                                             pending_transfers=pending)
    agent.documents_count, agent.bytes_total, agent.pending_transfers = docs["n"] or 0, docs["b"] or 0, pending


# --- The index ------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexEntry:
    """One file as the agent reports it (validated and bounded by the consumer)."""

    size: int = 0
    mtime: datetime | None = None
    sha256: str = ""
    title: str = ""
    author: str = ""
    pages: int | None = None
    created: datetime | None = None
    error: str = ""


@dataclass(frozen=True)
class IndexChange:
    """``op``: ``upsert`` (added / modified), ``rename`` (``old_path`` -> ``path``) or ``delete``."""

    op: str
    folder: str
    path: str
    entry: IndexEntry | None = None
    old_path: str | None = None


#: Outcomes of :func:`apply_index`.
APPLIED, DUPLICATE, MISMATCH, GAP = "applied", "duplicate", "index_mismatch", "seq_gap"


def _entry_values(entry: IndexEntry, path: str, now: datetime) -> dict[str, Any]:
    return {
        "name": path.rsplit("/", 1)[-1][:255], "size": entry.size, "mtime": entry.mtime,
        "sha256": entry.sha256, "title": entry.title, "author": entry.author, "pages": entry.pages,
        "created": entry.created, "index_error": entry.error, "indexed_at": now, "removed_at": None,
    }


def _upsert(agent: Agent, folder: str, path: str, entry: IndexEntry, now: datetime) -> None:
    values = _entry_values(entry, path, now)
    if not Document.objects.filter(agent=agent, folder=folder, path=path).update(**values):
        Document.objects.create(organization_id=agent.organization_id, agent=agent, folder=folder, path=path,
                                **values)


def apply_index(agent: Agent, index_id: str, seq: int, changes: list[IndexChange], *, reset: bool = False) -> str:
    """Apply one index batch of the agent's local index ``index_id``, exactly once.

    ``seq`` at or below the last applied one of the same index: :data:`DUPLICATE` (acknowledge
    again, change nothing). ``reset``: everything held for this agent is forgotten first
    (rows are marked removed and revived by the batch, so transfer history keeps its
    documents). Another ``index_id`` without ``reset``: :data:`MISMATCH`; a gap in ``seq``:
    :data:`GAP`; the agent then resends its whole index.
    """
    now = timezone.now()
    with transaction.atomic():
        locked = Agent.objects.select_for_update().get(pk=agent.pk)
        same_index = locked.index_id == index_id
        if same_index and seq <= locked.index_seq:
            return DUPLICATE
        if not reset:
            if not same_index:
                return MISMATCH
            if seq != locked.index_seq + 1:
                return GAP
        else:
            Document.objects.filter(agent=agent, removed_at__isnull=True).update(removed_at=now)
        for change in changes:
            if change.op == "delete":
                Document.objects.filter(agent=agent, folder=change.folder, path=change.path,
                                        removed_at__isnull=True).update(removed_at=now)
                continue
            if change.op == "rename" and change.old_path is not None:
                old = Document.objects.filter(agent=agent, folder=change.folder, path=change.old_path).first()
                taken = Document.objects.filter(agent=agent, folder=change.folder, path=change.path).exists()
                if old is not None and not taken:
                    # The same row moves: its transfers and downloads follow the file.
                    Document.objects.filter(pk=old.pk).update(path=change.path)
                elif old is not None:
                    Document.objects.filter(pk=old.pk).update(removed_at=now)
            if change.entry is not None:
                _upsert(agent, change.folder, change.path, change.entry, now)
        Agent.objects.filter(pk=agent.pk).update(index_id=index_id, index_seq=seq)
        _repoint_unstarted(agent)
        refresh_counts(locked)
    agent.refresh_from_db()
    _publish_agent(agent)
    return APPLIED


def _repoint_unstarted(agent: Agent) -> None:
    """Requests not yet receiving bytes follow the index: they ask for the version the
    index now has (the agent would otherwise refuse the old checksum as stale). A document
    gone from the index fails its waiting requests."""
    for tr in Transfer.objects.select_related("document").filter(
            agent=agent, state__in=(Transfer.State.WAITING, Transfer.State.REQUESTED), received=0):
        doc = tr.document
        if doc.removed_at is not None:
            Transfer.objects.filter(pk=tr.pk).update(state=Transfer.State.FAILED, finished_at=timezone.now(),
                                                     failure=_("o arquivo foi removido no local"))
        elif doc.sha256 and (doc.sha256 != tr.sha256 or doc.size != tr.size):
            Transfer.objects.filter(pk=tr.pk).update(sha256=doc.sha256, size=doc.size)


# --- Transfers ------------------------------------------------------------------------------


class TransferRefused(Exception):
    """An upload or report for a transfer this agent may not touch, or bad bytes."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def valid_cache(document: Document, now: datetime | None = None) -> CachedFile | None:
    now = now or timezone.now()
    return (CachedFile.objects.filter(document=document, removed_at__isnull=True, expires_at__gt=now,
                                      sha256=document.sha256).order_by("-expires_at").first())


def transfer_summary(tr: Transfer) -> dict[str, Any]:
    cached = CachedFile.objects.filter(transfer=tr, removed_at__isnull=True).first() \
        if tr.state == Transfer.State.AVAILABLE else None
    if tr.state == Transfer.State.AVAILABLE and cached is None and tr.from_cache:
        cached = valid_cache(tr.document)
    return {
        "id": tr.pk, "document": tr.document_id, "agent": tr.agent_id, "state": tr.state,
        "state_label": str(tr.get_state_display()), "percent": tr.percent, "received": tr.received,
        "size": tr.size, "attempts": tr.attempts, "last_failure": tr.last_failure, "failure": tr.failure,
        "from_cache": tr.from_cache, "created_at": tr.created_at.isoformat(),
        "available_until": cached.expires_at.isoformat() if cached else None,
        "label": status_label(tr.state, percent=tr.percent, failure=tr.failure,
                              until=cached.expires_at if cached else None),
    }


def status_label(state: str | None, *, percent: int = 0, failure: str = "", until: datetime | None = None) -> str:
    """The status words of the documents list: *only at the site*, *requested*,
    *uploading n %*, *available until <date>*, *failed: reason*, *waiting for the agent*."""
    from django.utils.formats import date_format

    if state == Transfer.State.AVAILABLE and until is not None:
        return _("disponível até %(data)s") % {
            "data": date_format(timezone.localtime(until), "SHORT_DATETIME_FORMAT")}
    if state == Transfer.State.UPLOADING:
        return _("enviando %(pct)d %%") % {"pct": percent}
    if state == Transfer.State.REQUESTED:
        return _("solicitado")
    if state == Transfer.State.WAITING:
        return _("aguardando o agente")
    if state == Transfer.State.FAILED:
        return _("falhou: %(motivo)s") % {"motivo": failure}
    return _("somente no local")


def document_status(document: Document) -> dict[str, Any]:
    """The document's status for the list: a valid cached copy wins, else the latest request."""
    cached = valid_cache(document)
    if cached is not None:
        return {"state": Transfer.State.AVAILABLE, "label": status_label(Transfer.State.AVAILABLE, until=cached.expires_at),
                "available_until": cached.expires_at.isoformat(), "percent": 100, "transfer": None}
    tr = Transfer.objects.filter(document=document).order_by("-created_at", "-id").first()
    if tr is None or tr.state == Transfer.State.AVAILABLE:
        return {"state": "site", "label": status_label(None), "available_until": None, "percent": 0,
                "transfer": None}
    return {"state": tr.state, "label": status_label(tr.state, percent=tr.percent, failure=tr.failure),
            "available_until": None, "percent": tr.percent, "transfer": tr.pk,
            "last_failure": tr.last_failure}


def _publish_transfer(tr: Transfer) -> None:
    publish_org_event(tr.organization_id, {"type": LIVE_TRANSFER, "transfer": transfer_summary(tr)})


def request_document(document: Document, *, user=None, request=None) -> Transfer:
    """*Solicitar PDF*: a cached copy answers at once; a running request is reused;
    otherwise a new transfer is sent to the agent, or waits for it when it is offline."""
    if document.removed_at is not None or document.index_error or not _SHA256.fullmatch(document.sha256 or ""):
        raise TransferRefused("not_available", _("Este documento não pode ser solicitado (removido ou com erro)."))
    if document.size > settings.DOCUMENTS_MAX_FILE_BYTES:
        raise TransferRefused("too_large", _("Documento maior que o limite de transferência."))
    now = timezone.now()
    cached = valid_cache(document, now)
    if cached is not None:
        tr = Transfer.objects.create(organization_id=document.organization_id, document=document,
                                     agent_id=document.agent_id, requested_by=user, state=Transfer.State.AVAILABLE,
                                     sha256=document.sha256, size=document.size, received=document.size,
                                     from_cache=True, finished_at=now)
        metrics.REQUESTS.labels("hit").inc()
        audit.record("documents.request", request=request, actor=user, organization=document.organization,
                     target=document, cache="hit")
        _publish_transfer(tr)
        return tr
    with transaction.atomic():
        Document.objects.select_for_update().filter(pk=document.pk).first()
        running = Transfer.objects.filter(document=document, state__in=Transfer.ACTIVE).first()
        if running is not None:
            return running
        agent = Agent.objects.get(pk=document.agent_id)
        online = agent.state == Agent.State.ONLINE
        tr = Transfer.objects.create(
            organization_id=document.organization_id, document=document, agent=agent, requested_by=user,
            state=Transfer.State.REQUESTED if online else Transfer.State.WAITING,
            sha256=document.sha256, size=document.size,
            wait_until=now + timedelta(hours=settings.DOCUMENTS_REQUEST_WAIT_HOURS))
        refresh_counts(agent)
    metrics.REQUESTS.labels("miss").inc()
    audit.record("documents.request", request=request, actor=user, organization=document.organization,
                 target=document, cache="miss", transfer=tr.pk)
    if online:
        _send_agent(agent.pk, {"type": AGENT_REQUEST_EVENT, "transfer": tr.pk})
    _publish_transfer(tr)
    _publish_agent(agent)
    return tr


def order_for(transfer_id: int, agent: Agent) -> Transfer | None:
    """The transfer an ``AGENT_REQUEST_EVENT`` names, if it still is this agent's to send."""
    return (Transfer.objects.select_related("document")
            .filter(pk=transfer_id, agent=agent, state__in=(Transfer.State.REQUESTED, Transfer.State.UPLOADING))
            .first())


def dispatch_waiting(agent: Agent) -> list[Transfer]:
    """On (re)connection: waiting requests become requested, and every request this agent
    still owes (including ones cut by a drop) is returned to be sent again."""
    now = timezone.now()
    expire_waiting(now)
    waiting = list(Transfer.objects.filter(agent=agent, state=Transfer.State.WAITING).values_list("pk", flat=True))
    Transfer.objects.filter(pk__in=waiting, state=Transfer.State.WAITING).update(state=Transfer.State.REQUESTED)
    owed = list(Transfer.objects.select_related("document").filter(
        agent=agent, state__in=(Transfer.State.REQUESTED, Transfer.State.UPLOADING)).order_by("created_at", "id"))
    for tr in owed:
        if tr.pk in waiting:
            _publish_transfer(tr)
    return owed


def _fail(tr: Transfer, reason: str, *, cancel: bool = True) -> None:
    Transfer.objects.filter(pk=tr.pk).update(state=Transfer.State.FAILED, failure=reason[:500],
                                             finished_at=timezone.now())
    tr.refresh_from_db()
    if cancel:  # the agent may still be sending: tell it to stop
        _send_agent(tr.agent_id, {"type": AGENT_CANCEL_EVENT, "transfer": tr.pk})
    _drop_partial(tr)
    metrics.TRANSFERS.labels("failed").inc()
    agent = Agent.objects.get(pk=tr.agent_id)
    event(agent, "transfer_failed", f"{tr.document.name}: {reason}")
    refresh_counts(agent)
    _publish_transfer(tr)
    _publish_agent(agent)


def _drop_partial(tr: Transfer) -> None:
    for part in partial_dir().glob(f"{tr.pk}-*.part"):
        part.unlink(missing_ok=True)


def _restart_transfer(tr: Transfer, document: Document, reason: str) -> None:
    """Start ``tr`` over with the document's current checksum, once; a second rejection fails it."""
    if tr.attempts + 1 >= MAX_ATTEMPTS:
        _fail(tr, reason)
        return
    _drop_partial(tr)
    Transfer.objects.filter(pk=tr.pk).update(
        state=Transfer.State.REQUESTED, received=0, attempts=tr.attempts + 1, last_failure=reason[:500],
        sha256=document.sha256, size=document.size, finished_at=None)
    tr.refresh_from_db()
    agent = Agent.objects.get(pk=tr.agent_id)
    event(agent, "transfer_retry", f"{document.name}: {reason}")
    if agent.state == Agent.State.ONLINE:
        _send_agent(agent.pk, {"type": AGENT_REQUEST_EVENT, "transfer": tr.pk})
    _publish_transfer(tr)


def agent_failed(agent: Agent, transfer_id: int, reason: str) -> None:
    """The agent cannot send the file (gone, unreadable...): the request fails with its reason."""
    tr = Transfer.objects.select_related("document").filter(pk=transfer_id, agent=agent,
                                                             state__in=Transfer.ACTIVE).first()
    if tr is not None:
        _fail(tr, _clip(reason, 480) or _("o agente não pôde enviar o arquivo"), cancel=False)


def agent_stale(agent: Agent, transfer_id: int, *, deleted: bool, sha256: str | None) -> None:
    """The agent refused to send a file that changed since it was indexed (it re-indexed
    it first). A deleted file fails the request; a modified one is requested again, once,
    with its new checksum."""
    tr = Transfer.objects.select_related("document").filter(pk=transfer_id, agent=agent,
                                                             state__in=Transfer.ACTIVE).first()
    if tr is None:
        return
    if deleted:
        _fail(tr, _("o arquivo foi removido no local"), cancel=False)
        return
    document = Document.objects.get(pk=tr.document_id)
    if sha256 and _SHA256.fullmatch(sha256) and document.sha256 != sha256:
        # The re-index batch has not reached us: trust the agent's new digest for this
        # request; the index catches up with the batch.
        document.sha256 = sha256
    _restart_transfer(tr, document, _("o arquivo mudou no local depois de indexado"))


@dataclass(frozen=True)
class UploadResult:
    """Central's view of a transfer after a chunk (the protocol's UploadStatus)."""

    offset: int
    size: int
    state: str  # receiving | complete | rejected
    detail: str = ""


RECEIVING, COMPLETE, REJECTED = "receiving", "complete", "rejected"


def upload_target(agent: Agent, transfer_id: int | None) -> Transfer:
    """The transfer an upload names, if this agent may upload into it.

    An unknown id, another agent's transfer (another tenant's above all) and a finished
    one answer alike (``gone``): nothing tells an agent that a foreign transfer exists.
    """
    tr = None
    if transfer_id is not None:
        tr = Transfer.objects.select_related("document").filter(pk=transfer_id, agent=agent).first()
    if tr is None or tr.from_cache or tr.state not in (Transfer.State.REQUESTED, Transfer.State.UPLOADING,
                                                         Transfer.State.AVAILABLE):
        raise TransferRefused("gone", _("Transferência inexistente, cancelada ou expirada."), 410)
    return tr


def upload_status(tr: Transfer) -> UploadResult:
    if tr.state == Transfer.State.AVAILABLE:
        return UploadResult(tr.size, tr.size, COMPLETE)
    return UploadResult(tr.received, tr.size, RECEIVING, tr.last_failure)


class _RunningDigests:
    """The whole-file SHA-256 of each partial file, kept up to date chunk by chunk, so the
    verification at the last chunk does not read the file again (200 MB: ~0.4 s of CPU).

    Keyed by the partial file's path (a restarted transfer has another); valid only for the
    offset it was left at. Another web process, a restart or a truncated file finds no
    entry at its offset and rebuilds it from the bytes on disk, so the digest always covers
    exactly what the partial file holds. Bounded: the oldest entries go past ``limit``."""

    def __init__(self, limit: int = 256) -> None:
        import threading

        self.limit = limit
        self._lock = threading.Lock()
        self._items: dict[str, tuple[int, Any]] = {}

    def at(self, path: Path, offset: int):
        """A copy of the digest of the file's first ``offset`` bytes."""
        with self._lock:
            item = self._items.get(str(path))
        if item is not None and item[0] == offset:
            return item[1].copy()
        digest = hashlib.sha256()
        left = offset
        with open(path, "rb") as fh:
            while left > 0:
                block = fh.read(min(left, 1024 * 1024))
                if not block:
                    break
                digest.update(block)
                left -= len(block)
        return digest

    def keep(self, path: Path, offset: int, digest) -> None:
        with self._lock:
            self._items.pop(str(path), None)
            self._items[str(path)] = (offset, digest)
            while len(self._items) > self.limit:
                self._items.pop(next(iter(self._items)))

    def drop(self, path: Path) -> None:
        with self._lock:
            self._items.pop(str(path), None)


RUNNING_DIGESTS = _RunningDigests()


def receive_chunk(agent: Agent, transfer_id: int | None, offset: int, chunks, checksum: str,
                  *, length: int | None = None, max_chunk: int) -> UploadResult:
    """Append one chunk (an iterable of byte strings) at ``offset``.

    The chunk is streamed to the partial file while its SHA-256 is computed; a chunk whose
    digest is not ``checksum`` is cut off again (422, resend it). ``offset`` must be the
    bytes received so far (409 with the right offset otherwise); a repeated chunk the
    server already has is acknowledged without writing. At the indexed size the whole
    file is verified: :data:`COMPLETE` and cached, or :data:`REJECTED` and re-requested once.
    """
    checksum = (checksum or "").strip().lower()
    if not _SHA256.fullmatch(checksum):
        raise TransferRefused("bad_checksum_header", _("Cabeçalho de checksum ausente ou inválido."), 400)
    with transaction.atomic():
        tr = upload_target(agent, transfer_id)
        tr = Transfer.objects.select_for_update().select_related("document").get(pk=tr.pk)
        if tr.state == Transfer.State.AVAILABLE:
            return upload_status(tr)  # the last chunk again, after a lost answer
        if tr.state not in (Transfer.State.REQUESTED, Transfer.State.UPLOADING):
            raise TransferRefused("gone", _("Transferência inexistente, cancelada ou expirada."), 410)
        if length is not None and length != tr.size:
            raise TransferRefused("length_mismatch", _("Tamanho diferente do indexado."), 409)
        if offset != tr.received:
            return UploadResult(tr.received, tr.size, "offset_mismatch")
        path = partial_path(tr)
        digest = hashlib.sha256()
        written = 0
        with open(path, "ab") as fh:
            if fh.tell() != offset:  # a crash between a write and its commit: cut back to the truth
                fh.truncate(offset)
                fh.seek(offset)
            whole = RUNNING_DIGESTS.at(path, offset)
            try:
                for piece in chunks:
                    written += len(piece)
                    if written > max_chunk or offset + written > tr.size:
                        raise TransferRefused("too_large", _("O bloco excede o limite ou o tamanho indexado."), 413)
                    digest.update(piece)
                    whole.update(piece)
                    fh.write(piece)
                if digest.hexdigest() != checksum:
                    metrics.CHUNKS_REJECTED.inc()
                    raise TransferRefused("chunk_checksum", _("Checksum do bloco não confere; reenvie-o."), 422)
            except BaseException:
                fh.truncate(offset)
                raise
        now = timezone.now()
        tr.received = offset + written
        tr.state = Transfer.State.UPLOADING
        tr.started_at = tr.started_at or now
        Transfer.objects.filter(pk=tr.pk).update(received=tr.received, state=tr.state, started_at=tr.started_at)
    RUNNING_DIGESTS.keep(path, tr.received, whole)  # committed: the digest now covers the new bytes
    metrics.BYTES_RECEIVED.inc(written)
    if tr.received < tr.size:
        _publish_transfer(tr)
        return upload_status(tr)
    # One request verifies: a retried last chunk racing the first one must not store the
    # file twice. A claim older than VERIFY_CLAIM (a process died verifying) is taken over.
    now = timezone.now()
    claimed = Transfer.objects.filter(
        Q(finished_at__isnull=True) | Q(finished_at__lt=now - VERIFY_CLAIM),
        pk=tr.pk, state=Transfer.State.UPLOADING, received=tr.size).update(finished_at=now)
    if not claimed:
        tr.refresh_from_db()
        return upload_status(tr)  # the other request is verifying: ask again
    if _complete(tr):
        return UploadResult(tr.size, tr.size, COMPLETE)
    tr.refresh_from_db()
    again = tr.state != Transfer.State.FAILED
    return UploadResult(tr.size, tr.size, REJECTED,
                        _("SHA-256 do arquivo recebido difere do indexado; solicitado novamente") if again
                        else _("SHA-256 do arquivo recebido difere do indexado"))


class _PartialFile(File):
    """The partial file handed to the storage: ``FileSystemStorage`` moves a file that has a
    ``temporary_file_path`` (a rename on the same disk) instead of copying 200 MB; object
    storage streams it as before."""

    def temporary_file_path(self) -> str:
        return self.file.name


def _complete(tr: Transfer) -> bool:
    """All bytes are in: the whole-file SHA-256 (kept up to date as the chunks were written,
    rebuilt from the partial file when this process did not see them all) must be the
    indexed one, else re-request once."""
    path = partial_path(tr)
    digest = RUNNING_DIGESTS.at(path, tr.size)
    RUNNING_DIGESTS.drop(path)
    if digest.hexdigest() != tr.sha256:
        metrics.TRANSFERS.labels("rejected").inc()
        log.warning("documents: transfer %s rejected, sha256 %s != indexed %s", tr.pk, digest.hexdigest(), tr.sha256)
        _restart_transfer(tr, tr.document, _("SHA-256 do arquivo recebido difere do indexado"))
        return False
    now = timezone.now()
    name = f"org-{tr.organization_id}/agent-{tr.agent_id}/{tr.sha256[:2]}/{tr.sha256}-{tr.pk}.pdf"
    with open(path, "rb") as fh:
        stored = storage().save(name, _PartialFile(fh, name=os.path.basename(name)))
    path.unlink(missing_ok=True)
    cached = CachedFile.objects.create(
        organization_id=tr.organization_id, document_id=tr.document_id, transfer=tr, storage_name=stored,
        size=tr.size, sha256=tr.sha256, created_at=now,
        expires_at=now + timedelta(days=settings.DOCUMENTS_CACHE_DAYS))
    Transfer.objects.filter(pk=tr.pk).update(state=Transfer.State.AVAILABLE, finished_at=now)
    tr.refresh_from_db()
    metrics.TRANSFERS.labels("completed").inc()
    agent = Agent.objects.get(pk=tr.agent_id)
    event(agent, "transfer_done", f"{tr.document.name} ({tr.size} B)")
    refresh_counts(agent)
    log.info("documents: transfer %s cached as %s until %s", tr.pk, cached.storage_name, cached.expires_at)
    _publish_transfer(tr)
    _publish_agent(agent)
    return True


# --- Downloads ------------------------------------------------------------------------------


def open_download(document: Document, *, user, request=None):
    """The cached file of ``document`` opened for streaming, with the audit row written;
    None when there is no valid copy (expired or never fetched)."""
    from central.core.clientaddr import client_ip

    cached = valid_cache(document)
    if cached is None:
        metrics.DOWNLOADS.labels("missing").inc()
        return None, None
    try:
        fh = storage().open(cached.storage_name, "rb")
    except FileNotFoundError:
        log.error("documents: cached file %s is missing from storage", cached.storage_name)
        CachedFile.objects.filter(pk=cached.pk).update(removed_at=timezone.now())
        return None, None
    Download.objects.create(
        organization_id=document.organization_id, document=document, cached=cached, user=user,
        username=getattr(user, "username", "") or "", ip=client_ip(request),
        user_agent=(request.META.get("HTTP_USER_AGENT", "")[:300] if request is not None else ""),
        size=cached.size)
    audit.record("documents.download", request=request, actor=user, organization=document.organization,
                 target=document, size=cached.size)
    metrics.DOWNLOADS.labels("served").inc()
    return fh, cached


# --- Periodic jobs (documents/schedules.py) ----------------------------------------------------


def expire_cache(now: datetime | None = None) -> int:
    """Remove expired cached files from storage; their rows (and the index) stay.

    Rows are claimed one at a time with a conditional UPDATE (``removed_at`` still null),
    so two workers running this at once never delete one file twice or count it twice.
    """
    now = now or timezone.now()
    removed = 0
    for pk, name in list(CachedFile.objects.filter(removed_at__isnull=True, expires_at__lte=now)
                         .values_list("pk", "storage_name")[:10_000]):
        if not CachedFile.objects.filter(pk=pk, removed_at__isnull=True).update(removed_at=now):
            continue  # another worker took it
        try:
            storage().delete(name)
        except Exception:  # the row says removed; a leftover object is logged, not retried forever
            log.exception("documents: could not delete expired %s", name)
        removed += 1
    if removed:
        log.info("documents: %d expired cached file(s) removed", removed)
    return removed


def expire_waiting(now: datetime | None = None) -> int:
    """Requests that waited for an offline agent longer than allowed fail with that reason."""
    now = now or timezone.now()
    count = 0
    for tr in Transfer.objects.select_related("document").filter(state=Transfer.State.WAITING, wait_until__lte=now):
        if Transfer.objects.filter(pk=tr.pk, state=Transfer.State.WAITING).update(
                state=Transfer.State.FAILED, finished_at=now,
                failure=_("o agente não se conectou a tempo (expirou)")):
            tr.refresh_from_db()
            metrics.TRANSFERS.labels("expired").inc()
            _publish_transfer(tr)
            count += 1
    return count


def sweep_agents(now: datetime | None = None) -> int:
    """Agents marked online whose heartbeats stopped (their web process died without running
    the disconnect) are marked offline: the agent's own interval times the misses allowed,
    plus slack for the job's own period (a live socket closes itself sooner)."""
    now = now or timezone.now()
    count = 0
    for agent in Agent.objects.filter(state=Agent.State.ONLINE, last_heartbeat__lt=now - timedelta(seconds=3)):
        silent = (now - agent.last_heartbeat).total_seconds()
        if agent.connection_id and silent > agent.heartbeat_interval * OFFLINE_AFTER_MISSED + 30:
            disconnected(agent.pk, agent.connection_id, reason="heartbeat timeout")
            count += 1
    return count


def run_maintenance() -> dict[str, int]:
    """The periodic job: cache expiry, expired waits, silent agents, metrics."""
    return {"cache": expire_cache(), "waiting": expire_waiting(), "agents": sweep_agents()}


# --- Monitor figures ------------------------------------------------------------------------


def summary(organization_id: int, now: datetime | None = None) -> dict[str, Any]:
    """The monitor's summary cards for one organization."""
    now = now or timezone.now()
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    agents = Agent.objects.for_org(organization_id)
    cache = CachedFile.objects.for_org(organization_id).filter(removed_at__isnull=True, expires_at__gt=now)
    requests = Transfer.objects.for_org(organization_id).filter(created_at__gte=now - timedelta(days=30))
    hits = requests.filter(from_cache=True).count()
    total = requests.count()
    cache_agg = cache.aggregate(b=Sum("size"), n=Count("id"))
    alert = [a for a in agents.filter(state=Agent.State.OFFLINE) if offline_alert(a, now)]
    return {
        "agents_online": agents.filter(state=Agent.State.ONLINE).count(),
        "agents_offline": agents.filter(state=Agent.State.OFFLINE).count(),
        "agents_alert": len(alert),
        "documents": Document.objects.for_org(organization_id).filter(removed_at__isnull=True).count(),
        "cache_bytes": cache_agg["b"] or 0,
        "cache_files": cache_agg["n"] or 0,
        "hit_rate": round(hits * 100 / total) if total else None,
        "transfers_today": Transfer.objects.for_org(organization_id).filter(
            created_at__gte=today, from_cache=False).count(),
        "failures_today": Transfer.objects.for_org(organization_id).filter(
            finished_at__gte=today, state=Transfer.State.FAILED).count(),
    }


def series(organization_id: int, days: int = 14, now: datetime | None = None) -> dict[str, list]:
    """Per day: transfers completed / failed and the cache size at the end of that day.

    The cache size needs no samples: a file counts on day D when it was stored before the
    end of D and not removed (or expired) by then.
    """
    now = now or timezone.now()
    end_today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    starts = [end_today - timedelta(days=days - i) for i in range(days)]
    since = starts[0]
    transfers = list(Transfer.objects.for_org(organization_id).filter(created_at__gte=since, from_cache=False)
                     .values_list("created_at", "state"))
    files = list(CachedFile.objects.for_org(organization_id).filter(
        Q(removed_at__isnull=True) | Q(removed_at__gte=since)).values_list("created_at", "expires_at", "removed_at", "size"))
    zone = timezone.get_current_timezone_name()  # the tenant's (membership_for_request activates it)
    labels, done, failed, cache = [], [], [], []
    for start in starts:
        stop = start + timedelta(days=1)
        labels.append(timezone.localtime(start).strftime("%d/%m"))
        day = [s for c, s in transfers if start <= c < stop]
        done.append(sum(1 for s in day if s == Transfer.State.AVAILABLE))
        failed.append(sum(1 for s in day if s == Transfer.State.FAILED))
        point = min(stop, now)
        cache.append(sum(size for created, expires, removed, size in files
                         if created <= point and expires > point and (removed is None or removed > point)))
    return {"labels": labels, "completed": done, "failed": failed, "cache_bytes": cache, "zone": zone}
