"""JSON from outside, parsed with a nesting limit: the API's parser and :func:`loads`.

``json.loads`` on 50,000 nested brackets raises RecursionError, which DRF's parser does not
catch (it only turns ValueError into ParseError), so the request answered 500. Documents
this deep are never legitimate here; anything nested deeper than :data:`MAX_DEPTH` is a
``parse_error`` like any other malformed body.

Every other place that parses JSON it did not write itself (the dashboard WebSocket, the
voice management API, replies of speech/LLM providers a tenant may point anywhere) calls
:func:`loads` (``core/jsonguard.py``, free of Django), which raises :class:`JSONRejected`
(a ``ValueError``) for malformed or too deeply nested text, never RecursionError. ``tests/core/test_json_depth.py`` fails when a
module parses JSON with ``json.loads`` outside the list of platform-written sources.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from .jsonguard import MAX_DEPTH, JSONRejected, depth_exceeds, loads

__all__ = ["MAX_DEPTH", "JSONParser", "JSONRejected", "depth_exceeds", "loads"]


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(_("JSON aninhado demais.")) from None
        except ParseError as exc:
            # DRF words this one in English with no gettext ("JSON parse error - ...").
            prefix = "JSON parse error - "
            if isinstance(exc.detail, str) and exc.detail.startswith(prefix):
                raise ParseError(_("JSON inválido: %(erro)s") % {"erro": exc.detail[len(prefix):]}) from None
            raise
        if depth_exceeds(data):
            raise ParseError(_("JSON aninhado demais (limite de %(n)d níveis).") % {"n": MAX_DEPTH})
        return data
