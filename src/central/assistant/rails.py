"""The safety rails: the one server-side place every action of every engine goes through.

Neither engine touches the agenda or the channel directly; they call these methods, which
enforce what a model (or a bug in the flow) must never be able to bypass:

* **Opaque slot ids.** :meth:`Rails.find_slots` hands out short random keys and keeps,
  in the conversation's session, what each stands for (the agenda's signed token).
  A key this conversation was not given (a forged, guessed or another patient's id, or a
  raw time) is refused; the agenda re-checks the token's signature and the slot anyway.
* **Validated calls.** The service and professional must be the clinic's and active,
  the slot really free (``scheduling.services.hold_slot`` re-checks it under a lock), the
  patient identified (registered with name, and birth date where the clinic asks), an
  appointment to change must be this patient's and still open, the clinic's policy
  (minimum notice, days ahead, per-day limit) is the agenda's own check.
* **Booking only on the button.** :meth:`hold` (the flow's choice, the LLM's
  ``hold_slot`` / ``book``) only holds the slot and sends a **summary** with a
  *Confirmar* button whose id carries a random nonce; :meth:`commit` books only when the
  patient presses that button of the current summary. Changing and cancelling through
  the LLM use the same summary + button; nothing books on text alone.
* **No invented values.** Summaries and results are rendered here from the agenda's
  values; :meth:`unbacked_values` finds prices and times in an engine's free text that no
  service gave (the LLM engine's text is dropped for the offline flow's when it has any).
* **Hand-off** (:meth:`handoff`) and **opt-out** (:meth:`opt_out`) through messaging.
"""

from __future__ import annotations

import contextlib
import logging
import re
import secrets
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.utils import timezone
from django.utils.translation import gettext as _

from central.scheduling import services as _agenda

from . import flow
from .engine import Reply

log = logging.getLogger(__name__)

CONFIRM_PREFIX = "ok:"
CHANGE_ID = "chg"
STOP_ID = "stop"
#: How many issued slot keys a session keeps (older ones stop being accepted).
MAX_SLOT_KEYS = 120
ACTOR = "assistente"
#: The agenda's channel of what the assistant does (its one constant, not a second spelling).
WHATSAPP = _agenda.Appointment.Channel.WHATSAPP


class RailRefused(Exception):
    """A tool call the rails refuse; ``str()`` is pt-BR for the patient/model."""


_PRICE_RE = re.compile(r"R\$\s*(\d{1,3}(?:\.\d{3})*|\d+)(?:,(\d{2}))?|(\d+)(?:[.,](\d{2}))?\s*reais", re.I)
_TIME_RE = re.compile(r"\b(\d{1,2})(?::(\d{2})|h(\d{2})?)\b", re.I)


