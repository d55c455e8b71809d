"""Whole WhatsApp conversations with the clinic assistant over real HTTP (offline engine).

One ``central up --no-simulator`` (no PBX) per module, with messaging's Cloud API
simulator: the patient's phone is the simulator (``/_sim/customer`` sends a signed
webhook to Central, exactly as Meta would), the assistant answers through the sender,
and what the clinic sent is read back from the simulator (``/_sim/sent``). The agenda is
checked through the REST API as the clinic's staff. The demo clinic (*Clínica
Bem-Estar*) and its agenda are what ``central up`` creates. Every wait polls an
observable condition with a deadline.
"""

from __future__ import annotations

import itertools
import secrets

import httpx
import pytest

from tests.support import free_port, migrated_env, start_central, until

ORG = "clinica-bem-estar"
PAIR_INTERVAL = 0.02
PAIR_BURST = 10
_numbers = itertools.count(1)


@pytest.fixture(scope="module")
def up(tmp_path_factory):
    base = tmp_path_factory.mktemp("assistant-up")
    port, sim_port = free_port(), free_port()
    token = secrets.token_urlsafe(16)
    env = migrated_env(base / "data", CENTRAL_DEMO_CALLS="0", CENTRAL_DEMO_VISITS="0",
                       CENTRAL_WHATSAPP_SIMULATOR_PORT=str(sim_port), CENTRAL_WHATSAPP_SIMULATOR_TOKEN=token,
                       CENTRAL_RATE_API="1000000/min,10000000/hour",
                       # Meta paces messages to one recipient (about one per 6 s after a burst);
                       # scaled down here, on both sides, so a conversation takes seconds.
                       CENTRAL_WHATSAPP_RECIPIENT_INTERVAL=str(PAIR_INTERVAL),
                       CENTRAL_WHATSAPP_RECIPIENT_BURST=str(PAIR_BURST))
    proc = start_central(["up", "--no-simulator", "--port", str(port)], env, port, base / "up.log", wait=120)
    try:
        user, password = proc.creds
        access = httpx.post(f"{proc.url}/api/v1/auth/token/", json={"username": user, "password": password},
                            timeout=10).json()["access"]
        headers = {"Authorization": f"Bearer {access}", "X-Organization": ORG}
        api = httpx.Client(base_url=f"{proc.url}/api/v1", headers=headers, timeout=30)
        sim = httpx.Client(base_url=f"http://127.0.0.1:{sim_port}", headers={"X-Sim-Token": token}, timeout=30)
        sim.post("/_sim/config", json={"delay_sent": 0.01, "delay_delivered": 0.02, "delay_read": 0.05,
                                       "pair_burst": PAIR_BURST + 1, "pair_interval": PAIR_INTERVAL})
        yield {"api": api, "sim": sim}
    finally:
        proc.stop()


def text_of(sent: dict) -> str:
    p = sent["payload"]
    if p.get("type") == "text":
        return p["text"]["body"]
    if p.get("type") == "interactive":
        return p["interactive"]["body"]["text"]
    return ""


def ids_of(sent: dict) -> list[str]:
    action = (sent["payload"].get("interactive") or {}).get("action") or {}
    if "buttons" in action:
        return [b["reply"]["id"] for b in action["buttons"]]
    return [r["id"] for sec in action.get("sections", []) for r in sec["rows"]]


class Phone:
    """A patient's phone: what it sends goes through the simulator's webhook to Central."""

    def __init__(self, up: dict) -> None:
        self.sim = up["sim"]
        self.api = up["api"]
        self.wa_id = f"55119{88800000 + next(_numbers) * 7 + secrets.randbelow(5):08d}"
        self.phone = "+" + self.wa_id
        self.seen = 0

    def say(self, text: str) -> None:
        assert self.sim.post("/_sim/customer", json={"wa_id": self.wa_id, "text": text, "name": "Paciente"}
                             ).status_code == 200

    def press(self, reply_id: str, title: str = "ok") -> None:
        # Buttons and list rows reach Central with their id; the assistant reads either.
        kind = "button" if reply_id.startswith(("ok:", "chg", "stop", "yes", "no", "pro:", "aceitar")) else "list"
        assert self.sim.post("/_sim/customer", json={"type": kind, "wa_id": self.wa_id, "id": reply_id,
                                                     "title": title[:20]}).status_code == 200

    def expect(self, pred, what: str) -> dict:
        """The next message the clinic sent that satisfies ``pred`` (earlier ones are skipped)."""
        def find():
            sent = self.sim.get("/_sim/sent", params={"wa_id": self.wa_id}).json()["sent"]
            for i in range(self.seen, len(sent)):
                if pred(sent[i]):
                    self.seen = i + 1
                    return sent[i]
            return None
        return until(find, what=what)

    def expect_ids(self, prefix: str) -> list[str]:
        return ids_of(self.expect(lambda s: any(i.startswith(prefix) for i in ids_of(s)), f"options {prefix}"))

    def expect_text(self, fragment: str) -> str:
        return text_of(self.expect(lambda s: fragment in text_of(s), repr(fragment)))

    def appointments(self) -> list[dict]:
        patients = self.api.get("/scheduling/patients/", params={"phone": self.phone}).json()["results"]
        if not patients:
            return []
        return self.api.get("/scheduling/appointments/", params={"patient": patients[0]["id"]}).json()["results"]


