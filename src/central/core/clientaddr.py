"""The client's address, the one function throttling and the audit log both use.

``X-Forwarded-For`` is written by whoever sends the request, so it is believed only when
the request comes from a proxy the operator listed in ``CENTRAL_TRUSTED_PROXIES``
(addresses or networks). Then the header is read from the right: each hop appended by a
trusted proxy is skipped and the first address that is not a trusted proxy is the client.
Anything a client prepends itself lies to the left of that and is ignored. Before this,
varying the header gave every login attempt a fresh address (defeating the limit) and put
the invented addresses into the audit log.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def _parse_networks(spec: tuple[str, ...]) -> tuple[Network, ...]:
    networks = []
    for item in spec:
        try:
            networks.append(ipaddress.ip_network(item.strip(), strict=False))
        except ValueError as exc:
            raise ImproperlyConfigured(f"CENTRAL_TRUSTED_PROXIES: {item!r} is not an address or network") from exc
    return tuple(networks)


def trusted_proxies() -> tuple[Network, ...]:
    return _parse_networks(tuple(p for p in settings.TRUSTED_PROXIES if p.strip()))


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(addr, networks: tuple[Network, ...]) -> bool:
    return any(addr in net for net in networks)


def client_ip(request) -> str | None:
    """The address of the client that sent ``request`` (None without a request)."""
    if request is None:
        return None
    meta = request.META
    peer = _address(meta.get("REMOTE_ADDR") or "")
    if peer is None:
        return None
    networks = trusted_proxies()
    if not networks or not _trusted(peer, networks):
        return str(peer)
    client = peer
    for hop in reversed(meta.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        addr = _address(hop)
        if addr is None:
            break  # garbage: trust nothing further left
        client = addr
        if not _trusted(addr, networks):
            break
    return str(client)
