"""The appointment's life, as one table of allowed transitions (pure, no Django models).

::

    held       -> booked | expired | cancelled
    booked     -> confirmed | checked_in | cancelled | no_show | rescheduled
    confirmed  -> checked_in | cancelled | no_show | rescheduled
    checked_in -> completed
    completed, cancelled, no_show, rescheduled, expired: final

* ``held``: a slot kept for a few minutes while the patient confirms the summary; it
  expires by itself (``expired``) or is released (``cancelled``).
* ``booked``: pending confirmation; the reminders ask for it.
* ``cancelled`` carries who cancelled (patient or clinic) and a reason, always.
* ``rescheduled``: the old appointment, linked to its replacement (the replacement is
  a new appointment that went through ``held`` → ``booked`` itself).

:func:`check` refuses anything not in :data:`TRANSITIONS` with a pt-BR message that names
both states (``TransitionError``); the service layer (``services.transition``) audits
every accepted one with who, when, why and the channel.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

HELD = "held"
BOOKED = "booked"
CONFIRMED = "confirmed"
CHECKED_IN = "checked_in"
COMPLETED = "completed"
CANCELLED = "cancelled"
NO_SHOW = "no_show"
RESCHEDULED = "rescheduled"
EXPIRED = "expired"

LABELS = {
    HELD: gettext_lazy("reservado"),
    BOOKED: gettext_lazy("agendado"),
    CONFIRMED: gettext_lazy("confirmado"),
    CHECKED_IN: gettext_lazy("em atendimento"),
    COMPLETED: gettext_lazy("concluído"),
    CANCELLED: gettext_lazy("cancelado"),
    NO_SHOW: gettext_lazy("não compareceu"),
    RESCHEDULED: gettext_lazy("remarcado"),
    EXPIRED: gettext_lazy("reserva expirada"),
}
CHOICES = [(k, v) for k, v in LABELS.items()]

#: from-state -> the states it may move to. Everything else is refused.
TRANSITIONS: dict[str, frozenset[str]] = {
    HELD: frozenset({BOOKED, EXPIRED, CANCELLED}),
    BOOKED: frozenset({CONFIRMED, CHECKED_IN, CANCELLED, NO_SHOW, RESCHEDULED}),
    CONFIRMED: frozenset({CHECKED_IN, CANCELLED, NO_SHOW, RESCHEDULED}),
    CHECKED_IN: frozenset({COMPLETED}),
    COMPLETED: frozenset(),
    CANCELLED: frozenset(),
    NO_SHOW: frozenset(),
    RESCHEDULED: frozenset(),
    EXPIRED: frozenset(),
}

#: States that occupy the professional's time (the exclusion constraint's condition).
ACTIVE = (HELD, BOOKED, CONFIRMED, CHECKED_IN, COMPLETED)
#: States a patient or the clinic may still change (cancel, reschedule).
OPEN = (BOOKED, CONFIRMED)

BY_PATIENT = "patient"
BY_CLINIC = "clinic"
CANCELLED_BY = (BY_PATIENT, BY_CLINIC)


class TransitionError(ValueError):
    """A refused transition; ``str()`` is the pt-BR message for the person who asked."""

    def __init__(self, message: str, *, current: str, target: str) -> None:
        super().__init__(message)
        self.current = current
        self.target = target


def label(state: str) -> str:
    return str(LABELS.get(state, state))


def allowed(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def check(current: str, target: str, *, reason: str = "", cancelled_by: str = "") -> None:
    """Raise :class:`TransitionError` unless ``current`` → ``target`` is allowed.

    A cancellation must say who cancelled (patient or clinic) and why.
    """
    if not allowed(current, target):
        raise TransitionError(
            _("Não é possível passar o agendamento de “%(atual)s” para “%(novo)s”.")
            % {"atual": label(current), "novo": label(target)},
            current=current, target=target,
        )
    if target == CANCELLED and current != HELD:
        if cancelled_by not in CANCELLED_BY:
            raise TransitionError(_("Informe quem cancelou: paciente ou clínica."), current=current, target=target)
        if not reason.strip():
            raise TransitionError(_("Informe o motivo do cancelamento."), current=current, target=target)
