"""Menu entries of the documents pages."""

from __future__ import annotations

from django.utils.translation import gettext as _


def items(membership) -> list[dict]:
    return [
        {"url": "/documents/", "label": _("Documentos")},
        {"url": "/documents/monitor/", "label": _("Agentes locais")},
    ]
