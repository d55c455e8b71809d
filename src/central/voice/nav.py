"""Menu entry of the voice pages."""

from __future__ import annotations

from django.utils.translation import gettext as _


def items(membership) -> list[dict]:
    return [{"url": "/voice/", "label": _("Portaria virtual")}]
