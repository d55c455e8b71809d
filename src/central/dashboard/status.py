"""The system status snapshot shown on the home page and pushed over the WebSocket."""

from __future__ import annotations

import os
import platform
import time
from datetime import timedelta

import django
from django.conf import settings
from django.utils import timezone

STARTED = time.time()


def process_rows() -> list[dict]:
    from central.core.models import ProcessHeartbeat

    now = timezone.now()
    rows = []
    for hb in ProcessHeartbeat.objects.all():
        age = (now - hb.last_seen).total_seconds()
        rows.append(
            {
                "name": hb.name,
                "kind": hb.kind,
                "host": hb.host,
                "pid": hb.pid,
                "age_s": round(age, 1),
                "alive": age < 30,
                "info": hb.info,
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
