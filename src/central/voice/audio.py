"""PCM helpers: WAV parsing, resampling to the call's rate, 20 ms framing.

All audio inside Central's voice pipeline is signed 16-bit little-endian mono PCM, the
format AudioSocket carries (``audiosocket-session.md``, "Audio payload").  ``audioop`` is
deprecated (removed in 3.13) but present in 3.11, which this project pins; its C
``ratecv`` is what keeps resampling cheap at hundreds of calls per core.
"""

from __future__ import annotations

import struct
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # noqa: F401  (stdlib, deprecated in 3.11, removed in 3.13)

FRAME_MS = 20


def frame_size(rate: int) -> int:
    """Bytes in one 20 ms frame: 320 B at 8 kHz (audiosocket-session.frames.tsv)."""
    return rate * 2 * FRAME_MS // 1000


def silence(rate: int) -> bytes:
    return b"\x00" * frame_size(rate)


def resample(pcm: bytes, from_rate: int, to_rate: int) -> bytes:
    if from_rate == to_rate or not pcm:
        return pcm
    out, _ = audioop.ratecv(pcm, 2, 1, from_rate, to_rate, None)
    return out


def split_frames(pcm: bytes, rate: int) -> list[bytes]:
    """Cut PCM into 20 ms frames, padding the last one with silence."""
    size = frame_size(rate)
    frames = [pcm[i : i + size] for i in range(0, len(pcm), size)]
    if frames and len(frames[-1]) < size:
        frames[-1] = frames[-1] + b"\x00" * (size - len(frames[-1]))
    return frames


def rms(pcm: bytes) -> int:
    return audioop.rms(pcm, 2) if pcm else 0


def parse_wav(data: bytes) -> tuple[bytes, int]:
    """Return (pcm, rate) from a 16-bit mono WAV.

    Tolerates the streaming header espeak-ng writes with ``--stdout`` (RIFF and data sizes
    set to 0x7fffffff-ish placeholders): the data chunk runs to the end of the input.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE file")
    pos = 12
    rate = channels = bits = None
    while pos + 8 <= len(data):
        cid = data[pos : pos + 4]
        size = struct.unpack_from("<I", data, pos + 4)[0]
        body = pos + 8
        if cid == b"fmt ":
            _fmt, channels, rate, _br, _align, bits = struct.unpack_from("<HHIIHH", data, body)
        elif cid == b"data":
            if rate is None:
                raise ValueError("WAV data chunk before fmt chunk")
            if bits != 16:
                raise ValueError(f"WAV with {bits}-bit samples (need 16)")
            pcm = data[body : min(len(data), body + size)]
            if len(pcm) & 1:
                pcm = pcm[:-1]
            if channels == 2:
                pcm = audioop.tomono(pcm, 2, 0.5, 0.5)
            elif channels != 1:
                raise ValueError(f"WAV with {channels} channels")
            return pcm, rate
        pos = body + size + (size & 1)
    raise ValueError("WAV without a data chunk")


def make_wav(pcm: bytes, rate: int) -> bytes:
    """A minimal 16-bit mono WAV (for STT providers that want a file upload)."""
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF",
        36 + len(pcm),
        b"WAVE",
        b"fmt ",
        16,
        1,
        1,
        rate,
        rate * 2,
        2,
        16,
        b"data",
        len(pcm),
    )
    return header + pcm
