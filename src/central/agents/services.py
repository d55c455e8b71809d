"""Queue login/logout, pauses and supervisor monitoring, sent to Asterisk through the
PBX link (``central.telephony.actions``). Used by the agent's page (agent-desk) and by
the supervisor's agents table.

Nothing here writes agent state: Asterisk answers with ``QueueMemberAdded`` /
``QueueMemberRemoved`` / ``QueueMemberPause`` events, the link writes
``telephony.QueueMember`` from them and pushes the rows to the tenant's pages. A refused
action raises :class:`AgentActionError` with a pt-BR message (Asterisk's reply mapped
in :func:`_refusal`); every action is audited.

Login and logout follow app_queue's two kinds of members: a dynamic member is added
(``QueueAdd``) and removed (``QueueRemove``); a static one (queues.conf) cannot be
removed (``Member not dynamic``, apps/app_queue.c ``remove_from_queue()``), so its login
is an unpause and its logout a pause with the reason :data:`LOGGED_OUT_REASON`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.utils.translation import gettext as _

from central.core import audit
from central.core.refusals import Refusal
from central.telephony import actions as ami

from .models import Agent, PauseCode

#: QueuePause Reason of a static member "logged out" (it cannot leave the queue).
LOGGED_OUT_REASON = "logout"
#: Queue names as queues.conf allows them in practice (section names; no separators
#: that could smuggle another header).
_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,80}$")

# Asterisk's replies (apps/app_queue.c manager_*_queue_member(), 22.10.1; the captures in
# tests/fixtures/asterisk/ami-queue-actions.txt) -> what the person reads.
ALREADY_THERE = "Unable to add interface: Already there"
NOT_THERE = "Unable to remove interface: Not there"
NO_SUCH_QUEUE_ADD = "Unable to add interface to queue: No such queue"
NO_SUCH_QUEUE_REMOVE = "Unable to remove interface from queue: No such queue"
NOT_FOUND = "Interface not found"
NOT_DYNAMIC = "Member not dynamic"


class AgentActionError(Refusal):
    code = "agent_action_refused"
    status = 409


class InvalidAgentRequest(AgentActionError):
    code = "invalid_agent_request"
    status = 400


@dataclass(frozen=True)
class Target:
    """One interface on one server: where an action goes."""

    server_id: int
    interface: str
    queue: str = ""


def _refusal(answer: dict[str, str], target: Target) -> AgentActionError:
    message = answer.get(ami.F_MESSAGE, "")
    central = answer.get(ami.F_CENTRAL_ERROR, "")
    if central:
        return AgentActionError(_("Sem conexão com o Asterisk agora; tente de novo em instantes."), reason=central)
    known = {
        ALREADY_THERE: _("%(iface)s já está na fila %(queue)s."),
        NOT_THERE: _("%(iface)s não está na fila %(queue)s."),
        NO_SUCH_QUEUE_ADD: _("A fila %(queue)s não existe no Asterisk."),
        NO_SUCH_QUEUE_REMOVE: _("A fila %(queue)s não existe no Asterisk."),
        NOT_FOUND: _("%(iface)s não está em nenhuma fila do Asterisk (interface desconhecida)."),
        NOT_DYNAMIC: _("%(iface)s é membro fixo da fila %(queue)s e não pode sair dela."),
    }
    text = known.get(message)
    values = {"iface": target.interface, "queue": target.queue or "—"}
    if text is None:
        return AgentActionError(_("O Asterisk recusou: %(message)s") % {"message": message or "?"},
                                asterisk=message)
    return AgentActionError(text % values, asterisk=message)


def _send(target: Target, action: str, fields: list[tuple[str, str]]) -> dict[str, str]:
    try:
        answer = ami.send(target.server_id, action, fields)
    except ami.PBXUnavailable:
        raise AgentActionError(_("Sem conexão com o Asterisk agora; tente de novo em instantes."),
                               reason=ami.NO_ANSWER) from None
    return answer


def _ok(answer: dict[str, str]) -> bool:
    return answer.get(ami.F_RESPONSE) == "Success"


def _queue(queue: str) -> str:
    queue = (queue or "").strip()
    if not _QUEUE_NAME.fullmatch(queue):
        raise InvalidAgentRequest(_("Fila inválida."))
    return queue


# --- where an agent's actions go -----------------------------------------------------------

def targets_for(agent: Agent, queue: str = "") -> list[Target]:
    """The (server, interface) pairs of ``agent`` for ``queue``: the server the interface
    is tied to, else the servers where that interface is already in the queue, else the
    one server that reports the queue, else the organization's only enabled server."""
    from central.telephony.models import AsteriskServer, QueueMember

    links = list(agent.interfaces.all())
    if not links:
        raise AgentActionError(_("%(name)s não tem interface de fila; ligue uma em Equipe.") % {"name": agent.name})
    org_id = agent.organization_id
    out: list[Target] = []
    for link in links:
        if link.server_id:
            out.append(Target(link.server_id, link.interface, queue))
            continue
        members = QueueMember.objects.filter(organization_id=org_id, interface=link.interface)
        if queue:
            members = members.filter(queue=queue)
        ids = sorted(set(members.values_list("server_id", flat=True)))
        if not ids and queue:
            ids = sorted(set(QueueMember.objects.filter(organization_id=org_id, queue=queue)
                             .values_list("server_id", flat=True)))
        if not ids:
            ids = list(AsteriskServer.objects.filter(organization_id=org_id, enabled=True)
                       .values_list("pk", flat=True)[:2])
            if len(ids) > 1:
                raise AgentActionError(_("A organização tem vários servidores: escolha o da interface "
                                         "%(iface)s em Equipe.") % {"iface": link.interface})
        if not ids:
            raise AgentActionError(_("Nenhum servidor Asterisk configurado."))
        out += [Target(i, link.interface, queue) for i in ids]
    return out


