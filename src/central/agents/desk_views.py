"""The agent's page (``/agents/desk/``): one page that stays open all day.

The page is rendered once with what is true now (the agent's queues and state, the call
waiting for a disposition, due callbacks); afterwards its socket (``desk_consumer``)
brings screen pops, queue state and callbacks, and its actions post JSON here. Every
action goes through :mod:`central.dialer.desk_services` with the request's organization
(another tenant's id is "not found") and the request's own agent (an agent never acts
for another interface).
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from central.core.ids import parse_id
from central.core.jsonguard import JSONRejected, loads
from central.core.roles import Role, at_least
from central.core.tenancy import membership_for_request
from central.dialer import desk, desk_services
from central.dialer.desk_services import DeskError
from central.dialer.models import Attempt, Campaign, Contact, Disposition

log = logging.getLogger(__name__)

#: A call the agent took this long ago without a disposition is no longer offered.
PENDING_WINDOW = timedelta(hours=12)


def error_message(code: str) -> str:
    """pt-BR text of a desk rule's code (``desk.DispositionError`` / ``DeskError``)."""
    return {
        "unknown": _("Escolha um dos resultados da campanha."),
        "callback_required": _("Este resultado pede a data e a hora do retorno."),
        "callback_forbidden": _("Não agende retorno para um número que não deve ou não pode ser chamado."),
        "callback_past": _("O retorno precisa ser no futuro."),
        "callback_far": _("O retorno precisa ser em até um ano."),
        "callback_format": _("Data ou hora do retorno inválida."),
        "callback_zone": _("Fuso horário do contato desconhecido."),
        "callback_user": _("Quem fará o retorno precisa ser desta organização."),
        "already": _("Este atendimento já tem resultado."),
        "not_found": _("Não encontrado."),
        "dnc": _("Número na lista de não ligar."),
        "hours": _("Fora do horário de discagem da campanha ou do contato."),
        "not_preview": _("A campanha não está ativa em modo prévia."),
        "skip_reason": _("Diga por que está pulando o contato."),
        "no_agent": _("Você não está ligado a um ramal; peça ao supervisor."),
        "invalid_number": _("Número inválido."),
        "ami": _("O Asterisk não aceitou a chamada."),
        "bad_request": _("Pedido inválido."),
    }.get(code, _("Não foi possível concluir a ação."))


def _fail(code: str, field: str = "", status: int = 400) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": error_message(code), "field": field}}, status=status)


def _context(request):
    """(organization, membership, agent or None, interfaces) of an agent-role user."""
    from central.agents.identity import agent_for_user

    membership = membership_for_request(request)
    if not at_least(membership.role, Role.AGENT):
        raise PermissionDenied
    org = membership.organization
    agent = agent_for_user(org.pk, request.user)
    interfaces = list(agent.interfaces.values_list("interface", flat=True)) if agent else []
    return org, membership, agent, interfaces


