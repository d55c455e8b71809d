"""Times on pages, in one place: every page shows times in the organization's time zone.

The zone is activated per request when the tenant is resolved (``core.tenancy``), so
Django's ``date`` filter already converts; what this adds is one spelling of the formats
and the label that says which zone the page uses. Live values drawn by JavaScript go
through ``Central.time`` / ``Central.dateTime`` in ``dashboard/live.js``, which read the
same zone from ``<html data-tz>`` (set in ``dashboard/base.html``).
"""

from __future__ import annotations

from datetime import datetime

from django import template
from django.template.defaultfilters import date as date_filter
from django.utils import timezone

register = template.Library()

# Format name -> Django date format. live.js mirrors these names (Central.formatTime).
FORMATS = {
    "datetime": "d/m/Y H:i",
    "short": "d/m H:i",
    "seconds": "d/m H:i:s",
    "date": "d/m/Y",
    "time": "H:i",
    "clock": "H:i:s",
}


@register.filter
def when(value, style: str = "datetime") -> str:
    """A datetime in the active (organization's) zone: ``{{ call.started_at|when:"short" }}``."""
    if not isinstance(value, datetime):
        return "" if value in (None, "") else str(value)
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return date_filter(value, FORMATS.get(style, FORMATS["datetime"]))


@register.simple_tag
def tz_label() -> str:
    """The active zone with its current offset, e.g. ``America/Sao_Paulo (UTC-03:00)``."""
    zone = timezone.get_current_timezone()
    offset = timezone.localtime(timezone.now()).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    name = getattr(zone, "key", None) or str(zone)
    return f"{name} (UTC{sign}{minutes // 60:02d}:{minutes % 60:02d})"
