"""AMI actions asked of the PBX link by other processes (the web: queue login, pauses,
supervisor monitoring).

The PBX link owns the one AMI connection per server and its secret (in embedded mode the
simulator's secret exists only in that process), so a page never opens its own AMI
session: it sends the action to the link over the channel layer (Redis in production,
in-memory in ``central up``) on the server's channel :func:`action_channel` and waits for
the answer on a fresh reply channel. The link runs only actions in
:data:`ALLOWED_ACTIONS`, drops requests past their deadline (a request queued while no
link ran must not pause an agent minutes later) and answers with Asterisk's own
``Response``/``Message`` (``Error`` / ``Unable to add interface: Already there``...), or
with ``Response: Error`` and a ``CentralError`` code when it could not ask Asterisk.

One constant per AMI action and field name (the link, the services and the simulator
tests use these, never their own spelling).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from central.core.runtime import raise_if_cancelling

log = logging.getLogger("central.telephony.actions")

# --- AMI action and field names (apps/app_queue.c, main/manager.c, Asterisk 22.10.1) ------
QUEUE_ADD = "QueueAdd"
QUEUE_REMOVE = "QueueRemove"
QUEUE_PAUSE = "QueuePause"
ORIGINATE = "Originate"
F_QUEUE = "Queue"
F_INTERFACE = "Interface"
F_MEMBER_NAME = "MemberName"
F_STATE_INTERFACE = "StateInterface"
F_PENALTY = "Penalty"
F_PAUSED = "Paused"
F_REASON = "Reason"
F_CHANNEL = "Channel"
F_APPLICATION = "Application"
F_DATA = "Data"
F_CALLER_ID = "CallerID"
F_TIMEOUT = "Timeout"
F_ASYNC = "Async"
F_RESPONSE = "Response"
F_MESSAGE = "Message"
#: Added by the link when it could not ask Asterisk at all (not an AMI field).
F_CENTRAL_ERROR = "CentralError"

#: What other processes may ask the link to send (nothing that reads or changes
#: configuration, no Command, no arbitrary Originate target beyond what the caller checks).
ALLOWED_ACTIONS = frozenset({QUEUE_ADD, QUEUE_REMOVE, QUEUE_PAUSE, ORIGINATE})

#: Channel-layer message types of a request and of its answer.
REQUEST_TYPE = "pbx.action"
REPLY_TYPE = "pbx.action.reply"
#: CentralError codes.
NOT_CONNECTED = "not_connected"
NOT_ALLOWED = "not_allowed"
NO_ANSWER = "no_answer"

#: Seconds a page waits for the link's answer (Asterisk answers queue actions at once:
#: ami-queue-actions.txt shows the reply within 1 ms).
DEFAULT_TIMEOUT = 5.0


class PBXUnavailable(Exception):
    """Nobody answered for this server (no link running, channel layer down, timeout)."""


def action_channel(server_id: int) -> str:
    return f"pbx-actions.{int(server_id)}"


def request_message(action: str, fields: list[tuple[str, str]], reply_to: str, deadline: float) -> dict:
    return {"type": REQUEST_TYPE, "action": action, "fields": [list(f) for f in fields],
            "reply_to": reply_to, "deadline": deadline}


async def asend(server_id: int, action: str, fields: list[tuple[str, str]],
                timeout: float | None = None) -> dict[str, str]:
    """Ask the link of ``server_id`` to send ``action``; return Asterisk's answer as a dict
    (``Response``, ``Message``...). Raises :class:`PBXUnavailable` without an answer."""
    if action not in ALLOWED_ACTIONS:
        raise ValueError(f"action {action!r} is not allowed through the link")
    timeout = DEFAULT_TIMEOUT if timeout is None else timeout
    layer = get_channel_layer()
    if layer is None:
        raise PBXUnavailable("no channel layer")
    try:
        reply = await layer.new_channel()
        await layer.send(action_channel(server_id),
                         request_message(action, fields, reply, time.time() + timeout))
        async with asyncio.timeout(timeout):
            answer = await layer.receive(reply)
    except TimeoutError:
        raise PBXUnavailable(f"no answer from the PBX link of server {server_id} in {timeout} s") from None
    except Exception as exc:  # Redis unreachable, layer full
        raise PBXUnavailable(f"channel layer: {exc!r}") from exc
    return {str(k): str(v) for k, v in (answer.get("response") or {}).items()}


def send(server_id: int, action: str, fields: list[tuple[str, str]],
         timeout: float | None = None) -> dict[str, str]:
    """:func:`asend` for synchronous code (views, services)."""
    return async_to_sync(asend)(server_id, action, fields, timeout)


async def serve(server_id: int, client: Any, *, layer=None) -> None:
    """The link's side: run requests for ``server_id`` through ``client`` (an
    :class:`~central.telephony.ami.client.AMIClient`) until cancelled. Each request runs in
    its own task so a slow answer never holds the next one."""
    from central.telephony.ami.errors import AMIError

    layer = layer or get_channel_layer()
    if layer is None:
        return
    channel = action_channel(server_id)
    running: set[asyncio.Task] = set()

    async def one(msg: dict) -> None:
        action = str(msg.get("action", ""))
        reply_to = msg.get("reply_to")
        if not isinstance(reply_to, str) or not reply_to:
            return
        if action not in ALLOWED_ACTIONS:
            response = {F_RESPONSE: "Error", F_MESSAGE: f"action {action} not allowed", F_CENTRAL_ERROR: NOT_ALLOWED}
        else:
            fields = [(str(k), str(v)) for k, v in (msg.get("fields") or []) if str(k).lower() != "actionid"]
            wait = max(0.5, float(msg.get("deadline", 0)) - time.time())
            try:
                answer = await client.send_action(action, fields, timeout=wait)
                response = {k: v for k, v in answer.items() if k != "ActionID"}
            except AMIError as exc:
                code = NOT_CONNECTED if type(exc).__name__ in ("NotConnected", "ClientClosed") else NO_ANSWER
                response = {F_RESPONSE: "Error", F_MESSAGE: str(exc)[:300], F_CENTRAL_ERROR: code}
        # The asker may have given up (its reply channel expired): nothing to do then.
        with contextlib.suppress(Exception):
            await layer.send(reply_to, {"type": REPLY_TYPE, "response": response})

    while True:
        try:
            msg = await layer.receive(channel)
        except asyncio.CancelledError:
            raise
        except Exception:  # Redis away: try again shortly (nothing was taken off the queue)
            raise_if_cancelling()  # unless it is our own cancel, turned into a Redis error
            log.warning("pbx actions: receive on %s failed", channel, exc_info=True)
            await asyncio.sleep(1.0)
            continue
        if float(msg.get("deadline", 0) or 0) < time.time():
            continue  # its asker gave up long ago: never act on a stale request
        task = asyncio.get_running_loop().create_task(one(msg))
        running.add(task)
        task.add_done_callback(running.discard)
