"""``{% dialer_live campaign as live %}``: the live panel's figures at render time (the
page then follows WebSocket pushes and the live API)."""

from django import template
from django.utils import timezone

register = template.Library()


@register.simple_tag
def dialer_live(campaign):
    from central.dialer import live, metrics

    return metrics.campaign_live(campaign, timezone.now(), live.engine_state(campaign.id))


@register.filter
def pct(value) -> str:
    """A fraction as a pt-BR percentage with at most one decimal (``0.027`` -> ``2,7%``),
    as the live panel's script prints it (Intl.NumberFormat with the page's language)."""
    from django.template.defaultfilters import floatformat

    try:
        return f"{floatformat(float(value or 0) * 100, -1)}%"
    except (TypeError, ValueError):
        return ""
