"""Request body limits enforced while the body streams in, before anything stores it.

Django's ``ASGIHandler`` reads the *whole* body into a ``SpooledTemporaryFile`` (rolled
over to ``$TMPDIR`` past ``FILE_UPLOAD_MAX_MEMORY_SIZE``) before the first middleware runs,
so a Django middleware that checks ``Content-Length`` answers 413 only after a 500 MB
anonymous POST has been written to disk. :class:`BodyLimitASGI` wraps the Django ASGI
application instead:

* a ``Content-Length`` above the path's limit is answered 413 at once; Django never runs
  and not a byte of the body is read (the server then closes the connection);
* a body without ``Content-Length`` (chunked) is counted as it arrives; past the limit the
  wrapper tells Django the client went away (``http.disconnect``: Django drops the spooled
  file and sends nothing) and answers 413 itself.

The limit per path is :func:`limit_for`, the one rule the Django middleware
(``BodySizeLimitMiddleware``, used by WSGI and the test client) applies too: uploads
(``…/import/``) get ``CENTRAL_MAX_IMPORT_BYTES`` plus room for the multipart envelope,
everything else ``CENTRAL_MAX_BODY_BYTES``.
"""

from __future__ import annotations

import io
import os

from django.conf import settings

__all__ = ["BodyLimitASGI", "UPLOAD_ENVELOPE_BYTES", "limit_for", "max_upload_bytes", "register_path_limit"]

#: Multipart boundaries and the small form fields around an uploaded file.
UPLOAD_ENVELOPE_BYTES = 64 * 1024


def max_upload_bytes() -> int:
    """Largest contact / do-not-call file (``CENTRAL_MAX_IMPORT_BYTES``), read per call."""
    return int(os.environ.get("CENTRAL_MAX_IMPORT_BYTES") or settings.MAX_IMPORT_BYTES)


def is_upload_path(path: str) -> bool:
    return path.endswith("/import/")


#: Apps with bodies of their own size register ``fn(path) -> limit or None`` here (at
#: ``AppConfig.ready``), e.g. the site agent's upload chunks (central.documents.api).
PATH_LIMITS: list = []


def register_path_limit(fn) -> None:
    if fn not in PATH_LIMITS:
        PATH_LIMITS.append(fn)


def limit_for(path: str) -> int:
    """Largest body accepted on ``path``."""
    for fn in PATH_LIMITS:
        limit = fn(path)
        if limit is not None:
            return limit
    if is_upload_path(path):
        return max_upload_bytes() + UPLOAD_ENVELOPE_BYTES
    return settings.MAX_BODY_BYTES


def _content_length(scope) -> int | None:
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # Django's middleware answers 400 for a malformed one
    return None


class BodyLimitASGI:
    """ASGI wrapper: refuse oversized bodies before they are spooled (see module docstring)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = limit_for(scope.get("path", ""))
        length = _content_length(scope)
        if length is not None and length > limit:
            return await self._refuse(scope, send, length, limit)
        received = 0
        exceeded = False
        started = False

        async def limited_receive():
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        await self.app(scope, limited_receive, tracking_send)
        if exceeded and not started:
            await self._refuse(scope, send, received, limit)

    @staticmethod
    async def _refuse(scope, send, length: int, limit: int) -> None:
        from django.core.handlers.asgi import ASGIRequest

        from .middleware import too_large_response

        request = ASGIRequest(scope, io.BytesIO())  # headers only: language, metrics labels
        response = too_large_response(request, length, limit)
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.items()]
        headers += [(b"content-length", str(len(response.content)).encode()), (b"connection", b"close")]
        await send({"type": "http.response.start", "status": response.status_code, "headers": headers})
        await send({"type": "http.response.body", "body": response.content})
