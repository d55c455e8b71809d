"""Serving a recording: streamed from the store with HTTP range requests.

The browser's ``<audio>`` element asks for ``Range: bytes=0-`` and then for the part the
user seeks to; it can only seek when the answer is ``206 Partial Content`` with
``Content-Range`` (RFC 9110 14.4) and ``Accept-Ranges: bytes``. A range past the end is
``416`` with ``Content-Range: bytes */<size>``; a header that is not one ``bytes=`` range
is ignored (the whole file, 200), as RFC 9110 14.2 allows.

Only members who may hear the recording (:func:`central.recordings.services.listenable`)
get it; anyone else, of this tenant or another, gets 404 (never 403: whether a recording
exists is not revealed). Every answered request is audited (``recording.listen``, with the
byte range). The path comes from the row (written by the indexer from ids), never from the
request.
"""

from __future__ import annotations

import os

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.views.decorators.http import require_GET

from central.core import audit
from central.core.streaming import SyncStreamingHttpResponse
from central.core.tenancy import membership_for_request

from . import policy, storage
from .services import listenable

CHUNK = storage.CHUNK


def _chunks(fd: int, start: int, length: int):
    """Read ``length`` bytes from ``start`` in chunks; memory stays at one chunk (under
    ASGI :class:`~central.core.streaming.SyncStreamingHttpResponse` pulls them one at a
    time in the request's worker thread; a plain StreamingHttpResponse would read the
    whole file into a list first)."""
    try:
        offset, left = start, length
        while left > 0:
            data = os.pread(fd, min(CHUNK, left), offset)
            if not data:
                break
            offset += len(data)
            left -= len(data)
            yield data
    finally:
        os.close(fd)


@login_required
@require_GET
def audio(request, pk: int):
    membership = membership_for_request(request)  # 404 for foreign orgs
    recording = listenable(membership).filter(pk=pk).first()
    if recording is None:
        raise Http404
    try:
        path = storage.resolve(recording.path)
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except (ValueError, OSError):
        raise Http404 from None
    size = os.fstat(fd).st_size
    try:
        wanted = policy.parse_range(request.headers.get("Range"), size)
    except policy.Unsatisfiable:
        os.close(fd)
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        response["Accept-Ranges"] = "bytes"
        return response
    if wanted is None:
        start, length, status = 0, size, 200
    else:
        start, length, status = wanted.start, wanted.length, 206
    audit.record("recording.listen", request=request, target=recording,
                 range=f"{start}-{start + length - 1}" if status == 206 else "")
    response = SyncStreamingHttpResponse(_chunks(fd, start, length), status=status,
                                     content_type=recording.content_type or policy.CONTENT_TYPE)
    response["Content-Length"] = str(length)
    response["Accept-Ranges"] = "bytes"
    if status == 206:
        response["Content-Range"] = f"bytes {start}-{start + length - 1}/{size}"
    response["Content-Disposition"] = f'inline; filename="{recording.attempt_uid}{policy.FILE_SUFFIX}"'
    # Personal data: never kept by a shared cache; the browser may reuse it while seeking.
    response["Cache-Control"] = "private, no-store"
    return response
