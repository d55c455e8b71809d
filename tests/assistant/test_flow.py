"""The offline flow as pure state transitions: events in, (state, replies, commands) out.

No database: facts are built by hand; commands are what the flow asks the rails to do.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from central.assistant import flow
from central.assistant.flow import Done, Facts, Held, Said, ServiceFact, SlotFact, Slots

pytestmark = pytest.mark.backend_free

SP = ZoneInfo("America/Sao_Paulo")
NOW = datetime(2026, 3, 4, 10, 0, tzinfo=SP)  # Wednesday
ANA, BRUNO = 1, 2
GERAL = ServiceFact(10, "Consulta de clínica geral", "250.00", (ANA,))
PEDI = ServiceFact(11, "Consulta pediátrica", None, (ANA, BRUNO))
PROS = {ANA: "Dra. Ana Souza", BRUNO: "Dr. Bruno Lima"}


def facts(**kw) -> Facts:
    base = dict(now=NOW, services=(GERAL, PEDI), professionals=PROS, patient_name="Paula Lima",
                emergency="Em caso de emergência, ligue 192.",
                locations=(("Unidade Centro", "Rua A, 1", "Metrô Sé"),))
    base.update(kw)
    return Facts(**base)


def slot(key: str, day: int, hour: int, minute: int = 0, pro: int = ANA) -> SlotFact:
    return SlotFact(key, datetime(2026, 3, day, hour, minute, tzinfo=SP), pro, PROS[pro])


def ids(reply) -> list[str]:
    return [b[0] for b in reply.buttons] or [r[0] for r in reply.rows]


def test_first_time_patient_is_asked_for_the_name_with_the_lgpd_text():
    f = facts(patient_name=None)
    s = flow.step(None, Said("oi, quero marcar uma consulta"), f)
    assert s.state["step"] == "name"
    assert "LGPD" in s.replies[0].text and "SAIR" in s.replies[0].text
    s = flow.step(s.state, Said("maria da silva"), f)
    assert s.commands == [flow.Register("Maria Da Silva", None)]
    s = flow.step(s.state, Done(True, "", "register"), facts(patient_name="Maria Da Silva"))
    assert s.state["step"] == "service"
    assert ids(s.replies[0]) == ["svc:10", "svc:11"]


def test_a_question_is_not_a_name():
    f = facts(patient_name=None)
    s = flow.step(None, Said("quero marcar"), f)
    s = flow.step(s.state, Said("qual o endereço?"), f)
    assert s.state["step"] == "name" and not s.commands
    assert "Rua A, 1" in s.replies[0].text and "nome completo" in s.replies[1].text


def test_birth_date_when_the_clinic_asks():
    f = facts(patient_name=None, ask_birth_date=True)
    s = flow.step(None, Said("marcar"), f)
    s = flow.step(s.state, Said("João Pereira"), f)
    assert s.state["step"] == "birth" and not s.commands
    s = flow.step(s.state, Said("31/02/1980"), f)  # no such day
    assert not s.commands and s.state["misses"] == 1
    s = flow.step(s.state, Said("25/12/1980"), f)
    assert s.commands == [flow.Register("João Pereira", datetime(1980, 12, 25).date())]


def test_booking_path_service_professional_day_time_summary():
    f = facts()
    s = flow.step(None, Said("", "menu:book"), f)
    assert s.state["step"] == "service"
    s = flow.step(s.state, Said("Consulta pediátrica", "svc:11"), f)
    assert s.state["step"] == "professional"
    assert ids(s.replies[0]) == ["pro:1", "pro:2", "pro:0"]
    s = flow.step(s.state, Said("Qualquer um", "pro:0"), f)
    (find,) = s.commands
    assert isinstance(find, flow.FindSlots) and find.service_id == 11 and find.professional_id is None
    s = flow.step(s.state, Slots((slot("k1", 5, 9), slot("k2", 5, 9, 30, BRUNO), slot("k3", 6, 14))), f)
    assert ids(s.replies[0]) == ["day:2026-03-05", "day:2026-03-06"]
    s = flow.step(s.state, Said("Qui 05/03", "day:2026-03-05"), f)
    (find,) = s.commands
    assert find.start.date().isoformat() == "2026-03-05" and find.end - find.start == timedelta(days=1)
    s = flow.step(s.state, Slots((slot("k4", 5, 9), slot("k5", 5, 9, 30, BRUNO))), f)
    assert ids(s.replies[0]) == ["slot:k4", "slot:k5"]
    s = flow.step(s.state, Said("09:30", "slot:k5"), f)
    assert s.commands == [flow.Hold("k5")]
    s = flow.step(s.state, Held(True), f)
    assert s.state["step"] == "summary"
    # Text is never a confirmation: only the summary's button (handled by the rails) books.
    s = flow.step(s.state, Said("sim, confirmo"), f)
    assert not s.commands and "Confirmar" in s.replies[0].text


def test_free_text_jumps_straight_to_the_slot():
    f = facts(services=(GERAL,))
    s = flow.step(None, Said("quero marcar segunda às 14h com a dra Ana"), f)
    (find,) = s.commands
    assert find.professional_id == ANA and find.start.date().isoformat() == "2026-03-09"
    s = flow.step(s.state, Slots((slot("a", 9, 13, 30), slot("b", 9, 14))), f)
    assert s.commands == [flow.Hold("b")]


def test_taken_time_offers_the_nearest_ones():
    f = facts(services=(GERAL,))
    s = flow.step(None, Said("marca segunda às 14h"), f)
    s = flow.step(s.state, Slots((slot("a", 9, 8), slot("b", 9, 15), slot("c", 9, 13, 30))), f)
    assert not s.commands
    assert ids(s.replies[0])[:2] == ["slot:c", "slot:b"] or set(ids(s.replies[0])) == {"slot:a", "slot:b", "slot:c"}
    assert "14:00" in s.replies[0].text


def test_period_filters_the_times():
    f = facts(services=(GERAL,))
    s = flow.step(None, Said("tem horário amanhã de manhã?"), f)
    s = flow.step(s.state, Slots((slot("a", 5, 9), slot("b", 5, 14))), f)
    assert ids(s.replies[0]) == ["slot:a"]


def test_a_failed_hold_asks_again():
    f = facts(services=(GERAL,))
    s = flow.step(None, Said("marcar sexta"), f)
    s = flow.step(s.state, Slots((slot("a", 6, 9),)), f)
    s = flow.step(s.state, Said("", "slot:a"), f)
    s = flow.step(s.state, Held(False, "Este horário acabou de ser ocupado; escolha outro."), f)
    assert "ocupado" in s.replies[0].text and isinstance(s.commands[0], flow.FindSlots)


def test_two_misunderstandings_hand_off():
    f = facts()
    s = flow.step(None, Said("blorp"), f)
    assert not s.commands and s.state["misses"] == 1 and not s.understood
    s = flow.step(s.state, Said("xyzzy"), f)
    assert isinstance(s.commands[0], flow.Handoff)


def test_understanding_resets_the_count():
    f = facts()
    s = flow.step(None, Said("blorp"), f)
    s = flow.step(s.state, Said("qual o endereço?"), f)
    assert "Rua A, 1" in s.replies[0].text and s.state["misses"] == 0
    s = flow.step(s.state, Said("blorp"), f)
    assert not s.commands


@pytest.mark.parametrize("text", ["estou com muita dor no peito", "meu filho está com febre alta, quero marcar",
                                  "é uma emergência", "falta de ar"])
def test_anything_clinical_gives_the_emergency_guidance_and_hands_off(text):
    s = flow.step({"step": "time", "service_id": 10, "misses": 0}, Said(text), facts())
    assert "192" in s.replies[0].text
    assert isinstance(s.commands[0], flow.Handoff)


@pytest.mark.parametrize("text", ["ATENDENTE", "quero falar com um atendente", "humano por favor"])
def test_human_on_request(text):
    s = flow.step(None, Said(text), facts())
    assert isinstance(s.commands[0], flow.Handoff)


def test_opt_out():
    assert flow.step(None, Said("sair"), facts()).commands == [flow.OptOut()]


def _appt(aid, day, hour, status="booked"):
    return flow.ApptFact(aid, datetime(2026, 3, day, hour, tzinfo=SP), 10, GERAL.name, ANA, PROS[ANA], status)


def test_cancel_asks_before_cancelling():
    f = facts(upcoming=(_appt(7, 10, 9),))
    s = flow.step(None, Said("quero desmarcar"), f)
    assert s.state["step"] == "cancel_confirm" and ids(s.replies[0]) == ["yes", "no"]
    s = flow.step(s.state, Said("", "yes"), f)
    assert s.commands == [flow.Cancel(7)]
    s = flow.step(s.state, Done(True, "Consulta desmarcada.", "cancel"), f)
    assert s.state["step"] == "idle"


def test_cancel_with_two_appointments_asks_which():
    f = facts(upcoming=(_appt(7, 10, 9), _appt(8, 12, 15)))
    s = flow.step(None, Said("cancelar"), f)
    assert ids(s.replies[0]) == ["appt:7", "appt:8"]
    s = flow.step(s.state, Said("", "appt:99"), f)  # not one of the patient's
    assert not s.commands and s.state["misses"] == 1
    s = flow.step(s.state, Said("", "appt:8"), f)
    s = flow.step(s.state, Said("sim"), f)
    assert s.commands == [flow.Cancel(8)]


def test_reschedule_to_friday():
    f = facts(upcoming=(_appt(7, 10, 9),))
    s = flow.step(None, Said("remarcar para sexta"), f)
    (find,) = s.commands
    assert find.professional_id == ANA and find.start.date().isoformat() == "2026-03-06"
    s = flow.step(s.state, Slots((slot("x", 6, 10),)), f)
    s = flow.step(s.state, Said("", "slot:x"), f)
    assert s.commands == [flow.ProposeReschedule(7, "x")]


def test_confirm_by_text():
    f = facts(upcoming=(_appt(7, 10, 9, "confirmed"), _appt(8, 12, 9)))
    assert flow.step(None, Said("confirmo"), f).commands == [flow.Confirm(8)]


def test_prices_come_only_from_the_services():
    s = flow.step(None, Said("quanto custa a consulta pediátrica?"), facts())
    assert "recepção" in s.replies[0].text and "R$" not in s.replies[0].text
    s = flow.step(None, Said("qual o valor?"), facts())
    assert "R$ 250,00" in s.replies[0].text


def test_no_free_slots():
    f = facts(services=(GERAL,))
    s = flow.step(None, Said("marcar"), f)
    s = flow.step(s.state, Slots(()), f)
    assert s.state["step"] == "idle" and "menu:handoff" in ids(s.replies[0])


_texts = st.sampled_from(["oi", "marcar", "sexta", "às 14h", "blorp", "sim", "não", "cancelar", "remarcar",
                          "endereço", "quanto custa", "amanhã de manhã", "confirmar", "Dra. Ana", "1"])
_ids = st.sampled_from(["", "svc:10", "svc:11", "pro:1", "pro:0", "day:2026-03-06", "slot:k1", "slot:forged",
                        "yes", "no", "appt:7", "appt:666", "menu:book", "chg", "stop", "more"])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_texts, _ids), max_size=12))
def test_any_conversation_stays_on_the_rails(events):
    """Whatever the patient sends, the flow never books (it has no such command), never
    makes up a slot id (it holds what the rails issued or what the patient sent, which the
    rails check), only touches the patient's own appointments, and never crashes."""
    f = facts(upcoming=(_appt(7, 10, 9),))
    state = None
    issued: set[str] = set()
    for text, rid in events:
        s = flow.step(state, Said(text, rid), f)
        for _ in range(4):
            state = s.state
            if not s.commands:
                break
            cmd = s.commands[0]
            if isinstance(cmd, flow.FindSlots):
                issued.add("k1")
                s = flow.step(state, Slots((slot("k1", 6, 9),)), f)
            elif isinstance(cmd, (flow.Hold, flow.ProposeReschedule)):
                key = cmd.slot_key
                # A forged id reaches the rails, which refuse it (test_responder); the flow
                # never makes one up.
                assert key in issued or key == "forged", key
                s = flow.step(state, Held(key in issued, "" if key in issued else "recusado"), f)
            elif isinstance(cmd, (flow.Cancel, flow.Confirm, flow.JoinWaitlist)):
                assert cmd.appointment_id == 7
                s = flow.step(state, Done(True, "ok", "x"), f)
            else:
                break
        state = s.state
        assert state["step"] in {"idle", "name", "birth", "service", "professional", "day", "time", "summary",
                                 "pick", "cancel_confirm", "registering"}
