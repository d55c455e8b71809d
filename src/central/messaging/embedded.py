"""``central up``: the WhatsApp channel inside the all-in-one process.

Always: the webhook inbox runner (a thread that first picks up every event left
unprocessed, then waits for new ones) and the outbound sender (an asyncio task).

With no WhatsApp credentials configured (no active number that is not the simulator's,
or ``CENTRAL_WHATSAPP_SIMULATOR=1``), the Cloud API simulator starts on loopback
(``CENTRAL_WHATSAPP_SIMULATOR_PORT``, default a free port) and the demo clinic
(``central.core.demo``'s organization of kind clinic) gets a simulator number with the
simulator's templates. The simulator's token and app secret are generated at start into
``CENTRAL_TENANT_SECRET_WHATSAPP_SIM_TOKEN`` / ``..._APP`` (unless set), the variables the
number names, so every part reads them through the one secret rule; its address is the
only loopback destination the Graph client accepts (``numbers.allow_simulator``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
from collections.abc import Awaitable

log = logging.getLogger("central.messaging.embedded")

SIM_TOKEN_ENV = "CENTRAL_TENANT_SECRET_WHATSAPP_SIM_TOKEN"
SIM_APP_ENV = "CENTRAL_TENANT_SECRET_WHATSAPP_SIM_APP"
SIM_SWITCH_ENV = "CENTRAL_WHATSAPP_SIMULATOR"
SIM_PORT_ENV = "CENTRAL_WHATSAPP_SIMULATOR_PORT"
SIM_CONTROL_ENV = "CENTRAL_WHATSAPP_SIMULATOR_TOKEN"
#: The demo clinic's simulated number.
DEMO_PHONE_NUMBER_ID = "100000000000001"
DEMO_DISPLAY = "+5511300000000"
DEMO_WABA = "200000000000001"


def wants_simulator() -> bool:
    from .models import WhatsAppNumber

    switch = os.environ.get(SIM_SWITCH_ENV, "").strip().lower()
    if switch in ("0", "false", "no", "off"):
        return False
    if switch in ("1", "true", "yes", "on"):
        return True
    return not WhatsAppNumber.objects.filter(is_active=True, use_simulator=False).exists()


def ensure_demo_number():
    """The simulator number of the demo clinic (created once), or None without a clinic."""
    from central.core.models import Organization

    from .models import WhatsAppNumber

    existing = WhatsAppNumber.objects.filter(use_simulator=True).first()
    if existing is not None:
        return existing
    clinic = Organization.objects.filter(kind=Organization.Kind.CLINIC, is_active=True).order_by("id").first()
    if clinic is None:
        log.info("no organization of kind clinic: the WhatsApp simulator has no demo number")
        return None
    number = WhatsAppNumber(organization=clinic, phone_number_id=DEMO_PHONE_NUMBER_ID, display_number=DEMO_DISPLAY,
                            name=clinic.name, waba_id=DEMO_WABA, access_token_env=SIM_TOKEN_ENV,
                            app_secret_env=SIM_APP_ENV)
    number.use_simulator = True
    number.save()
    return number


def _simulator_numbers():
    from .models import WhatsAppNumber
    from .simulator import SimNumber

    out = []
    for n in WhatsAppNumber.objects.filter(use_simulator=True, is_active=True):
        out.append(SimNumber(n.phone_number_id, n.display_number, n.waba_id or DEMO_WABA,
                             os.environ[SIM_TOKEN_ENV], os.environ[SIM_APP_ENV], n.name or "Clínica"))
    return out


def _sync_demo_templates() -> None:
    from . import services
    from .models import WhatsAppNumber

    for number in WhatsAppNumber.objects.filter(use_simulator=True, is_active=True):
        try:
            services.sync_templates(number)
        except Exception:
            log.exception("template sync from the simulator failed")


async def start(context: dict) -> list[Awaitable]:
    from channels.db import database_sync_to_async

    from . import inbound, numbers
    from .sender import Sender
    from .simulator import Simulator, set_current

    tasks: list[Awaitable] = []
    if await database_sync_to_async(wants_simulator)():
        os.environ.setdefault(SIM_TOKEN_ENV, secrets.token_urlsafe(32))
        os.environ.setdefault(SIM_APP_ENV, secrets.token_urlsafe(32))
        await database_sync_to_async(ensure_demo_number)()
        sim_numbers = await database_sync_to_async(_simulator_numbers)()
        if sim_numbers:
            web = context["web"]
            host = "127.0.0.1" if web["host"] in ("0.0.0.0", "", "::") else web["host"]
            host = f"[{host}]" if ":" in host else host
            sim = Simulator(f"http://{host}:{web['port']}/webhooks/whatsapp", sim_numbers,
                            control_token=os.environ.get(SIM_CONTROL_ENV) or None)
            url = await sim.start(port=int(os.environ.get(SIM_PORT_ENV) or 0))
            os.environ[numbers.SIMULATOR_URL_ENV] = url
            numbers.allow_simulator(url)
            numbers.forget()
            set_current(sim)
            context["whatsapp"] = {"simulator_url": url, "numbers": [n.phone_number_id for n in sim_numbers]}
            print(f"WhatsApp simulator at {url} (demo number {sim_numbers[0].display_number})", flush=True)
            await database_sync_to_async(_sync_demo_templates)()
            tasks.append(_keep(sim))
    runner = inbound.runner()
    runner.start(asyncio.get_running_loop())
    runner.wake()  # pick up whatever a previous run left unprocessed
    tasks.append(Sender().run())
    return tasks


async def _keep(sim) -> None:
    from .simulator import set_current

    try:
        await asyncio.Event().wait()
    finally:
        set_current(None)
        await sim.stop()
