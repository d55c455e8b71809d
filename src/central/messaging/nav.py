"""Menu entries of the WhatsApp pages."""

from __future__ import annotations

from django.utils.translation import gettext as _


def items(membership) -> list[dict]:
    from .models import WhatsAppNumber

    out = [{"url": "/messaging/", "label": _("WhatsApp")}]
    # The test phone only where the Cloud API simulator serves one of the tenant's numbers.
    if WhatsAppNumber.objects.filter(organization_id=membership.organization_id, use_simulator=True,
                                     is_active=True).exists():
        out.append({"url": "/messaging/phone/", "label": _("Telefone de teste")})
    return out
