"""Campaign results as CSV, streamed row by row (a million contacts never sit in memory).

Two shapes: one row per contact (status, attempts, last result, custom fields as JSON), or
one row per attempt (``per_attempt=True``) for call-level reporting. Semicolon-separated
UTF-8 with a BOM, which is what Excel in pt-BR opens correctly with a double click.
Every cell goes through :func:`central.core.spreadsheet.csv_writer`, which neutralises
formula injection (a contact named ``=HYPERLINK(...)``) in a way the importer undoes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from zoneinfo import ZoneInfo

from django.utils import timezone

from central.core.spreadsheet import csv_writer

from .models import Attempt, Campaign, Contact

__all__ = ["CONTACT_HEADER", "ATTEMPT_HEADER", "contact_rows", "attempt_rows", "csv_lines", "export_filename"]

CONTACT_HEADER = ["id", "nome", "telefone", "telefones_alternativos", "situacao", "tentativas", "ultimo_resultado",
                  "ultima_tentativa", "proxima_tentativa", "fuso_horario", "base_legal", "origem",
                  "campos_personalizados"]
ATTEMPT_HEADER = ["contato_id", "nome", "telefone", "tentativa_id", "inicio", "atendida_em", "fim", "resultado",
                  "estado", "agente", "fila", "causa", "duracao_conversa_s", "chamada_curta"]


def _zone(campaign: Campaign) -> ZoneInfo:
    """The tenant's zone: rows are generated after the request ends, when no zone is active."""
    from central.core.tenancy import organization_zone

    return organization_zone(campaign.organization)


def _ts(value, zone: ZoneInfo) -> str:
    return timezone.localtime(value, zone).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def contact_rows(campaign: Campaign, *, status: str | None = None) -> Iterator[list]:
    qs = Contact.objects.filter(campaign=campaign).order_by("id")
    if status:
        qs = qs.filter(status=status)
    zone = _zone(campaign)
    for c in qs.iterator(chunk_size=2000):
        yield [c.pk, c.name, c.phone, " ".join(c.alt_phones or []), c.status, c.attempts, c.last_result,
               _ts(c.last_attempt_at, zone), _ts(c.next_attempt_at, zone), c.timezone, c.legal_basis, c.origin,
               json.dumps(c.custom_fields, ensure_ascii=False) if c.custom_fields else ""]


def attempt_rows(campaign: Campaign) -> Iterator[list]:
    qs = (Attempt.objects.filter(campaign=campaign).select_related("contact").order_by("contact_id", "created_at"))
    zone = _zone(campaign)
    for a in qs.iterator(chunk_size=2000):
        talk = f"{a.talk_seconds:.0f}" if a.talk_seconds is not None else ""
        yield [a.contact_id, a.contact.name, a.phone, a.uid, _ts(a.created_at, zone), _ts(a.answered_at, zone), _ts(a.ended_at, zone),
               a.result, a.state, a.agent, a.queue, a.hangup_cause_text or (a.hangup_cause or ""), talk,
               "sim" if a.short_call else ""]


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
