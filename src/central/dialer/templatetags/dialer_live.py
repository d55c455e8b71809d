"""``{% dialer_live campaign as live %}``: the live panel's figures at render time (the
page then follows WebSocket pushes and the live API)."""

from django import template
from django.utils import timezone

register = template.Library()


@register.simple_tag
def dialer_live(campaign):
    from central.dialer import live, metrics

    return metrics.campaign_live(campaign, timezone.now(), live.engine_state(campaign.id))
