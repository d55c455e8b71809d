"""Menu entries of the telephony pages."""

from __future__ import annotations

from django.utils.translation import gettext as _


def items(membership) -> list[dict]:
    return [
        {"url": "/telephony/extensions/", "label": _("Ramais")},
        {"url": "/telephony/calls/", "label": _("Chamadas")},
    ]
