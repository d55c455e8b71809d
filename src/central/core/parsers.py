"""JSON from outside, parsed with a nesting limit: the API's parser and :func:`loads`.

``json.loads`` on 50,000 nested brackets raises RecursionError, which DRF's parser does not
catch (it only turns ValueError into ParseError), so the request answered 500. Documents
this deep are never legitimate here; anything nested deeper than :data:`MAX_DEPTH` is a
``parse_error`` like any other malformed body.

Every other place that parses JSON it did not write itself (the dashboard WebSocket, the
voice management API, replies of speech/LLM providers a tenant may point anywhere) calls
:func:`loads`, which raises :class:`JSONRejected` (a ``ValueError``) for malformed or too
deeply nested text, never RecursionError. ``tests/core/test_json_depth.py`` fails when a
module parses JSON with ``json.loads`` outside the list of platform-written sources.
"""

from __future__ import annotations

import json

from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError

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


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_("JSON aninhado demais.")) from None
        if depth_exceeds(data):
            raise ParseError(_("JSON aninhado demais (limite de %(n)d níveis).") % {"n": MAX_DEPTH})
        return data
