"""Reading the environment file the systemd units read (``EnvironmentFile=``).

Operators run ``central migrate``, ``central init`` and the other commands by hand with the
same settings the services get. The README used to say ``env $(cat central.env | xargs)``,
which breaks on the example file's comment lines (``env: '#': Permission denied``) and on
values with spaces. ``central --env-file FILE`` (or ``CENTRAL_ENV_FILE=FILE``) reads the file
with the rules of systemd.exec(5) "EnvironmentFile=" instead, so a file that works for the
units works for the command line, and the other way round:

- empty lines and lines whose first non-blank character is ``#`` or ``;`` are ignored;
- ``KEY=VALUE``: blanks around the key and before/after the value are dropped;
- a value in double quotes may contain ``\\"``, ``\\\\``, ``\\$`` and ``\\``-newline
  continuations; single quotes are taken literally;
- an unquoted line ending in ``\\`` continues on the next line;
- no variable expansion (``$OTHER`` stays as written), as in systemd.

Sans-I/O: :func:`parse` takes text and returns pairs; :func:`load` applies a file to
``os.environ``, where a variable already set in the real environment wins (like the
``.env`` convenience in settings.py), so a one-off ``CENTRAL_LOG_LEVEL=DEBUG central …``
still works.
"""

from __future__ import annotations

import os
import re
from collections.abc import MutableMapping
from pathlib import Path

#: The variable that names the file when ``--env-file`` is not given.
ENV_FILE_VARIABLE = "CENTRAL_ENV_FILE"

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class EnvFileError(ValueError):
    """A line systemd would also reject (no ``=``, or a key that is not a variable name)."""


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Join backslash-continued lines (outside quotes), keeping the first line's number."""
    out: list[tuple[int, str]] = []
    pending: str | None = None
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if pending is None:
            start = number
            stripped = raw.lstrip()
            if not stripped or stripped[0] in "#;":
                continue
            pending = raw
        else:
            pending += "\n" + raw
        if _open_quote(pending) or (pending.endswith("\\") and not pending.endswith("\\\\")):
            continue
        out.append((start, pending))
        pending = None
    if pending is not None:
        out.append((start, pending))
    return out


def _open_quote(text: str) -> bool:
    """True while ``text``'s value part has an unterminated quote."""
    _, _, value = text.partition("=")
    value = value.lstrip()
    if not value or value[0] not in "\"'":
        return False
    quote, i = value[0], 1
    while i < len(value):
        if quote == '"' and value[i] == "\\":
            i += 2
            continue
        if value[i] == quote:
            return False
        i += 1
    return True


def _value(raw: str) -> str:
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        return raw[1:-1]
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        body, out, i = raw[1:-1], [], 0
        while i < len(body):
            ch = body[i]
            if ch == "\\" and i + 1 < len(body):
                nxt = body[i + 1]
                if nxt == "\n":  # line continuation inside quotes
                    i += 2
                    continue
                out.append(nxt)
                i += 2
                continue
            out.append(ch)
            i += 1
        return "".join(out)
    # Unquoted: backslash-newline joins lines; other backslashes are kept as written.
    return re.sub(r"\\\n\s*", "", raw).rstrip()


def parse(text: str) -> list[tuple[str, str]]:
    """The ``(name, value)`` pairs of an environment file, in file order."""
    pairs = []
    for number, line in _logical_lines(text):
        key, sep, raw = line.partition("=")
        key = key.strip()
        if not sep or not _KEY.match(key):
            raise EnvFileError(f"line {number}: expected NAME=value, got {line.strip()[:40]!r}")
        pairs.append((key, _value(raw)))
    return pairs


def load(path: str | os.PathLike, environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Apply ``path`` to ``environ`` (``os.environ``); variables already set win.

    Returns the names it set. Raises OSError (missing / unreadable file) and EnvFileError.
    """
    environ = os.environ if environ is None else environ
    values = dict(parse(Path(path).read_text(encoding="utf-8")))  # a later line wins, as in systemd
    applied = [key for key in values if key not in environ]
    for key in applied:
        environ[key] = values[key]
    return applied
