"""Dashboard pages: plain function views, each asking the tenancy helper for its organization."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from central.core import audit
from central.core.models import AuditLog, Membership
from central.core.tenancy import SESSION_KEY, membership_for_request

from .status import snapshot


@login_required
def home(request):
    try:
        membership = membership_for_request(request)
    except Http404:
        return render(request, "dashboard/no_org.html", status=403)
    recent = AuditLog.objects.filter(organization=membership.organization)[:10]
    return render(request, "dashboard/home.html", {"status": snapshot(), "recent": recent})


@login_required
@require_POST
def switch_organization(request):
    org_id = request.POST.get("organization", "")
    membership = (
        Membership.objects.filter(user=request.user, organization_id=org_id).first()
        if org_id.isdigit()
        else None
    )
    if membership is None:
        raise Http404
    request.session[SESSION_KEY] = membership.organization_id
    audit.record("organization.switch", request=request, organization=membership.organization)
    return redirect(request.POST.get("next") or "dashboard:home")


@login_required
def status_json(request):
    return JsonResponse(snapshot())


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        from central.core.errors import json_404

        return json_404(request, exception)
    return render(request, "dashboard/404.html", status=404)
