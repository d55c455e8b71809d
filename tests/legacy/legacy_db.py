"""The legacy systems' databases for tests and bench/legacy_import.py: the schema as the
legacy code defines it (latin1 tables, as PHP 5.3 / MySQL 5 created them) and awkward
data the way the legacy PHP wrote it.

``legacy_write`` stores text the way the legacy PHP did: UTF-8 bytes sent over a latin1
connection, so the latin1 column holds "JoÃ£o" (sent here as raw bytes, which a latin1
column keeps as they are). ``clean`` rows go through a utf8mb4 connection, so the server
converts them into proper latin1 ("José" stored right, nothing to repair).
"""

from __future__ import annotations

import datetime as dt
import uuid
from urllib.parse import urlsplit, urlunsplit

SCHEMA = """
CREATE TABLE discador_campanhas (
  id INT AUTO_INCREMENT PRIMARY KEY,
  name VARCHAR(255) NOT NULL,
  status ENUM('active','paused','finished') NOT NULL DEFAULT 'paused',
  max_channels INT NOT NULL DEFAULT 10,
  impulse_factor FLOAT NOT NULL DEFAULT 1.0,
  max_multiplier FLOAT NOT NULL DEFAULT 3.0,
  average_call_time INT NOT NULL DEFAULT 60,
  start_time TIME NULL,
  end_time TIME NULL,
  total_contacts INT NOT NULL DEFAULT 0,
  processed_contacts INT NOT NULL DEFAULT 0,
  successful_calls INT NOT NULL DEFAULT 0,
  created_at DATETIME NULL,
  updated_at DATETIME NULL
) ENGINE=InnoDB DEFAULT CHARSET=latin1;
CREATE TABLE discador_contatos (
  id INT AUTO_INCREMENT PRIMARY KEY,
  campaign_id INT NOT NULL,
  name VARCHAR(255) NULL,
  phone_number VARCHAR(30) NULL,
  alternate_phone VARCHAR(30) NULL,
  attempts INT NOT NULL DEFAULT 0,
  max_attempts INT NOT NULL DEFAULT 3,
  last_attempt DATETIME NULL,
  next_attempt DATETIME NULL,
  status VARCHAR(20) NOT NULL DEFAULT 'pending',
  result VARCHAR(50) NULL,
  created_at DATETIME NULL,
  updated_at DATETIME NULL,
  KEY idx_campaign (campaign_id)
) ENGINE=InnoDB DEFAULT CHARSET=latin1;
CREATE TABLE painel_ramais (
  id INT AUTO_INCREMENT PRIMARY KEY,
  number VARCHAR(20) NOT NULL UNIQUE,
  name VARCHAR(100) NULL,
  status_line1 ENUM('free','busy','unregistered') NOT NULL DEFAULT 'unregistered',
  status_line2 ENUM('free','busy','unregistered') NOT NULL DEFAULT 'unregistered',
  last_activity DATETIME NULL,
  registered TINYINT(1) NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=latin1;
"""

PG_SCHEMA = """
CREATE TABLE extension_ia (
  extension_ia_id SERIAL PRIMARY KEY,
  extension_ia_number CHAR(50),
  extension_ia_return CHAR(50),
  extension_ia_ip CHAR(50),
  extension_ia_number_port CHAR(50),
  condominium_id INTEGER,
  extension_ia_return_port CHAR(50)
);
"""


def connect(url: str, charset: str = "utf8mb4"):
    import pymysql

    p = urlsplit(url)
    return pymysql.connect(host=p.hostname, port=p.port, user=p.username or "root", password=p.password or "",
                           database=p.path.strip("/") or None, charset=charset, autocommit=True)


def create_database(server_url: str) -> str:
    """A fresh database with the legacy schema; its URL."""
    name = f"legacy_{uuid.uuid4().hex[:10]}"
    with connect(server_url) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET latin1")
    url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
    with connect(url) as conn, conn.cursor() as cur:
        for stmt in filter(str.strip, SCHEMA.split(";")):
            cur.execute(stmt)
    return url


def drop_database(url: str) -> None:
    name = urlsplit(url).path.strip("/")
    with connect(urlunsplit(urlsplit(url)._replace(path="/"))) as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")


def legacy_bytes(text: str) -> bytes:
    """What the legacy PHP sent: the UTF-8 bytes, labelled latin1 by its connection."""
    return text.encode("utf-8")


