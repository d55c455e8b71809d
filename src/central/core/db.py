"""Database helpers shared by the long-running processes."""

from __future__ import annotations

from django.db import close_old_connections, connection


def drop_stale_connections() -> None:
    """Close connections that died or outlived their age, outside transactions only.

    Long-running workers (voice loader, dialer) call this before touching the database so a
    connection lost with a restarted server is not reused. Inside an atomic block (tests,
    or a caller's transaction) closing would break the transaction, and with the
    PostgreSQL pool every connection counts as "old", so it is left alone there.
    """
    if not connection.in_atomic_block:
        close_old_connections()


def release_connection() -> None:
    """Give this thread's connection back (to the PostgreSQL pool), outside transactions.

    For ORM calls made from asyncio worker threads (``asyncio.to_thread``, executors): a
    Django connection belongs to the thread that opened it, and a worker thread that keeps
    it (or dies with it when its loop's executor shuts down) holds a pool slot for good;
    a few of those and every other request waits for ``CENTRAL_DB_POOL_TIMEOUT``.
    """
    if not connection.in_atomic_block:
        connection.close()


def gives_connection_back(fn):
    """Decorator: run ``fn``, then :func:`release_connection` (see there for why)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        finally:
            release_connection()

    return wrapper
