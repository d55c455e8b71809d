"""Every app's business refusals reach API clients in one error shape, with their status."""

from __future__ import annotations

import pytest

from central.core.errors import exception_handler
from central.core.refusals import Refusal
from central.messaging.services import InvalidMessage, WindowClosed
from central.scheduling.services import SchedulingError, SlotUnavailable

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free


class _Taken(Refusal):
    code = "taken"


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (_Taken("Já está com outra pessoa.", holder="x"), 409, "taken"),
        (WindowClosed("Janela fechada.", templates=["lembrete"]), 409, "window_closed"),
        (InvalidMessage("Mensagem inválida."), 400, "invalid_message"),
        (SlotUnavailable("Horário ocupado."), 409, "slot_unavailable"),
        (SchedulingError("Paciente não encontrado."), 400, "scheduling_error"),
    ],
)
def test_refusal_answers_in_the_error_shape_with_its_status(exc, status, code):
    response = exception_handler(exc, {})
    assert response is not None
    assert response.status_code == status
    assert response.data["error"]["code"] == code
    assert response.data["error"]["message"] == exc.message
    assert response.data["error"]["fields"] == exc.extra


def test_an_ordinary_exception_is_not_taken_for_a_refusal():
    assert exception_handler(ValueError("bug"), {}) is None
