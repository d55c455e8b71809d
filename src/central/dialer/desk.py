"""The agent's page rules, sans-I/O: dispositions, scripts, callback times, wrap-up.

Nothing here touches the database, a socket or a clock (no Django import): the views and
the consumer of the agent's page (``central.agents``) and the dialer engine call these
functions with plain values, so the rules are unit-tested in microseconds
(tests/dialer/test_desk_core.py).

Dispositions
------------
A campaign keeps its own list (``Campaign.dispositions``): each item has a ``code``
(stable, stored on the disposition row), a ``label`` (what the agent reads) and an
``effect`` on the contact: ``done`` (no more calls), ``callback`` (a return call is
required), ``retry`` (the campaign's retry policy decides), ``invalid`` (wrong number) or
``dnc`` (the number goes to the do-not-call list). :func:`plan_disposition` turns the
agent's choice into what must be written; the view writes it in one transaction.

Scripts
-------
``{nome}``, ``{cidade}``... are replaced by the contact's fields; the output is a list of
segments the page renders as text nodes (never HTML), so a field holding ``<script>`` is
shown, not run. An unknown field stays visible as typed (``{cpf}``) so a supervisor
notices the typo; ``{{`` and ``}}`` are literal braces.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "DEFAULT_DISPOSITIONS",
    "EFFECTS",
    "MAX_CALLBACK_DAYS",
    "DispositionError",
    "DispositionPlan",
    "callback_instant",
    "contact_fields",
    "format_dispositions",
    "parse_dispositions",
    "plan_disposition",
    "render_script_html",
    "script_segments",
    "slug",
    "validate_dispositions",
    "wrapup_seconds",
]

#: What a disposition does to the contact (see the module docstring).
EFFECTS = ("done", "callback", "retry", "invalid", "dnc")

#: The words a supervisor types after ``=`` in the settings list, per effect (pt-BR, the
#: language of the settings page; the English catalog translates the help text, not these
#: keywords, which are data).
EFFECT_WORDS = {
    "concluir": "done",
    "retorno": "callback",
    "nova tentativa": "retry",
    "numero invalido": "invalid",
    "nao ligar": "dnc",
}
_WORD_FOR = {v: k for k, v in EFFECT_WORDS.items()}

#: The issue's default list, for campaigns whose supervisor did not write one.
DEFAULT_DISPOSITIONS: tuple[dict, ...] = (
    {"code": "venda", "label": "Venda", "effect": "done"},
    {"code": "sem_interesse", "label": "Sem interesse", "effect": "done"},
    {"code": "agendar_retorno", "label": "Agendar retorno", "effect": "callback"},
    {"code": "numero_errado", "label": "Número errado", "effect": "invalid"},
    {"code": "nao_ligar_mais", "label": "Não ligar mais", "effect": "dnc"},
)

#: A callback further away than this is refused (a typo in the year, not a promise).
MAX_CALLBACK_DAYS = 366
MAX_DISPOSITIONS = 30
MAX_LABEL = 60


class DispositionError(ValueError):
    """The agent's input breaks a rule; ``code`` is mapped to a pt-BR message by the view
    (``central.agents.desk_views.ERRORS``), ``field`` names the input to mark."""

    def __init__(self, code: str, field: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.field = field


def slug(text: str) -> str:
    """``Não ligar mais`` -> ``nao_ligar_mais``: accents dropped, lowercase, ``_``."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", plain.lower()).strip("_")[:40]


def validate_dispositions(items: object) -> list[str]:
    """Problems of a stored list (codes: ``empty``, ``too_many``, ``bad_item``,
    ``bad_effect``, ``duplicate``, ``label``); empty when it is usable."""
    if not isinstance(items, list) or not items:
        return ["empty"]
    problems: list[str] = []
    if len(items) > MAX_DISPOSITIONS:
        problems.append("too_many")
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("code"), str) or not item.get("code"):
            problems.append("bad_item")
            continue
        if item.get("effect") not in EFFECTS:
            problems.append("bad_effect")
        label = item.get("label")
        if not isinstance(label, str) or not label.strip() or len(label) > MAX_LABEL:
            problems.append("label")
        if item["code"] in seen:
            problems.append("duplicate")
        seen.add(item["code"])
    return problems


