"""The LLM engine's safety rails, against a FAKE OpenAI-compatible server.

The server below is a fake written for this test: it speaks the shape of
``POST /v1/chat/completions`` (``choices[0].message`` with ``content`` or ``tool_calls``)
and answers from a script per test. No model runs; what is tested is that whatever the
"model" asks, the server-side rails decide: a forged slot id is refused, nothing is
booked without the patient's button, an invented price is never sent, and a timeout hands
the same message to the offline flow.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from central.assistant.models import AssistantSession
from tests.assistant.conftest import option_ids

KEY_ENV = "CENTRAL_TENANT_SECRET_TEST_LLM"


class FakeLLM:
    """Scripted fake: ``script`` is a list of callables ``(request_json) -> message dict``."""

    def __init__(self):
        self.script: list = []
        self.requests: list[dict] = []
        self.auth: list[str] = []
        self.release = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                fake.auth.append(self.headers.get("Authorization", ""))
                step = fake.script.pop(0) if fake.script else (lambda req: {"content": "Ok."})
                if step == "hang":
                    fake.release.wait(10)  # longer than the engine's timeout
                    return
                data = step if isinstance(step, bytes) else json.dumps({"id": "fake", "object": "chat.completion",
                                   "choices": [{"index": 0, "message": {"role": "assistant", **step(body)},
                                                "finish_reason": "stop"}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def fake_llm():
    fake = FakeLLM()
    yield fake
    fake.close()


@pytest.fixture
def llm_chat(chat, fake_llm, monkeypatch, settings):
    fake_llm.script.clear()
    fake_llm.requests.clear()
    fake_llm.auth.clear()
    fake_llm.release.clear()
    settings.OUTBOUND_ALLOW = ["127.0.0.1/32"]
    monkeypatch.setenv(KEY_ENV, "sk-test-not-a-real-key")
    monkeypatch.setenv("CENTRAL_ASSISTANT_LLM", json.dumps({chat.org.slug: {
        "base_url": fake_llm.url, "model": "fake-model", "api_key_env": KEY_ENV, "timeout": 0.5}}))
    return chat


def tool_call(name: str, **args) -> dict:
    return {"content": None, "tool_calls": [{"id": f"call_{name}", "type": "function",
                                             "function": {"name": name, "arguments": json.dumps(args)}}]}


def last_tool_result(req: dict) -> dict:
    return json.loads([m for m in req["messages"] if m["role"] == "tool"][-1]["content"])


def test_forged_slot_id_is_refused(llm_chat, fake_llm):
    from central.scheduling.models import Appointment

    fake_llm.script = [
        lambda req: tool_call("book", slot_id="2030-01-07T12:00:00-03:00"),  # a raw time, not an issued id
        lambda req: {"content": "Não consegui reservar."},
    ]
    llm_chat.chat.say("quero marcar segunda 9h")
    assert last_tool_result(fake_llm.requests[-1])["error"].startswith("Esse horário não está entre os oferecidos")
    assert not Appointment.objects.filter(patient=llm_chat.patient).exists()
    assert fake_llm.auth[0] == "Bearer sk-test-not-a-real-key"
    assert AssistantSession.objects.get(conversation=llm_chat.conv).engine == "llm"


def test_book_only_sends_the_summary_the_button_books(llm_chat, fake_llm):
    from central.scheduling.models import Appointment

    fake_llm.script = [
        lambda req: tool_call("find_slots", service_id=llm_chat.service.pk),
        lambda req: tool_call("book", slot_id=last_tool_result(req)["slots"][0]["slot_id"]),
        lambda req: {"content": "Confira o resumo e toque em Confirmar."},
    ]
    out = llm_chat.chat.say("quero marcar o primeiro horário")
    appt = Appointment.objects.get(patient=llm_chat.patient)
    assert appt.status == "held"
    summary = next(m for m in out if m.kind == "interactive")
    ok = option_ids(summary)[0]
    assert ok.startswith("ok:")
    # The "model" now claims it booked: nothing changes until the patient presses the button.
    fake_llm.script = [lambda req: tool_call("book", slot_id="whatever"), lambda req: {"content": "Feito!"}]
    llm_chat.chat.say("pode agendar")
    appt.refresh_from_db()
    assert appt.status == "held"
    llm_chat.chat.say(reply_id=ok, title="Confirmar")
    appt.refresh_from_db()
    assert appt.status == "booked"


def test_invented_price_is_never_sent(llm_chat, fake_llm):
    from central.messaging.models import Message

    fake_llm.script = [lambda req: {"content": "A consulta custa R$ 99,00 e tem horário às 07:15."}]
    out = llm_chat.chat.say("quanto custa?")
    assert out, "the offline flow answered instead"
    assert not Message.objects.filter(direction="out", body__contains="99").exists()
    session = AssistantSession.objects.get(conversation=llm_chat.conv)
    assert session.engine == "offline" and session.fallbacks == 1 and "invented" in session.last_error


def test_timeout_falls_back_to_the_offline_flow_in_the_same_conversation(llm_chat, fake_llm):
    fake_llm.script = ["hang"]
    out = llm_chat.chat.say("qual o endereço?")
    assert any("Rua A, 1" in m.body for m in out)  # the offline flow's answer to the same message
    session = AssistantSession.objects.get(conversation=llm_chat.conv)
    assert session.engine == "offline" and session.fallbacks == 1
    n = len(fake_llm.requests)
    llm_chat.chat.say("quero marcar")
    assert len(fake_llm.requests) == n  # the conversation stays with the offline flow
    fake_llm.release.set()


@pytest.mark.parametrize(("reply", "reason"), [
    (b"[" * 100_000 + b"]" * 100_000, "non-JSON"),  # before: RecursionError escaped the turn
    (b'{"choices": "' + b"x" * (2 << 20) + b'"}', "bytes"),  # before: read whole into memory
], ids=["nested-100000-deep", "2-MB"])
def test_a_hostile_reply_is_refused_and_the_offline_flow_answers(llm_chat, fake_llm, reply, reason, caplog):
    """The model's server is tenant-configured: a reply nested 100,000 deep (RecursionError
    in json.loads) or larger than the bound is an engine failure, not a crash or a 2 MB read."""
    fake_llm.script = [reply]
    out = llm_chat.chat.say("qual o endereço?")
    assert any("Rua A, 1" in m.body for m in out)
    assert AssistantSession.objects.get(conversation=llm_chat.conv).engine == "offline"
    assert reason in caplog.text  # refused for that reason, not by accident further on


def test_clinical_text_never_reaches_the_model(llm_chat, fake_llm):
    out = llm_chat.chat.say("meu filho está com febre alta")
    assert "192" in out[0].body
    assert fake_llm.requests == []
    assert llm_chat.chat.state() == "pending"


def test_internal_base_url_is_refused_without_the_operators_allowance(llm_chat, fake_llm, settings):
    """core.outbound's rule: loopback is internal; without CENTRAL_OUTBOUND_ALLOW the call is
    refused before connecting and the offline flow answers."""
    settings.OUTBOUND_ALLOW = []
    out = llm_chat.chat.say("qual o endereço?")
    assert any("Rua A, 1" in m.body for m in out)
    assert fake_llm.requests == []
    session = AssistantSession.objects.get(conversation=llm_chat.conv)
    assert session.engine == "offline" and "refused destination" in session.last_error


def test_a_platform_variable_is_never_sent_as_the_key(llm_chat, fake_llm, monkeypatch):
    monkeypatch.setenv("CENTRAL_ASSISTANT_LLM", json.dumps({llm_chat.org.slug: {
        "base_url": fake_llm.url, "model": "fake-model", "api_key_env": "SECRET_KEY", "timeout": 0.5}}))
    monkeypatch.setenv("SECRET_KEY", "the-platforms-own-secret")
    fake_llm.script = [lambda req: {"content": "Olá! Como posso ajudar?"}]
    llm_chat.chat.say("oi")
    assert fake_llm.auth[-1] == ""
