"""JSON from outside, parsed with a nesting limit, in a module that needs neither Django nor DRF.

``json.loads`` on 50,000 nested brackets raises RecursionError (not ValueError), which
callers that only expect malformed input do not catch. Every place that parses JSON it did
not write itself calls :func:`loads`, which raises :class:`JSONRejected` (a ``ValueError``)
for malformed or too deeply nested text. It lives apart from the API parser
(``core/parsers.py``) so processes that never load DRF (the voice process, the control
socket, the log stream, benches) use the same guard without setting Django up.
``tests/core/test_json_depth.py`` fails when a module parses JSON with ``json.loads``
outside the list of platform-written sources.
"""

from __future__ import annotations

import json

MAX_DEPTH = 64


def depth_exceeds(data: object, limit: int = MAX_DEPTH) -> bool:
    """True when ``data`` nests lists/dicts deeper than ``limit`` (iterative: no recursion)."""
    stack = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


class JSONRejected(ValueError):
    """Malformed JSON, or nested deeper than :data:`MAX_DEPTH` (the message says which)."""


def loads(data: str | bytes | bytearray, limit: int = MAX_DEPTH):
    """``json.loads`` for text from outside: :class:`JSONRejected` instead of RecursionError
    or a structure nested deeper than ``limit``."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise JSONRejected(f"JSON nested too deep (limit {limit} levels)") from None
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise JSONRejected(f"malformed JSON: {exc}") from None
    if depth_exceeds(value, limit):
        raise JSONRejected(f"JSON nested too deep (limit {limit} levels)")
    return value