def parse_dispositions(text: str) -> list[dict]:
    """The settings textarea: one disposition per line, ``Rótulo`` or ``Rótulo = efeito``
    (efeito: concluir, retorno, nova tentativa, numero invalido, nao ligar; default
    concluir). Raises :class:`DispositionError` (``bad_effect``, ``duplicate``,
    ``empty``, ``too_many``, ``label``) naming the field ``dispositions``."""
    out: list[dict] = []
    for raw in (text or "").splitlines():
        line = raw.strip()
        if not line:
            continue
        label, sep, word = line.partition("=")
        label = label.strip()
        effect = "done"
        if sep:
            effect = EFFECT_WORDS.get(slug(word).replace("_", " "), "")
            if not effect:
                raise DispositionError("bad_effect", "dispositions")
        code = slug(label)
        if not code or len(label) > MAX_LABEL:
            raise DispositionError("label", "dispositions")
        out.append({"code": code, "label": label, "effect": effect})
    problems = validate_dispositions(out)
    if problems:
        raise DispositionError(problems[0], "dispositions")
    return out


def format_dispositions(items: list[dict]) -> str:
    """The inverse of :func:`parse_dispositions` (what the settings form shows)."""
    return "\n".join(f"{i['label']} = {_WORD_FOR.get(i['effect'], 'concluir')}" for i in items)


def dispositions_of(stored: object) -> list[dict]:
    """A campaign's list, or the defaults when the stored one is empty or broken."""
    if isinstance(stored, list) and stored and not validate_dispositions(stored):
        return [dict(i) for i in stored]
    return [dict(i) for i in DEFAULT_DISPOSITIONS]


@dataclass(frozen=True, slots=True)
class DispositionPlan:
    """What saving the agent's choice writes: the contact's next status (a
    ``Contact.Status`` value, or ``retry`` for the campaign's retry policy), whether
    the number goes to the do-not-call list, and the callback's instant (UTC) if any."""

    code: str
    label: str
    effect: str
    contact_status: str
    dnc: bool
    callback_at: datetime | None


def plan_disposition(dispositions: list[dict], code: str, *, callback_at: datetime | None,
                     now: datetime) -> DispositionPlan:
    """The rules of one disposition.

    * the code must be one of the campaign's (``unknown``);
    * a ``callback`` disposition needs a callback time (``callback_required``);
    * any other disposition may carry an optional callback, except ``dnc`` and
      ``invalid``: calling back a number that must not (or cannot) be called is a
      contradiction (``callback_forbidden``);
    * a callback must be in the future (``callback_past``) and within
      :data:`MAX_CALLBACK_DAYS` (``callback_far``).
    """
    item = next((i for i in dispositions if i.get("code") == code), None)
    if item is None:
        raise DispositionError("unknown", "code")
    effect = item["effect"]
    if effect == "callback" and callback_at is None:
        raise DispositionError("callback_required", "callback")
    if callback_at is not None:
        if effect in ("dnc", "invalid"):
            raise DispositionError("callback_forbidden", "callback")
        if callback_at <= now:
            raise DispositionError("callback_past", "callback")
        if callback_at - now > timedelta(days=MAX_CALLBACK_DAYS):
            raise DispositionError("callback_far", "callback")
    if callback_at is not None:
        status = "pending"
    else:
        status = {"done": "done", "callback": "pending", "retry": "retry", "invalid": "invalid",
                  "dnc": "dnc"}[effect]
    return DispositionPlan(code=code, label=item["label"], effect=effect, contact_status=status,
                           dnc=effect == "dnc", callback_at=callback_at)