def member_target(member) -> Target:
    """A ``telephony.QueueMember`` row (the supervisor's table) as a target."""
    return Target(member.server_id, member.interface, member.queue)


# --- the actions ---------------------------------------------------------------------------

def add_to_queue(target: Target, member_name: str = "") -> None:
    fields = [(ami.F_QUEUE, target.queue), (ami.F_INTERFACE, target.interface)]
    if member_name:
        fields.append((ami.F_MEMBER_NAME, member_name[:80]))
    fields.append((ami.F_PAUSED, "false"))
    answer = _send(target, ami.QUEUE_ADD, fields)
    if not _ok(answer):
        raise _refusal(answer, target)


def remove_from_queue(target: Target) -> str:
    """QueueRemove; a static member is paused with LOGGED_OUT_REASON instead. Returns
    ``"removed"`` or ``"paused"``."""
    answer = _send(target, ami.QUEUE_REMOVE, [(ami.F_QUEUE, target.queue), (ami.F_INTERFACE, target.interface)])
    if _ok(answer):
        return "removed"
    if answer.get(ami.F_MESSAGE) == NOT_DYNAMIC:
        set_paused(target, True, LOGGED_OUT_REASON)
        return "paused"
    raise _refusal(answer, target)


def set_paused(target: Target, paused: bool, reason: str = "") -> None:
    """QueuePause in ``target.queue`` (every queue of the interface when empty: app_queue
    pauses the member in all queues when ``Queue`` is not given)."""
    fields = []
    if target.queue:
        fields.append((ami.F_QUEUE, target.queue))
    fields += [(ami.F_INTERFACE, target.interface), (ami.F_PAUSED, "true" if paused else "false")]
    if paused and reason:
        fields.append((ami.F_REASON, reason))
    answer = _send(target, ami.QUEUE_PAUSE, fields)
    if not _ok(answer):
        raise _refusal(answer, target)


def pause_code(organization_id: int, code: str) -> PauseCode:
    pause = PauseCode.objects.filter(organization_id=organization_id, code=code, active=True).first()
    if pause is None:
        raise InvalidAgentRequest(_("Escolha um motivo de pausa da lista."))
    return pause


def _member(target: Target):
    from central.telephony.models import QueueMember

    return QueueMember.objects.filter(server_id=target.server_id, queue=target.queue,
                                      interface=target.interface).first()


def queue_login(agent: Agent, queue: str, *, request=None) -> None:
    """Log ``agent`` in to ``queue``: QueueAdd, or unpause a member that is already
    there paused (static members, or one logged out with LOGGED_OUT_REASON)."""
    queue = _queue(queue)
    for target in targets_for(agent, queue):
        member = _member(target)
        if member is not None and member.availability == "paused":
            set_paused(target, False)
        elif member is None:
            add_to_queue(target, agent.name)
    audit.record("agents.queue_login", request=request, organization=agent.organization, target=agent, queue=queue)


def queue_logout(agent: Agent, queue: str, *, request=None) -> None:
    queue = _queue(queue)
    for target in targets_for(agent, queue):
        remove_from_queue(target)
    audit.record("agents.queue_logout", request=request, organization=agent.organization, target=agent, queue=queue)


