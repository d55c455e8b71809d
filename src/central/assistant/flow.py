"""The offline engine's conversation flow as pure state transitions (no Django, no I/O).

``step(state, event, facts) -> Step(state, replies, commands)``. The state is a plain
dict (kept in ``AssistantSession.state`` between messages); ``facts`` are what the
clinic's services said (services, professionals, the patient's upcoming appointments,
prices, addresses, the emergency guidance); commands are what the driver
(:mod:`central.assistant.offline`) must ask the rails to do. A command that produces data
(slots, a hold) comes back as an event (:class:`Slots`, :class:`Held`, :class:`Done`), so
the whole flow is tested by feeding events (``tests/assistant/test_flow.py``).

The path of a booking: service → professional → day → time → summary → the patient
presses *Confirmar* (that press is handled by the rails, never here: the flow cannot
book). Free text is read at every step: intents (``intents.py``) and dates/times
(``dateparse.py``) jump ahead ("segunda às 14h com a dra. Ana" goes straight to the
summary when that slot is free). Two messages in a row that the flow does not understand
hand the conversation to a human; anything clinical does so at once, after the clinic's
emergency guidance.

Reply ids (buttons and list rows): ``svc:<id>``, ``pro:<id>`` (``pro:0`` = any),
``day:<YYYY-MM-DD>``, ``slot:<opaque key>``, ``appt:<id>``, ``menu:<intent>``, ``yes``,
``no``, ``more``. The summary's buttons (``ok:<nonce>``, ``chg``, ``stop``) come from
the rails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.utils.translation import gettext as _

from . import intents
from .dateparse import When, fold, parse_when
from .engine import Reply

MAX_MISSES = 2
DAYS_SHOWN = 10
TIMES_SHOWN = 10
SEARCH_DAYS = 21
_WEEKDAY_SHORT = ("Seg", "Ter", "Qua", "Qui", "Sex", "Sáb", "Dom")


# --- facts, events, commands -----------------------------------------------------------------


@dataclass(frozen=True)
class ServiceFact:
    id: int
    name: str
    price: str | None  # decimal as text ("250.00") or None: never invented
    professionals: tuple[int, ...]


@dataclass(frozen=True)
class ApptFact:
    id: int
    start: datetime  # in the clinic's zone
    service_id: int
    service: str
    professional_id: int
    professional: str
    status: str


@dataclass(frozen=True)
class SlotFact:
    key: str  # opaque (the rails keep what it stands for)
    start: datetime  # in the clinic's zone
    professional_id: int
    professional: str


@dataclass(frozen=True)
class Facts:
    now: datetime  # aware, clinic's zone
    services: tuple[ServiceFact, ...]
    professionals: dict[int, str]
    patient_name: str | None  # None: not registered yet
    ask_birth_date: bool = False
    upcoming: tuple[ApptFact, ...] = ()
    emergency: str = ""
    locations: tuple[tuple[str, str, str], ...] = ()  # name, address, directions
    hours: tuple[str, ...] = ()

    def service(self, sid: int | None) -> ServiceFact | None:
        return next((s for s in self.services if s.id == sid), None)

    def appt(self, aid: int | None) -> ApptFact | None:
        return next((a for a in self.upcoming if a.id == aid), None)


@dataclass(frozen=True)
class Said:
    text: str = ""
    reply_id: str = ""


@dataclass(frozen=True)
class Slots:
    slots: tuple[SlotFact, ...]


@dataclass(frozen=True)
class Held:
    ok: bool
    message: str = ""


@dataclass(frozen=True)
class Done:
    ok: bool
    message: str = ""
    what: str = ""


@dataclass(frozen=True)
class FindSlots:
    service_id: int
    professional_id: int | None
    start: datetime
    end: datetime
    limit: int


@dataclass(frozen=True)
class Hold:
    slot_key: str


@dataclass(frozen=True)
class ProposeReschedule:
    appointment_id: int
    slot_key: str


@dataclass(frozen=True)
class Cancel:
    appointment_id: int


@dataclass(frozen=True)
class Confirm:
    appointment_id: int


@dataclass(frozen=True)
class JoinWaitlist:
    appointment_id: int


@dataclass(frozen=True)
class Register:
    name: str
    birth_date: date | None


@dataclass(frozen=True)
class Handoff:
    reason: str


@dataclass(frozen=True)
class OptOut:
    pass


@dataclass
class Step:
    state: dict
    replies: list[Reply] = field(default_factory=list)
    commands: list = field(default_factory=list)
    understood: bool = True


# --- texts -----------------------------------------------------------------------------------


def fmt_day(d: date) -> str:
    return f"{_WEEKDAY_SHORT[d.weekday()]} {d:%d/%m}"


def fmt_when(dt: datetime) -> str:
    return _("%(dia)s às %(hora)s") % {"dia": fmt_day(dt.date()), "hora": dt.strftime("%H:%M")}


def fmt_price(price: str | None) -> str:
    if price is None:
        return ""
    reais, _sep, cents = f"{float(price):.2f}".partition(".")
    groups = []
    while len(reais) > 3:
        groups.insert(0, reais[-3:])
        reais = reais[:-3]
    groups.insert(0, reais)
    return "R$ " + ".".join(groups) + "," + cents


def menu(text: str | None = None) -> Reply:
    return Reply(
        text or _("Como posso ajudar?"),
        rows=(("menu:book", _("Marcar consulta"), ""), ("menu:reschedule", _("Remarcar"), ""),
              ("menu:cancel", _("Desmarcar"), ""), ("menu:mine", _("Minhas consultas"), ""),
              ("menu:address", _("Endereço e horários"), ""), ("menu:handoff", _("Falar com atendente"), "")),
        list_button=_("Opções"))


def consent_text() -> str:
    return _("Antes de agendar, preciso do seu nome completo. Usamos seu nome e este número só para "
             "cuidar dos seus agendamentos, conforme a LGPD; responda SAIR a qualquer momento para não "
             "receber mais mensagens. Qual é o seu nome?")


# --- the transitions -------------------------------------------------------------------------


def initial_state() -> dict:
    return {"step": "idle", "misses": 0}


def _reset(state: dict, **keep) -> dict:
    new = {"step": "idle", "misses": 0}
    new.update(keep)
    return new


def _miss(state: dict, facts: Facts, again: Reply) -> Step:
    misses = int(state.get("misses", 0)) + 1
    if misses >= MAX_MISSES:
        return Step(_reset(state), [Reply(_("Não consegui entender. Vou chamar alguém da recepção para "
                                            "continuar com você."))],
                    [Handoff(_("O assistente não entendeu duas mensagens seguidas."))], understood=False)
    new = dict(state, misses=misses)
    # One message, not two: Meta paces messages to one customer (a burst of a few, then
    # one per 6 s), so every extra bubble delays the next answer.
    merged = Reply(_("Desculpe, não entendi.") + " " + again.text, buttons=again.buttons, rows=again.rows,
                   list_button=again.list_button)
    return Step(new, [merged], understood=False)


def step(state: dict | None, event, facts: Facts) -> Step:
    """One transition. Pure: the same (state, event, facts) always gives the same step."""
    state = dict(state or initial_state())
    if isinstance(event, Slots):
        return _on_slots(state, event, facts)
    if isinstance(event, Held):
        if event.ok:
            return Step(dict(state, step="summary"))
        return _ask_time_again(state, facts, event.message)
    if isinstance(event, Done):
        return _on_done(state, event, facts)
    assert isinstance(event, Said)
    return _on_said(state, event, facts)


def _on_done(state: dict, event: Done, facts: Facts) -> Step:
    if event.what == "register":
        pending = state.get("pending") or "book"
        new = dict(state, step="idle", pending=None, misses=0)
        return _start(new, pending, facts, state.get("pending_text", ""))
    replies = [Reply(event.message)] if event.message else []
    if not event.ok and event.what == "reschedule":
        return Step(dict(state, step="time"), replies)
    return Step(_reset(state), replies)


def _on_said(state: dict, event: Said, facts: Facts) -> Step:
    rid = event.reply_id
    text = event.text or ""
    found = intents.detect(text) if not rid else []
    first = found[0] if found else None
    # Anything clinical, a human, an opt-out: at every step, before anything else.
    if first == intents.CLINICAL:
        guidance = facts.emergency or _("Em caso de emergência, ligue 192 (SAMU).")
        return Step(_reset(state), [Reply(guidance + "\n" + _("Vou passar sua conversa para a equipe da clínica."))],
                    [Handoff(_("Assunto clínico: %(texto)s") % {"texto": text[:120]})])
    if first == intents.HANDOFF or rid == "menu:handoff":
        return Step(_reset(state), [Reply(_("Certo, vou chamar alguém da recepção. Aguarde um momento."))],
                    [Handoff(_("Paciente pediu atendente."))])
    if first == intents.OPT_OUT:
        return Step(_reset(state), [], [OptOut()])
    current = state.get("step", "idle")
    if current == "name":
        return _on_name(state, text, facts)
    if current == "birth":
        return _on_birth(state, text, facts)
    if rid.startswith("menu:"):
        return _start(dict(state, misses=0), rid.split(":", 1)[1], facts, "")
    if rid == "stop":
        return Step(_reset(state), [menu(_("Tudo bem, não agendei nada. Posso ajudar em algo mais?"))])
    if rid == "chg":
        return _ask_time_again(state, facts, "")
    if rid == "more" and state.get("service_id") is not None:
        return _search_days(state, facts, after_day=state.get("last_day"))
    handler = {"service": _on_service, "professional": _on_professional, "day": _on_day, "time": _on_time,
               "pick": _on_pick, "cancel_confirm": _on_cancel_confirm, "summary": _on_summary}.get(current)
    # A new intent in the middle of a path restarts (except dates/times that belong to it).
    switch = first in (intents.CANCEL, intents.RESCHEDULE, intents.CONFIRM, intents.ADDRESS, intents.HOURS,
                       intents.PRICE, intents.MINE, intents.WAITLIST)
    if current == "summary" and first in (intents.CONFIRM, intents.BOOK):
        switch = False  # "confirmo" on a summary: the button is the confirmation
    if handler is not None and not (switch and not rid):
        return handler(state, event, facts)
    if rid:
        return _miss(state, facts, menu())
    if first in (None, intents.THANKS, intents.GREETING) and not parse_when(text, facts.now).empty:
        first = intents.BOOK
    if first is None:
        return _miss(state, facts, menu())
    return _start(dict(state, misses=0), first, facts, text)


def _start(state: dict, intent: str, facts: Facts, text: str) -> Step:
    if intent == intents.GREETING:
        hello = _("Olá, %(nome)s!") % {"nome": facts.patient_name.split()[0]} if facts.patient_name else _("Olá!")
        return Step(_reset(state), [menu(hello + " " + _("Sou o assistente virtual da clínica. Como posso ajudar?"))])
    if intent == intents.THANKS:
        return Step(_reset(state), [Reply(_("Por nada! Estou por aqui se precisar."))])
    if intent in (intents.ADDRESS, intents.HOURS, "address"):
        return Step(_reset(state), [Reply(_info_text(facts))])
    if intent == intents.PRICE:
        return Step(_reset(state), [Reply(_price_text(facts, text))])
    if intent in (intents.MINE, "mine"):
        if not facts.upcoming:
            return Step(_reset(state), [menu(_("Você não tem consultas marcadas."))])
        lines = [f"• {a.service} com {a.professional}, {fmt_when(a.start)}" for a in facts.upcoming]
        return Step(_reset(state), [Reply(_("Suas próximas consultas:") + "\n" + "\n".join(lines))])
    if facts.patient_name is None and intent in (intents.BOOK, "book", intents.WAITLIST):
        return Step(dict(_reset(state), step="name", pending=intent, pending_text=text), [Reply(consent_text())])
    if intent in (intents.CANCEL, intents.RESCHEDULE, intents.CONFIRM, intents.WAITLIST):
        return _about_appointment(state, intent, facts, text)
    # booking
    new = _reset(state, mode="book")
    when = parse_when(text, facts.now) if text else When()
    if not when.empty:
        new["when"] = _when_dict(when)
    pros = intents.match_names(text, facts.professionals) if text else []
    services = [s for s in facts.services if not pros or set(pros) & set(s.professionals)]
    named = intents.match_names(text, {s.id: s.name for s in facts.services}) if text else []
    if pros:
        new["professional_id"] = pros[0]
    if len(named) == 1:
        services = [s for s in services if s.id == named[0]] or services
    if not services:
        return Step(_reset(state), [Reply(_("No momento não há serviços disponíveis para agendar pelo WhatsApp.")),
                                    ], [Handoff(_("Nenhum serviço disponível para o assistente."))])
    if len(services) == 1:
        new["service_id"] = services[0].id
        return _after_service(new, facts)
    new["step"] = "service"
    return Step(new, [_service_list(services)])


def _when_dict(when: When) -> dict:
    return {"day": when.day.isoformat() if when.day else None, "at": when.at.isoformat() if when.at else None,
            "after": when.after.isoformat() if when.after else None,
            "before": when.before.isoformat() if when.before else None}


def _when_of(state: dict) -> When:
    w = state.get("when") or {}
    return When(day=date.fromisoformat(w["day"]) if w.get("day") else None,
                at=time.fromisoformat(w["at"]) if w.get("at") else None,
                after=time.fromisoformat(w["after"]) if w.get("after") else None,
                before=time.fromisoformat(w["before"]) if w.get("before") else None)


def _service_list(services) -> Reply:
    rows = tuple((f"svc:{s.id}", s.name[:24], fmt_price(s.price)) for s in services[:10])
    return Reply(_("Qual serviço você quer agendar?"), rows=rows, list_button=_("Serviços"))


def _on_service(state: dict, event: Said, facts: Facts) -> Step:
    sid = None
    if event.reply_id.startswith("svc:") and event.reply_id[4:].isdigit():
        sid = int(event.reply_id[4:])
    elif event.text:
        hits = intents.match_names(event.text, {s.id: s.name for s in facts.services})
        if len(hits) == 1:
            sid = hits[0]
        elif fold(event.text).strip().isdigit():
            i = int(fold(event.text).strip()) - 1
            if 0 <= i < len(facts.services):
                sid = facts.services[i].id
    if facts.service(sid) is None:
        return _miss(state, facts, _service_list(list(facts.services)))
    new = dict(state, service_id=sid, misses=0)
    when = parse_when(event.text, facts.now) if event.text else When()
    if not when.empty:
        new["when"] = _when_dict(when)
    return _after_service(new, facts)


def _after_service(state: dict, facts: Facts) -> Step:
    svc = facts.service(state["service_id"])
    pros = [p for p in svc.professionals if p in facts.professionals]
    if state.get("professional_id") not in (None, 0) and state["professional_id"] not in pros:
        state.pop("professional_id")
    if state.get("professional_id") is None and len(pros) == 1:
        state["professional_id"] = pros[0]
    if state.get("professional_id") is None:
        state["step"] = "professional"
        return Step(state, [_pro_reply(pros, facts)])
    return _search(state, facts)


def _pro_reply(pros: list[int], facts: Facts) -> Reply:
    items = [(f"pro:{p}", facts.professionals[p][:24]) for p in pros]
    if len(items) <= 2:
        return Reply(_("Com qual profissional?"), buttons=(*items, ("pro:0", _("Qualquer um"))))
    rows = tuple((i, t, "") for i, t in items[:9]) + (("pro:0", _("Qualquer um"), _("o primeiro horário livre")),)
    return Reply(_("Com qual profissional?"), rows=rows, list_button=_("Profissionais"))


def _on_professional(state: dict, event: Said, facts: Facts) -> Step:
    svc = facts.service(state.get("service_id"))
    pros = [p for p in svc.professionals if p in facts.professionals] if svc else []
    pid = None
    if event.reply_id.startswith("pro:") and event.reply_id[4:].isdigit():
        pid = int(event.reply_id[4:])
    elif event.text:
        if any(w in fold(event.text) for w in ("qualquer", "tanto faz", "indiferente", "primeiro")):
            pid = 0
        else:
            hits = [p for p in intents.match_names(event.text, facts.professionals) if p in pros]
            pid = hits[0] if len(hits) == 1 else None
    if pid is None or (pid != 0 and pid not in pros):
        return _miss(state, facts, _pro_reply(pros, facts))
    new = dict(state, professional_id=pid, misses=0)
    when = parse_when(event.text, facts.now) if event.text else When()
    if not when.empty:
        new["when"] = _when_dict(when)
    return _search(new, facts)


def _search(state: dict, facts: Facts) -> Step:
    """Look for slots: the day asked for (its times), or the next days with room."""
    when = _when_of(state)
    if when.day is not None:
        # The whole day (narrowed by the period later): "segunda às 14h" offers the nearest
        # times of that day when 14:00 is taken.
        start = datetime.combine(when.day, time(0), facts.now.tzinfo)
        end = start + timedelta(days=1)
        state = dict(state, step="time", searching="times")
        return Step(state, [], [FindSlots(state["service_id"], state.get("professional_id") or None,
                                          max(start, facts.now), end, 60)])
    return _search_days(state, facts)


def _search_days(state: dict, facts: Facts, after_day: str | None = None) -> Step:
    start = facts.now
    if after_day:
        start = max(start, datetime.combine(date.fromisoformat(after_day) + timedelta(days=1), time(0),
                                            facts.now.tzinfo))
    state = dict(state, step="day", searching="days")
    return Step(state, [], [FindSlots(state["service_id"], state.get("professional_id") or None, start,
                                      start + timedelta(days=SEARCH_DAYS), 200)])


def _filter(slots, when: When):
    out = []
    for s in slots:
        t = s.start.time()
        if when.after and t < when.after:
            continue
        if when.before and t >= when.before:
            continue
        out.append(s)
    return out


def _on_slots(state: dict, event: Slots, facts: Facts) -> Step:
    when = _when_of(state)
    slots = list(event.slots)
    if state.get("searching") == "days":
        slots = _filter(slots, When(after=when.after, before=when.before)) or slots
        days: dict[date, int] = {}
        for s in slots:
            days[s.start.date()] = days.get(s.start.date(), 0) + 1
        if not days:
            return Step(_reset(state), [Reply(_("Não encontrei horários livres nas próximas semanas. Quer que eu "
                                                "chame a recepção?"), buttons=(("menu:handoff", _("Sim, chamar")),
                                                                               ("stop", _("Não, obrigado"))))])
        shown = sorted(days)[:DAYS_SHOWN - 1] if len(days) >= DAYS_SHOWN else sorted(days)
        rows = tuple((f"day:{d.isoformat()}", fmt_day(d), _("%(n)d horários") % {"n": n})
                     for d, n in ((d, days[d]) for d in shown))
        if len(days) > len(shown):
            rows += (("more", _("Mais datas"), ""),)
        state = dict(state, step="day", last_day=shown[-1].isoformat())
        return Step(state, [Reply(_("Escolha o dia (ou escreva, por exemplo, “sexta de manhã”):"), rows=rows,
                                  list_button=_("Dias"))])
    # times of one day
    if when.at is not None:
        exact = [s for s in slots if s.start.time() == when.at]
        if exact:
            return Step(dict(state, step="time", when=None), [], [Hold(exact[0].key)])
        near = sorted(slots, key=lambda s: abs((s.start.hour * 60 + s.start.minute)
                                               - (when.at.hour * 60 + when.at.minute)))[:TIMES_SHOWN]
        slots = sorted(near, key=lambda s: s.start)
        lead = _("Às %(hora)s não há horário livre; os mais próximos:") % {"hora": when.at.strftime("%H:%M")}
    else:
        slots = _filter(slots, when)[:TIMES_SHOWN]
        lead = _("Horários livres em %(dia)s:") % {"dia": fmt_day(when.day)} if when.day else _("Horários livres:")
    if not slots:
        state = dict(state, when={k: v for k, v in (state.get("when") or {}).items() if k != "at"} or None)
        msg = _("Não há horários livres nesse dia; veja os próximos dias com vaga.")
        nxt = _search_days(dict(state, when=None), facts)
        nxt.replies.insert(0, Reply(msg))
        return nxt
    rows = tuple((f"slot:{s.key}", s.start.strftime("%H:%M") + f" {fmt_day(s.start.date())}"[:24],
                  s.professional[:72]) for s in slots)
    return Step(dict(state, step="time"), [Reply(lead, rows=rows, list_button=_("Horários"))])


def _ask_time_again(state: dict, facts: Facts, message: str) -> Step:
    new = dict(state, step="day")
    if new.get("service_id") is None:
        return Step(_reset(state), [menu(message or None)])
    nxt = _search(new, facts)
    if message:
        nxt.replies.insert(0, Reply(message))
    return nxt


def _on_day(state: dict, event: Said, facts: Facts) -> Step:
    if event.reply_id.startswith("day:"):
        try:
            d = date.fromisoformat(event.reply_id[4:])
        except ValueError:
            return _miss(state, facts, Reply(_("Escolha um dia da lista.")))
        w = dict(state.get("when") or {}, day=d.isoformat(), at=None)
        return _search(dict(state, when=w, misses=0), facts)
    when = parse_when(event.text, facts.now)
    if when.empty:
        return _miss(state, facts, Reply(_("Escolha um dia da lista ou escreva, por exemplo, “terça à tarde”.")))
    if when.day is None:
        return _search_days(dict(state, when=_when_dict(when), misses=0), facts)
    return _search(dict(state, when=_when_dict(when), misses=0), facts)


def _on_time(state: dict, event: Said, facts: Facts) -> Step:
    if event.reply_id.startswith("slot:"):
        key = event.reply_id[5:]
        if state.get("mode") == "reschedule" and state.get("appt_id"):
            return Step(dict(state, step="summary", misses=0), [],
                        [ProposeReschedule(int(state["appt_id"]), key)])
        return Step(dict(state, step="summary", misses=0), [], [Hold(key)])
    when = parse_when(event.text, facts.now)
    if when.empty:
        return _miss(state, facts, Reply(_("Escolha um horário da lista ou escreva outro dia.")))
    old = _when_of(state)
    merged = When(day=when.day or old.day, at=when.at, after=when.after, before=when.before)
    return _search(dict(state, when=_when_dict(merged), misses=0), facts)


def _on_summary(state: dict, event: Said, facts: Facts) -> Step:
    # The booking itself happens only on the summary's button (the rails); text here may
    # be a new time ("prefiro às 15h") or a plain "sim", which is not a confirmation.
    when = parse_when(event.text, facts.now) if event.text else When()
    if not when.empty:
        old = _when_of(state)
        merged = When(day=when.day or old.day, at=when.at, after=when.after, before=when.before)
        return _search(dict(state, when=_when_dict(merged), misses=0), facts)
    return Step(state, [Reply(_("Para confirmar, toque no botão *Confirmar* do resumo acima (ou em *Outro "
                                "horário*)."))])


def _about_appointment(state: dict, intent: str, facts: Facts, text: str) -> Step:
    upcoming = list(facts.upcoming)
    if intent == intents.CONFIRM:
        pending = [a for a in upcoming if a.status == "booked"]
        if not pending:
            return Step(_reset(state), [Reply(_("Não encontrei consulta aguardando confirmação."))])
        return Step(_reset(state), [], [Confirm(pending[0].id)])
    if not upcoming:
        if intent == intents.WAITLIST:
            return _start(state, intents.BOOK, facts, text)
        return Step(_reset(state), [menu(_("Não encontrei consultas marcadas neste número."))])
    if len(upcoming) > 1:
        rows = tuple((f"appt:{a.id}", fmt_when(a.start)[:24], f"{a.service} · {a.professional}"[:72])
                     for a in upcoming[:10])
        when = parse_when(text, facts.now) if text else When()
        return Step(dict(_reset(state), step="pick", action=intent, when=_when_dict(when) if not when.empty else None),
                    [Reply(_("Qual consulta?"), rows=rows, list_button=_("Consultas"))])
    return _act_on(dict(_reset(state), when=None), intent, upcoming[0], facts, text)


def _act_on(state: dict, intent: str, appt: ApptFact, facts: Facts, text: str) -> Step:
    if intent == intents.CANCEL:
        return Step(dict(state, step="cancel_confirm", appt_id=appt.id),
                    [Reply(_("Desmarcar %(servico)s com %(prof)s, %(quando)s?")
                           % {"servico": appt.service, "prof": appt.professional, "quando": fmt_when(appt.start)},
                           buttons=(("yes", _("Sim, desmarcar")), ("no", _("Não"))))])
    if intent == intents.WAITLIST:
        return Step(_reset(state), [], [JoinWaitlist(appt.id)])
    # reschedule: same service and professional, a new time
    new = dict(state, mode="reschedule", appt_id=appt.id, service_id=appt.service_id,
               professional_id=appt.professional_id)
    when = parse_when(text, facts.now) if text else When()
    if not when.empty:
        new["when"] = _when_dict(when)
    elif state.get("when"):
        new["when"] = state["when"]
    return _search(new, facts)


def _on_pick(state: dict, event: Said, facts: Facts) -> Step:
    aid = int(event.reply_id[5:]) if event.reply_id.startswith("appt:") and event.reply_id[5:].isdigit() else None
    appt = facts.appt(aid)
    if appt is None:
        return _miss(state, facts, Reply(_("Escolha uma consulta da lista.")))
    return _act_on(dict(state, misses=0), state.get("action") or intents.CANCEL, appt, facts, "")


def _on_cancel_confirm(state: dict, event: Said, facts: Facts) -> Step:
    answer = {"yes": True, "no": False}.get(event.reply_id)
    if answer is None and event.text:
        answer = intents.yes_no(event.text)
    if answer is None:
        return _miss(state, facts, Reply(_("Responda *Sim, desmarcar* ou *Não*."),
                                         buttons=(("yes", _("Sim, desmarcar")), ("no", _("Não")))))
    if not answer:
        return Step(_reset(state), [Reply(_("Tudo bem, sua consulta continua marcada."))])
    return Step(_reset(state), [], [Cancel(int(state["appt_id"]))])


def _on_name(state: dict, text: str, facts: Facts) -> Step:
    found = intents.detect(text)
    info = next((i for i in found if i in (intents.ADDRESS, intents.HOURS, intents.PRICE)), None)
    if info is not None:  # "qual o endereço?" is a question, not a name: answer, ask again
        answered = _start(dict(state), info, facts, text)
        return Step(state, [*answered.replies, Reply(_("Por favor, escreva seu nome completo."))])
    if "?" in text or (found and found[0] in (intents.CANCEL, intents.RESCHEDULE, intents.CONFIRM)):
        return _miss(state, facts, Reply(_("Por favor, escreva seu nome completo.")))
    name = " ".join(text.split())
    letters = sum(ch.isalpha() for ch in name)
    if letters < 2 or len(name) > 120 or any(ch.isdigit() for ch in name):
        return _miss(state, facts, Reply(_("Por favor, escreva seu nome completo.")))
    name = " ".join(w.capitalize() if w.islower() else w for w in name.split())
    if facts.ask_birth_date:
        return Step(dict(state, step="birth", name=name, misses=0),
                    [Reply(_("Obrigado, %(nome)s. Qual a sua data de nascimento? (dd/mm/aaaa)")
                           % {"nome": name.split()[0]})])
    return Step(dict(state, step="registering", misses=0), [], [Register(name, None)])


def parse_birth(text: str, today: date) -> date | None:
    import re

    m = re.search(r"\b(\d{1,2})[/.-](\d{1,2})[/.-](\d{2,4})\b", text or "")
    if not m:
        return None
    d, mth, y = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if y < 100:
        y += 1900 if y > today.year % 100 else 2000
    try:
        found = date(y, mth, d)
    except ValueError:
        return None
    if found > today or found.year < today.year - 130:
        return None
    return found


def _on_birth(state: dict, text: str, facts: Facts) -> Step:
    born = parse_birth(text, facts.now.date())
    if born is None:
        return _miss(state, facts, Reply(_("Não entendi a data. Escreva assim: 25/12/1980.")))
    return Step(dict(state, step="registering", misses=0), [], [Register(state.get("name", ""), born)])


def _info_text(facts: Facts) -> str:
    parts = []
    for name, address, directions in facts.locations:
        line = f"📍 {name}: {address}" if address else f"📍 {name}"
        if directions:
            line += f"\n{directions}"
        parts.append(line)
    if facts.hours:
        parts.append(_("Horário de atendimento:") + "\n" + "\n".join(facts.hours))
    if not parts:
        return _("A recepção pode informar o endereço; escreva ATENDENTE para falar com ela.")
    return "\n\n".join(parts)


def _price_text(facts: Facts, text: str) -> str:
    hits = intents.match_names(text, {s.id: s.name for s in facts.services})
    named = [s for s in facts.services if s.id in hits] or list(facts.services)
    lines = []
    for s in named:
        if s.price is not None:
            lines.append(f"• {s.name}: {fmt_price(s.price)}")
        else:
            lines.append(_("• %(servico)s: valor informado pela recepção") % {"servico": s.name})
    return _("Valores:") + "\n" + "\n".join(lines) if lines else _("A recepção informa os valores.")
