"""A streamed response that stays streamed under ASGI.

Django's ``StreamingHttpResponse`` given a *synchronous* iterator is served under ASGI
(``central up``, ``central web``: uvicorn) by ``sync_to_async(list)(...)``: the whole body
is built in memory before the first byte leaves (django/http/response.py
``StreamingHttpResponse.__aiter__``), so a 100,000-row export held every row at once.
Exports read the database, which is synchronous code, so their iterators are
synchronous; :class:`SyncStreamingHttpResponse` pulls them one chunk at a time in a
worker thread (thread-sensitive: the same thread as the rest of the request, the one
that owns its database connection) and yields each chunk as it comes. Under WSGI and the
test client it is an ordinary ``StreamingHttpResponse``.
"""

from __future__ import annotations

from collections.abc import Iterator

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse

__all__ = ["SyncStreamingHttpResponse"]

_DONE = object()


def _pull(iterator: Iterator[bytes]):
    return next(iterator, _DONE)


class SyncStreamingHttpResponse(StreamingHttpResponse):
    """``StreamingHttpResponse`` over a synchronous iterator, streamed under ASGI too."""

    async def __aiter__(self):
        iterator = iter(self.streaming_content)
        pull = sync_to_async(_pull, thread_sensitive=True)
        while True:
            chunk = await pull(iterator)
            if chunk is _DONE:
                return
            yield chunk
