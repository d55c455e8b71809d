"""The concierge's telephony side effects over AMI (``central.telephony.ami.client``).

Dialplan the two AI extensions need (ramal 1003, return 1004, ports from the status API)::

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

import logging

from central.telephony import chanvars
from central.voice.config import ExtensionConfig, ResidentConfig

log = logging.getLogger(__name__)

RETURN_CONTEXT = "portaria-retorno"
TRANSFER_FAMILY = "central-transfer"


class ResidentDidNotAnswer(Exception):
    pass


class AMIOriginator:
    def __init__(self, client, *, return_context: str = RETURN_CONTEXT, ring_ms: int = 30_000,
                 caller_id: str = "Portaria <portaria>") -> None:
        self.client = client
        self.return_context = return_context
        self.ring_ms = ring_ms
        self.caller_id = caller_id

    @staticmethod
    def dial_string(resident: ResidentConfig) -> str:
        ext = resident.extension.strip()
        return ext if "/" in ext else f"PJSIP/{ext}"

    async def originate_resident(
        self, *, visit_id: str, resident: ResidentConfig, extension: ExtensionConfig,
        return_host: str, return_port: int,
    ) -> None:
        result = await self.client.originate(
            self.dial_string(resident),
            context=self.return_context,
            exten=extension.return_number or extension.number,
            caller_id=self.caller_id,
            timeout_ms=self.ring_ms,
            variables={chanvars.AUDIOSOCKET_UUID: visit_id, chanvars.VISIT_ID: visit_id,
                       chanvars.VISIT_RETURN: f"{return_host}:{return_port}"},
        )
        if not result.answered:
            raise ResidentDidNotAnswer(f"originate {result.outcome} (reason {result.reason})")

    async def transfer(self, *, call_uuid: str, to_extension: str, extension: ExtensionConfig) -> None:
        response = await self.client.send_action(
            "DBPut", {"Family": TRANSFER_FAMILY, "Key": call_uuid, "Val": to_extension}
        )
        if response.get("Response") != "Success":
            log.warning("transfer of %s to %s: DBPut failed: %s", call_uuid, to_extension, response)