def register_and_book(phone: Phone, day_index: int = 0) -> dict:
    phone.say("Olá, quero marcar uma consulta")
    assert "LGPD" in phone.expect_text("nome completo")
    phone.say("Maria Teste")
    rows = phone.expect(lambda s: any(i.startswith("svc:") for i in ids_of(s)), "the services")
    general = next(r for sec in rows["payload"]["interactive"]["action"]["sections"] for r in sec["rows"]
                   if "clínica" in r["title"])
    phone.press(general["id"], general["title"])  # one professional offers it: no choice asked
    days = [d for d in phone.expect_ids("day:") if d.startswith("day:")]
    phone.press(days[min(day_index, len(days) - 1)], "dia")
    times = phone.expect_ids("slot:")
    phone.press(times[0], "hora")
    summary = phone.expect(lambda s: any(i.startswith("ok:") for i in ids_of(s)), "the summary")
    assert "Confira o agendamento" in text_of(summary) and "R$ 250,00" in text_of(summary)
    (held,) = phone.appointments()
    assert held["status"] == "held" and held["channel"] == "whatsapp"
    phone.press(ids_of(summary)[0], "Confirmar")
    phone.expect_text("Agendado!")
    (booked,) = until(lambda: [a for a in phone.appointments() if a["status"] == "booked"], what="booked")
    return booked


def test_book(up):
    phone = Phone(up)
    booked = register_and_book(phone)
    assert booked["id"]


def test_reschedule_then_cancel(up):
    phone = Phone(up)
    first = register_and_book(phone)
    phone.say("preciso remarcar")
    options = phone.expect_ids("")
    if options[0].startswith("day:"):
        phone.press(options[-2] if options[-1] == "more" else options[-1], "dia")
        options = phone.expect_ids("slot:")
    phone.press(options[-1], "hora")
    ok = phone.expect_ids("ok:")[0]
    phone.press(ok, "Confirmar")
    phone.expect_text("Remarcado para")
    rows = until(lambda: (r := phone.appointments()) and any(a["status"] == "rescheduled" for a in r) and r,
                 what="rescheduled")
    assert next(a for a in rows if a["id"] == first["id"])["status"] == "rescheduled"
    phone.say("quero desmarcar")
    phone.press(phone.expect_ids("yes")[0], "Sim, desmarcar")
    phone.expect_text("Consulta desmarcada")
    rows = until(lambda: (r := phone.appointments()) and any(a["status"] == "cancelled" for a in r) and r,
                 what="cancelled")
    assert sorted(a["status"] for a in rows) == ["cancelled", "rescheduled"]


def test_confirm_from_a_reminder_button(up):
    """The reminder's *Confirmar* button (id ``confirmar:<appointment>``, as
    ``scheduling.reminders`` sends it) pressed on the phone confirms the appointment."""
    phone = Phone(up)
    booked = register_and_book(phone)
    phone.press(f"confirmar:{booked['id']}", "Confirmar")
    phone.expect_text("Consulta confirmada")
    until(lambda: phone.appointments()[0]["status"] == "confirmed", what="confirmed")


def test_waitlist_offer_accepted(up):
    api = up["api"]
    phone = Phone(up)
    mine = register_and_book(phone, day_index=8)
    phone.say("quero antecipar, tem algo mais cedo?")
    phone.expect_text("te aviso")
    # The staff cancels an earlier appointment of the same professional and service.
    earlier = next(a for a in api.get("/scheduling/appointments/", params={
        "professional": mine["professional"], "service": mine["service"], "status": "booked"}).json()["results"]
        if a["start"] < mine["start"] and a["patient"] != mine["patient"])
    r = api.post(f"/scheduling/appointments/{earlier['id']}/cancel/", json={"by": "patient", "reason": "viagem"})
    assert r.status_code == 200, r.text
    accept = phone.expect_ids("aceitar_oferta:")[0]
    phone.press(accept, "Quero")
    phone.expect_text("antecipado")
    rows = until(lambda: (r := phone.appointments()) and any(a["status"] == "rescheduled" for a in r) and r,
                 what="moved earlier")
    new = next(a for a in rows if a["status"] == "booked")
    assert new["start"] == earlier["start"]


def test_hand_off_on_request(up):
    phone = Phone(up)
    phone.say("oi")
    phone.expect_ids("menu:")
    phone.say("quero falar com um atendente por favor")
    phone.expect_text("vou chamar alguém")

    def conversation():
        rows = up["api"].get("/messaging/conversations/", params={"q": phone.wa_id}).json()["results"]
        return next((c for c in rows if c["contact"]["wa_id"] == phone.wa_id and c["state"] == "pending"), None)

    conv = until(conversation, what="the conversation waiting for a human")
    assert conv["handoff_reason"]
