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