def pause(agent: Agent, code: str, queue: str = "", *, request=None) -> None:
    """Pause ``agent`` with one of the organization's pause codes (in ``queue``, or in
    every queue when empty)."""
    chosen = pause_code(agent.organization_id, code)
    queue = _queue(queue) if queue else ""
    for target in targets_for(agent, queue):
        set_paused(target, True, chosen.code)
    audit.record("agents.pause", request=request, organization=agent.organization, target=agent,
                 reason=chosen.code, queue=queue)


def unpause(agent: Agent, queue: str = "", *, request=None) -> None:
    queue = _queue(queue) if queue else ""
    for target in targets_for(agent, queue):
        set_paused(target, False)
    audit.record("agents.unpause", request=request, organization=agent.organization, target=agent, queue=queue)


# --- supervisor controls on one queue member (the agents table) -------------------------------

def force_pause(member, code: str, *, request=None) -> None:
    chosen = pause_code(member.organization_id, code)
    set_paused(member_target(member), True, chosen.code)
    audit.record("agents.force_pause", request=request, organization=member.organization, target=member, interface=member.interface,
                 queue=member.queue, reason=chosen.code)


def force_unpause(member, *, request=None) -> None:
    set_paused(member_target(member), False)
    audit.record("agents.force_unpause", request=request, organization=member.organization, target=member, interface=member.interface,
                 queue=member.queue)


def force_logout(member, *, request=None) -> str:
    how = remove_from_queue(member_target(member))
    audit.record("agents.force_logout", request=request, organization=member.organization, target=member, interface=member.interface,
                 queue=member.queue, how=how)
    return how


# --- supervisor monitoring: listen, whisper, barge (ChanSpy) ----------------------------------

#: ChanSpy options per mode (apps/app_chanspy.c, Asterisk 22.10.1): ``q`` quiet (no beep, no
#: channel name spoken), ``b`` only channels in a bridged call, ``E`` hang up the supervisor
#: when the agent's channel hangs up, ``S`` stop when no channel is left; then ``w`` whisper
#: (only the agent hears the supervisor) or ``B`` barge (both parties hear).
SPY_OPTIONS = {"listen": "qbES", "whisper": "qbESw", "barge": "qbESB"}
SPY_APPLICATION = "ChanSpy"
#: The supervisor's own phone is dialled on this technology (their ``Agent.extension``).
SPY_TECHNOLOGY = "PJSIP"
#: Seconds the supervisor's phone rings before the Originate gives up.
SPY_RING_MS = 30_000


def spy_channel_prefix(interface: str) -> str:
    """ChanSpy's ``chanprefix`` for a member interface: its channels are named
    ``<interface>-<sequence>`` (``PJSIP/2001-0000000a``, ``Local/agent2@agent-phones-0000000b;1``:
    main/core_unreal.c), so the interface plus ``-`` matches exactly that member's calls."""
    return f"{interface}-"


def spy(member, mode: str, supervisor_agent: Agent, *, request=None) -> None:
    """Ring the supervisor's own extension and, when they answer, run ChanSpy on the
    member's current call (AMI Originate with ``Application: ChanSpy``)."""
    from central.core.outbound import OutboundRefused, validate_dial_target

    options = SPY_OPTIONS.get(mode)
    if options is None:
        raise InvalidAgentRequest(_("Modo de escuta inválido."))
    if supervisor_agent is None or not supervisor_agent.extension:
        raise AgentActionError(_("Cadastre o seu ramal em Equipe para escutar ligações."))
    if member.availability != "in_call":
        raise AgentActionError(_("%(name)s não está em ligação agora.") % {"name": member.name or member.interface})
    try:
        validate_dial_target(supervisor_agent.extension, technology=False)
    except OutboundRefused:
        raise InvalidAgentRequest(_("Ramal do supervisor inválido.")) from None
    if not re.fullmatch(r"[A-Za-z0-9/@_.+\-]{1,120}", member.interface or ""):
        raise InvalidAgentRequest(_("Interface sem escuta possível."))  # nothing that splits ChanSpy's arguments
    target = member_target(member)
    fields = [
        (ami.F_CHANNEL, f"{SPY_TECHNOLOGY}/{supervisor_agent.extension}"),
        (ami.F_APPLICATION, SPY_APPLICATION),
        (ami.F_DATA, f"{spy_channel_prefix(member.interface)},{options}"),
        (ami.F_CALLER_ID, f"Monitoria <{supervisor_agent.extension}>"),
        (ami.F_TIMEOUT, str(SPY_RING_MS)),
        (ami.F_ASYNC, "true"),
    ]
    answer = _send(target, ami.ORIGINATE, fields)
    if not _ok(answer):
        raise _refusal(answer, target)
    audit.record(f"agents.spy.{mode}", request=request, organization=member.organization, target=member, interface=member.interface,
                 queue=member.queue, supervisor_extension=supervisor_agent.extension)
