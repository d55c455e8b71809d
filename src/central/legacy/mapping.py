"""Legacy rows -> Central values, pure (no Django, no I/O): what ``central import-legacy`` does
to each row, testable without a database.

Each ``map_*`` takes one row as a dict (column -> value, as PyMySQL / psycopg return it)
and returns a :class:`Mapped`: the values for Central (``None`` when the row is rejected),
plus :class:`Note` entries that say what was repaired (mojibake), normalised (phones) or
why the row, or one of its fields, was dropped. :class:`Tally` adds the notes up for the
summary the command prints and the audit entry keeps.

Text repair: the legacy PHP code wrote UTF-8 through a latin1 connection, so "João" sits
in the table as the bytes of "JoÃ£o" (and sometimes twice: "JoÃƒÂ£o"). ftfy recognises
those sequences and undoes them; its other fixes (quotes, ligatures, full-width
characters, HTML entities) would change text that is not broken, so only the encoding
fixes and NFC normalisation are turned on.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import ftfy

from central.core.phones import try_normalize
from central.dialer.hours import DAYS, HoursError, parse_working_hours

__all__ = [
    "Mapped",
    "Note",
    "Tally",
    "map_ai_extension",
    "map_campaign",
    "map_contact",
    "map_extension",
    "repair_text",
]

#: Legacy table names: one spelling shared by the readers, the runner and the reports.
CAMPAIGNS = "discador_campanhas"
CONTACTS = "discador_contatos"
EXTENSIONS = "painel_ramais"
AI_EXTENSIONS = "extension_ia"

_FTFY = ftfy.TextFixerConfig(
    unescape_html=False, remove_terminal_escapes=False, fix_latin_ligatures=False,
    fix_character_width=False, uncurl_quotes=False, fix_line_breaks=False,
    remove_control_chars=False, explain=True,
)


#: A UTF-8 lead byte (0xC2-0xF4) read as latin1/cp1252 followed by a continuation byte
#: (0x80-0xBF) read the same way: the mark every "JoÃ£o" carries. cp1252 maps 0x80-0x9F
#: to the characters listed; MariaDB's latin1 keeps its 5 undefined ones as U+0081....
_MAYBE_MOJIBAKE = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc"
    "\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]")


@dataclass(frozen=True, slots=True)
class Note:
    """One thing that happened to one row: ``kind`` is a stable key for counting
    (``repaired``, ``phone_normalised``, ``phone_rejected``, ``ignored``, ``default``...),
    ``field`` the legacy column, ``detail`` the pt-BR reason shown to the operator."""

    kind: str
    field: str
    detail: str


@dataclass(slots=True)
class Mapped:
    legacy_id: int
    values: dict | None  # None: the row is rejected (the notes say why)
    notes: list[Note] = field(default_factory=list)

    @property
    def rejected(self) -> bool:
        return self.values is None


# --- text ----------------------------------------------------------------------------------


def repair_text(value) -> tuple[str, str]:
    """``(text, how)``: the text with mojibake undone, ``how`` "" when nothing changed,
    else the repair ("utf-8 gravado como latin1" with the number of layers undone)."""
    if value is None:
        return "", ""
    if isinstance(value, bytes | bytearray):
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            value = bytes(value).decode("cp1252", errors="replace")
    text = str(value).strip()
    if not text or text.isascii():
        return text, ""
    if not _MAYBE_MOJIBAKE.search(text):
        # Most names: no byte pair UTF-8-read-as-latin1 could have produced; ftfy would
        # find nothing (and costs ~100 µs per name).
        if unicodedata.is_normalized("NFC", text):
            return text, ""
        return unicodedata.normalize("NFC", text), "normalização Unicode"
    fixed, explanation = ftfy.fix_and_explain(text, config=_FTFY)
    fixed = fixed.strip()
    if fixed == text:
        return text, ""
    layers = sum(1 for step, _arg in (explanation or []) if step == "decode")
    if layers:
        how = "UTF-8 gravado como latin1" + (f" ({layers} vezes)" if layers > 1 else "")
    else:
        how = "normalização Unicode"
    return fixed, how


def _text(row: dict, column: str, notes: list[Note], limit: int) -> str:
    text, how = repair_text(row.get(column))
    if how:
        notes.append(Note("repaired", column, how))
    return text[:limit]


# --- times ---------------------------------------------------------------------------------


def _time(value) -> dt.time | None:
    """A MariaDB TIME as PyMySQL returns it (``timedelta``), or a time / "HH:MM[:SS]" text."""
    if value is None:
        return None
    if isinstance(value, dt.timedelta):
        seconds = int(value.total_seconds())
        if seconds < 0 or seconds >= 86400:
            return None if seconds != 86400 else dt.time(0, 0)
        return dt.time(seconds // 3600, seconds % 3600 // 60)
    if isinstance(value, dt.time):
        return value.replace(second=0, microsecond=0)
    try:
        parts = [int(p) for p in str(value).strip().split(":")[:2]]
        return dt.time(parts[0], parts[1])
    except (ValueError, IndexError):
        return None


def _datetime(value, zone: ZoneInfo) -> dt.datetime | None:
    """A legacy DATETIME (naive, the site's local time) as an aware datetime; zero dates
    ("0000-00-00", which PyMySQL hands over as text) and garbage are ``None``."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=zone) if value.tzinfo is None else value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=zone)
    try:
        parsed = dt.datetime.fromisoformat(str(value).strip())
    except ValueError:
        return None
    return parsed.replace(tzinfo=zone) if parsed.tzinfo is None else parsed


def _int(value, default: int | None = None) -> int | None:
    if value is None:
        return default
    try:
        return int(str(value).strip())
    except ValueError:
        return default


# --- campaigns -----------------------------------------------------------------------------

#: Central's default weekly pattern is kept; the legacy daily window narrows it.
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
_SATURDAY = (dt.time(10, 0), dt.time(16, 0))

CAMPAIGN_STATUS = {"active": "paused", "paused": "paused", "finished": "finished"}


def _hhmm(t: dt.time | None) -> str:
    return "24:00" if t is None else t.strftime("%H:%M")


def legacy_hours(start: dt.time | None, end: dt.time | None) -> tuple[dict | None, str]:
    """The legacy daily window as Central working hours (weekdays start-end, Saturday the
    part of it inside 10:00-16:00, never Sundays), or ``(None, reason)`` to keep the
    defaults. An end of 00:00 means midnight; an end before the start (overnight) cannot be
    expressed and is reported."""
    if start is None or end is None:
        return None, "horário vazio no legado: mantido o padrão (seg-sex 09-20, sáb 10-16)"
    stop = None if end == dt.time(0, 0) else end
    if stop is not None and stop <= start:
        return None, f"janela {start:%H:%M}-{end:%H:%M} atravessa a meia-noite: mantido o padrão"
    hours: dict = {day: [[_hhmm(start), _hhmm(stop)]] for day in _WEEKDAYS}
    sat_start, sat_end = max(start, _SATURDAY[0]), min(stop or dt.time(23, 59), _SATURDAY[1])
    hours["sat"] = [[_hhmm(sat_start), _hhmm(sat_end)]] if sat_start < sat_end else []
    hours["sun"] = []
    try:
        parse_working_hours(hours)
    except HoursError as exc:
        return None, f"horário inválido ({exc}): mantido o padrão"
    assert set(hours) == set(DAYS)
    return hours, ""


def map_campaign(row: dict, zone: ZoneInfo) -> Mapped:
    notes: list[Note] = []
    legacy_id = int(row["id"])
    name = _text(row, "name", notes, 200) or f"Campanha legada {legacy_id}"
    legacy_status = str(row.get("status") or "").strip().lower()
    status = CAMPAIGN_STATUS.get(legacy_status)
    if status is None:
        status = "paused"
        notes.append(Note("default", "status", f"situação {legacy_status!r} desconhecida: importada pausada"))
    elif legacy_status == "active":
        # Never dial on import: the site starts it in Central when the queue is set up.
        notes.append(Note("default", "status", "ativa no legado: importada pausada (inicie no Central)"))
    values: dict = {"name": name, "status": status, "pacing_mode": "ratio"}
    ratio = row.get("impulse_factor")
    try:
        ratio = float(ratio) if ratio is not None else None
    except (TypeError, ValueError):
        ratio = None
    cap = row.get("max_multiplier")
    try:
        cap = float(cap) if cap is not None else None
    except (TypeError, ValueError):
        cap = None
    if ratio is None or ratio <= 0:
        notes.append(Note("default", "impulse_factor", "fator de impulso vazio: razão 1,0"))
        ratio = 1.0
    if cap and cap > 0 and ratio > cap:
        notes.append(Note("default", "impulse_factor", f"fator {ratio:g} acima do multiplicador máximo: {cap:g}"))
        ratio = cap
    values["dial_ratio"] = round(ratio, 3)
    channels = _int(row.get("max_channels"))
    if channels and channels > 0:
        values["max_channels"] = channels
    hours, why = legacy_hours(_time(row.get("start_time")), _time(row.get("end_time")))
    if hours is not None:
        values["working_hours"] = hours
    else:
        notes.append(Note("default", "start_time", why))
    created = _datetime(row.get("created_at"), zone)
    if created is not None:
        values["created_at"] = created
    if status == "finished":
        values["finished_at"] = _datetime(row.get("updated_at"), zone) or created
    return Mapped(legacy_id, values, notes)


# --- contacts ------------------------------------------------------------------------------

#: Legacy contact status -> Central's. Unknown ones become pending with a note.
CONTACT_STATUS = {
    "pending": "pending", "pendente": "pending", "new": "pending", "novo": "pending",
    "calling": "pending", "dialing": "pending", "in_progress": "pending", "ligando": "pending",
    "retry": "pending", "scheduled": "pending", "agendado": "pending",
    "completed": "done", "complete": "done", "done": "done", "success": "done", "answered": "done",
    "concluido": "done", "atendido": "done",
    "failed": "failed", "fail": "failed", "exhausted": "failed", "max_attempts": "failed", "esgotado": "failed",
    "invalid": "invalid", "invalido": "invalid",
    "dnc": "dnc", "blocked": "dnc", "do_not_call": "dnc", "bloqueado": "dnc",
}
#: Legacy result -> Central's ``Attempt.Result`` values.
CONTACT_RESULT = {
    "answered": "answered", "answer": "answered", "atendida": "answered", "atendido": "answered", "success": "answered",
    "busy": "busy", "ocupado": "busy",
    "no_answer": "no_answer", "noanswer": "no_answer", "no answer": "no_answer", "nao_atende": "no_answer",
    "congestion": "congestion", "congestionado": "congestion",
    "failed": "failed", "failure": "failed", "falha": "failed",
    "abandoned": "abandoned", "abandonada": "abandoned",
}


def map_contact(row: dict, zone: ZoneInfo) -> Mapped:
    notes: list[Note] = []
    legacy_id = int(row["id"])
    raw_phone = row.get("phone_number")
    raw_phone = "" if raw_phone is None else str(raw_phone).strip()
    phone, why = try_normalize(raw_phone)
    if phone is None:
        notes.append(Note("phone_rejected", "phone_number", why))
        return Mapped(legacy_id, None, notes)
    if phone.note:
        notes.append(Note("phone_ninth_digit", "phone_number", phone.note))
    if raw_phone != phone.e164:
        notes.append(Note("phone_normalised", "phone_number", f"{raw_phone} -> {phone.e164}"))
    name = _text(row, "name", notes, 200)
    alt_phones: list[str] = []
    raw_alt = row.get("alternate_phone")
    raw_alt = "" if raw_alt is None else str(raw_alt).strip()
    if raw_alt:
        alt, alt_why = try_normalize(raw_alt)
        if alt is None:
            notes.append(Note("alt_phone_rejected", "alternate_phone", f"{alt_why} (telefone alternativo ignorado)"))
        elif alt.e164 != phone.e164:
            alt_phones.append(alt.e164)
    legacy_status = str(row.get("status") or "").strip().lower()
    status = CONTACT_STATUS.get(legacy_status)
    if status is None:
        status = "pending"
        notes.append(Note("default", "status", f"situação {legacy_status!r} desconhecida: aguardando"))
    legacy_result = str(row.get("result") or "").strip().lower()
    result = CONTACT_RESULT.get(legacy_result, legacy_result[:20])
    attempts = max(_int(row.get("attempts"), 0) or 0, 0)
    max_attempts = _int(row.get("max_attempts"))
    values = {
        "phone": phone.e164,
        "timezone": phone.timezone,
        "name": name,
        "alt_phones": alt_phones,
        "status": status,
        "attempts": attempts,
        "max_attempts": max_attempts if max_attempts and max_attempts > 0 else None,
        "last_attempt_at": _datetime(row.get("last_attempt"), zone),
        "next_attempt_at": _datetime(row.get("next_attempt"), zone) if status == "pending" else None,
        "last_result": result,
        "created_at": _datetime(row.get("created_at"), zone),
    }
    return Mapped(legacy_id, values, notes)


# --- extensions (painel_ramais) ------------------------------------------------------------

EXTENSION_STATE = {"free": "free", "livre": "free", "busy": "busy", "ocupado": "busy",
                   "unregistered": "unavailable", "offline": "unavailable", "ringing": "ringing"}


def map_extension(row: dict, zone: ZoneInfo) -> Mapped:
    notes: list[Note] = []
    legacy_id = int(row["id"])
    number = str(row.get("number") or "").strip()
    if not number or len(number) > 80:
        notes.append(Note("rejected", "number", "ramal vazio ou longo demais"))
        return Mapped(legacy_id, None, notes)
    line = str(row.get("status_line1") or "").strip().lower()
    state = EXTENSION_STATE.get(line, "unknown")
    registered = row.get("registered")
    values = {
        "exten": number,
        "label": _text(row, "name", notes, 120),
        "state": state,
        "status_text": line[:40],
        "registered": None if registered is None else bool(int(registered)),
        "last_activity": _datetime(row.get("last_activity"), zone),
    }
    return Mapped(legacy_id, values, notes)


# --- AI extensions (extension_ia, PostgreSQL CHAR(50) columns) -----------------------------


def _port(value) -> int | None:
    text = "" if value is None else str(value).strip()
    if not text.isdigit():
        return None
    port = int(text)
    return port if 1 <= port <= 65535 else None


def map_ai_extension(row: dict) -> Mapped:
    """CHAR(50) pads with spaces and the ports are text: both are undone here."""
    notes: list[Note] = []
    legacy_id = int(row["extension_ia_id"])
    number = str(row.get("extension_ia_number") or "").strip()
    return_number = str(row.get("extension_ia_return") or "").strip()
    ip = str(row.get("extension_ia_ip") or "").strip() or "0.0.0.0"
    if not number or len(number) > 20 or len(return_number) > 20:
        notes.append(Note("rejected", "extension_ia_number", "ramal vazio ou com mais de 20 caracteres"))
        return Mapped(legacy_id, None, notes)
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        notes.append(Note("rejected", "extension_ia_ip", f"IP de escuta inválido: {ip[:50]!r}"))
        return Mapped(legacy_id, None, notes)
    port = _port(row.get("extension_ia_number_port"))
    return_port = _port(row.get("extension_ia_return_port"))
    for column, value in (("extension_ia_number_port", port), ("extension_ia_return_port", return_port)):
        if value is None:
            notes.append(Note("rejected", column, "porta inválida (1-65535)"))
            return Mapped(legacy_id, None, notes)
    values = {"number": number, "return_number": return_number, "bind_ip": ip, "port": port,
              "return_port": return_port, "condominium_id": _int(row.get("condominium_id"))}
    return Mapped(legacy_id, values, notes)


# --- tallies -------------------------------------------------------------------------------


@dataclass
class Tally:
    """Counts per table and action, and per kind of note and reason: the summary."""

    actions: Counter = field(default_factory=Counter)  # (table, action) -> n
    notes: Counter = field(default_factory=Counter)  # (table, kind, reason) -> n
    rows: Counter = field(default_factory=Counter)  # table -> rows read

    def add(self, table: str, action: str, notes: list[Note] = ()) -> None:
        self.rows[table] += 1
        self.actions[(table, action)] += 1
        for note in notes:
            reason = note.detail if note.kind not in ("phone_normalised",) else ""
            if note.kind == "repaired":
                reason = f"{note.field}: {note.detail}"
            self.notes[(table, note.kind, reason)] += 1

    def as_dict(self) -> dict:
        """JSON-able (the audit entry's details)."""
        out: dict = {"rows": dict(self.rows), "actions": {}, "notes": {}}
        for (table, action), n in sorted(self.actions.items()):
            out["actions"].setdefault(table, {})[action] = n
        for (table, kind, reason), n in sorted(self.notes.items()):
            out["notes"].setdefault(table, {}).setdefault(kind, {})[reason or "-"] = n
        return out
