"""The outbound sender: takes queued messages to the Cloud API within the rate limits.

:func:`wake` is called after a message is queued (on commit); :func:`request_read` after an
agent reads a thread. Both are no-ops until a sender loop runs in this process.
"""

from __future__ import annotations

from collections.abc import Callable

_wakers: list[Callable[[int], None]] = []
_readers: list[Callable[[int, str], None]] = []


def wake(number_id: int) -> None:
    for fn in list(_wakers):
        fn(number_id)


def request_read(number_id: int, wamid: str) -> None:
    for fn in list(_readers):
        fn(number_id, wamid)
