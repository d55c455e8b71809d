"""Reading the legacy databases, in bounded batches.

MariaDB (the PHP dialer) through PyMySQL, pure Python, with ``charset=utf8mb4`` so the
server converts latin1 columns to UTF-8 itself (what is left broken is mojibake the
legacy code stored, repaired in :mod:`.mapping`). Rows come in keyset pages
(``WHERE id > last ORDER BY id LIMIT n``): memory stays one page, the server never waits
on a half-read result while Central writes (a streaming cursor left unread past
``net_write_timeout`` is cut by the server), and a run stopped half-way is simply run
again: every page is idempotent on the legacy ids.

PostgreSQL (the AudioSocket server's ``extension_ia``) through psycopg, filtered by the
condominiums the operator names: that table holds every condominium of the old server.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

from .mapping import AI_EXTENSIONS, CAMPAIGNS, CONTACTS, EXTENSIONS

#: Columns read from each legacy table, as the legacy code defines them.
COLUMNS = {
    CAMPAIGNS: ("id", "name", "status", "max_channels", "impulse_factor", "max_multiplier", "average_call_time",
                "start_time", "end_time", "total_contacts", "processed_contacts", "successful_calls",
                "created_at", "updated_at"),
    CONTACTS: ("id", "campaign_id", "name", "phone_number", "alternate_phone", "attempts", "max_attempts",
               "last_attempt", "next_attempt", "status", "result", "created_at", "updated_at"),
    EXTENSIONS: ("id", "number", "name", "status_line1", "status_line2", "last_activity", "registered"),
    AI_EXTENSIONS: ("extension_ia_id", "extension_ia_number", "extension_ia_return", "extension_ia_ip",
                    "extension_ia_number_port", "condominium_id", "extension_ia_return_port"),
}


class SourceError(Exception):
    """A legacy database cannot be read (connection, missing table); pt-BR message."""


def mariadb_connect(url: str):
    """A PyMySQL connection from ``mysql://user:password@host:port/database``."""
    import pymysql

    parts = urlsplit(url)
    if parts.scheme not in ("mysql", "mariadb") or not parts.path.strip("/"):
        raise SourceError("URL do MariaDB legado inválida (use mysql://usuario:senha@host:3306/banco)")
    try:
        return pymysql.connect(
            host=parts.hostname or "127.0.0.1", port=parts.port or 3306, user=unquote(parts.username or ""),
            password=unquote(parts.password or ""), database=parts.path.strip("/"), charset="utf8mb4",
            connect_timeout=10, read_timeout=600, cursorclass=pymysql.cursors.DictCursor)
    except pymysql.MySQLError as exc:
        # The message names host and user at most, never the password.
        raise SourceError(f"MariaDB legado inacessível: {exc.args[-1] if exc.args else exc}") from None


class MariaDB:
    """The legacy dialer's tables, read in keyset pages."""

    def __init__(self, url: str, page: int = 5000) -> None:
        self.conn = mariadb_connect(url)
        self.page = page

    def close(self) -> None:
        self.conn.close()

    def has_table(self, table: str) -> bool:
        with self.conn.cursor() as cur:
            cur.execute("SHOW TABLES LIKE %s", [table])
            return cur.fetchone() is not None

    def count(self, table: str, where: str = "", params: list | None = None) -> int:
        with self.conn.cursor() as cur:
            cur.execute(f"SELECT COUNT(*) AS n FROM `{table}`" + (f" WHERE {where}" if where else ""), params or [])
            return int(cur.fetchone()["n"])

    def pages(self, table: str, where: str = "", params: list | None = None) -> Iterator[list[dict]]:
        """Every row of ``table`` (optionally filtered) in id order, one page at a time."""
        cols = ", ".join(f"`{c}`" for c in COLUMNS[table])
        last = -1
        cond = f" AND ({where})" if where else ""
        while True:
            with self.conn.cursor() as cur:
                cur.execute(f"SELECT {cols} FROM `{table}` WHERE id > %s{cond} ORDER BY id LIMIT %s",
                            [last, *(params or []), self.page])
                rows = cur.fetchall()
            self.conn.commit()  # end the read snapshot: no long transaction on the legacy server
            if not rows:
                return
            yield list(rows)
            last = rows[-1]["id"]


def ai_extension_rows(url: str, condominiums: list[int]) -> list[dict]:
    """The ``extension_ia`` rows of the given condominiums (a few hundred at most)."""
    import psycopg
    from psycopg.rows import dict_row

    if not condominiums:
        return []
    cols = ", ".join(COLUMNS[AI_EXTENSIONS])
    try:
        with psycopg.connect(url, connect_timeout=10, row_factory=dict_row) as conn:
            return list(conn.execute(
                f"SELECT {cols} FROM {AI_EXTENSIONS} WHERE condominium_id = ANY(%s) ORDER BY extension_ia_id",
                [condominiums]))
    except psycopg.Error as exc:
        raise SourceError(f"PostgreSQL legado inacessível ou sem a tabela {AI_EXTENSIONS}: "
                          f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
