"""The dashboard's WebSocket: one connection per page, joined to its tenant's group.

Producers never talk to sockets; they publish to ``org-<id>`` or ``system`` through
``central.core.live`` and every page of that tenant receives the update.
"""

from __future__ import annotations

import asyncio
import contextlib

from channels.db import database_sync_to_async

from central.core.live import (
    STATUS_GROUP,
    SYSTEM_GROUP,
    LayerOutageMixin,
    org_group,
    refresh_groups_forever,
)
from central.core.operators import is_operator
from central.core.wsjson import GuardedJsonConsumer

from . import ops_live
from .status import for_viewer


def _query(scope) -> dict[str, list[str]]:
    """The socket URL's query: ``topics=ops`` (what else the page wants pushed), ``raw=0``."""
    from urllib.parse import parse_qs

    return parse_qs((scope.get("query_string") or b"").decode("latin-1"))


@database_sync_to_async
def _org_for(user, session) -> int | None:
    """The organization the page shows: the session's choice, else the user's default
    (the same resolution as ``tenancy.membership_for_request``, never "the oldest")."""
    from central.core.ids import parse_id
    from central.core.tenancy import SESSION_KEY, default_membership, find_membership

    chosen = parse_id(session.get(SESSION_KEY)) if session is not None else None
    m = find_membership(user, chosen) if chosen else None
    if m is None:
        m = default_membership(user)
    return m.organization_id if m else None


class LiveConsumer(LayerOutageMixin, GuardedJsonConsumer):
    """One dashboard page. A Redis outage refuses the handshake with 503 (or closes an
    open socket with 1013) instead of a 500 (``LayerOutageMixin``); the socket re-joins its
    groups every 30 s so the live layer's janitor may drop stale members safely."""

    groups_joined: list[str]
    _refresh: asyncio.Task | None = None
    _ops_org: int | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        self.groups_joined = []
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        org_id = await _org_for(user, self.scope.get("session"))
        if org_id is None:
            await self.close(code=4403)
            return
        self.operator = is_operator(user)
        query = _query(self.scope)
        # Pages showing the operations overview (home, wallboard) ask for it: ?topics=ops.
        wants_ops = ops_live.OPS_TYPE in {t for v in query.get("topics", []) for t in v.split(",") if t}
        # ?raw=0: the page draws only what it asked for (the wallboard): it joins neither the
        # tenant's raw events nor the status push, so a busy PBX's batches are not copied
        # and encoded for every wall screen.
        raw = query.get("raw", ["1"])[-1] != "0"
        groups = ([org_group(org_id), STATUS_GROUP] + ([SYSTEM_GROUP] if self.operator else [])) if raw else []
        if wants_ops:
            groups.append(ops_live.ops_group(org_id))
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)
        await self.accept()
        if wants_ops:
            self._ops_org = org_id
            ops_live.watch(org_id)
        self._refresh = asyncio.ensure_future(
            refresh_groups_forever(self.channel_layer, self.groups_joined, self.channel_name))

    async def disconnect(self, code: int) -> None:
        if self._refresh is not None:
            self._refresh.cancel()
        if self._ops_org is not None:
            ops_live.unwatch(self._ops_org)
            self._ops_org = None
        for group in self.groups_joined:
            # Redis away: the janitor (central.core.live.trim_stale_members) drops it later.
            with contextlib.suppress(Exception):
                await self.channel_layer.group_discard(group, self.channel_name)

    async def receive_json(self, content, **kwargs) -> None:
        # The page only listens; a ping keeps proxies from closing an idle socket.
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def live_update(self, event: dict) -> None:
        if self._ops_org is not None and event["payload"].get("type") in ops_live.RAW_TYPES:
            return  # an overview page draws the overview made from these, not them
        await self.send_json(event["payload"])

    async def ops_update(self, event: dict) -> None:
        """The operations overview, encoded once by ``ops_live`` for every open screen."""
        await self.send(text_data=event["text"])

    async def status_update(self, event: dict) -> None:
        """The installation's status, cut to what this socket's user may see."""
        await self.send_json(for_viewer(event["snapshot"], operator=self.operator))
