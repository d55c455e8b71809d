"""The clinic assistant as messaging's automated responder (``messaging.responders``).

For every inbound message of a clinic's conversation in state ``bot`` (messaging enforces
that: the assistant never talks over a human), :meth:`ClinicAssistant.handle`:

1. loads the conversation's :class:`~central.assistant.models.AssistantSession`;
2. lets the rails answer what no engine may decide: the summary's *Confirmar* button
   (the only way anything is booked), *Outro horário* / *Desistir*, a reminder's
   *Confirmar* / *Remarcar* / *Cancelar* and a waitlist offer's *Quero* / *Não*;
3. otherwise asks the clinic's engine (``config.engine_for``); an LLM engine that fails
   or times out is replaced by the offline flow for the rest of the conversation, and
   the same message is answered by it;
4. sends the replies through ``messaging.services`` as the bot, and saves the session.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import flow, intents
from .engine import EngineError, Inbound, Reply
from .rails import CHANGE_ID, CONFIRM_PREFIX, STOP_ID, Rails

log = logging.getLogger(__name__)

NAME = "clinic-assistant"
BUTTON_TITLE_MAX = 20
ROW_TITLE_MAX = 24


def inbound_of(message) -> Inbound:
    from central.messaging.cloudapi import read_inbound

    reply_id = ""
    if message.kind in ("interactive", "button") and isinstance(message.payload, dict):
        reply_id = read_inbound(message.payload).reply_id
    return Inbound(text=message.body or "", reply_id=reply_id, kind=message.kind)


def send(conversation, replies: list[Reply]) -> None:
    """Queue the replies as the bot (messaging refuses if a human took the conversation)."""
    from central.messaging import services as messaging

    for reply in replies:
        try:
            if reply.buttons:
                messaging.send_interactive(conversation, reply.text,
                                           buttons=[(i, t[:BUTTON_TITLE_MAX]) for i, t in reply.buttons], bot=True)
            elif reply.rows:
                rows = [{"id": i, "title": t[:ROW_TITLE_MAX], "description": d[:72]} for i, t, d in reply.rows]
                messaging.send_interactive(conversation, reply.text, sections=[{"title": _("Opções")[:24],
                                                                                "rows": rows[:10]}],
                                           list_button=(reply.list_button or _("Opções"))[:20], bot=True)
            else:
                messaging.send_text(conversation, reply.text, bot=True)
        except messaging.BotSilenced:
            return  # a human took over meanwhile: say nothing more
        except messaging.OptedOut:
            return


def send_notice(conversation, replies: list[Reply]) -> None:
    from central.messaging import services as messaging

    text = "\n\n".join(r.text for r in replies if r.text)
    if text:
        messaging.send_system_text(conversation, text)


class ClinicAssistant:
    """The responder registered with messaging for organizations of kind ``clinic``."""

    name = NAME

    def applies_to(self, conversation) -> bool:
        from .config import assistant_enabled

        return conversation.organization.kind == "clinic" and assistant_enabled(conversation.organization)

    def handle(self, conversation, message) -> None:
        from .config import engine_for
        from .models import AssistantSession

        session, _created = AssistantSession.objects.get_or_create(
            conversation=conversation, defaults={"organization_id": conversation.organization_id,
                                                 "state": {}})
        state = dict(session.state or {})
        inbound = inbound_of(message)
        rails = Rails(conversation, state)
        replies = self._rails_first(rails, state, inbound)
        if replies is None:
            engine = engine_for(conversation.organization, session)
            if engine.name != "offline" and (rails.patient() is None
                                             or (state.get("flow") or {}).get("step", "idle") != "idle"):
                # Registration (name, LGPD consent) and a path of buttons the patient is
                # in the middle of belong to the deterministic flow, whatever the engine.
                from .offline import OfflineEngine

                engine = OfflineEngine()
            try:
                turn = engine.turn(state, inbound, rails)
            except EngineError as exc:
                log.warning("assistant engine %s failed for conversation %s: %s; offline flow takes over",
                            engine.name, conversation.pk, exc)
                session.engine = "offline"
                session.fallbacks += 1
                session.last_error = str(exc)[:300]
                from .offline import OfflineEngine

                rails.sent.clear()
                turn = OfflineEngine().turn(state, inbound, rails)
            replies = turn.replies
        if rails.handoff_reason:
            # The sender drops a bot message once the conversation left ``bot`` (messaging's
            # rule), so the hand-off turn (the emergency guidance, "vou chamar alguém") goes
            # after the hand-off as the platform's own notice, which is always delivered.
            rails.finish()
            send_notice(conversation, replies)
        else:
            send(conversation, replies)
        session.state = state
        session.updated_at = timezone.now()
        session.save(update_fields=["state", "engine", "fallbacks", "last_error", "updated_at"])

    def _rails_first(self, rails: Rails, state: dict, inbound: Inbound) -> list[Reply] | None:
        rid = inbound.reply_id
        if not rid and intents.is_clinical(inbound.text):
            # Anything clinical, whatever the engine: the clinic's guidance, then a human.
            guidance = rails.info.get("emergency") or _("Em caso de emergência, ligue 192 (SAMU).")
            rails.handoff(_("Assunto clínico: %(texto)s") % {"texto": inbound.text[:120]})
            state["flow"] = flow.initial_state()
            return [Reply(guidance + "\n" + _("Vou passar sua conversa para a equipe da clínica."))]
        if not rid and inbound.kind == "button":
            rid = inbound.text  # a template quick reply carries its label ("Confirmar")
        if rid.startswith(CONFIRM_PREFIX):
            with transaction.atomic():
                replies = rails.commit(rid[len(CONFIRM_PREFIX):])
            state["flow"] = flow.initial_state()
            return replies
        if rid in (CHANGE_ID, STOP_ID):
            rails.release()
            return None  # the engine asks for another time / says goodbye
        if rid:
            from central.scheduling import reminders

            before = {a.id for a in rails.facts().upcoming} if rails.patient() else set()
            result = rails.reminder_reply(rid) or rails.waitlist_reply(rid)
            if result is not None:
                parsed = reminders.parse_button(rid)
                return self._after_reply(rails, state, result, parsed[1] if parsed else None, before)
        return None

    def _after_reply(self, rails: Rails, state: dict, result: dict, appt_id: int | None,
                     before: set[int]) -> list[Reply]:
        replies = [Reply(result["message"])] if result.get("message") else []
        slots = result.get("slots")
        state["flow"] = flow.initial_state()
        if slots is None or not result.get("ok"):
            return replies
        # "Remarcar" from a reminder: the flow continues with the times the agenda offered
        # (the reminded appointment: the button's id, or the one the quick reply applied to).
        facts = rails.facts()
        appt = facts.appt(appt_id) if appt_id else None
        if appt is None:
            same = [a for a in facts.upcoming if a.id in before and a.service_id == slots[0].service_id
                    and a.professional_id == slots[0].professional_id] if slots else []
            appt = same[0] if same else None
        if appt is None or not slots:
            return replies
        found = rails.adopt_slots(slots)
        fstate = {"step": "time", "mode": "reschedule", "appt_id": appt.id, "service_id": appt.service_id,
                  "professional_id": appt.professional_id, "misses": 0, "searching": "times"}
        step = flow.step(fstate, flow.Slots(tuple(found)), facts)
        state["flow"] = step.state
        return step.replies or replies


def install() -> None:
    from central.messaging import responders

    responders.register(ClinicAssistant())
