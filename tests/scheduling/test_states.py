"""The appointment state machine: every pair of states, allowed or refused."""

from __future__ import annotations

import itertools

import pytest

from central.scheduling import states

pytestmark = pytest.mark.backend_free

ALLOWED = {
    ("held", "booked"), ("held", "expired"), ("held", "cancelled"),
    ("booked", "confirmed"), ("booked", "checked_in"), ("booked", "cancelled"), ("booked", "no_show"),
    ("booked", "rescheduled"),
    ("confirmed", "checked_in"), ("confirmed", "cancelled"), ("confirmed", "no_show"), ("confirmed", "rescheduled"),
    ("checked_in", "completed"),
}
ALL = list(states.LABELS)


@pytest.mark.parametrize(("current", "target"), sorted(ALLOWED))
def test_allowed(current, target):
    assert states.allowed(current, target)
    states.check(current, target, reason="motivo", cancelled_by=states.BY_CLINIC)


@pytest.mark.parametrize(("current", "target"),
                         sorted(set(itertools.product(ALL, ALL)) - ALLOWED))
def test_refused_names_both_states(current, target):
    assert not states.allowed(current, target)
    with pytest.raises(states.TransitionError) as err:
        states.check(current, target, reason="motivo", cancelled_by=states.BY_CLINIC)
    message = str(err.value)
    assert states.label(current) in message and states.label(target) in message
    assert err.value.current == current and err.value.target == target


def test_the_table_is_the_expected_one():
    table = {(a, b) for a, targets in states.TRANSITIONS.items() for b in targets}
    assert table == ALLOWED
    assert set(states.TRANSITIONS) == set(ALL)


@pytest.mark.parametrize("current", ["booked", "confirmed"])
def test_cancel_needs_who_and_why(current):
    with pytest.raises(states.TransitionError, match="quem cancelou"):
        states.check(current, "cancelled", reason="viagem")
    with pytest.raises(states.TransitionError, match="motivo"):
        states.check(current, "cancelled", reason="  ", cancelled_by=states.BY_PATIENT)
    states.check(current, "cancelled", reason="viagem", cancelled_by=states.BY_PATIENT)


def test_message_is_portuguese():
    with pytest.raises(states.TransitionError) as err:
        states.check("completed", "booked")
    assert str(err.value) == "Não é possível passar o agendamento de “concluído” para “agendado”."
