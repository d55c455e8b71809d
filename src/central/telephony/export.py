"""The calls page's export: the filtered call records as CSV or XLSX, streamed.

Rows are read with a server-side cursor (``QuerySet.iterator``) in the page's order and
written as they come: a million records never sit in memory, in either format
(:func:`central.core.spreadsheet.xlsx_stream` compresses the sheet as it goes). Values
are what the page shows: results, directions and hang-up causes as words in the language
active when the export starts (pt-BR by default, ``Ocupado``, not ``busy``), campaigns
and agents by name, times in the tenant's zone (named in the header), durations in
seconds as numbers. CSV is ``;``-separated UTF-8 with a BOM (Excel pt-BR), through the
formula-safe writer of every export.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from central.core.spreadsheet import csv_writer, xlsx_stream

from .causes import CAUSE_LABELS, cause_label
from .models import CallRecord, Direction
from .people import names_for

__all__ = ["FORMATS", "CHUNK", "header", "rows", "stream", "filename"]

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
#: Records read per database round trip (and per name lookup).
CHUNK = 2000

_FIELDS = ("id", "linkedid", "started_at", "answered_at", "direction", "from_number", "to_number",
           "disposition", "campaign_id", "attempt_id", "agent", "agent_interface", "queue", "queue_wait",
           "duration", "billsec", "hangup_cause", "hangup_cause_text", "hangup_by")


def header(zone: ZoneInfo) -> list[str]:
    return [_("Início (%(zona)s)") % {"zona": zone.key}, _("Direção"), _("Origem"), _("Destino"),
            _("Resultado"), _("Campanha"), _("Agente"), _("Fila"), _("Espera na fila (s)"),
            _("Duração (s)"), _("Falado (s)"), _("Causa"), _("Desligada por"), _("Tentativa"),
            _("ID da chamada")]


def rows(qs: QuerySet, organization_id: int, zone: ZoneInfo) -> Iterator[list]:
    """Export rows of ``qs`` newest first. Labels are taken once, when the export starts
    (the rows are produced after the request's language may be gone)."""
    from central.dialer.lookups import campaign_choices

    directions = {str(k): str(v) for k, v in Direction.choices}
    results = {str(k): str(v) for k, v in CallRecord.Disposition.choices}
    causes = {code: str(label) for code, label in CAUSE_LABELS.items()}
    hung_up = {"agent": _("agente"), "customer": _("cliente"), "transfer": _("transferida")}
    campaigns = dict(campaign_choices(organization_id))
    names: dict[str, str] = {}

    def generate() -> Iterator[list]:
        records = (qs.order_by("-started_at", "-id").values_list(*_FIELDS)
                   .iterator(chunk_size=CHUNK))
        while batch := list(islice(records, CHUNK)):
            unseen = {r[11] for r in batch if r[11] and r[11] not in names}
            if unseen:
                names.update({i: "" for i in unseen})
                names.update(names_for(organization_id, unseen))
            for (_pk, linkedid, started, answered, direction, src, dst, disposition, campaign, attempt,
                 agent, interface, queue, wait, duration, billsec, cause, cause_text, by) in batch:
                yield [timezone.localtime(started, zone).strftime("%d/%m/%Y %H:%M:%S"),
                       directions.get(direction, direction), src, dst, results.get(disposition, disposition),
                       campaigns.get(campaign, campaign), names.get(interface) or agent or interface, queue,
                       wait, duration, billsec if answered else 0,
                       causes[cause] if cause in causes else cause_label(cause, cause_text),
                       hung_up.get(by, by), attempt, linkedid]

    return generate()


class _Line:
    def write(self, value: str) -> str:
        return value


def _csv(head: list[str], body: Iterator[list]) -> Iterator[bytes]:
    writer = csv_writer(_Line())
    yield ("\ufeff" + writer.writerow(head)).encode()
    lines: list[str] = []
    for row in body:
        lines.append(writer.writerow(row))
        if len(lines) >= 500:
            yield "".join(lines).encode()
            lines = []
    yield "".join(lines).encode()


def stream(fmt: str, qs: QuerySet, organization_id: int, zone: ZoneInfo) -> Iterator[bytes]:
    head, body = header(zone), rows(qs, organization_id, zone)
    if fmt == "xlsx":
        return xlsx_stream(head, body, sheet=_("Chamadas"))
    return _csv(head, body)


def filename(fmt: str, zone: ZoneInfo) -> str:
    return f"chamadas-{timezone.localtime(timezone.now(), zone):%Y%m%d-%H%M}.{fmt}"
