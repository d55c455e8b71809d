"""Dashboard pages: plain function views, each asking the tenancy helper for its organization."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from central.core import audit, members
from central.core.ids import parse_id
from central.core.models import AuditLog, Membership
from central.core.operators import is_operator
from central.core.tenancy import SESSION_KEY, OrganizationRequired, membership_for_request

from .status import for_viewer, snapshot


def viewer_status(request) -> dict:
    return for_viewer(snapshot(), operator=is_operator(request.user))


def ops_texts() -> dict:
    """The overview's sentences in the page's language, for ``dashboard/ops.js`` (the push
    is computed once per organization and carries codes and numbers, not words)."""
    return {
        "alarms": {
            "pbx_down": _("PBX {server} desconectado: sem eventos nem discagem. {detail}"),
            "abandon_over_cap": _("{campaign}: abandono de {rate}, acima do máximo de {cap}."),
            "campaign_refused": _("{campaign}: o Asterisk recusa as chamadas; discagem parada."),
            "campaign_stopped": _("{campaign} parou de discar: {reason}."),
            "queue_wait": _("Fila {queue}: {waiting} chamada(s) aguardando além de {max}; a mais antiga há"),
        },
        "reasons": {
            "no_agents": _("nenhum agente logado na fila"),
            "outside_hours": _("fora do horário de discagem"),
            "no_contacts": _("sem contatos para discar"),
            "ami_down": _("PBX desconectado"),
            "reconciling": _("conferindo chamadas com o PBX"),
            "inactive": _("campanha inativa"),
            "no_dialer": _("nenhum discador executando"),
            "no_free_agents": _("aguardando agente livre"),
            "covered": _("chamadas em andamento cobrem os agentes livres"),
            "no_capacity": _("aguardando agente livre"),
            "abandon_budget": _("abandono na meta: modo progressivo"),
            "channel_cap": _("limite de canais"),
            "cps_cap": _("limite de chamadas por segundo"),
            "refused": _("recusada pelo Asterisk"),
        },
        "dialing": _("discando"),
        "no_alarms": _("Nenhum alarme."),
        "no_campaigns": _("Nenhuma campanha ativa."),
        "no_queues": _("Nenhuma fila informada pelo PBX."),
        "no_paused": _("Ninguém em pausa."),
        "more": _("e mais {n}"),
    }


def _organization_or_page(request):
    """(membership, None) or (None, the page to answer instead)."""
    try:
        return membership_for_request(request), None
    except OrganizationRequired:
        # Several organizations and no default chosen: the switcher in the top bar asks.
        return None, render(request, "dashboard/no_org.html", {"choose": True}, status=200)
    except Http404:
        return None, render(request, "dashboard/no_org.html", status=403)


@login_required
def home(request):
    """The tenant's operations overview (``?wallboard=1``: the full-screen wallboard)."""
    membership, page = _organization_or_page(request)
    if page is not None:
        return page
    if request.GET.get("wallboard") == "1":
        return wallboard(request)
    from .overview import overview

    recent = list(AuditLog.objects.filter(organization=membership.organization)[:10])
    for entry in recent:  # sentences, not codes (auth.login -> "entrou no Central")
        entry.text = audit.describe(entry.action, entry.target_type, entry.target_id)
    return render(request, "dashboard/home.html", {
        "ops": overview(membership.organization), "ops_texts": ops_texts(), "recent": recent,
        "operator": is_operator(request.user)})


@login_required
def wallboard(request):
    """The overview full screen, for a wall: big figures, no menu, reconnecting live."""
    membership, page = _organization_or_page(request)
    if page is not None:
        return page
    from .overview import overview

    return render(request, "dashboard/wallboard.html", {
        "ops": overview(membership.organization), "ops_texts": ops_texts(),
        "organization": membership.organization})


@login_required
@require_POST
def switch_organization(request):
    org_id = parse_id(request.POST.get("organization", ""))
    if org_id is None:
        return HttpResponseBadRequest(_("Organização inválida."))
    membership = Membership.objects.filter(user=request.user, organization_id=org_id).first()
    if membership is None:
        raise Http404
    request.session[SESSION_KEY] = membership.organization_id
    audit.record("organization.switch", request=request, organization=membership.organization)
    # Only back to this site: an open redirect would lend our address to phishing links.
    next_url = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        next_url = ""
    return redirect(next_url or "dashboard:home")


