"""Number formats of the reports page, pt-BR like the charts' Intl.NumberFormat('pt-BR')."""

from django import template
from django.template.defaultfilters import floatformat

register = template.Library()


@register.filter
def secs(value) -> str:
    """Seconds as ``m:ss`` (``h:mm:ss`` past an hour); ``—`` when unknown."""
    if value is None or value == "":
        return "—"
    n = max(0, round(float(value)))
    hours, rest = divmod(n, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


@register.filter
def rate(value) -> str:
    """A fraction as a pt-BR percentage with one decimal (``0.1234`` -> ``12,3%``); ``—`` when unknown."""
    if value is None or value == "":
        return "—"
    return f"{floatformat(float(value) * 100, '1g')}%"


@register.filter
def points(value) -> str:
    """A difference of two fractions in percentage points, signed (``+1,5 p.p.``)."""
    if value is None:
        return "—"
    text = floatformat(float(value) * 100, "1g")
    return f"{'+' if value > 0 else ''}{text} p.p."


@register.filter
def signed(value, decimals: str = "0g") -> str:
    """A signed pt-BR number (``+1.234``, ``-12,5``); ``—`` when unknown."""
    if value is None:
        return "—"
    text = floatformat(value, decimals)
    return f"+{text}" if value > 0 else text
