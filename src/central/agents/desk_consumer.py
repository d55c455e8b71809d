"""The agent's page socket (``/ws/desk/``): screen pops, the agent's queue state, callbacks.

It joins only the agent's own groups, one per interface of the agent in the page's
organization (``core.live.agent_group``: organization *and* interface), never the
tenant's ``org-<id>``: an agent receives their own pops and nobody else's, and a tenant's
pops never reach another tenant (a group name carries the organization id, and the
card is loaded here for *this* socket's organization: an attempt id of another tenant
loads nothing).

What travels on the channel layer is ids (the dialer engine or the PBX link publishes
``{"kind": "pop", "attempt": uid, ...}``); the card itself is read here, so the dialer
stays lean and personal data never passes through Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

from asgiref.sync import sync_to_async
from django.conf import settings

from central.core.live import LayerOutageMixin, agent_group, refresh_groups_forever
from central.core.wsjson import GuardedJsonConsumer

#: Seconds between two looks for the agent's due callbacks (settings may shorten it).
CALLBACK_POLL_S = 15.0


def _db(fn):
    """Run ``fn`` in the thread pool, not in Channels' one shared database thread: with
    200 agents' pages open, every card and callback lookup queued behind the others
    there. Each function gives its connection back (``release_connection``)."""
    return sync_to_async(fn, thread_sensitive=False)


@_db
def _identity(user, session) -> tuple[int, int, str, list[str]] | None:
    """(organization id, agent id, agent name, interfaces) of the page's user, or None.

    The organization is the page's (the session's choice, else the user's default: the
    resolution of ``tenancy.membership_for_request``); the user must hold the agent role
    or above there *and* be linked to an agent."""
    from central.agents.identity import agent_for_user
    from central.core.db import release_connection
    from central.core.ids import parse_id
    from central.core.roles import Role, at_least
    from central.core.tenancy import SESSION_KEY, default_membership, find_membership

    try:
        chosen = parse_id(session.get(SESSION_KEY)) if session is not None else None
        m = find_membership(user, chosen) if chosen else None
        if m is None:
            m = default_membership(user)
        if m is None or not at_least(m.role, Role.AGENT):
            return None
        agent = agent_for_user(m.organization_id, user)
        if agent is None:
            return None
        interfaces = list(agent.interfaces.values_list("interface", flat=True))
        return m.organization_id, agent.pk, agent.name, interfaces
    finally:
        release_connection()


@_db
def _card(org_id: int, payload: dict, interfaces: list[str], agent_name: str) -> dict | None:
    from central.core.db import release_connection
    from central.core.models import Organization
    from central.dialer import desk_services

    try:
        org = Organization.objects.get(pk=org_id)
        if payload.get("kind") == "inbound":
            return desk_services.inbound_card(org, str(payload.get("number") or ""))
        uid = str(payload.get("attempt") or "")
        interface = str(payload.get("interface") or "")
        if not uid or interface not in interfaces:
            return None
        return desk_services.card_for_attempt(org, uid, interface=interface, agent_name=agent_name)
    finally:
        release_connection()


@_db
def _callbacks(org_id: int, user) -> tuple[list[dict], float | None]:
    """The user's due callbacks, and when the next one becomes due (epoch seconds)."""
    from central.core.db import release_connection
    from central.core.models import Organization
    from central.dialer import desk_services

    try:
        org = Organization.objects.get(pk=org_id)
        upcoming = desk_services.next_callback_at(org, user)
        return desk_services.due_callbacks(org, user), upcoming.timestamp() if upcoming else None
    finally:
        release_connection()


class DeskConsumer(LayerOutageMixin, GuardedJsonConsumer):
    """One agent's page. Closes 4401 without a login, 4403 for a user who is not an
    agent of the page's organization (a supervisor links them on /agents/team/)."""

    groups_joined: list[str]
    _refresh: asyncio.Task | None = None
    _poll: asyncio.Task | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        self.groups_joined = []
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        ident = await _identity(user, self.scope.get("session"))
        if ident is None:
            await self.close(code=4403)
            return
        self.org_id, self.agent_id, self.agent_name, self.interfaces = ident
        self._wake = asyncio.Event()
        for interface in self.interfaces:
            group = agent_group(self.org_id, interface)
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)
        await self.accept()
        await self.send_json({"type": "hello", "interfaces": self.interfaces, "agent": self.agent_name})
        self._refresh = asyncio.ensure_future(
            refresh_groups_forever(self.channel_layer, self.groups_joined, self.channel_name))
        self._poll = asyncio.ensure_future(self._poll_callbacks(user))

    async def disconnect(self, code: int) -> None:
        for task in (self._refresh, self._poll):
            if task is not None:
                task.cancel()
        for group in self.groups_joined:
            with contextlib.suppress(Exception):
                await self.channel_layer.group_discard(group, self.channel_name)

    async def _poll_callbacks(self, user) -> None:
        """Callbacks promised to this agent come back when due (docs/agents.md): looked
        up every ``CENTRAL_DESK_CALLBACK_POLL`` seconds, sent when the list changes."""
        every = float(getattr(settings, "DESK_CALLBACK_POLL_S", CALLBACK_POLL_S))
        last = None
        while True:
            items, upcoming = await _callbacks(self.org_id, user)
            key = json.dumps([i["id"] for i in items])
            if key != last:
                last = key
                await self.send_json({"type": "callbacks", "items": items})
            wait = every if upcoming is None else min(every, max(0.05, upcoming - time.time() + 0.05))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):  # or sooner: a callback was just scheduled
                    await self._wake.wait()
            self._wake.clear()

    async def receive_json(self, content, **kwargs) -> None:
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong", "t": content.get("t")})

    async def desk_event(self, event: dict) -> None:
        """An event for one of this agent's interfaces (``core.live.AGENT_EVENT``)."""
        payload = event.get("payload") or {}
        kind = payload.get("kind")
        if kind == "callbacks":  # one was scheduled for this agent: look again now
            self._wake.set()
            return
        if kind == "member":
            member = payload.get("member") or {}
            if member.get("interface") in self.interfaces:
                await self.send_json({"type": "member", "member": member})
            return
        if kind not in ("pop", "inbound") or payload.get("interface") not in self.interfaces:
            return
        card = await _card(self.org_id, payload, self.interfaces, self.agent_name)
        if card is None:
            return
        await self.send_json({"type": "pop", "card": card, "interface": payload.get("interface"),
                              "connected_at": payload.get("connected_at"), "sent_at": time.time()})
