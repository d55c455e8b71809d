"""``central up``: the voice attendant as a task of the embedded process.

Uses the PBX link's AMI address from ``context["ami"]`` (the simulator or a configured
Asterisk) to call residents.  The management API token is generated when none is set and
shared through the environment with the web process running in this same process.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Awaitable

log = logging.getLogger(__name__)
VOICE_API_PORT = int(os.environ.get("CENTRAL_VOICE_API_PORT", "8090"))


async def start(context: dict) -> list[Awaitable]:
    from central.voice.runner import run_voice

    os.environ.setdefault("CENTRAL_VOICE_TOKEN", secrets.token_urlsafe(24))
    os.environ.setdefault("CENTRAL_VOICE_API_URL", f"http://127.0.0.1:{VOICE_API_PORT}")
    originator = None
    ami = context.get("ami")
    if ami:
        from central.voice.telephony import AMIOriginator, voice_ami_client

        client = voice_ami_client(ami["host"], int(ami["port"]), ami["username"], ami["secret"])
        try:
            await client.start()
            originator = AMIOriginator(client)
        except Exception as exc:  # residents cannot be called, the attendant still answers
            log.warning("voice: no AMI link (%s); resident calls will fail (logged as system failures)", exc)
    context["voice"] = {"api_url": os.environ["CENTRAL_VOICE_API_URL"]}
    return [run_voice(api_port=VOICE_API_PORT, originator=originator)]