def double_encoded(text: str) -> bytes:
    """Mojibake of mojibake: the PHP read "JoÃ£o" back as UTF-8 and wrote it again."""
    return text.encode("utf-8").decode("cp1252").encode("utf-8")


CAMPAIGN_COLS = ("id", "name", "status", "max_channels", "impulse_factor", "max_multiplier", "average_call_time",
                 "start_time", "end_time", "created_at", "updated_at")
CONTACT_COLS = ("id", "campaign_id", "name", "phone_number", "alternate_phone", "attempts", "max_attempts",
                "last_attempt", "next_attempt", "status", "result", "created_at", "updated_at")
EXT_COLS = ("id", "number", "name", "status_line1", "status_line2", "last_activity", "registered")


def insert(url: str, table: str, cols: tuple[str, ...], rows: list[tuple], charset: str = "latin1") -> None:
    """Insert rows through a ``charset`` connection (latin1: how the legacy PHP wrote);
    ``bytes`` values land in the latin1 columns unchanged."""
    marks = ", ".join(["%s"] * len(cols))
    with connect(url, charset=charset) as conn, conn.cursor() as cur:
        for i in range(0, len(rows), 2000):
            cur.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", rows[i:i + 2000])


FIRST = ["João", "José", "Conceição", "Antônio", "Márcia", "Luís", "Ângela", "Sebastião", "Cláudia", "Fábio",
         "Maria", "Ana", "Paulo", "Carlos", "Lúcia", "Irene", "Otávio", "Íris", "Úrsula", "Débora"]
LAST = ["Gonçalves", "Araújo", "Simões", "Magalhães", "Brandão", "Silva", "Souza", "Lima", "Conceição", "Leão"]


def realistic_contacts(n: int, campaign_id: int = 1, start_id: int = 1) -> list[tuple]:
    """``n`` contacts as a legacy site has them: most names stored right, 1 in 5 written as
    UTF-8 through latin1 (mojibake), 1 in 100 twice; phones in the shapes people typed,
    1 in 50 invalid; alternate phones often blank; NULL times; every 200th a repeat."""
    rows = []
    base = dt.datetime(2024, 3, 1, 9, 0)
    shapes = [
        lambda d, s: f"({d}) 9{s[:4]}-{s[4:]}",  # (11) 91234-5678
        lambda d, s: f"0{d}9{s}",  # 011912345678 (trunk prefix)
        lambda d, s: f"{d}9{s}",  # 11912345678
        lambda d, s: f"({d}) {3}{s[1:4]}-{s[4:]}",  # landline (11) 3234-5678
        lambda d, s: f"+55 {d} 9{s[:4]}-{s[4:]}",  # +55 11 91234-5678
        lambda d, s: f"({d}) 9{s[1:4]}-{s[4:]}",  # 8 digits, old mobile: ninth digit added
    ]
    ddds = ["11", "21", "31", "41", "51", "61", "71", "81", "85", "92", "68", "48"]
    for i in range(n):
        lid = start_id + i
        name = f"{FIRST[i % len(FIRST)]} {LAST[(i // 7) % len(LAST)]}"
        if i % 100 == 3:
            stored = double_encoded(name)
        elif i % 5 == 1:
            stored = legacy_bytes(name)
        else:
            stored = name
        ddd = ddds[i % len(ddds)]
        sub = f"{(i * 7919) % 100000000:08d}"
        if sub[0] == "0":
            sub = "1" + sub[1:]
        phone = shapes[i % len(shapes)](ddd, sub)
        if i % 50 == 7:
            phone = ["", "12345", "0800 123 4567", "(00) 91234-5678", "abc-defg"][(i // 50) % 5]
        if i % 200 == 150 and i > 0:
            phone = shapes[(i - 1) % len(shapes)](ddds[(i - 1) % len(ddds)], f"{((i - 1) * 7919) % 100000000:08d}")
        alt = ["", None, f"({ddd}) 3{sub[:3]}-{sub[3:7]}", "  "][i % 4]
        attempts = i % 4
        last = base + dt.timedelta(minutes=i) if attempts else None
        nxt = last + dt.timedelta(hours=2) if attempts and i % 3 else None
        status = ["pending", "pending", "completed", "failed", "pending"][i % 5]
        result = {0: None, 1: "busy", 2: "no_answer", 3: "answered"}[attempts]
        rows.append((lid, campaign_id, stored, phone, alt, attempts, 3, last, nxt, status, result,
                     base - dt.timedelta(days=30), base))
    return rows
