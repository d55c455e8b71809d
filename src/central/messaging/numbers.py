"""Which number a delivery is for, its secrets, and where its Graph API calls may go.

* :func:`directory` maps ``phone_number_id`` to the number's tenant and secrets, cached for
  a few seconds per process (the webhook looks it up on every delivery; a number added
  in the admin is seen within :data:`DIRECTORY_TTL`).
* Secrets come only through ``central.core.outbound.read_secret`` from the variables the
  row names (``CENTRAL_TENANT_SECRET_*``); the embedded simulator's number names variables
  the embedded process sets for itself (generated at start, like the voice token).
* Destinations: the Graph API base URL is platform configuration
  (``CENTRAL_WHATSAPP_GRAPH_URL``, default ``https://graph.facebook.com``) and is still
  checked with ``core.outbound.check_destination`` right before connecting, and the
  connection goes to the checked address (:func:`resolve_destination`). Media download
  URLs come from Graph API answers and follow the same rule. The only exception is the
  simulator, which the platform itself started on loopback: :func:`allow_simulator` opens
  exactly its host and port, in this process, the way the PBX simulator's address is
  trusted because the platform configured it (docs/security.md, rule 1).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from central.core.outbound import OutboundRefused, check_destination, read_secret

from . import cloudapi

#: Seconds a process trusts its copy of the numbers table.
DIRECTORY_TTL = 5.0
GRAPH_URL_ENV = "CENTRAL_WHATSAPP_GRAPH_URL"
SIMULATOR_URL_ENV = "CENTRAL_WHATSAPP_SIMULATOR_URL"


@dataclass(frozen=True, slots=True)
class NumberInfo:
    id: int
    organization_id: int
    phone_number_id: str
    app_secret: str | None
    access_token: str | None
    use_simulator: bool


_lock = threading.Lock()
_cache: dict[str, NumberInfo] = {}
_loaded_at = 0.0


def _load() -> dict[str, NumberInfo]:
    from .models import WhatsAppNumber

    out = {}
    for n in WhatsAppNumber.objects.filter(is_active=True, organization__is_active=True):
        out[n.phone_number_id] = NumberInfo(n.pk, n.organization_id, n.phone_number_id,
                                            read_secret(n.app_secret_env), read_secret(n.access_token_env),
                                            n.use_simulator)
    return out


def directory() -> dict[str, NumberInfo]:
    global _cache, _loaded_at
    now = time.monotonic()
    if now - _loaded_at > DIRECTORY_TTL:
        fresh = _load()
        with _lock:
            _cache, _loaded_at = fresh, now
    return _cache


def forget() -> None:
    """Drop the cached directory (a number changed in this process)."""
    global _loaded_at
    _loaded_at = 0.0


def app_secrets() -> set[str]:
    """Every distinct app secret of the active numbers (a delivery is checked against
    these *before* its body is parsed)."""
    return {info.app_secret for info in directory().values() if info.app_secret}


def info_for(number) -> NumberInfo:
    return NumberInfo(number.pk, number.organization_id, number.phone_number_id,
                      read_secret(number.app_secret_env), read_secret(number.access_token_env),
                      number.use_simulator)


# --- Graph API destinations ----------------------------------------------------------------------

_simulators: set[tuple[str, int]] = set()


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return (parts.hostname or ""), parts.port or (443 if parts.scheme == "https" else 80)


def allow_simulator(url: str) -> None:
    """Trust the platform's own simulator at ``url`` (exact host and port, this process)."""
    _simulators.add(_host_port(url))


def disallow_simulator(url: str) -> None:
    _simulators.discard(_host_port(url))


def graph_base_url(info: NumberInfo) -> str:
    if info.use_simulator:
        url = os.environ.get(SIMULATOR_URL_ENV, "")
        if not url:
            raise OutboundRefused("the WhatsApp simulator is not running in this process")
        return url.rstrip("/")
    return (os.environ.get(GRAPH_URL_ENV) or cloudapi.GRAPH_BASE_URL).rstrip("/")


def resolve_destination(url: str) -> str:
    """The address to connect to for ``url``: the simulator's as is (trusted), anything
    else only after the outbound rule accepted every address it resolves to."""
    host, port = _host_port(url)
    if (host, port) in _simulators:
        return host
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.username or parts.password:
        raise OutboundRefused(f"refused URL {url!r}")
    return check_destination(host, port)[0]
