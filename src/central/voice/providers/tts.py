"""Text-to-speech providers: espeak-ng (offline default), OpenAI-compatible, Azure REST."""

from __future__ import annotations

import asyncio
import shutil
from xml.sax.saxutils import escape

from central.voice.audio import parse_wav, resample
from central.voice.providers import http
from central.voice.providers.base import ProviderError

ESPEAK = "espeak-ng"


class EspeakTTS:
    """espeak-ng with the ``pt-br`` voice: robotic but works on a fresh machine, offline.

    ``espeak-ng --stdout`` writes a 22 050 Hz WAV with placeholder sizes (streaming
    header); :func:`central.voice.audio.parse_wav` reads it to the end.
    """

    def __init__(self, settings: dict | None = None, *, binary: str | None = None) -> None:
        settings = settings or {}
        self.voice = settings.get("voice", "pt-br")
        self.speed = int(settings.get("speed", 165))
        # Never from settings: a tenant must not choose what the platform executes.
        self.binary = binary or shutil.which(ESPEAK) or "/usr/bin/espeak-ng"
        self.name = settings.get("name", "espeak-ng")

    async def synthesize(self, text: str, rate: int) -> bytes:
        try:
            proc = await asyncio.create_subprocess_exec(
                self.binary, "-v", self.voice, "-s", str(self.speed), "--stdout", text,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            raise ProviderError(f"cannot run {self.binary}: {exc}") from None
        try:
            out, err = await proc.communicate()
        except asyncio.CancelledError:
            if proc.returncode is None:
                proc.kill()
            raise
        if proc.returncode != 0:
            raise ProviderError(f"espeak-ng exited {proc.returncode}: {err[:200]!r}")
        try:
            pcm, src_rate = parse_wav(out)
        except ValueError as exc:
            raise ProviderError(f"espeak-ng output: {exc}") from None
        return resample(pcm, src_rate, rate)


class OpenAITTS:
    """``POST {base_url}/audio/speech`` asking for WAV."""

    def __init__(self, settings: dict) -> None:
        self.base_url = settings.get("base_url", "https://api.openai.com/v1").rstrip("/")
        self.model = settings.get("model", "tts-1")
        self.voice = settings.get("voice", "alloy")
        self.key = http.api_key(settings, "OPENAI_API_KEY", "base_url")
        self.timeout = float(settings.get("timeout", 10))
        self.name = settings.get("name", "openai-tts")

    async def synthesize(self, text: str, rate: int) -> bytes:
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        import json

        _, _, data = await http.request(
            f"{self.base_url}/audio/speech",
            headers={"Content-Type": "application/json", **headers},
            body=json.dumps(
                {"model": self.model, "voice": self.voice, "input": text, "response_format": "wav"}
            ).encode(),
            timeout=self.timeout,
        )
        try:
            pcm, src_rate = parse_wav(data)
        except ValueError as exc:
            raise ProviderError(f"speech response: {exc}") from None
        return resample(pcm, src_rate, rate)


class AzureTTS:
    """Azure Speech REST with a pt-BR neural voice (SSML in, RIFF 16 kHz PCM out)."""

    def __init__(self, settings: dict) -> None:
        region = settings.get("region", "brazilsouth")
        self.endpoint = settings.get(
            "endpoint", f"https://{region}.tts.speech.microsoft.com/cognitiveservices/v1"
        )
        self.voice = settings.get("voice", "pt-BR-FranciscaNeural")
        self.key = http.api_key(settings, "AZURE_SPEECH_KEY", "endpoint")
        self.timeout = float(settings.get("timeout", 10))
        self.name = settings.get("name", "azure-tts")

    def ssml(self, text: str) -> str:
        return (
            "<speak version='1.0' xml:lang='pt-BR'>"
            f"<voice xml:lang='pt-BR' name='{escape(self.voice)}'>{escape(text)}</voice></speak>"
        )

    async def synthesize(self, text: str, rate: int) -> bytes:
        _, _, data = await http.request(
            self.endpoint,
            headers={
                "Ocp-Apim-Subscription-Key": self.key,
                "Content-Type": "application/ssml+xml",
                "X-Microsoft-OutputFormat": "riff-16khz-16bit-mono-pcm",
                "User-Agent": "central-voice",
            },
            body=self.ssml(text).encode(),
            timeout=self.timeout,
        )
        try:
            pcm, src_rate = parse_wav(data)
        except ValueError as exc:
            raise ProviderError(f"Azure TTS response: {exc}") from None
        return resample(pcm, src_rate, rate)
