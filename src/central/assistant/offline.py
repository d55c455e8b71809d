"""The offline engine (the default): the pure flow of :mod:`flow`, driven through the rails.

No model, no network: ``flow.step`` decides, this driver runs its commands through the
:class:`~central.assistant.rails.Rails` and feeds the results back as events until the
flow has nothing left to do for this message.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from . import flow
from .engine import Inbound, Turn
from .rails import RailRefused, Rails

#: Bound on command → event rounds per message (a flow bug must not loop forever).
MAX_ROUNDS = 6


class OfflineEngine:
    name = "offline"

    def turn(self, session: dict, inbound: Inbound, rails: Rails) -> Turn:
        state = session.get("flow") or flow.initial_state()
        facts = rails.facts()
        result = flow.step(state, flow.Said(inbound.text, inbound.reply_id), facts)
        turn = Turn(understood=result.understood)
        for _round in range(MAX_ROUNDS):
            turn.replies.extend(result.replies)
            state = result.state
            if not result.commands:
                break
            event = None
            for command in result.commands:
                event = self._run(command, state, rails, turn) or event
            if event is None:
                break
            if isinstance(event, flow.Done) and event.what == "register":
                facts = rails.facts()  # the patient exists now
            result = flow.step(state, event, facts)
        session["flow"] = state
        return turn

    def _run(self, command, state: dict, rails: Rails, turn: Turn):
        try:
            if isinstance(command, flow.FindSlots):
                exclude = state.get("appt_id") if state.get("mode") == "reschedule" else None
                return flow.Slots(tuple(rails.find_slots(command.service_id, command.professional_id, command.start,
                                                         command.end, command.limit, exclude=exclude)))
            if isinstance(command, flow.Hold):
                turn.replies.append(rails.hold(command.slot_key))
                return flow.Held(True)
            if isinstance(command, flow.ProposeReschedule):
                turn.replies.append(rails.propose_reschedule(command.appointment_id, command.slot_key))
                return flow.Held(True)
            if isinstance(command, flow.Cancel):
                return flow.Done(True, rails.cancel(command.appointment_id), "cancel")
            if isinstance(command, flow.Confirm):
                return flow.Done(True, rails.confirm(command.appointment_id), "confirm")
            if isinstance(command, flow.JoinWaitlist):
                return flow.Done(True, rails.join_waitlist(command.appointment_id), "waitlist")
            if isinstance(command, flow.Register):
                rails.register(command.name, command.birth_date)
                return flow.Done(True, "", "register")
            if isinstance(command, flow.Handoff):
                rails.handoff(command.reason)
                return None
            if isinstance(command, flow.OptOut):
                rails.opt_out()
                return None
        except RailRefused as exc:
            if isinstance(command, (flow.Hold, flow.ProposeReschedule)):
                return flow.Held(False, str(exc))
            return flow.Done(False, str(exc), type(command).__name__.lower())
        raise ValueError(f"unknown command {command!r}")  # pragma: no cover - a flow bug


def apology() -> str:
    return _("Desculpe, tive um problema aqui.")
