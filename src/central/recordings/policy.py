"""Pure rules of the recordings feature (no Django, no I/O): which calls are recorded,
what the file is called, and which bytes a ``Range`` header asks for.

One constant per value passed between parts: the dialer names the file with
:func:`recording_filename` in its AMI ``MixMonitor`` action, the simulator writes that
name, the indexer recognises it with :func:`attempt_uid_of`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

#: Campaign ``record`` setting values (dialer.Campaign.record).
RECORD_NONE = "none"
RECORD_ALL = "all"
RECORD_PERCENT = "percent"
RECORD_MODES = (RECORD_NONE, RECORD_ALL, RECORD_PERCENT)

#: MixMonitor writes the format of the file's extension (apps/app_mixmonitor.c); WAV is
#: what every browser plays.
FILE_SUFFIX = ".wav"
CONTENT_TYPE = "audio/wav"
#: An attempt uid as the dialer makes them (uuid4 text) or any id of that alphabet; no
#: dots, no slashes: a name matching this can never leave its directory.
_UID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def record_percent(mode: str, percent: int | None) -> int:
    """The share of calls recorded, 0-100, for a campaign's setting."""
    if mode == RECORD_ALL:
        return 100
    if mode == RECORD_PERCENT:
        return max(0, min(100, int(percent or 0)))
    return 0


def should_record(mode: str, percent: int | None, attempt_uid: str) -> bool:
    """Whether this attempt is recorded. A percentage picks attempts by a hash of their id,
    so the decision is the same every time it is asked (a dialer restarted mid-call, a
    test) and spread evenly over the campaign."""
    share = record_percent(mode, percent)
    if share >= 100:
        return True
    if share <= 0:
        return False
    bucket = int.from_bytes(hashlib.sha256(attempt_uid.encode()).digest()[:4], "big") % 100
    return bucket < share


def recording_filename(attempt_uid: str) -> str:
    """The ``File`` of the dialer's MixMonitor action: relative, so Asterisk puts it in its
    monitor spool directory (``<astspooldir>/monitor``)."""
    if not _UID.fullmatch(attempt_uid):
        raise ValueError(f"not an attempt id: {attempt_uid!r}")
    return attempt_uid + FILE_SUFFIX


def attempt_uid_of(filename: str) -> str | None:
    """The attempt id a spool file name carries, or None for anything else (partial files,
    hidden files, other recordings on the same spool)."""
    if not filename.endswith(FILE_SUFFIX):
        return None
    stem = filename[: -len(FILE_SUFFIX)]
    return stem if _UID.fullmatch(stem) else None


@dataclass(frozen=True)
class ByteRange:
    start: int
    end: int  # inclusive

    @property
    def length(self) -> int:
        return self.end - self.start + 1


class Unsatisfiable(Exception):
    """The Range names no byte of the file: 416 with ``Content-Range: bytes */size``."""


_RANGE = re.compile(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*")


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The one byte range a ``Range`` header asks of a ``size``-byte file (RFC 9110 14.1.2).

    None: serve the whole file (200), for no header, a header that is not a single
    ``bytes=`` range (malformed or several ranges: a server may ignore Range, RFC 9110
    14.2; browsers seeking audio send one). Raises :class:`Unsatisfiable` when the range is
    well formed but outside the file (first byte at or past the end, ``bytes=-0``).
    """
    if not header:
        return None
    match = _RANGE.fullmatch(header)
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise Unsatisfiable
        return ByteRange(max(0, size - suffix), size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None  # invalid (RFC 9110: last-pos < first-pos): ignored
    if start >= size:
        raise Unsatisfiable
    return ByteRange(start, min(end, size - 1))
