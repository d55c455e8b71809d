"""The simulated MixMonitor's output: a short generated WAV per recorded call.

Real Asterisk (apps/app_mixmonitor.c) writes the mixed audio of the monitored channel to
``<astspooldir>/monitor/<File>`` while the call lasts and closes the file when the channel
hangs up; the format follows the file's extension (``.wav``: RIFF, signed linear 8 kHz
16-bit mono, main/formats/format_wav.c). The simulator has no audio, so it writes, at the
hangup, a WAV of the same shape holding a quiet 425 Hz tone (the Brazilian dial-tone
frequency, so a listener knows it is synthetic) in one-second beeps, as long as the
monitored part of the call lasted up to :data:`DEFAULT_MAX_SECONDS` (the feature has to
be demonstrable and testable, not to fill disks during a virtual-clock hour).

Sans-I/O except :func:`write_recording`, which the asyncio adapter calls.
"""

from __future__ import annotations

import io
import math
import os
import wave
from pathlib import Path

#: format_wav.c: 8000 Hz, 16-bit signed linear, one channel.
SAMPLE_RATE = 8000
SAMPLE_WIDTH = 2
CHANNELS = 1
#: Longest generated recording (seconds); the config can change it.
DEFAULT_MAX_SECONDS = 10.0
TONE_HZ = 425.0
AMPLITUDE = 3000  # of 32767: quiet


def wav_bytes(seconds: float) -> bytes:
    """A complete WAV file of ``seconds`` (at least one frame): beeps of 0.5 s every second."""
    frames = max(1, int(round(seconds * SAMPLE_RATE)))
    pcm = bytearray(frames * SAMPLE_WIDTH)
    step = 2 * math.pi * TONE_HZ / SAMPLE_RATE
    for i in range(frames):
        if (i % SAMPLE_RATE) < SAMPLE_RATE // 2:
            value = int(AMPLITUDE * math.sin(step * i))
            pcm[2 * i:2 * i + 2] = value.to_bytes(2, "little", signed=True)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(CHANNELS)
        out.setsampwidth(SAMPLE_WIDTH)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(bytes(pcm))
    return buffer.getvalue()


def target_path(monitor_dir: str, file: str) -> Path | None:
    """Where MixMonitor's ``File`` lands: relative names under the monitor directory
    (app_mixmonitor.c filename_parse(): "If we don't have an absolute path, make one"),
    absolute ones as given. The simulator only writes inside ``monitor_dir``; anything
    that would leave it (``..``, another absolute directory) gives None (nothing written;
    the real Asterisk would write there, the simulator refuses to touch the host)."""
    if not monitor_dir or not file:
        return None
    root = Path(monitor_dir).resolve()
    path = (root / file).resolve() if not file.startswith("/") else Path(file).resolve()
    if path.parent != root and root not in path.parents:
        return None
    return path


def write_recording(path: Path, seconds: float) -> int:
    """Write the generated WAV at ``path`` (0600, directories 0700), replacing it; returns
    its size. Written under a temporary name and renamed, so a reader never sees half of
    it (Asterisk writes in place; Central's indexer copes with both: docs/recordings.md)."""
    data = wav_bytes(seconds)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return len(data)
