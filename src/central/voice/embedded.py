"""``central up``: the voice attendant as a task of the embedded process.

Uses the PBX link's AMI address from ``context["ami"]`` (the simulator or a configured
Asterisk) to call residents.  The management API token is generated when none is set and
shared through the environment with the web process running in this same process.

Demo (the embedded PBX simulator runs, no AI extension configured anywhere): the demo
condominium gets an AI extension (``DEMO_EXTENSION``) with four units and their
residents, and the simulator's demo visitors (``CENTRAL_DEMO_VISITS`` per minute,
default ``DEMO_VISITS_PER_MINUTE``; 0 = none) call it once the voice process listens.
The simulator plays both sides as Asterisk with the documented dialplan would
(docs/telephony.md section 6), so the visits page fills with authorized, denied, did not
answer and visitor-hung-up visits (src/central/voice/README.md, "The demo PBX").
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import Awaitable

from central.voice.config import COMPAT_PORT, COMPAT_RETURN_PORT

log = logging.getLogger(__name__)
VOICE_API_PORT = int(os.environ.get("CENTRAL_VOICE_API_PORT", "8090"))
DEMO_ORG = "jardim-das-flores"  # central.core.demo: the condominium
DEMO_EXTENSION = ("1900", "1901")  # AI extension and its return number
#: Configured ports of the demo AI extension (the listeners move up when they are taken);
#: tests point them at free ports, as they do VOICE_API_PORT.
DEMO_PORTS = (COMPAT_PORT, COMPAT_RETURN_PORT)
DEMO_UNITS = (
    ("101", "A", "Bruno Lima", "PJSIP/1101"),
    ("102", "A", "Carla Dias", "PJSIP/1102"),
    ("201", "B", "Daniel Rocha", "PJSIP/1201"),
    ("302", "B", "Ana Souza", "PJSIP/1302"),
)
DEMO_VISITS_PER_MINUTE = 2.0


def demo_visits_per_minute() -> float:
    try:
        return max(0.0, float(os.environ.get("CENTRAL_DEMO_VISITS", DEMO_VISITS_PER_MINUTE)))
    except ValueError:
        return DEMO_VISITS_PER_MINUTE


def ensure_demo_concierge() -> list[str]:
    """Create the demo condominium's AI extension, units and residents when the
    installation has no AI extension at all; return the demo units' numbers (none when
    the installation is not the demo one)."""
    from central.core.db import gives_connection_back
    from central.core.models import Organization
    from central.voice.models import AIExtension, Resident, Unit

    @gives_connection_back
    def run() -> list[str]:
        org = Organization.objects.filter(slug=DEMO_ORG).first()
        if org is None:
            return []
        if not AIExtension.objects.exists():
            number, return_number = DEMO_EXTENSION
            AIExtension.objects.create(organization=org, number=number, return_number=return_number,
                                       port=DEMO_PORTS[0], return_port=DEMO_PORTS[1],
                                       bind_ip="127.0.0.1", concierge_extension="")
            for unit_number, block, name, phone in DEMO_UNITS:
                unit, _ = Unit.objects.get_or_create(organization=org, number=unit_number, block=block)
                Resident.objects.get_or_create(organization=org, unit=unit, name=name,
                                               defaults={"extension": phone})
        if not AIExtension.objects.filter(organization=org, number=DEMO_EXTENSION[0]).exists():
            return []
        return [u for u, _b, _n, _p in DEMO_UNITS if Unit.objects.filter(organization=org, number=u).exists()]

    return run()


async def _point_visitors(sim, ready: asyncio.Event, units: list[str]) -> None:
    """Once the voice process listens, tell the simulator's demo visitors where the demo
    AI extension is (its port may have moved: the status API says where it is)."""
    import urllib.request

    from central.core.jsonguard import loads

    await ready.wait()
    req = urllib.request.Request(f"{os.environ['CENTRAL_VOICE_API_URL']}/api/status",
                                 headers={"Authorization": f"Bearer {os.environ['CENTRAL_VOICE_TOKEN']}"})

    def fetch() -> dict:
        with urllib.request.urlopen(req, timeout=5) as resp:  # noqa: S310 - our own loopback API
            return loads(resp.read())

    status = await asyncio.to_thread(fetch)
    for ext in status.get("extensions", []):
        if ext.get("ramal") == DEMO_EXTENSION[0]:
            host = ext.get("bind_ip") or "127.0.0.1"
            sim.config.visitors.units = tuple(units)
            sim.config.visitors.target = f"{'127.0.0.1' if host == '0.0.0.0' else host}:{ext['port']}"
            log.info("demo visitors call ramal %s at %s", DEMO_EXTENSION[0], sim.config.visitors.target)
    await asyncio.Event().wait()  # a task of the embedded process: runs until shutdown


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
    sim = context.get("simulator")
    ready = asyncio.Event()
    tasks: list[Awaitable] = [run_voice(api_port=VOICE_API_PORT, originator=originator, ready=ready)]
    if sim and getattr(sim, "config", None) is not None:
        # The demo concierge exists whenever the simulator runs (the voice page's test
        # call uses it too); its random visitors only when CENTRAL_DEMO_VISITS > 0.
        units = await asyncio.to_thread(ensure_demo_concierge)
        if units and sim.config.visitors.per_minute > 0:
            tasks.append(_point_visitors(sim, ready, units))
    return tasks
