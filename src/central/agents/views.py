"""Agents pages: the supervisor's team page (who answers on which interface, pause
codes, alert thresholds) and the real-time agents table.

Every view resolves the organization through ``membership_for_request`` (404 for a
foreign one); writes need the supervisor role (403 otherwise) and go through
:mod:`central.agents.team`, validated and audited like the API.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from central.core.ids import parse_id
from central.core.models import Membership
from central.core.roles import RANK, Role, at_least
from central.core.tenancy import membership_for_request

from . import team
from .models import Agent, AgentInterface, PauseCode


def _supervisor(request):
    membership = membership_for_request(request)  # 404 for foreign orgs
    if not at_least(membership.role, Role.SUPERVISOR):
        raise PermissionDenied
    return membership.organization


def _errors(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return " ".join(str(m) for msgs in exc.message_dict.values() for m in msgs)
    return " ".join(str(m) for m in exc.messages)


def _server(org, raw: str):
    from central.telephony.models import AsteriskServer

    if not raw:
        return None
    pk = parse_id(raw)
    server = AsteriskServer.objects.for_org(org).filter(pk=pk).first() if pk else None
    if server is None:
        raise Http404
    return server


def _agent(org, raw: str) -> Agent:
    pk = parse_id(raw or "")
    agent = Agent.objects.for_org(org).filter(pk=pk).first() if pk else None
    if agent is None:
        raise Http404
    return agent


def _int(raw: str, default: int) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError):
        return default


def _team_post(request, org) -> None:
    op, p = request.POST.get("op", ""), request.POST
    if op == "create_agent":
        user_id = parse_id(p.get("user", ""))
        if user_id is None:
            raise ValidationError(_("Escolha o membro."))
        team.create_agent(org, user_id, p.get("name", ""), p.get("extension", ""), p.get("interface", ""),
                          _server(org, p.get("server", "")), request=request)
        messages.success(request, _("Agente criado."))
    elif op == "update_agent":
        team.update_agent(org, _agent(org, p.get("agent")), p.get("name", ""), p.get("extension", ""),
                          request=request)
        messages.success(request, _("Agente salvo."))
    elif op == "delete_agent":
        team.delete_agent(org, _agent(org, p.get("agent")), request=request)
        messages.success(request, _("Agente removido."))
    elif op == "add_interface":
        team.add_interface(org, _agent(org, p.get("agent")), p.get("interface", ""),
                           _server(org, p.get("server", "")), request=request)
        messages.success(request, _("Interface ligada ao agente."))
    elif op == "remove_interface":
        pk = parse_id(p.get("link", ""))
        link = AgentInterface.objects.for_org(org).filter(pk=pk).first() if pk else None
        if link is None:
            raise Http404
        team.remove_interface(org, link, request=request)
        messages.success(request, _("Interface desligada."))
    elif op == "add_pause":
        team.add_pause_code(org, p.get("code", ""), p.get("label", ""), request=request)
        messages.success(request, _("Motivo de pausa criado."))
    elif op in ("enable_pause", "disable_pause", "delete_pause"):
        pk = parse_id(p.get("pause", ""))
        pause = PauseCode.objects.for_org(org).filter(pk=pk).first() if pk else None
        if pause is None:
            raise Http404
        if op == "delete_pause":
            team.delete_pause_code(org, pause, request=request)
        else:
            team.set_pause_code_active(org, pause, op == "enable_pause", request=request)
        messages.success(request, _("Motivos de pausa salvos."))
    elif op == "settings":
        team.save_settings(org, _int(p.get("pause_alert_minutes"), 0), _int(p.get("wrapup_alert_seconds"), 0),
                           request=request)
        messages.success(request, _("Limites de alerta salvos."))
    else:
        raise Http404


@login_required
def team_page(request):
    org = _supervisor(request)
    if request.method == "POST":
        try:
            _team_post(request, org)
        except ValidationError as exc:
            messages.error(request, _errors(exc))
        return redirect("agents:team")
    from central.telephony.models import AsteriskServer

    agents = list(Agent.objects.for_org(org).select_related("user").prefetch_related("interfaces__server"))
    linked = {a.user_id for a in agents}
    candidates = [m for m in Membership.objects.filter(organization=org).select_related("user")
                  .order_by("user__username") if RANK.get(m.role, 0) >= RANK[Role.AGENT] and m.user_id not in linked]
    return render(request, "agents/team.html", {
        "agents": agents,
        "candidates": candidates,
        "servers": AsteriskServer.objects.for_org(org).order_by("name"),
        "pause_codes": PauseCode.objects.for_org(org),
        "settings": team.settings_for(org.pk),
    })


# --- the real-time agents table ----------------------------------------------------------------

#: Supervisor controls of the table -> what they do (services).
CONTROLS = ("pause", "unpause", "logout", "listen", "whisper", "barge")


def _viewer(request):
    membership = membership_for_request(request)  # 404 for foreign orgs
    return membership, at_least(membership.role, Role.SUPERVISOR)


@login_required
def board_page(request):
    from .board import board

    membership, can_control = _viewer(request)
    data = board(membership.organization)
    return render(request, "agents/board.html", {
        "board": data,
        "can_control": can_control,
        "pause_codes": PauseCode.objects.for_org(membership.organization).filter(active=True),
        "state_labels": _state_labels(),
        "settings": team.settings_for(membership.organization_id),
        "texts": {"pause": _("Pausar"), "unpause": _("Retomar"), "logout": _("Deslogar"), "listen": _("Ouvir"),
                  "whisper": _("Sussurrar"), "barge": _("Conferência"), "reason": _("Motivo da pausa"),
                  "confirmLogout": _("Tirar este agente da fila?"), "since": _("desde"),
                  "failed": _("Não foi possível falar com o servidor.")},
    })


@login_required
def board_json(request):
    from django.http import JsonResponse

    from .board import board

    membership, _can = _viewer(request)
    return JsonResponse(board(membership.organization))


def _state_labels() -> dict[str, str]:
    return {"free": _("Livre"), "ringing": _("Chamando"), "in_call": _("Em ligação"), "wrapup": _("Pós-atendimento"),
            "paused": _("Em pausa"), "logged_out": _("Deslogado"), "unavailable": _("Indisponível")}


@login_required
def member_control(request, pk: int, action: str):
    """POST /agents/members/<id>/<action>/: force pause (``code``), unpause, log out,
    listen / whisper / barge. Supervisors and above; JSON answer with a pt-BR message."""
    from django.http import JsonResponse

    from central.telephony.models import QueueMember

    from . import services
    from .identity import agent_for_user

    if request.method != "POST":
        return JsonResponse({"ok": False, "message": _("Use POST.")}, status=405)
    membership, can_control = _viewer(request)
    member = QueueMember.objects.for_org(membership.organization).filter(pk=pk).first()
    if member is None or action not in CONTROLS:
        raise Http404
    if not can_control:
        raise PermissionDenied
    try:
        if action == "pause":
            services.force_pause(member, request.POST.get("code", ""), request=request)
            done = _("Pausa enviada ao Asterisk.")
        elif action == "unpause":
            services.force_unpause(member, request=request)
            done = _("Retorno da pausa enviado ao Asterisk.")
        elif action == "logout":
            services.force_logout(member, request=request)
            done = _("Saída da fila enviada ao Asterisk.")
        else:
            services.spy(member, action, agent_for_user(membership.organization_id, request.user), request=request)
            done = _("Seu ramal vai tocar: atenda para começar.")
    except services.AgentActionError as exc:
        return JsonResponse({"ok": False, "message": exc.message}, status=exc.status)
    return JsonResponse({"ok": True, "message": done})
