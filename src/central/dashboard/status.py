"""The system status snapshot shown on the home page and pushed over the WebSocket.

:func:`snapshot` is the operator's view of the whole installation (every process, its
host, pid and details, e.g. each PBX link's host and counters). Whoever else looks gets
:func:`for_viewer`'s cut: the one filter the page, ``/status.json`` and the WebSocket
push all apply, so a tenant never sees another tenant's servers (docs/security.md, rule 2).
"""

from __future__ import annotations

import os
import platform
import time
from datetime import timedelta

import django
from django.conf import settings
from django.utils import timezone

STARTED = time.time()


#: Heartbeat state of a process: ``alive`` within STALE_AFTER seconds of its last beat,
#: ``stale`` (late: alert) until GONE_AFTER, then ``gone`` (killed without saying so: a
#: process that stops cleanly deletes its row). One beat every HEARTBEAT_INTERVAL seconds.
ALIVE, STALE, GONE = "alive", "stale", "gone"


def heartbeat_state(age_s: float) -> str:
    from central.core.runtime import GONE_AFTER, STALE_AFTER

    if age_s < STALE_AFTER:
        return ALIVE
    return STALE if age_s < GONE_AFTER else GONE


def process_rows() -> list[dict]:
    from central.core.models import ProcessHeartbeat

    now = timezone.now()
    rows = []
    for hb in ProcessHeartbeat.objects.order_by("kind", "name"):
        age = (now - hb.last_seen).total_seconds()
        state = heartbeat_state(age)
        info = hb.info or {}
        rows.append(
            {
                "name": hb.name,
                "kind": hb.kind,
                "host": hb.host,
                "pid": hb.pid,
                "age_s": round(age, 1),
                "alive": state == ALIVE,
                "state": state,
                "started_at": hb.started_at.isoformat(),
                "uptime_s": int((hb.last_seen - hb.started_at).total_seconds()) if state == ALIVE else None,
                "restarts": int(info.get("restarts") or 0),
                "info": info,
            }
        )
    return rows


def snapshot() -> dict:
    from central.core.metrics import HTTP_REQUESTS

    requests_total = sum(
        sample.value
        for metric in HTTP_REQUESTS.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    )
    return {
        "type": "status",
        "now": timezone.localtime().strftime("%H:%M:%S"),
        "uptime": str(timedelta(seconds=int(time.time() - STARTED))),
        "requests_total": int(requests_total),
        "processes": process_rows(),
        "mode": settings.CENTRAL_ENV,
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "redis": bool(settings.REDIS_URL),
        "versions": {"python": platform.python_version(), "django": django.get_version()},
        "pid": os.getpid(),
    }


#: What a tenant user may see of a process row: that it runs, not where or with what.
TENANT_PROCESS_KEYS = ("kind", "alive", "state", "age_s")
#: Snapshot keys that are the same for everyone and say nothing about other tenants.
TENANT_KEYS = ("type", "now", "uptime", "mode")


def for_viewer(snap: dict, *, operator: bool) -> dict:
    """The snapshot as ``viewer`` may see it: whole for operators, else only what is not
    about the installation's hosts, other tenants' servers or platform-wide counters."""
    if operator:
        return {**snap, "operator": True}
    out = {k: snap[k] for k in TENANT_KEYS if k in snap}
    out["operator"] = False
    out["processes"] = [
        {"name": p["kind"], "host": "", "pid": "", **{k: p[k] for k in TENANT_PROCESS_KEYS}}
        for p in snap.get("processes", [])
    ]
    return out
