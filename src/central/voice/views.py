"""The virtual concierge page: AI extensions with the ports actually in use, calls in
progress with their trail, a test call through the PBX simulator, and the visit log with
filters.  The live part comes from the voice process (management API at render time, then
``voice`` pushes over the dashboard's WebSocket, central.voice.live), always cut to this
tenant's extensions; the page still renders when that process is down.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from central.core import audit
from central.core.roles import Role, at_least
from central.core.tenancy import membership_for_request

from . import testcall
from .api import voice_api
from .live import VOICE_EVENT, for_organization
from .models import AIExtension, Unit, VisitLog

VISITS_PER_PAGE = 50

#: The flow's trail events as the page words them (calls in progress and the visit log).
EVENT_LABELS = {
    "call_started": gettext_lazy("Chamada atendida pela IA"),
    "dtmf": gettext_lazy("Visitante teclou"),
    "heard": gettext_lazy("Visitante disse"),
    "no_input": gettext_lazy("Silêncio do visitante"),
    "unit_not_found": gettext_lazy("Unidade não encontrada"),
    "unit_identified": gettext_lazy("Unidade identificada"),
    "no_resident": gettext_lazy("Unidade sem morador cadastrado"),
    "calling_resident": gettext_lazy("Chamando o morador"),
    "resident_phone_answered": gettext_lazy("Telefone do morador atendido"),
    "resident_answered": gettext_lazy("Morador ouvindo o aviso"),
    "resident_not_answered": gettext_lazy("Morador não atendeu"),
    "resident_decided": gettext_lazy("Morador decidiu"),
    "resident_hung_up": gettext_lazy("Morador desligou"),
    "resident_answer": gettext_lazy("Resposta ao visitante"),
    "visitor_left": gettext_lazy("Visitante saiu durante o aviso"),
    "visitor_hung_up": gettext_lazy("Visitante desligou"),
    "originate_failed": gettext_lazy("Falha ao ligar para o morador"),
    "no_news_from_pbx": gettext_lazy("PABX não respondeu"),
    "return_leg_missing": gettext_lazy("Retorno do morador não conectou"),
    "provider_failure": gettext_lazy("Falha do provedor de voz"),
    "transfer": gettext_lazy("Transferido para a portaria"),
    "outcome": gettext_lazy("Resultado"),
}


def _day(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _visits(request, org):
    """The visit log filtered by day range (the tenant's zone), unit and outcome."""
    q = request.GET
    rows = VisitLog.objects.for_org(org).select_related("unit").order_by("-started_at")
    zone = timezone.get_current_timezone()
    start, end = _day(q.get("from", "")), _day(q.get("to", ""))
    if start:
        rows = rows.filter(started_at__gte=dt.datetime.combine(start, dt.time.min, zone))
    if end:
        rows = rows.filter(started_at__lt=dt.datetime.combine(end + dt.timedelta(days=1), dt.time.min, zone))
    unit = q.get("unit", "")
    if unit.isdigit():
        rows = rows.filter(unit_id=int(unit))
    outcome = q.get("outcome", "")
    if outcome in VisitLog.Outcome.values:
        rows = rows.filter(outcome=outcome)
    page = Paginator(rows, VISITS_PER_PAGE).get_page(q.get("page"))
    filters = {"from": start.isoformat() if start else "", "to": end.isoformat() if end else "",
               "unit": unit if unit.isdigit() else "", "outcome": outcome if outcome in VisitLog.Outcome.values else ""}
    return page, filters


@login_required
def overview(request):
    membership = membership_for_request(request)  # 404 for foreign orgs
    org = membership.organization
    exts = list(AIExtension.objects.for_org(org).order_by("number"))
    code, data = voice_api("GET", "/api/status", timeout=1.5)
    state = for_organization(data, org.pk) if code == 200 else {"extensions": [], "turns": [], "failed": {}}
    live = {e["ramal"]: e for e in state["extensions"]}
    rows = [{"ext": e, "live": live.get(e.number), "failed": state["failed"].get(e.number, "")} for e in exts]
    visits, filters = _visits(request, org)
    today = timezone.localdate()
    start_today = dt.datetime.combine(today, dt.time.min, timezone.get_current_timezone())
    can_test = at_least(membership.role, Role.SUPERVISOR)
    return render(request, "voice/overview.html", {
        "rows": rows, "visits": visits, "filters": filters, "voice_up": code == 200,
        "units": Unit.objects.for_org(org).order_by("block", "number"),
        "outcomes": VisitLog.Outcome.choices,
        "visits_today": VisitLog.objects.for_org(org).filter(started_at__gte=start_today).count(),
        "sessions_now": sum(e.get("active_sessions", 0) for e in state["extensions"]),
        "latency": state.get("turn_latency_ms") or {},
        "calls": [c for e in state["extensions"] for c in e.get("calls", [])],
        "live_state": state, "voice_event": VOICE_EVENT,
        "event_labels": {k: str(v) for k, v in EVENT_LABELS.items()},
        "outcome_labels": dict(VisitLog.Outcome.choices),
        "can_admin": at_least(membership.role, Role.ADMIN),
        "can_test": can_test, "simulator": can_test and testcall.simulator_running(),
        "test_call": request.GET.get("test", ""),
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


@login_required
@require_POST
def test_call(request):
    """Supervisors and above: the PBX simulator plays a visitor who calls the AI extension
    and keys the chosen unit; the page then follows that call live (audited)."""
    membership = membership_for_request(request)
    if not at_least(membership.role, Role.SUPERVISOR):
        return HttpResponseForbidden(_("Seu papel nesta organização não permite esta ação."))
    org = membership.organization
    ext = get_object_or_404(AIExtension.objects.for_org(org), pk=request.POST.get("extension") or 0)
    unit = get_object_or_404(Unit.objects.for_org(org), pk=request.POST.get("unit") or 0)
    try:
        call_uuid = testcall.place(org.pk, ext.number, unit.number)
    except testcall.TestCallRefused as exc:
        messages.error(request, str(exc))
        return redirect("voice:overview")
    audit.record("voice.test_call", request=request, target=ext, unit=str(unit), call_uuid=call_uuid)
    messages.success(request, _("Chamada de teste para a unidade %(unidade)s: acompanhe abaixo.") % {"unidade": unit})
    return redirect(reverse("voice:overview") + f"?test={call_uuid}#calls")
