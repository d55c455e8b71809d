"""HTTP providers against a real local HTTP server speaking the OpenAI-compatible and
Azure Speech REST shapes (http.server on 127.0.0.1, no mocks).

The local server is an internal address, so these tests act as an operator who opened
loopback with CENTRAL_OUTBOUND_ALLOW; the tests at the end show what happens without it.
"""

from __future__ import annotations

import json
import math
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from central.voice.audio import make_wav
from central.voice.providers.base import ProviderError, STTChain, TTSChain
from central.voice.providers.registry import ConfigError, build_providers
from central.voice.providers.reply import OpenAIChatEngine
from central.voice.providers.stt import AzureSTT, OpenAISTT
from central.voice.providers.tts import AzureTTS, EspeakTTS, OpenAITTS

# Touches neither the database nor Redis (checked: passes with neither reachable),
# so it runs only in the SQLite pass.
pytestmark = pytest.mark.backend_free


def tone(rate: int, seconds: float = 0.2) -> bytes:
    n = int(rate * seconds)
    return struct.pack(f"<{n}h", *(int(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(n)))


class Handler(BaseHTTPRequestHandler):
    requests: list[dict] = []
    release_slow = threading.Event()  # "/slow" answers only once the test sets it

    def log_message(self, *args):
        pass

    def _reply(self, code: int, body: bytes, ctype: str = "application/json"):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        path = self.path
        if path.startswith("/fail"):
            return self._reply(500, b'{"error": "boom"}')
        if path.startswith("/redirect"):
            self.send_response(303)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        if path.startswith("/slow"):
            self.release_slow.wait(30)
            path = path[5:]
        if path.endswith("/audio/transcriptions"):
            assert b'name="model"' in body and b"RIFF" in body
            return self._reply(200, json.dumps({"text": " apartamento trezentos e dois "}).encode())
        if path.endswith("/audio/speech"):
            req = json.loads(body)
            assert req["response_format"] == "wav" and req["input"]
            return self._reply(200, make_wav(tone(24000), 24000), "audio/wav")
        if path.endswith("/chat/completions"):
            req = json.loads(body)
            assert req["tools"] and req["messages"][-1]["content"]
            msg = {"role": "assistant", "content": None, "tool_calls": [{
                "id": "c1", "type": "function",
                "function": {"name": "registrar_visita",
                             "arguments": json.dumps({"visitante": "Ana", "apartamento": "trezentos e dois", "bloco": "b"})},
            }]}
            return self._reply(200, json.dumps({"choices": [{"message": msg}]}).encode())
        if path.startswith("/azure/stt"):
            assert "language=pt-BR" in path and body[:4] == b"RIFF"
            return self._reply(200, json.dumps({"RecognitionStatus": "Success", "DisplayText": "Bloco B."}).encode())
        if path.startswith("/azure/tts"):
            assert b"pt-BR-FranciscaNeural" in body
            assert self.headers["X-Microsoft-OutputFormat"] == "riff-16khz-16bit-mono-pcm"
            return self._reply(200, make_wav(tone(16000), 16000), "audio/wav")
        self._reply(404, b"{}")


@pytest.fixture(autouse=True)
def _operator_allows_loopback(settings):
    settings.OUTBOUND_ALLOW = ("127.0.0.0/8",)


@pytest.fixture(scope="module")
def server():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


async def test_openai_stt_sends_wav_and_key(server, monkeypatch):
    monkeypatch.setenv("CENTRAL_TENANT_SECRET_MY_KEY", "sk-test")
    stt = OpenAISTT({"base_url": server + "/v1", "api_key_env": "CENTRAL_TENANT_SECRET_MY_KEY"})
    assert await stt.transcribe(tone(8000), 8000) == "apartamento trezentos e dois"
    assert Handler.requests[-1]["headers"]["Authorization"] == "Bearer sk-test"


async def test_openai_tts_returns_pcm_at_call_rate(server):
    pcm = await OpenAITTS({"base_url": server + "/v1"}).synthesize("Olá", 8000)
    assert abs(len(pcm) - 2 * 8000 * 0.2) <= 4  # 0.2 s at 24 kHz resampled to 8 kHz


async def test_chat_engine_tool_call(server):
    interp = await OpenAIChatEngine({"base_url": server + "/v1"}).interpret("é a Ana pro 302 B", {"state": "collect"})
    assert (interp.visitor_name, interp.unit, interp.block) == ("Ana", "302", "B")
    assert interp.tool_calls[0]["name"] == "registrar_visita"


async def test_azure_stt_and_tts(server):
    assert await AzureSTT({"endpoint": server + "/azure/stt"}).transcribe(tone(8000), 8000) == "Bloco B."
    pcm = await AzureTTS({"endpoint": server + "/azure/tts"}).synthesize("Olá", 8000)
    assert abs(len(pcm) - 3200) <= 4


async def test_chain_falls_back_on_error_and_timeout(server):
    chain = STTChain("stt", [
        OpenAISTT({"base_url": server + "/fail/v1", "name": "broken"}),
        OpenAISTT({"base_url": server + "/slow/v1", "name": "slow"}),
        OpenAISTT({"base_url": server + "/v1", "name": "good"}),
    ], timeout=2.0)
    # "slow" never answers in time (it waits to be released), so the timeout can be
    # generous enough for "good" to answer on a loaded machine: with 0.3 s against a
    # 1 s sleep, a slow "good" made the whole chain fail.
    try:
        assert await chain.transcribe(tone(8000), 8000) == "apartamento trezentos e dois"
    finally:
        Handler.release_slow.set()
    assert "HTTP 500" in chain.stats["broken"].last_error
    assert "timeout" in chain.stats["slow"].last_error
    assert chain.stats["good"].fallbacks == 1


async def test_whole_chain_failure_is_one_provider_error(server):
    chain = STTChain("stt", [OpenAISTT({"base_url": server + "/fail/v1"})], timeout=1)
    with pytest.raises(ProviderError, match="all stt providers failed"):
        await chain.transcribe(tone(8000), 8000)
    with pytest.raises(ProviderError, match="none configured"):
        await STTChain("stt", []).transcribe(b"", 8000)


async def test_unreachable_tts_falls_back_to_espeak(server):
    providers = build_providers({"tts": [{"type": "openai", "base_url": "http://127.0.0.1:9/v1"}]})
    assert isinstance(providers.tts, TTSChain) and providers.tts.name == "openai-tts+espeak-ng"
    pcm = await providers.tts.synthesize("Bom dia", 8000)
    assert len(pcm) > 8000  # espeak-ng spoke
    assert providers.tts.stats["openai-tts"].errors == 1


def test_unknown_provider_type_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown stt provider type 'whisperx'"):
        build_providers({"stt": [{"type": "whisperx"}]})


async def test_espeak_missing_binary_is_a_provider_error():
    with pytest.raises(ProviderError, match="cannot run"):
        await EspeakTTS(binary="/nonexistent/espeak").synthesize("x", 8000)


# --- the outbound rule (central.core.outbound) at request time -----------------------------


async def test_platform_key_and_platform_variables_never_reach_a_custom_url(server, monkeypatch):
    """Before: OPENAI_API_KEY went as Bearer to any base_url, and api_key_env could name
    SECRET_KEY; now neither is sent."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-platform")
    monkeypatch.setenv("SECRET_KEY", "django-secret")
    await OpenAISTT({"base_url": server + "/v1"}).transcribe(tone(8000), 8000)
    assert "Authorization" not in Handler.requests[-1]["headers"]
    await OpenAISTT({"base_url": server + "/v1", "api_key_env": "SECRET_KEY"}).transcribe(tone(8000), 8000)
    assert "Authorization" not in Handler.requests[-1]["headers"]
    assert "django-secret" not in str(Handler.requests[-1])


async def test_internal_destination_refused_at_request_time(server, settings):
    settings.OUTBOUND_ALLOW = ()
    before = len(Handler.requests)
    with pytest.raises(ProviderError, match="refused destination"):
        await OpenAISTT({"base_url": server + "/v1"}).transcribe(tone(8000), 8000)
    assert len(Handler.requests) == before  # nothing was sent


async def test_redirects_are_not_followed(server):
    with pytest.raises(ProviderError, match="HTTP 303"):
        await OpenAISTT({"base_url": server + "/redirect/v1"}).transcribe(tone(8000), 8000)


def test_undeclared_provider_settings_are_refused():
    with pytest.raises(ConfigError, match="unknown setting 'binary'"):
        build_providers({"tts": [{"type": "espeak", "binary": "/bin/sh"}]})
    with pytest.raises(ConfigError, match="region"):
        build_providers({"tts": [{"type": "azure", "region": "x.evil.example/"}]})
