"""Menu entry of the WhatsApp pages."""

from __future__ import annotations

from django.utils.translation import gettext as _


def items(membership) -> list[dict]:
    return [{"url": "/messaging/", "label": _("WhatsApp")}]
