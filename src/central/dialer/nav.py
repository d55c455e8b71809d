"""Menu entries of the dialer pages."""

from __future__ import annotations

from django.utils.translation import gettext as _


def items(membership) -> list[dict]:
    return [
        {"url": "/dialer/", "label": _("Discador")},
        {"url": "/dialer/dnc/", "label": _("Não ligar")},
        {"url": "/dialer/reports/", "label": _("Relatórios")},
    ]
