"""Graph API calls over httpx, to the address the outbound rule checked.

Why httpx and not pywa (pywa 4.5, the maintained Python client): pywa's ``GraphAPI``
sets ``session.base_url = f"https://graph.facebook.com/v{api_version}"`` on the client
it is given (pywa/api.py, ``GraphAPI.__init__``), so it cannot be pointed at the
simulator's base URL without patching it, and its request path cannot connect to a
pre-checked address (our DNS-rebinding rule, docs/security.md rule 1); its webhook side is
built for Flask/FastAPI servers and handler callbacks, while Central needs the raw body
stored before any parsing of its own. What the product uses of the API is four JSON
calls, so they are written here from Meta's reference with httpx (already a dependency
of the test suite; async, HTTP/1.1 keep-alive, ``sni_hostname`` for pinned TLS).

Every call resolves its URL with :func:`central.messaging.numbers.resolve_destination`
(public addresses only, or the platform's own simulator) and connects to that address,
with the ``Host`` header and TLS SNI/certificate check for the name; redirects are not
followed (httpx's default).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from . import cloudapi
from .numbers import NumberInfo, graph_base_url, resolve_destination

TIMEOUT = httpx.Timeout(15.0, connect=5.0)
# httpx logs every request at INFO: one line per message sent would drown the JSON logs.
logging.getLogger("httpx").setLevel(logging.WARNING)
MEDIA_MAX_BYTES = 25 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Result:
    """What a call gave: ``data`` (JSON) on success, else ``error``."""

    status: int
    data: Any = None
    error: cloudapi.ApiError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def pinned(url: str) -> tuple[str, dict, dict]:
    """``(url to connect, extra headers, httpx extensions)`` for ``url``: the host replaced
    by the checked address, ``Host`` and SNI keeping the name."""
    address = resolve_destination(url)
    parts = urlsplit(url)
    host = parts.hostname or ""
    if address == host:
        return url, {}, {}
    netloc = f"[{address}]" if ":" in address else address
    if parts.port:
        netloc += f":{parts.port}"
    host_header = host + (f":{parts.port}" if parts.port else "")
    extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
    return urlunsplit(parts._replace(netloc=netloc)), {"Host": host_header}, extensions


async def request(client: httpx.AsyncClient, method: str, url: str, token: str | None, *,
                  json: Any = None) -> Result:
    target, headers, extensions = pinned(url)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = await client.request(method, target, json=json, headers=headers, extensions=extensions,
                                    timeout=TIMEOUT)
    try:
        from central.core.parsers import loads

        body = loads(response.content) if response.content else None
    except ValueError:
        body = None
    if response.status_code >= 400 or (isinstance(body, dict) and "error" in body):
        return Result(response.status_code, body, cloudapi.parse_error(response.status_code, body))
    return Result(response.status_code, body)


def messages_url(info: NumberInfo) -> str:
    return f"{graph_base_url(info)}/{cloudapi.GRAPH_VERSION}/{info.phone_number_id}/messages"


async def send_message(client: httpx.AsyncClient, info: NumberInfo, payload: dict) -> Result:
    """POST /<phone_number_id>/messages; the wamid is ``data["messages"][0]["id"]``."""
    return await request(client, "POST", messages_url(info), info.access_token, json=payload)


async def mark_read(client: httpx.AsyncClient, info: NumberInfo, wamid: str) -> Result:
    return await request(client, "POST", messages_url(info), info.access_token, json=cloudapi.read_payload(wamid))


def wamid_of(result: Result) -> str | None:
    try:
        return str(result.data["messages"][0]["id"])
    except (KeyError, IndexError, TypeError):
        return None


# --- synchronous calls for the web process (media on demand, template sync) --------------------------


def _get_sync(url: str, token: str | None, *, max_bytes: int | None = None) -> tuple[int, bytes, str]:
    target, headers, extensions = pinned(url)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    with httpx.Client(timeout=TIMEOUT, trust_env=False) as client, client.stream(
            "GET", target, headers=headers, extensions=extensions) as response:
        chunks, size = [], 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if max_bytes is not None and size > max_bytes:
                raise ValueError(f"media larger than {max_bytes} bytes")
            chunks.append(chunk)
        return response.status_code, b"".join(chunks), response.headers.get("content-type", "")


def get_json(url: str, token: str | None) -> Result:
    from central.core.parsers import loads

    status, content, _ctype = _get_sync(url, token, max_bytes=4 * 1024 * 1024)
    try:
        body = loads(content) if content else None
    except ValueError:
        body = None
    if status >= 400 or (isinstance(body, dict) and "error" in body):
        return Result(status, body, cloudapi.parse_error(status, body))
    return Result(status, body)


def fetch_media(info: NumberInfo, media_id: str) -> tuple[bytes, str]:
    """The media URL flow: GET /<media_id> for a short-lived URL, then GET that URL with the
    token. The URL comes from the API and is checked like any destination."""
    meta = get_json(f"{graph_base_url(info)}/{cloudapi.GRAPH_VERSION}/{media_id}", info.access_token)
    if not meta.ok or not isinstance(meta.data, dict) or not isinstance(meta.data.get("url"), str):
        raise LookupError(meta.error.title if meta.error else "no media url")
    status, content, ctype = _get_sync(meta.data["url"], info.access_token, max_bytes=MEDIA_MAX_BYTES)
    if status != 200:
        raise LookupError(f"media download answered {status}")
    return content, str(meta.data.get("mime_type") or ctype or "application/octet-stream")


def list_templates(info: NumberInfo, waba_id: str) -> Result:
    return get_json(f"{graph_base_url(info)}/{cloudapi.GRAPH_VERSION}/{waba_id}/message_templates?limit=250",
                    info.access_token)
