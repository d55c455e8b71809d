"""A fresh legacy MariaDB database (schema of the legacy dialer) per test, and a fresh
PostgreSQL database with the legacy AudioSocket server's ``extension_ia`` table."""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

from . import legacy_db


@pytest.fixture
def legacy_mariadb(mariadb_server_url):
    url = legacy_db.create_database(mariadb_server_url)
    yield url
    legacy_db.drop_database(url)


@pytest.fixture
def legacy_pg(postgres_server_url):
    import psycopg

    name = f"legacy_ia_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(postgres_server_url)._replace(path=f"/{name}"))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(legacy_db.PG_SCHEMA)
    yield url
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
