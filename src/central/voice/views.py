"""The virtual concierge page: AI extensions with the ports actually in use, live
sessions and recent visits.  The live part comes from the voice process's management API
(filtered to this tenant's extensions); the page still renders when that process is down.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponseForbidden
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from central.core.roles import Role, at_least
from central.core.tenancy import membership_for_request

from .api import voice_api
from .models import AIExtension, VisitLog

RECENT_VISITS = 30


@login_required
def overview(request):
    org = membership_for_request(request).organization  # 404 for foreign orgs
    exts = list(AIExtension.objects.for_org(org).order_by("number"))
    code, data = voice_api("GET", "/api/status", timeout=1.5)
    # Only what the voice process runs for this organization (central.core.unique rule).
    live = {e["ramal"]: e for e in data.get("extensions", [])
            if e.get("organization_id") == org.pk} if code == 200 else {}
    rows = [{"ext": e, "live": live.get(e.number)} for e in exts]
    visits = VisitLog.objects.for_org(org).order_by("-started_at")[:RECENT_VISITS]
    return render(request, "voice/overview.html", {
        "rows": rows, "visits": visits, "voice_up": code == 200,
        "voice_error": data.get("error", "") if code != 200 else "",
    })


@login_required
@require_POST
def refresh(request):
    """Reload the voice process's config after editing extensions, units or residents."""
    membership = membership_for_request(request)
    if not at_least(membership.role, Role.ADMIN):
        return HttpResponseForbidden(_("Seu papel nesta organização não permite esta ação."))
    code, data = voice_api("POST", "/api/refresh", {"organization_id": membership.organization_id},
                           timeout=10)
    if code == 200:
        messages.success(request, _("Configuração de voz atualizada."))
    else:
        messages.error(
            request, _("Não foi possível atualizar: %(erro)s") % {"erro": data.get("error", code)}
        )
    return redirect("voice:overview")
