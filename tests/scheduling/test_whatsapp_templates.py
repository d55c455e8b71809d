"""The templates the agenda sends are the ones the Cloud API simulator approves: one definition.

Before, the simulator's built-in ``lembrete_consulta`` had 2 parameters and other quick
replies while the agenda sent 4 parameters, so every reminder outside the 24 h window
through the demo number was rejected (error 132000), and ``oferta_lista_espera`` was absent.
"""

from __future__ import annotations

import re

import pytest

from central.messaging import simulator
from central.scheduling import notify, reminders, whatsapp_templates

pytestmark = pytest.mark.backend_free


def params(body: str) -> int:
    return len(set(re.findall(r"\{\{(\d+)\}\}", body)))


def test_the_simulator_offers_each_agenda_template_as_the_agenda_sends_it():
    offered = {t["name"]: t for t in simulator.default_templates()}
    for template in whatsapp_templates.TEMPLATES:
        assert offered[template["name"]] == template
    reminder = offered[notify.REMINDER_TEMPLATE]
    assert params(reminder["body"]) == 4  # reminders._text: patient, service, professional, when
    assert [b["text"] for b in reminder["buttons"]] == [label for _action, label in reminders.BUTTONS]
    assert params(offered[notify.WAITLIST_TEMPLATE]["body"]) == 4  # waitlist.offer_slot's four values
    assert "retorno_contato" in offered  # messaging's own stays
