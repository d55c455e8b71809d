"""Campaign results as CSV, streamed row by row (a million contacts never sit in memory).

Two shapes: one row per contact (status, attempts, last result, one column per custom
field), or one row per attempt (``per_attempt=True``) for call-level reporting. Statuses,
results and legal bases are written as the dashboard shows them (``Ocupado``, not
``busy``), in the language active when the export starts (pt-BR by default). Semicolon-separated
UTF-8 with a BOM, which is what Excel in pt-BR opens correctly with a double click.
Every cell goes through :func:`central.core.spreadsheet.csv_writer`, which neutralises
formula injection (a contact named ``=HYPERLINK(...)``) in a way the importer undoes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from zoneinfo import ZoneInfo

from django.utils import timezone

from central.core.spreadsheet import csv_writer

from .models import Attempt, Campaign, Contact

__all__ = ["CONTACT_HEADER", "ATTEMPT_HEADER", "contact_export", "contact_rows", "attempt_rows", "csv_lines",
           "export_filename"]

CONTACT_HEADER = ["id", "nome", "telefone", "telefones_alternativos", "situacao", "tentativas", "ultimo_resultado",
                  "ultima_tentativa", "proxima_tentativa", "fuso_horario", "base_legal", "origem"]
ATTEMPT_HEADER = ["contato_id", "nome", "telefone", "tentativa_id", "inicio", "atendida_em", "fim", "resultado",
                  "estado", "agente", "fila", "causa", "duracao_conversa_s", "chamada_curta"]


def _zone(campaign: Campaign) -> ZoneInfo:
    """The tenant's zone: rows are generated after the request ends, when no zone is active."""
    from central.core.tenancy import organization_zone

    return organization_zone(campaign.organization)


def _ts(value, zone: ZoneInfo) -> str:
    return timezone.localtime(value, zone).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _labels() -> dict[str, dict[str, str]]:
    """Code -> label in the active language, taken once when an export starts (the rows
    are streamed after the request's language may be gone)."""
    def of(choices) -> dict[str, str]:
        return {str(k): str(v) for k, v in choices}

    results = of(Attempt.Result.choices)
    results["dnc"] = str(Contact.Status.DNC.label)  # last_result of a contact blocked at import
    return {"status": of(Contact.Status.choices), "result": results, "state": of(Attempt.State.choices),
            "legal": of(Contact.LegalBasis.choices)}


def _contacts(campaign: Campaign, status: str | None):
    qs = Contact.objects.filter(campaign=campaign).order_by("id")
    return qs.filter(status=status) if status else qs


def custom_field_names(campaign: Campaign, *, status: str | None = None) -> list[str]:
    """Every custom field key of the exported contacts, sorted (one pass over the JSON
    column, streamed; only the set of keys is kept). Sorted, not first-seen: PostgreSQL's
    jsonb does not keep the imported column order, so that order would differ by database."""
    seen: set[str] = set()
    for fields in _contacts(campaign, status).values_list("custom_fields", flat=True).iterator(chunk_size=5000):
        if isinstance(fields, dict):
            seen.update(str(key) for key in fields)
    return sorted(seen)


def contact_export(campaign: Campaign, *, status: str | None = None) -> tuple[list[str], Iterator[list]]:
    """Header and rows of the per-contact export: :data:`CONTACT_HEADER` then one column per
    custom field (a key that repeats a standard column's name gets a ``campo_`` prefix)."""
    keys = custom_field_names(campaign, status=status)
    columns = [f"campo_{k}" if k in CONTACT_HEADER else k for k in keys]
    return CONTACT_HEADER + columns, contact_rows(campaign, status=status, custom_keys=keys)


def contact_rows(campaign: Campaign, *, status: str | None = None, custom_keys: list[str] | None = None) -> Iterator[list]:
    labels, zone, keys = _labels(), _zone(campaign), custom_keys or []

    def rows() -> Iterator[list]:
        for c in _contacts(campaign, status).iterator(chunk_size=2000):
            custom = c.custom_fields if isinstance(c.custom_fields, dict) else {}
            yield [c.pk, c.name, c.phone, " ".join(c.alt_phones or []), labels["status"].get(c.status, c.status),
                   c.attempts, labels["result"].get(c.last_result, c.last_result),
                   _ts(c.last_attempt_at, zone), _ts(c.next_attempt_at, zone), c.timezone,
                   labels["legal"].get(c.legal_basis, c.legal_basis), c.origin,
                   *("" if custom.get(k) is None else custom[k] for k in keys)]

    return rows()


def attempt_rows(campaign: Campaign) -> Iterator[list]:
    qs = (Attempt.objects.filter(campaign=campaign).select_related("contact").order_by("contact_id", "created_at"))
    labels, zone = _labels(), _zone(campaign)

    def rows() -> Iterator[list]:
        for a in qs.iterator(chunk_size=2000):
            talk = f"{a.talk_seconds:.0f}" if a.talk_seconds is not None else ""
            yield [a.contact_id, a.contact.name, a.phone, a.uid, _ts(a.created_at, zone), _ts(a.answered_at, zone),
                   _ts(a.ended_at, zone), labels["result"].get(a.result, a.result),
                   labels["state"].get(a.state, a.state), a.agent, a.queue,
                   a.hangup_cause_text or (a.hangup_cause or ""), talk, "sim" if a.short_call else ""]

    return rows()


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_lines(header: list[str], rows: Iterable[list], *, bom: bool = True) -> Iterator[str]:
    """CSV text, one line at a time (for StreamingHttpResponse or a file)."""
    writer = csv_writer(_Echo())
    yield ("\ufeff" if bom else "") + writer.writerow(header)
    for row in rows:
        yield writer.writerow(row)


def export_filename(campaign: Campaign, per_attempt: bool = False) -> str:
    from .importer import safe_name

    kind = "tentativas" if per_attempt else "contatos"
    return f"{safe_name(campaign.name)}-{kind}-{timezone.localdate():%Y%m%d}.csv"
