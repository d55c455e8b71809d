"""A test call from the voice page: the PBX simulator plays a visitor at the gate.

The simulator stands in for Asterisk (``central up`` without one): the AI extension's
dialplan runs ``AudioSocket(${UUID()},<host:port>)`` and the visitor keys the unit, the
concierge calls the resident through the simulator's AMI and the simulated resident
answers, refuses or lets it ring (docs/telephony.md section 6). Nothing here dials a real
phone: with a real Asterisk there is no simulator in the process and the page says so.
"""

from __future__ import annotations

import asyncio

from django.utils.translation import gettext as _

from .api import voice_api

#: Seconds the page waits for the simulator to connect the visitor's leg.
CONNECT_TIMEOUT = 5.0


class TestCallRefused(Exception):
    """Why no test call can be placed now (pt-BR, shown on the page)."""


def simulator_running() -> bool:
    from central.simulator import embedded

    return embedded.RUNNING is not None


def place(organization_id: int, number: str, unit_number: str) -> str:
    """Have the simulator's visitor call AI extension ``number`` of this organization and
    key ``unit_number``; return the call's AudioSocket UUID (the page follows it live)."""
    from central.simulator import embedded

    running = embedded.RUNNING
    if running is None:
        raise TestCallRefused(_("Chamada de teste só com o simulador de PABX (central up sem Asterisk)."))
    code, data = voice_api("GET", "/api/status", timeout=2)
    if code != 200:
        raise TestCallRefused(_("Processo de voz indisponível."))
    live = next((e for e in data.get("extensions", [])
                 if e.get("organization_id") == organization_id and e.get("ramal") == number), None)
    if live is None:
        raise TestCallRefused(_("O ramal %(ramal)s não está no ar (aplique as alterações).") % {"ramal": number})
    host = live.get("bind_ip") or "127.0.0.1"
    host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
    target = f"{host}:{live['port']}"  # the simulator splits at the last colon (IPv6 too)
    sim, loop = running
    try:
        if asyncio.get_running_loop() is loop:  # would wait on itself
            raise TestCallRefused(_("Chamada de teste indisponível neste processo."))
    except RuntimeError:
        pass  # no loop in this thread: the usual case (a sync view in a worker thread)
    future = asyncio.run_coroutine_threadsafe(sim.place_visitor(target, unit_number), loop)
    try:
        return future.result(timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        future.cancel()
        raise TestCallRefused(_("O simulador não conseguiu ligar para o ramal: %(erro)s") % {"erro": exc}) from None
