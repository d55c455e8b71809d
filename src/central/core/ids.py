"""Parsing ids that arrive as text (headers, form fields, query strings) in one place.

``str.isdigit()`` accepts "²" and numbers far beyond a database integer; handing either to
the ORM raised ValueError or OverflowError and the request answered 500. Every view that
turns client text into a row id goes through :func:`parse_id`, which accepts only what
can be a primary key: ASCII digits within a signed 64-bit integer.
"""

from __future__ import annotations

import re

MAX_ID = 2**63 - 1  # BigAutoField / PostgreSQL bigint
_DIGITS = re.compile(r"[0-9]{1,19}")


def parse_id(value: object) -> int | None:
    """The id ``value`` spells, or None when it cannot be a primary key."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value <= MAX_ID else None
    if not isinstance(value, str) or not _DIGITS.fullmatch(value):
        return None
    number = int(value)
    return number if 0 < number <= MAX_ID else None
