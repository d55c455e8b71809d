"""The concierge's telephony side effects over AMI (``central.telephony.ami.client``).

The full dialplan (dialer, concierge entry and return legs) is in docs/telephony.md;
what the two AI extensions need (ramal 1003, return 1004, ports from the status API)::

    [portaria-ia]                       ; visitors dial 1003
    exten => 1003,1,Answer()
     same => n,Set(AS_UUID=${UUID()})
     same => n,AudioSocket(${AS_UUID},10.0.0.5:8080)
     same => n,Set(T=${DB_DELETE(central-transfer/${AS_UUID})})
     same => n,GotoIf($["${T}" = ""]?end)
     same => n,Dial(PJSIP/${T},60)
     same => n(end),Hangup()

    [portaria-retorno]                  ; the resident's leg, originated by Central
    exten => 1004,1,Answer()
     same => n,AudioSocket(${AS_UUID},10.0.0.5:8081)
     same => n,Hangup()

The resident leg carries the visitor's session id as its AudioSocket UUID (``AS_UUID``
channel variable set by the Originate).  A transfer stores the target in AstDB with
``DBPut`` keyed by the visitor's UUID; our hangup (``00 00 00``) makes ``AudioSocket()``
return 0 and the dialplan continue (audiosocket-session.md, "Hangup from the server"), so
it dials the human concierge.  No channel-name lookup is needed.  (The host:port is never
passed through ``${IF(...)}``: the colon splits IF branches, audiosocket-session.md.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from central.telephony import chanvars
from central.telephony.ami.errors import AMIError
from central.telephony.outcomes import ANSWERED, NOT_ANSWERED, originate_outcome
from central.voice.calls import OriginateFailed, ResidentDidNotAnswer
from central.voice.config import ExtensionConfig, ResidentConfig

log = logging.getLogger(__name__)

RETURN_CONTEXT = "portaria-retorno"
TRANSFER_FAMILY = "central-transfer"
#: The voice process's AMI connection only sends actions, but it must log in with events
#: on: Asterisk reports an async Originate's outcome as an ``OriginateResponse`` *event*
#: and an ``Events: off`` session gets none (manager.c), so the Originate would wait for
#: its timeout.  This filter (the one ami-login-and-actions.txt uses on its action
#: connection) keeps every other event off the connection.
ORIGINATE_EVENT_FILTER = "Event: OriginateResponse"
#: Seconds, after the ring time, to wait for the OriginateResponse before calling it a
#: system failure (the client's default would be 30 s more).
RESPONSE_GRACE = 10.0
#: Every resident leg's Uniqueid starts with this (the Originate's ``ChannelId``), so the
#: voice connection's second filter lets the dialled channel's own ``DialEnd`` and
#: ``Hangup`` through and nothing else of the PBX's traffic: a Reason 0 is read through
#: them (central.telephony.outcomes). A regex filter matches anywhere in the event text
#: (main/manager.c ``match_filter``), so it also passes ``DestUniqueid: central-visit-...``.
VISIT_CHANNEL_PREFIX = "central-visit-"
RESIDENT_LEG_FILTER = f"Uniqueid: {VISIT_CHANNEL_PREFIX}"
#: Seconds to wait, after a Reason 0 or 1 for a channel that existed, for that channel's
#: Hangup (its cause tells a carrier's no-answer from a failure). In the cause-19 capture
#: the Hangup follows the OriginateResponse in the same millisecond.
HANGUP_GRACE = 2.0

__all__ = ["AMIOriginator", "ORIGINATE_EVENT_FILTER", "RESIDENT_LEG_FILTER", "RETURN_CONTEXT",
           "VISIT_CHANNEL_PREFIX", "LegWatch", "ResidentDidNotAnswer", "voice_ami_client"]


def voice_ami_client(host: str, port: int, username: str, secret: str, **kwargs):
    """The voice process's AMI client (one place for ``central voice`` and ``central up``)."""
    from central.telephony.ami.client import AMIClient

    return AMIClient(host, port, username, secret, name="voice", events=True,
                     event_filters=(ORIGINATE_EVENT_FILTER, RESIDENT_LEG_FILTER), **kwargs)


class LegWatch:
    """Sans-I/O: what the AMI events say about one dialled resident leg (``ChannelId``
    ``uid``; the simulator's Local pair adds ``uid;2``, main/core_unreal.c)."""

    def __init__(self, uid: str) -> None:
        self.uid = uid
        self._ids = (uid, f"{uid};2")
        self.seen = False  # any event of the channel: it existed (not orig-fail-async)
        self.dial_status = ""
        self.causes: dict[str, int | None] = {}
        self.hung_up = asyncio.Event()

    def feed(self, msg) -> None:
        if msg.name == "DialEnd" and msg.get("DestUniqueid") in self._ids:
            self.seen = True
            self.dial_status = (msg.get("DialStatus") or "").upper()
        elif msg.get("Uniqueid") in self._ids or msg.get("DestUniqueid") in self._ids:
            self.seen = True
            if msg.name == "Hangup":
                raw = msg.get("Cause") or ""
                self.causes[msg.get("Uniqueid") or ""] = int(raw) if raw.isdigit() else None
                if msg.get("Uniqueid") == self.uid:
                    self.hung_up.set()

    def outcome(self, reason: int | None) -> str:
        # The ;2 half's cause first, as the dialer reads it (central.dialer.core).
        causes = (self.causes.get(f"{self.uid};2"), self.causes.get(self.uid))
        return originate_outcome(reason, self.dial_status, causes)