class Rails:
    """The validated tools of one conversation (``state`` is the session's dict, mutated)."""

    def __init__(self, conversation, state: dict, *, now: datetime | None = None) -> None:
        from central.scheduling import services as agenda

        self.conversation = conversation
        self.org = conversation.organization
        self.contact = conversation.contact
        self.state = state
        self.now = now or timezone.now()
        self.tz = ZoneInfo(self.org.timezone or "America/Sao_Paulo")
        self.info = agenda.clinic_info(self.org)
        self._patient = None
        self.sent: list[Reply] = []  # what the rails themselves answered this turn
        self.handoff_reason = ""

    # --- who ------------------------------------------------------------------------------

    @property
    def phone(self) -> str:
        return self.contact.phone

    def patient(self):
        from central.scheduling import services as agenda

        if self._patient is None:
            self._patient = agenda.find_patient(self.org, self.phone)
        return self._patient

    def _need_patient(self):
        patient = self.patient()
        if patient is None:
            raise RailRefused(_("Preciso do seu nome antes de agendar."))
        return patient

    def facts(self) -> flow.Facts:
        from central.scheduling import services as agenda

        patient = self.patient()
        upcoming = ()
        if patient is not None:
            upcoming = tuple(flow.ApptFact(a.pk, a.start.astimezone(self.tz), a.service_id, a.service.name,
                                           a.professional_id, a.professional.name, a.status)
                             for a in agenda.upcoming_for_patient(self.org, patient, now=self.now)[:10])
        hours = tuple(agenda.opening_hours(self.org))
        return flow.Facts(
            now=self.now.astimezone(self.tz),
            services=tuple(flow.ServiceFact(s["id"], s["name"], s["price"], tuple(s["professionals"]))
                           for s in self.info["services"]),
            professionals={p["id"]: p["name"] for p in self.info["professionals"]},
            patient_name=patient.name if patient is not None else None,
            ask_birth_date=bool(self.info.get("ask_birth_date")),
            upcoming=upcoming, emergency=self.info.get("emergency") or "",
            locations=tuple((loc["name"], loc["address"], loc["directions"]) for loc in self.info["locations"]),
            hours=hours)

    # --- slots ----------------------------------------------------------------------------

    def _service(self, service_id):
        from central.scheduling import services as agenda

        service = agenda.service_for(self.org, service_id)
        if service is None or not any(s["id"] == service_id for s in self.info["services"]):
            raise RailRefused(_("Serviço não encontrado."))
        return service

    def find_slots(self, service_id: int, professional_id: int | None, start: datetime | None = None,
                   end: datetime | None = None, limit: int = 20, exclude: int | None = None) -> list[flow.SlotFact]:
        from central.scheduling import services as agenda

        service = self._service(int(service_id))
        if professional_id:
            offered = next(s["professionals"] for s in self.info["services"] if s["id"] == service.pk)
            if int(professional_id) not in offered:
                raise RailRefused(_("Este profissional não atende esse serviço."))
        found = agenda.find_slots(self.org, service, professional=int(professional_id) if professional_id else None,
                                  start=start, end=end, limit=max(1, min(int(limit), 200)), now=self.now,
                                  exclude_appointment=self._own_appointment(exclude).pk if exclude else None)
        return self.adopt_slots(found)

    def adopt_slots(self, found) -> list[flow.SlotFact]:
        """Issue opaque keys for the agenda's ``OpenSlot`` values (kept in the session)."""
        store = self.state.setdefault("slots", {})
        out = []
        for s in found:
            key = secrets.token_urlsafe(6)
            store[key] = {"t": s.token, "s": s.start.isoformat(), "p": s.professional_id, "n": s.professional,
                          "svc": s.service_id}
            out.append(flow.SlotFact(key, s.start.astimezone(self.tz), s.professional_id, s.professional))
        if len(store) > MAX_SLOT_KEYS:
            for old in list(store)[: len(store) - MAX_SLOT_KEYS]:
                del store[old]
        return out

    def _slot(self, key: str) -> dict:
        slot = (self.state.get("slots") or {}).get(str(key or ""))
        if slot is None:
            log.warning("assistant: slot id %r not issued to conversation %s", str(key)[:40], self.conversation.pk)
            raise RailRefused(_("Esse horário não está entre os oferecidos; consulte os horários de novo."))
        return slot

    # --- summaries: nothing books before the button -----------------------------------------

    def _summary(self, kind: str, text: str, nonce: str) -> Reply:
        reply = Reply(text, buttons=((CONFIRM_PREFIX + nonce, _("Confirmar")), (CHANGE_ID, _("Outro horário")),
                                     (STOP_ID, _("Desistir"))))
        self.sent.append(reply)
        return reply

    def _service_info(self, service_id: int) -> dict:
        return next(s for s in self.info["services"] if s["id"] == service_id)

    def _where(self, location_id) -> str:
        loc = next((x for x in self.info["locations"] if x["id"] == location_id), None)
        if loc is None and len(self.info["locations"]) == 1:
            loc = self.info["locations"][0]
        return f"{loc['name']} — {loc['address']}" if loc and loc["address"] else (loc["name"] if loc else "")

    def release(self) -> None:
        """Drop the pending summary (and free its hold)."""
        from central.scheduling import services as agenda

        pending = self.state.pop("pending", None)
        if pending and pending.get("kind") == "book" and pending.get("appt"):
            hold = agenda.appointment_for(self.org, pending["appt"])
            if hold is not None and hold.status == "held":
                with contextlib.suppress(agenda.SchedulingError):
                    agenda.cancel(hold, by="patient", reason=_("desistiu no resumo"), actor_label=ACTOR,
                                  channel=WHATSAPP, now=self.now)

    def hold(self, key: str) -> Reply:
        """Hold the slot and send the summary with *Confirmar* (the booking waits for it)."""
        from central.scheduling import services as agenda

        patient = self._need_patient()
        slot = self._slot(key)
        self.release()
        try:
            appt = agenda.hold_slot(self.org, patient=patient, token=slot["t"], channel=WHATSAPP,
                                    actor_label=ACTOR, now=self.now)
        except agenda.SchedulingError as exc:
            raise RailRefused(str(exc)) from exc
        nonce = secrets.token_urlsafe(8)
        self.state["pending"] = {"kind": "book", "nonce": nonce, "appt": appt.pk}
        svc = self._service_info(appt.service_id)
        start = appt.start.astimezone(self.tz)
        lines = [_("Confira o agendamento:"), f"• {svc['name']}", f"• {slot['n']}", f"• {flow.fmt_when(start)}"]
        where = self._where(appt.location_id)
        if where:
            lines.append(f"• {where}")
        if svc["price"] is not None:
            lines.append(_("• Valor: %(valor)s") % {"valor": flow.fmt_price(svc["price"])})
        lines.append(_("Toque em *Confirmar* para agendar. O horário fica reservado por %(min)d minutos.")
                     % {"min": agenda.settings_for(self.org).hold_minutes})
        return self._summary("book", "\n".join(lines), nonce)

    def propose_reschedule(self, appointment_id: int, key: str) -> Reply:
        appt = self._own_appointment(appointment_id)
        slot = self._slot(key)
        nonce = secrets.token_urlsafe(8)
        self.release()
        self.state["pending"] = {"kind": "reschedule", "nonce": nonce, "appt": appt.pk, "slot": key}
        start = datetime.fromisoformat(slot["s"]).astimezone(self.tz)
        text = _("Remarcar %(servico)s de %(antes)s para %(depois)s com %(prof)s?") % {
            "servico": appt.service.name, "antes": flow.fmt_when(appt.start.astimezone(self.tz)),
            "depois": flow.fmt_when(start), "prof": slot["n"]}
        return self._summary("reschedule", text + "\n" + _("Toque em *Confirmar* para remarcar."), nonce)

    def propose_cancel(self, appointment_id: int) -> Reply:
        appt = self._own_appointment(appointment_id)
        nonce = secrets.token_urlsafe(8)
        self.release()
        self.state["pending"] = {"kind": "cancel", "nonce": nonce, "appt": appt.pk}
        text = _("Desmarcar %(servico)s com %(prof)s, %(quando)s?") % {
            "servico": appt.service.name, "prof": appt.professional.name,
            "quando": flow.fmt_when(appt.start.astimezone(self.tz))}
        reply = Reply(text + "\n" + _("Toque em *Confirmar* para desmarcar."),
                      buttons=((CONFIRM_PREFIX + nonce, _("Confirmar")), (STOP_ID, _("Manter consulta"))))
        self.sent.append(reply)
        return reply

    def commit(self, nonce: str) -> list[Reply]:
        """The patient pressed *Confirmar*: do what the current summary said, once."""
        from central.scheduling import services as agenda

        pending = self.state.get("pending") or {}
        if not nonce or not secrets.compare_digest(str(pending.get("nonce", "")), nonce):
            return [Reply(_("Esse resumo não vale mais. Vamos recomeçar?")), flow.menu()]
        self.state.pop("pending", None)
        ch = WHATSAPP
        try:
            if pending["kind"] == "book":
                hold = agenda.appointment_for(self.org, pending["appt"])
                if hold is None:
                    return [flow.menu()]
                appt = agenda.book(hold, actor_label=ACTOR, channel=ch, now=self.now)
                svc = self._service_info(appt.service_id)
                text = _("Agendado! %(servico)s com %(prof)s, %(quando)s.") % {
                    "servico": svc["name"], "prof": appt.professional.name,
                    "quando": flow.fmt_when(appt.start.astimezone(self.tz))}
                if svc.get("instructions"):
                    text += "\n" + svc["instructions"]
                return [Reply(text)]
            if pending["kind"] == "reschedule":
                appt = self._own_appointment(pending["appt"])
                slot = self._slot(pending["slot"])
                new = agenda.reschedule(appt, token=slot["t"], actor_label=ACTOR, channel=ch,
                                        reason=_("remarcado pelo paciente no WhatsApp"), now=self.now)
                return [Reply(_("Remarcado para %(quando)s com %(prof)s.") % {
                    "quando": flow.fmt_when(new.start.astimezone(self.tz)), "prof": new.professional.name})]
            if pending["kind"] == "cancel":
                return [Reply(self.cancel(pending["appt"]))]
        except (agenda.SchedulingError, RailRefused) as exc:
            return [Reply(str(exc)), flow.menu()]
        return [flow.menu()]

    # --- appointments -----------------------------------------------------------------------

    def _own_appointment(self, appointment_id):
        from central.scheduling import services as agenda

        patient = self._need_patient()
        try:
            aid = int(appointment_id)
        except (TypeError, ValueError):
            raise RailRefused(_("Consulta não encontrada.")) from None
        appt = agenda.upcoming_for_patient(self.org, patient, now=self.now).filter(pk=aid).first()
        if appt is None:
            raise RailRefused(_("Consulta não encontrada."))
        return appt

    def cancel(self, appointment_id) -> str:
        from central.scheduling import services as agenda

        appt = self._own_appointment(appointment_id)
        try:
            agenda.cancel(appt, by="patient", reason=_("desmarcado pelo paciente no WhatsApp"), actor_label=ACTOR,
                          channel=WHATSAPP, now=self.now)
        except agenda.SchedulingError as exc:
            raise RailRefused(str(exc)) from exc
        return _("Consulta desmarcada. Se quiser, é só pedir para marcar outra.")

    def confirm(self, appointment_id) -> str:
        from central.scheduling import services as agenda

        appt = self._own_appointment(appointment_id)
        try:
            agenda.confirm(appt, actor_label=ACTOR, channel=WHATSAPP, now=self.now)
        except agenda.SchedulingError as exc:
            raise RailRefused(str(exc)) from exc
        return _("Consulta confirmada. Até lá!")

    def join_waitlist(self, appointment_id) -> str:
        from central.scheduling import waitlist

        appt = self._own_appointment(appointment_id)
        try:
            waitlist.join_waitlist(self.org, appt.patient, appt.service, professional=appt.professional,
                                   current=appt, earliest=self.now, latest=appt.start)
        except Exception as exc:
            raise RailRefused(str(exc)) from exc
        return _("Pronto: se abrir um horário antes de %(quando)s, eu te aviso por aqui.") % {
            "quando": flow.fmt_when(appt.start.astimezone(self.tz))}

    def register(self, name: str, birth_date: date | None) -> str:
        from central.messaging import services as messaging
        from central.scheduling import services as agenda

        name = " ".join((name or "").split())[:120]
        if len(name) < 2:
            raise RailRefused(_("Por favor, escreva seu nome completo."))
        if self.info.get("ask_birth_date") and birth_date is None:
            raise RailRefused(_("Preciso da sua data de nascimento."))
        patient, _created = agenda.get_or_create_patient(self.org, self.phone, name=name, birth_date=birth_date)
        self._patient = patient
        if self.contact.opted_in_at is None:
            messaging.record_opt_in(self.contact, source=_("assistente: nome informado após o aviso da LGPD"))
        return _("Obrigado, %(nome)s!") % {"nome": name.split()[0]}

    # --- the channel --------------------------------------------------------------------------

    def handoff(self, reason: str) -> None:
        """Hand the conversation to a human once this turn's replies are queued (after the
        hand-off the bot may not speak: the emergency guidance must go first)."""
        self.release()
        self.handoff_reason = (reason or _("Pedido do assistente."))[:200]

    def finish(self) -> None:
        from central.messaging import services as messaging

        if self.handoff_reason:
            messaging.hand_off(self.conversation, self.handoff_reason)

    def opt_out(self) -> None:
        from central.messaging import services as messaging

        self.release()
        messaging.record_opt_out(self.contact, source="assistant")
        messaging.send_system_text(self.conversation, _("Pronto, você não receberá mais mensagens. "
                                                        "Para voltar, responda VOLTAR."))

    def reminder_reply(self, payload: str) -> dict | None:
        """A reminder's button, applied only to this patient's own appointment."""
        from central.scheduling import reminders

        parsed = reminders.parse_button(payload)
        if parsed is not None:
            try:
                self._own_appointment(parsed[1])
            except RailRefused as exc:
                return {"ok": False, "message": str(exc)}
        return reminders.handle_reply(self.org, payload, phone=self.phone, now=self.now)

    def waitlist_reply(self, payload: str) -> dict | None:
        from central.scheduling import waitlist

        return waitlist.handle_reply(self.org, payload, phone=self.phone, now=self.now)

    # --- values an engine may say ---------------------------------------------------------------

    def known_values(self) -> tuple[set[str], set[str]]:
        """(prices in cents, times HH:MM) that came from the agenda in this conversation."""
        prices = set()
        for s in self.info["services"]:
            if s["price"] is not None:
                prices.add(str(round(float(s["price"]) * 100)))
        times = set()
        for slot in (self.state.get("slots") or {}).values():
            times.add(datetime.fromisoformat(slot["s"]).astimezone(self.tz).strftime("%H:%M"))
        for a in self.facts().upcoming:
            times.add(a.start.strftime("%H:%M"))
        return prices, times

    def unbacked_values(self, text: str) -> list[str]:
        """Prices and times in ``text`` that no service of the agenda gave (invented)."""
        prices, times = self.known_values()
        bad = []
        for m in _PRICE_RE.finditer(text or ""):
            if m.group(1) is not None:
                cents = int(m.group(1).replace(".", "")) * 100 + int(m.group(2) or 0)
            else:
                cents = int(m.group(3)) * 100 + int(m.group(4) or 0)
            if str(cents) not in prices:
                bad.append(m.group(0))
        for m in _TIME_RE.finditer(text or ""):
            hh, mm = int(m.group(1)), int(m.group(2) or m.group(3) or 0)
            if hh > 23 or mm > 59:
                continue
            if f"{hh:02d}:{mm:02d}" not in times:
                bad.append(m.group(0))
        return bad