def callback_instant(day: str, hhmm: str, zone: str) -> datetime:
    """The callback's date and time as typed (``HH:MM`` or ``HH:MM:SS``, in the
    **contact's** time zone, which the page names next to the inputs) -> an aware UTC
    instant.

    Raises ``DispositionError("callback_format")`` for input that is not ``YYYY-MM-DD`` /
    ``HH:MM``, ``callback_zone`` for an unknown zone. A wall time that a zone skips or
    repeats (DST, which Brazil no longer observes but a contact abroad may) resolves with
    ``fold=0``, the first occurrence, as :mod:`zoneinfo` does.
    """
    try:
        d = date.fromisoformat((day or "").strip())
        t = time.fromisoformat((hhmm or "").strip())
    except ValueError:
        raise DispositionError("callback_format", "callback") from None
    try:
        tz = ZoneInfo(zone or "America/Sao_Paulo")
    except (ZoneInfoNotFoundError, ValueError):
        raise DispositionError("callback_zone", "callback") from None
    return datetime.combine(d, t.replace(tzinfo=None, microsecond=0), tz).astimezone(UTC)


def wrapup_seconds(call_ended: float | None, saved: float, limit: float) -> float:
    """Seconds of wrap-up a disposition counts: from the end of the call to the save,
    capped at the campaign's maximum (``limit`` > 0); 0 when saved during the call."""
    if call_ended is None or saved <= call_ended:
        return 0.0
    spent = saved - call_ended
    return min(spent, limit) if limit > 0 else spent


# --- Scripts ---------------------------------------------------------------------------------

_FIELD = re.compile(r"\{\{|\}\}|\{([^{}\s]{1,64})\}")


def _key(name: str) -> str:
    return slug(name)


def contact_fields(name: str, phone: str, custom: dict | None, extra: dict | None = None) -> dict[str, str]:
    """The values a script may name: ``nome``, ``telefone``, every custom field of the
    import (by its column name, accents and case ignored), plus ``extra`` (``campanha``,
    ``agente``). Built-ins win over a custom column of the same name."""
    out: dict[str, str] = {}
    for k, v in (custom or {}).items():
        if isinstance(k, str) and v is not None and not isinstance(v, (dict, list)):
            out[_key(k)] = str(v)
    out.update({_key(k): str(v) for k, v in (extra or {}).items() if v is not None})
    out["nome"] = name or out.get("nome", "")
    out["telefone"] = phone or out.get("telefone", "")
    return out


def script_segments(template: str, fields: dict[str, str]) -> list[tuple[str, str]]:
    """``[(kind, text)]`` with kind ``text``, ``field`` (a substituted value) or
    ``unknown`` (a ``{name}`` no field has, kept as typed). Plain text, never markup."""
    out: list[tuple[str, str]] = []
    pos = 0
    buf: list[str] = []
    for m in _FIELD.finditer(template or ""):
        buf.append(template[pos:m.start()])
        pos = m.end()
        tok = m.group(0)
        if tok in ("{{", "}}"):
            buf.append(tok[0])
            continue
        key = _key(m.group(1))
        if buf and "".join(buf):
            out.append(("text", "".join(buf)))
        buf = []
        if key in fields:
            out.append(("field", fields[key]))
        else:
            out.append(("unknown", tok))
    buf.append((template or "")[pos:])
    if "".join(buf):
        out.append(("text", "".join(buf)))
    return out


def render_script_html(template: str, fields: dict[str, str]) -> str:
    """The segments as escaped HTML (``<mark>`` around values, ``<code>`` around unknown
    fields, ``<br>`` for line breaks): for server-rendered pages."""
    parts = []
    for kind, text in script_segments(template, fields):
        esc = html.escape(text).replace("\n", "<br>")
        if kind == "field":
            parts.append(f'<mark class="script-field">{esc}</mark>')
        elif kind == "unknown":
            parts.append(f'<code class="script-unknown">{esc}</code>')
        else:
            parts.append(esc)
    return "".join(parts)