def _body(request) -> dict:
    try:
        data = loads(request.body or b"{}")
    except (JSONRejected, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _pending_call(org, interfaces: list[str], agent_name: str = "") -> dict | None:
    """The agent's latest call without a disposition (a reload must not lose it)."""
    if not interfaces:
        return None
    since = timezone.now() - PENDING_WINDOW
    attempt = (Attempt.objects.filter(organization=org, agent__in=interfaces, connected_at__gte=since,
                                      disposition__isnull=True)
               .select_related("contact__campaign").order_by("-connected_at").first())
    if attempt is None:
        attempt = (Attempt.objects.filter(organization=org, agent__in=interfaces, created_at__gte=since,
                                          pacing_mode__in=desk_services.DESK_MODES, disposition__isnull=True)
                   .select_related("contact__campaign").order_by("-created_at").first())
    if attempt is None:
        return None
    return desk_services.contact_card(org, attempt.contact, attempt=attempt, agent_name=agent_name)


def _logged_out_reason() -> str:
    """The pause reason that means "logged out" for a static member (one constant, from
    the agents app's queue services): the page shows it as out of the queue."""
    try:
        from central.agents.services import LOGGED_OUT_REASON
    except ImportError:
        return ""
    return LOGGED_OUT_REASON


@login_required
def desk_page(request):
    org, membership, agent, interfaces = _context(request)
    from central.telephony.models import QueueMember

    members = list(QueueMember.objects.filter(organization=org, interface__in=interfaces)
                   .values("queue", "interface", "availability", "paused_reason", "last_change", "calls_taken"))
    campaigns = list(Campaign.objects.for_org(org).exclude(status=Campaign.Status.FINISHED)
                     .order_by("name").values("id", "name", "queue", "pacing_mode", "status"))
    pause_codes = []
    try:
        from central.agents.models import PauseCode

        pause_codes = list(PauseCode.objects.filter(organization=org, active=True)
                           .order_by("position", "label").values("code", "label"))
    except ImportError:  # pragma: no cover - the agents app always has them
        pass
    from central.core.models import Membership

    people = [{"id": m.user_id, "name": m.user.get_full_name() or m.user.username}
              for m in Membership.objects.filter(organization=org).select_related("user")
              if at_least(m.role, Role.AGENT)]
    state = {
        "agent": agent.name if agent else "",
        "me": request.user.pk,
        "interfaces": interfaces,
        "members": [{**m, "last_change": m["last_change"].isoformat() if m["last_change"] else None}
                    for m in members],
        "campaigns": campaigns,
        "pause_codes": pause_codes,
        "people": people,
        "pending": _pending_call(org, interfaces, agent.name if agent else ""),
        "callbacks": desk_services.due_callbacks(org, request.user),
        "default_dispositions": list(desk.DEFAULT_DISPOSITIONS),
        "logged_out_reason": _logged_out_reason(),
    }
    return render(request, "agents/desk.html", {"agent": agent, "state": state, "interfaces": interfaces})


def _wake_callbacks(org, user) -> None:
    """Tell the pages of the person a callback was promised to (their own groups) to look
    at their callbacks again: it comes back at its time, not at the next poll."""
    from asgiref.sync import async_to_sync

    from central.agents.identity import agent_for_user
    from central.core.live import apublish_agent

    agent = agent_for_user(org.pk, user)
    if agent is None:
        return
    for interface in agent.interfaces.values_list("interface", flat=True):
        async_to_sync(apublish_agent)(org.pk, interface, {"kind": "callbacks", "interface": interface})


def _own_attempt(org, interfaces, uid) -> Attempt | None:
    if not uid:
        return None
    return (Attempt.objects.select_related("contact__campaign")
            .filter(organization=org, uid=str(uid), agent__in=interfaces).first())


@login_required
@require_POST
def desk_disposition(request):
    """Save the result of the agent's call (or of a contact they have on screen)."""
    org, membership, agent, interfaces = _context(request)
    if agent is None:
        return _fail("no_agent", status=403)
    data = _body(request)
    attempt = _own_attempt(org, interfaces, data.get("attempt"))
    if data.get("attempt") and attempt is None:
        return _fail("not_found", status=404)
    if attempt is not None:
        contact = attempt.contact
    else:
        contact = Contact.objects.select_related("campaign").filter(
            organization=org, pk=parse_id(data.get("contact"))).first()
        if contact is None:
            return _fail("not_found", status=404)
    zone = contact.timezone or contact.campaign.timezone or "America/Sao_Paulo"
    try:
        callback_at = None
        if data.get("callback_date") or data.get("callback_time"):
            callback_at = desk.callback_instant(str(data.get("callback_date") or ""),
                                                str(data.get("callback_time") or ""), zone)
        callback_user = None
        target = str(data.get("callback_for") or "me")
        if callback_at is not None and target != "any":
            from django.contrib.auth import get_user_model

            callback_user = request.user if target == "me" else \
                get_user_model().objects.filter(pk=parse_id(target)).first()
            if callback_user is None:
                raise DeskError("callback_user", "callback_for")
        saved = desk_services.save_disposition(
            org, request.user, contact=contact, attempt=attempt, code=str(data.get("code") or ""),
            notes=str(data.get("notes") or "")[:4000], callback_at=callback_at, callback_user=callback_user,
            callback_zone=zone, interface=attempt.agent if attempt is not None else (interfaces[0] if interfaces else ""),
            request=request)
    except desk.DispositionError as exc:
        return _fail(exc.code, exc.field)
    if saved.callback is not None and saved.callback.assigned_to_id is not None:
        _wake_callbacks(org, saved.callback.assigned_to)
    return JsonResponse({"ok": True, "disposition": saved.disposition.pk, "label": saved.disposition.label,
                         "callback": saved.callback.scheduled_for.isoformat() if saved.callback else None,
                         "dnc": saved.dnc_added, "wrapup_seconds": round(saved.disposition.wrapup_seconds, 1)})


@login_required
@require_POST
def desk_preview(request):
    """Preview mode: reserve the campaign's next contact (``action=next``) or give it back
    with a reason (``action=skip``)."""
    org, membership, agent, interfaces = _context(request)
    if agent is None:
        return _fail("no_agent", status=403)
    data = _body(request)
    try:
        if data.get("action") == "skip":
            contact = Contact.objects.filter(organization=org, pk=parse_id(data.get("contact"))).first()
            if contact is None:
                return _fail("not_found", status=404)
            desk_services.release_preview(org, contact, str(data.get("reason") or ""), request.user,
                                          request=request)
            return JsonResponse({"ok": True})
        campaign = Campaign.objects.for_org(org).filter(pk=parse_id(data.get("campaign"))).first()
        if campaign is None:
            return _fail("not_found", status=404)
        contact = desk_services.reserve_preview(org, campaign)
    except desk.DispositionError as exc:
        return _fail(exc.code, exc.field)
    if contact is None:
        return JsonResponse({"ok": True, "card": None})
    return JsonResponse({"ok": True, "card": desk_services.contact_card(org, contact, agent_name=agent.name)})


@login_required
@require_POST
def desk_dial(request):
    """*Ligar*: the previewed contact, a due callback, or a typed number (manual dial), rung
    agent-first through the agent's own interface (``core.agent_first_request``)."""
    from asgiref.sync import async_to_sync

    from central.core import audit

    org, membership, agent, interfaces = _context(request)
    if agent is None or not interfaces:
        return _fail("no_agent", status=403)
    data = _body(request)
    interface = str(data.get("interface") or interfaces[0])
    if interface not in interfaces:
        return _fail("not_found", status=404)
    mode = str(data.get("mode") or "manual")
    if mode not in desk_services.DESK_MODES:
        return _fail("bad_request")
    try:
        if data.get("contact"):
            contact = Contact.objects.select_related("campaign").filter(
                organization=org, pk=parse_id(data.get("contact"))).first()
            if contact is None:
                return _fail("not_found", status=404)
        else:
            campaign = Campaign.objects.for_org(org).filter(pk=parse_id(data.get("campaign"))).first()
            if campaign is None:
                return _fail("not_found", status=404)
            contact = desk_services.manual_contact(org, campaign, str(data.get("number") or ""))
        attempt = desk_services.desk_attempt(org, contact, interface, mode)
    except desk.DispositionError as exc:
        return _fail(exc.code, exc.field)
    audit.record("dialer.desk.dial", request=request, target=contact, attempt=attempt.uid, mode=mode,
                 interface=interface)
    try:
        async_to_sync(desk_services.originate_desk_attempt)(attempt)
    except DeskError as exc:
        return _fail(exc.code)
    return JsonResponse({"ok": True, "attempt": attempt.uid,
                         "card": desk_services.contact_card(org, contact, attempt=attempt, agent_name=agent.name)})


@login_required
def desk_recent(request):
    """The agent's own last dispositions (their history on the page)."""
    org, membership, agent, interfaces = _context(request)
    rows = list(Disposition.objects.filter(organization=org, user=request.user).select_related("contact", "attempt")
                .order_by("-saved_at")[:20])
    from central.recordings.services import recording_urls

    # Each call's recording (docs/recordings.md); the audio view checks who may hear it.
    recorded = recording_urls(org.pk, [d.attempt.uid for d in rows if d.attempt is not None])
    return JsonResponse({"items": [{"at": d.saved_at.isoformat(), "label": d.label, "name": d.contact.name,
                                    "phone": d.contact.phone, "attempt": d.attempt_id,
                                    "recording": recorded.get(d.attempt.uid) if d.attempt is not None else None}
                                   for d in rows]})


def state_json(state: dict) -> str:
    return json.dumps(state, default=str)


@login_required
@require_POST
def desk_queue(request):
    """Queue login/logout and pause/unpause from the page, through the agents app's
    services (``central.agents.services``: AMI through the PBX link), for the request's
    own agent only. The page's state then follows the AMI events (``member`` pushes)."""
    org, membership, agent, interfaces = _context(request)
    if agent is None or not interfaces:
        return _fail("no_agent", status=403)
    data = _body(request)
    action = str(data.get("action") or "")
    if action not in ("login", "logout", "pause", "unpause"):
        return _fail("bad_request")
    campaign = Campaign.objects.for_org(org).filter(pk=parse_id(data.get("campaign"))).first()
    if campaign is None and action in ("login", "logout"):
        return _fail("not_found", status=404)
    try:
        from central.agents import services as agent_services
    except ImportError:  # the agents app's queue services not installed yet
        return _fail("ami", status=503)
    from central.core.refusals import Refusal

    queue = campaign.queue if campaign is not None else ""
    try:
        if action == "login":
            agent_services.queue_login(agent, queue, request=request)
        elif action == "logout":
            agent_services.queue_logout(agent, queue, request=request)
        elif action == "pause":
            agent_services.pause(agent, str(data.get("reason") or ""), queue, request=request)
        else:
            agent_services.unpause(agent, queue, request=request)
    except Refusal as exc:  # Asterisk's refusal or the rule's, in pt-BR
        return JsonResponse({"error": {"code": "refused", "message": exc.message, "field": ""}}, status=409)
    return JsonResponse({"ok": True})
