"""Documents pages (mounted at /documents/): the document list with *Solicitar PDF*, the
system monitor of the site agents, an agent's detail, enrollment codes and downloads.

Everything is scoped to the page's organization (``membership_for_request``: a foreign id
is a 404). Live updates come over the dashboard socket (``/ws/live/``, the organization's
group): ``documents.transfer`` moves a row's status and progress, ``documents.agent`` makes
the monitor fetch :func:`monitor_data` again.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpResponseForbidden, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from central.core.roles import Role, at_least
from central.core.tenancy import membership_for_request

from . import services
from .api import download_response
from .models import Agent, AgentEvent, Document, EnrollmentCode, Transfer


def _int(value: str | None) -> int | None:
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if 0 <= number < 2**53 else None


@login_required
def documents(request):
    membership = membership_for_request(request)
    org = membership.organization
    qs = Document.objects.for_org(org).filter(removed_at__isnull=True).select_related("agent")
    q = request.GET.get("q", "").strip()[:200]
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(title__icontains=q) | Q(author__icontains=q) | Q(path__icontains=q))
    filters = {"q": q}
    for key, field, lookup in (("pages_min", "pages", "gte"), ("pages_max", "pages", "lte")):
        value = _int(request.GET.get(key))
        filters[key] = value
        if value is not None:
            qs = qs.filter(**{f"{field}__{lookup}": value})
    for key, lookup, factor in (("size_min", "gte", 1024), ("size_max", "lte", 1024)):
        value = _int(request.GET.get(key))
        filters[key] = value
        if value is not None:
            qs = qs.filter(**{f"size__{lookup}": value * factor})
    for key, lookup in (("date_from", "gte"), ("date_to", "lte")):
        raw = request.GET.get(key, "")[:10]
        try:
            day = parse_date(raw) if raw else None
        except ValueError:
            day = None
        filters[key] = raw if day else ""
        if day is not None:
            qs = qs.filter(Q(**{f"mtime__date__{lookup}": day}) | Q(**{f"created__date__{lookup}": day}))
    agent_id = _int(request.GET.get("agent"))
    if agent_id is not None:
        qs = qs.filter(agent_id=agent_id)
    page = Paginator(qs.order_by("name", "id"), 50).get_page(request.GET.get("page"))
    rows = [{"doc": d, "status": services.document_status(d)} for d in page.object_list]
    return render(request, "documents/documents.html", {
        "rows": rows, "page": page, "filters": filters, "agents": Agent.objects.for_org(org),
        "agent_filter": agent_id, "can_request": at_least(membership.role, Role.AGENT),
        "query": request.GET.urlencode(),
    })


@login_required
@require_POST
def request_pdf(request, pk: int):
    membership = membership_for_request(request)
    if not at_least(membership.role, Role.AGENT):
        return HttpResponseForbidden(_("Seu papel nesta organização não permite esta ação."))
    document = get_object_or_404(Document.objects.for_org(membership.organization), pk=pk)
    try:
        tr = services.request_document(document, user=request.user, request=request)
    except services.TransferRefused as exc:
        if request.headers.get("Accept") == "application/json":
            return JsonResponse({"error": exc.message}, status=400)
        messages.error(request, exc.message)
        return redirect("documents:list")
    if request.headers.get("Accept") == "application/json":
        return JsonResponse(services.transfer_summary(tr))
    return redirect("documents:list")


@login_required
def download(request, pk: int):
    membership = membership_for_request(request)
    if not at_least(membership.role, Role.AGENT):
        return HttpResponseForbidden(_("Seu papel nesta organização não permite esta ação."))
    document = get_object_or_404(Document.objects.for_org(membership.organization), pk=pk)
    return download_response(document, request)


def monitor_data(org_id: int) -> dict:
    agents = [services.agent_summary(a) for a in Agent.objects.for_org(org_id)]
    return {"summary": services.summary(org_id), "series": services.series(org_id), "agents": agents}


def _agent_rows(org) -> list[Agent]:
    rows = list(Agent.objects.for_org(org))
    for agent in rows:
        agent.alert = services.offline_alert(agent)
    return rows


@login_required
def monitor(request):
    membership = membership_for_request(request)
    org = membership.organization
    created_code = None
    can_enroll = at_least(membership.role, Role.ADMIN)
    if request.method == "POST":
        if not can_enroll:
            return HttpResponseForbidden(_("Seu papel nesta organização não permite esta ação."))
        row, code = services.create_enrollment_code(org, request.POST.get("agent_name", ""), user=request.user,
                                                    request=request)
        created_code = {"row": row, "code": code}  # shown on this answer only, never stored
    data = monitor_data(org.pk)
    return render(request, "documents/monitor.html", {
        "agent_rows": _agent_rows(org),
        "data": data, "summary": data["summary"], "agents": data["agents"], "can_enroll": can_enroll,
        "created_code": created_code, "server_url": request.build_absolute_uri("/").rstrip("/"),
        "codes": EnrollmentCode.objects.for_org(org)[:10] if can_enroll else [],
    })


@login_required
def monitor_json(request):
    """What the monitor fetches after a live message: the figures, and the agents table
    rendered by the page's own template (a newly enrolled agent appears without a reload)."""
    org = membership_for_request(request).organization
    data = monitor_data(org.pk)
    data["agent_rows_html"] = render_to_string("documents/_agent_rows.html", {"agent_rows": _agent_rows(org)},
                                               request=request)
    return JsonResponse(data)


def _agent_context(request, pk: int) -> dict:
    membership = membership_for_request(request)
    agent = get_object_or_404(Agent.objects.for_org(membership.organization), pk=pk)
    return {
        "agent": agent, "info": services.agent_summary(agent),
        "events": AgentEvent.objects.filter(agent=agent)[:50],
        "transfers": Transfer.objects.filter(agent=agent).select_related("document", "requested_by")[:50],
        "can_revoke": at_least(membership.role, Role.ADMIN),
        "tokens_active": agent.tokens.filter(revoked_at__isnull=True).exists(),
    }


@login_required
def agent_detail(request, pk: int):
    return render(request, "documents/agent.html", _agent_context(request, pk))


@login_required
def agent_live(request, pk: int):
    """The agent page's body again (state, events, transfers), fetched by agent.js when a
    live message names this agent; same template, so the page and its updates agree."""
    return render(request, "documents/_agent_body.html", _agent_context(request, pk))


@login_required
@require_POST
def revoke(request, pk: int):
    membership = membership_for_request(request)
    if not at_least(membership.role, Role.ADMIN):
        return HttpResponseForbidden(_("Seu papel nesta organização não permite esta ação."))
    agent = Agent.objects.for_org(membership.organization).filter(pk=pk).first()
    if agent is None:
        raise Http404
    services.revoke_agent(agent, request=request)
    messages.success(request, _("Token do agente revogado; ele foi desconectado."))
    return redirect("documents:agent", pk=agent.pk)