class AMIOriginator:
    def __init__(self, client, *, return_context: str = RETURN_CONTEXT, ring_ms: int = 30_000,
                 caller_id: str = "Portaria <portaria>") -> None:
        self.client = client
        self.return_context = return_context
        self.ring_ms = ring_ms
        self.caller_id = caller_id

    @staticmethod
    def dial_string(resident: ResidentConfig) -> str:
        """``PJSIP/<endpoint>``; anything else a tenant wrote (another technology, a SIP URI,
        a second target) is refused here too, not only at the API (central.core.outbound)."""
        from central.core.outbound import OutboundRefused, validate_dial_target

        ext = resident.extension.strip()
        try:
            validate_dial_target(ext)
        except OutboundRefused as exc:
            raise OriginateFailed(f"refused dial target {ext!r}: {exc}") from None
        return ext if "/" in ext else f"PJSIP/{ext}"

    async def originate_resident(
        self, *, visit_id: str, resident: ResidentConfig, extension: ExtensionConfig,
        return_host: str, return_port: int,
    ) -> None:
        """Return once the resident answered; raise :class:`ResidentDidNotAnswer` when the
        phone rang and nobody took it (or it was busy), :class:`OriginateFailed` for
        everything else (refused, bad channel, congestion, no AMI, no answer from AMI).
        The outcome comes from :func:`central.telephony.outcomes.originate_outcome`, the
        dialer's rule: a carrier's no-answer (Reason 0, then DialEnd NOANSWER / cause 19)
        is "did not answer", not a failure."""
        uid = f"{VISIT_CHANNEL_PREFIX}{visit_id}"
        watch = LegWatch(uid)
        remove = self.client.add_listener(watch.feed)
        try:
            return await self._originate(watch, visit_id, resident, extension, return_host, return_port)
        finally:
            remove()

    async def _originate(self, watch: LegWatch, visit_id: str, resident: ResidentConfig,
                         extension: ExtensionConfig, return_host: str, return_port: int) -> None:
        try:
            result = await self.client.originate(
                self.dial_string(resident),
                context=self.return_context,
                exten=extension.return_number or extension.number,
                caller_id=self.caller_id,
                timeout_ms=self.ring_ms,
                variables={chanvars.AUDIOSOCKET_UUID: visit_id, chanvars.VISIT_ID: visit_id,
                           chanvars.VISIT_RETURN: f"{return_host}:{return_port}"},
                result_timeout=self.ring_ms / 1000 + RESPONSE_GRACE,
                channel_id=watch.uid,
            )
        except AMIError as exc:
            raise OriginateFailed(f"{type(exc).__name__}: {exc}") from exc
        if result.outcome != "rejected" and result.reason in (0, 1) and watch.seen:
            # The channel existed: its DialEnd / Hangup follow the OriginateResponse
            # (ami-event-stream-noanswer-cause19.txt) and say why it ended.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(watch.hung_up.wait(), HANGUP_GRACE)
        outcome = watch.outcome(None if result.outcome == "rejected" else result.reason)
        if outcome == ANSWERED:
            return
        detail = f"originate {result.outcome} (reason {result.reason})"
        if watch.dial_status or any(c is not None for c in watch.causes.values()):
            causes = ",".join(str(c) for c in watch.causes.values() if c is not None)
            detail += f", dial {watch.dial_status or '-'}, cause {causes or '-'}: {outcome}"
        if result.message and result.outcome == "rejected":
            detail += f": {result.message}"
        if outcome in NOT_ANSWERED:
            raise ResidentDidNotAnswer(detail)
        raise OriginateFailed(detail)

    async def transfer(self, *, call_uuid: str, to_extension: str, extension: ExtensionConfig) -> None:
        from central.core.outbound import OutboundRefused, validate_dial_target

        try:  # the dialplan dials PJSIP/${T}: no "&SIP/..." or URI may ride along
            validate_dial_target(to_extension, technology=False)
        except OutboundRefused:
            log.warning("transfer of %s refused: %r is not an extension", call_uuid, to_extension)
            return
        response = await self.client.send_action(
            "DBPut", {"Family": TRANSFER_FAMILY, "Key": call_uuid, "Val": to_extension}
        )
        if response.get("Response") != "Success":
            log.warning("transfer of %s to %s: DBPut failed: %s", call_uuid, to_extension, response)
