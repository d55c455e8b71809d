"""The API's JSON parser: DRF's, plus a nesting limit.

``json.loads`` on 50,000 nested brackets raises RecursionError, which DRF's parser does not
catch (it only turns ValueError into ParseError), so the request answered 500. Documents
this deep are never legitimate here; anything nested deeper than :data:`MAX_DEPTH` is a
``parse_error`` like any other malformed body.
"""

from __future__ import annotations

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


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_("JSON aninhado demais.")) from None
        if depth_exceeds(data):
            raise ParseError(_("JSON aninhado demais (limite de %(n)d níveis).") % {"n": MAX_DEPTH})
        return data
