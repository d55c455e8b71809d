"""Speech-to-text providers: OpenAI-compatible and Azure Speech REST.

There is no offline default: a speech model cannot be shipped in a wheel here.  With no
STT configured the chain fails at once and the concierge offers the DTMF path.
"""

from __future__ import annotations

import urllib.parse

from central.core import parsers
from central.voice.audio import make_wav, resample
from central.voice.providers import http
from central.voice.providers.base import ProviderError


class OpenAISTT:
    """``POST {base_url}/audio/transcriptions`` (OpenAI, and local servers that copy it)."""

    def __init__(self, settings: dict) -> None:
        self.base_url = settings.get("base_url", "https://api.openai.com/v1").rstrip("/")
        self.model = settings.get("model", "whisper-1")
        self.language = settings.get("language", "pt")
        self.key = http.api_key(settings, "OPENAI_API_KEY", "base_url")
        self.timeout = float(settings.get("timeout", 10))
        self.name = settings.get("name", "openai-stt")

    async def transcribe(self, pcm: bytes, rate: int) -> str:
        body, ctype = http.multipart(
            {"model": self.model, "language": self.language, "response_format": "json"},
            {"file": ("audio.wav", make_wav(pcm, rate), "audio/wav")},
        )
        headers = {"Content-Type": ctype}
        if self.key:
            headers["Authorization"] = f"Bearer {self.key}"
        _, _, data = await http.request(
            f"{self.base_url}/audio/transcriptions", headers=headers, body=body, timeout=self.timeout
        )
        try:
            return str(parsers.loads(data)["text"]).strip()
        except (ValueError, KeyError, TypeError):
            raise ProviderError(f"unexpected transcription response {data[:80]!r}") from None


class AzureSTT:
    """Azure Speech short-audio REST API (up to 60 s, 16 kHz PCM WAV)."""

    def __init__(self, settings: dict) -> None:
        region = settings.get("region", "brazilsouth")
        self.endpoint = settings.get(
            "endpoint",
            f"https://{region}.stt.speech.microsoft.com/speech/recognition/conversation/cognitiveservices/v1",
        )
        self.language = settings.get("language", "pt-BR")
        self.key = http.api_key(settings, "AZURE_SPEECH_KEY", "endpoint")
        self.timeout = float(settings.get("timeout", 10))
        self.name = settings.get("name", "azure-stt")

    async def transcribe(self, pcm: bytes, rate: int) -> str:
        pcm16 = resample(pcm, rate, 16000)
        query = urllib.parse.urlencode({"language": self.language, "format": "simple"})
        _, _, data = await http.request(
            f"{self.endpoint}?{query}",
            headers={
                "Ocp-Apim-Subscription-Key": self.key,
                "Content-Type": "audio/wav; codecs=audio/pcm; samplerate=16000",
                "Accept": "application/json",
            },
            body=make_wav(pcm16, 16000),
            timeout=self.timeout,
        )
        try:
            result = parsers.loads(data)
        except ValueError:
            raise ProviderError(f"unexpected Azure STT response {data[:80]!r}") from None
        status = result.get("RecognitionStatus")
        if status == "Success":
            return str(result.get("DisplayText", "")).strip()
        if status in ("NoMatch", "InitialSilenceTimeout"):
            return ""
        raise ProviderError(f"Azure STT status {status}")


class ScriptedSTT:
    """Returns prepared transcripts in order.

    Only for tests, benches and demos: no real speech model can be installed on this
    machine, so tests pair real espeak-ng audio with the text it was made from.
    """

    name = "scripted"

    def __init__(self, transcripts: list[str] | None = None, default: str = "") -> None:
        self.transcripts = list(transcripts or [])
        self.default = default
        self.heard: list[int] = []
        self._current: tuple[bytes, str] | None = None

    async def transcribe(self, pcm: bytes, rate: int) -> str:
        """One transcript per utterance: a speculative call at a pause and the final call
        see the same utterance (the first audio is a prefix of the second)."""
        self.heard.append(len(pcm))
        if self._current is not None and pcm.startswith(self._current[0]):
            self._current = (pcm, self._current[1])
            return self._current[1]
        text = self.transcripts.pop(0) if self.transcripts else self.default
        self._current = (pcm, text)
        return text