@login_required
@require_http_methods(["GET", "POST"])
def invitation(request, token: str):
    """The page an invitation link opens: shows what joining means, then accepts on POST.

    Signed-out visitors go through the login page first (``login_required``); the
    invitation must name the signed-in user, otherwise it is "invalid or expired" exactly
    like an unknown token.
    """
    invite = members.pending_invitation(token)
    if invite is None or not invite.addresses(request.user):
        return render(request, "dashboard/invitation.html", {"invalid": True}, status=404)
    if request.method == "POST":
        try:
            membership = members.accept_invitation(request.user, token, request=request)
        except (members.InvitationInvalid, members.AlreadyMember) as exc:
            return render(request, "dashboard/invitation.html", {"invalid": True, "reason": str(exc)}, status=400)
        request.session[SESSION_KEY] = membership.organization_id
        messages.success(request, _("Agora você faz parte de %(org)s.") % {"org": membership.organization.name})
        return redirect("dashboard:home")
    return render(request, "dashboard/invitation.html", {"invitation": invite})


@login_required
def status_json(request):
    return JsonResponse(viewer_status(request))


#: Pages that show one tenant's object: URL name -> its model. A link to such a page sent
#: by someone in another organization is a 404 here; when the object belongs to another
#: organization *the user is a member of*, the 404 page offers to switch to it.
OBJECT_PAGES = {
    "dialer:campaign": "dialer.Campaign",
    "dialer:campaign_settings": "dialer.Campaign",
    "telephony:call_detail": "telephony.CallRecord",
    "scheduling:appointment": "scheduling.Appointment",
    "scheduling:patient": "scheduling.Patient",
    "messaging:conversation": "messaging.Conversation",
    "documents:agent": "documents.Agent",
}


def organization_elsewhere(request):
    """The user's *other* organization that owns the object this 404'd page names, else
    None. Tenant isolation holds: a non-member learns nothing (same bare 404 whether the
    object exists elsewhere or not), and a member learns only what switching shows."""
    from django.apps import apps
    from django.urls import Resolver404, resolve

    user = getattr(request, "user", None)
    if request.method != "GET" or user is None or not user.is_authenticated:
        return None
    try:
        match = getattr(request, "resolver_match", None) or resolve(request.path_info)
    except Resolver404:
        return None
    label, pk = OBJECT_PAGES.get(match.view_name), match.kwargs.get("pk")
    if label is None or pk is None:
        return None
    try:
        model = apps.get_model(label)
    except LookupError:  # an app not installed here
        return None
    owner = model._default_manager.filter(pk=pk).values_list("organization_id", flat=True).first()
    if owner is None:
        return None
    try:
        current = membership_for_request(request).organization_id
    except (Http404, OrganizationRequired):
        current = None
    if owner == current:
        return None  # a 404 for another reason (a role, a state): nothing to switch to
    membership = (Membership.objects.select_related("organization")
                  .filter(user=user, organization_id=owner, organization__is_active=True).first())
    return membership.organization if membership else None


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        from central.core.errors import json_404

        return json_404(request, exception)
    return render(request, "dashboard/404.html", {"elsewhere": organization_elsewhere(request)}, status=404)


def operator_only(view):
    """Installation admins only (``is_operator``): others get 404, as for any page that
    is not theirs. Logs and process details cross tenants."""
    @login_required
    def wrapped(request, *args, **kwargs):
        if not is_operator(request.user):
            raise Http404
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


@operator_only
def system(request):
    """The installation: processes and their supervised components, AMI links, the last
    backup and restore test."""
    from django.conf import settings

    from central.core.backups import last_runs

    status = viewer_status(request)
    for p in status["processes"]:
        p["components"] = sorted((p.get("info") or {}).get("supervised", {}).items())
        p["servers"] = sorted((p.get("info") or {}).get("servers", {}).items())
    runs = last_runs()
    return render(request, "dashboard/system.html", {
        "status": status, "backup": runs["backup"], "restore_test": runs["restore_test"],
        "backup_settings": {"at": settings.BACKUP_AT, "daily": settings.BACKUP_KEEP_DAILY,
                            "weekly": settings.BACKUP_KEEP_WEEKLY, "restore_at": settings.RESTORE_TEST_AT,
                            "offsite": bool(settings.BACKUP_S3_BUCKET)},
    })


@operator_only
def logs(request):
    """The live log console (lines over ``/ws/logs/``); the query string pre-fills the filter."""
    from central.core.logstream import LEVELS, LogFilter

    initial = LogFilter.from_dict({k: request.GET.get(k, "") for k in
                                   ("level", "process", "component", "tenant", "request_id", "text")})
    return render(request, "dashboard/logs.html", {"filter": initial, "levels": LEVELS,
                                                   "processes": ("up", "web", "worker", "beat", "pbx", "dialer", "voice")})
