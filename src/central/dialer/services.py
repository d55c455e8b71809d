"""Dialer service functions: what the API, the dashboard and the CLI do to campaigns.

One function per operator action, each validating, writing and auditing in one place, so
the three front doors cannot drift apart (start from the CLI is audited exactly like
start from the dashboard). The engine calls :func:`schedule_next` to apply a campaign's
retry policy and working hours to a contact after an attempt.
"""

from __future__ import annotations

import logging
import os
import threading
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from central.core import audit

from . import hours
from .models import Callback, Campaign, Contact, ImportJob

log = logging.getLogger(__name__)

__all__ = [
    "CampaignActionError",
    "counts_by_status",
    "history_for_number",
    "finish",
    "pause",
    "resume",
    "schedule_callback",
    "schedule_next",
    "start",
    "start_import",
    "validate_campaign_settings",
]


class CampaignActionError(Exception):
    """An action the campaign's state does not allow; the message is pt-BR for the user."""


# --- Campaign lifecycle -------------------------------------------------------------------


def validate_campaign_settings(campaign: Campaign) -> list[str]:
    """Problems that prevent dialing, in the active language (empty when the campaign can run)."""
    problems = []
    if not (campaign.queue or "").strip():
        problems.append(_("Defina a fila do Asterisk (os membros da fila são os agentes)."))
    try:
        ZoneInfo(campaign.timezone or "")
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(_("Fuso horário desconhecido: %(fuso)r.") % {"fuso": campaign.timezone})
    try:
        parsed = hours.parse_working_hours(campaign.working_hours)
        if not any(parsed.values()):
            problems.append(_("O horário de funcionamento não tem nenhuma faixa: a campanha nunca discaria."))
    except hours.HoursError as exc:
        problems.append(_("Horário de funcionamento: %(erro)s.") % {"erro": exc})
    if campaign.max_channels < 1:
        problems.append(_("Canais máximos deve ser ao menos 1."))
    if campaign.max_cps <= 0:
        problems.append(_("Chamadas por segundo deve ser maior que zero."))
    from central.core.outbound import campaign_dial_problems

    problems.extend(campaign_dial_problems(campaign).values())
    if campaign.asterisk_server_id is not None and campaign.asterisk_server.organization_id != campaign.organization_id:
        problems.append(_("O servidor Asterisk da campanha não pertence a esta organização."))
    if campaign.use_0303_prefix and not "".join(ch for ch in campaign.caller_id if ch.isdigit()):
        problems.append(_("O prefixo 0303 exige um identificador de chamada (bina)."))
    return problems


def _transition(campaign: Campaign, action: str, allowed_from: set[str], to: str, *, request=None,
                actor=None, **details) -> Campaign:
    with transaction.atomic():
        current = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if current.status == Campaign.Status.FINISHED:
            raise CampaignActionError(_("A campanha está encerrada; encerrar é definitivo."))
        if current.status not in allowed_from:
            label = Campaign.Status(current.status).label
            raise CampaignActionError(_REFUSALS[action] % {"estado": str(label).lower()})
        previous = current.status
        current.status = to
        now = timezone.now()
        fields = ["status", "updated_at"]
        if to == Campaign.Status.ACTIVE and current.alarm:
            # Started or resumed by someone who saw the alarm: dial again (a dialplan
            # still broken raises it again after a few Originates).
            current.alarm, current.alarm_message, current.alarm_at = "", "", None
            fields += ["alarm", "alarm_message", "alarm_at"]
        if action == "start" and current.started_at is None:
            current.started_at = now
            fields.append("started_at")
        if action == "finish":
            current.finished_at = now
            fields.append("finished_at")
        current.save(update_fields=fields)
        audit.record(f"campaign.{action}", request=request, actor=actor, organization=current.organization,
                     target=current, name=current.name, from_status=previous, to_status=to, **details)
    publish_campaign(current)
    campaign.status, campaign.started_at, campaign.finished_at = current.status, current.started_at, current.finished_at
    return current


# Whole sentences (not a verb slotted into one) so each language can word them its own way.
_REFUSALS = {
    "start": gettext_lazy("Não é possível iniciar uma campanha %(estado)s."),
    "pause": gettext_lazy("Não é possível pausar uma campanha %(estado)s."),
    "resume": gettext_lazy("Não é possível retomar uma campanha %(estado)s."),
    "finish": gettext_lazy("Não é possível encerrar uma campanha %(estado)s."),
}


def start(campaign: Campaign, *, request=None, actor=None, **details) -> Campaign:
    """Draft -> active. Refused with the list of problems when the settings cannot dial."""
    problems = validate_campaign_settings(campaign)
    if problems:
        raise CampaignActionError(" ".join(problems))
    return _transition(campaign, "start", {Campaign.Status.DRAFT}, Campaign.Status.ACTIVE,
                       request=request, actor=actor, **details)


def pause(campaign: Campaign, *, request=None, actor=None, **details) -> Campaign:
    """Active -> paused: no new calls; calls in progress finish normally."""
    return _transition(campaign, "pause", {Campaign.Status.ACTIVE}, Campaign.Status.PAUSED,
                       request=request, actor=actor, **details)


def resume(campaign: Campaign, *, request=None, actor=None, **details) -> Campaign:
    problems = validate_campaign_settings(campaign)
    if problems:
        raise CampaignActionError(" ".join(problems))
    return _transition(campaign, "resume", {Campaign.Status.PAUSED}, Campaign.Status.ACTIVE,
                       request=request, actor=actor, **details)


def finish(campaign: Campaign, *, request=None, actor=None, **details) -> Campaign:
    """Any state -> finished, for good: a finished campaign never dials again."""
    return _transition(campaign, "finish", {Campaign.Status.DRAFT, Campaign.Status.ACTIVE, Campaign.Status.PAUSED},
                       Campaign.Status.FINISHED, request=request, actor=actor, **details)


ACTIONS = {"start": start, "pause": pause, "resume": resume, "finish": finish}


def publish_campaign(campaign: Campaign) -> None:
    """Tell open pages that the campaign's status (or alarm) changed."""
    from central.core.live import org_group, publish

    publish(org_group(campaign.organization_id), {
        "type": "campaign", "id": campaign.pk, "status": campaign.status,
        "status_label": str(Campaign.Status(campaign.status).label),
        "alarm": campaign_alarm(campaign),
    })


#: Campaign alarms the dialer raises (``Campaign.alarm``), as whole pt-BR sentences.
ALARM_TEXT = {
    "originate_failing": gettext_lazy(
        "Discagem interrompida: todas as chamadas da campanha foram recusadas pelo Asterisk "
        "(%(detalhe)s). Confira o contexto e a extensão de discagem e a fila no Asterisk, "
        "depois retome a campanha."),
    "server_missing": gettext_lazy(
        "Discagem interrompida: o servidor Asterisk \"%(detalhe)s\" não existe nesta organização. "
        "Escolha um servidor da organização (ou deixe vazio para o servidor padrão) e retome a campanha."),
}


def campaign_alarm(campaign: Campaign) -> dict | None:
    """The campaign's alarm for the live panel and the API, or None.

    ``{"code", "message" (pt-BR/English sentence), "detail" (Asterisk's own words), "since"}``.
    """
    if not campaign.alarm:
        return None
    template = ALARM_TEXT.get(campaign.alarm)
    detail = campaign.alarm_message or ""
    message = str(template % {"detalhe": detail}) if template is not None else detail
    return {"code": campaign.alarm, "message": message, "detail": detail,
            "since": campaign.alarm_at.isoformat() if campaign.alarm_at else None}


def counts_by_status(campaign: Campaign | int) -> dict[str, int]:
    """Contacts per status, every status present (zeros included)."""
    cid = campaign if isinstance(campaign, int) else campaign.pk
    rows = dict(Contact.objects.filter(campaign_id=cid).values_list("status").annotate(n=Count("id")).order_by())
    return {value: rows.get(value, 0) for value in Contact.Status.values}


# --- Read-only views for other apps ------------------------------------------------------

#: Results that mean "the dialer did not reach the person".
UNREACHED_RESULTS = frozenset({"busy", "no_answer", "congestion", "failed", "abandoned"})


def history_for_number(organization_id: int, e164: str, *, limit: int = 50) -> dict:
    """What the dialer knows about one number in one organization (read-only).

    For the messaging app's contact view ("one person across channels"): the campaign
    contacts with this number (status, attempts, legal basis, whether the dialer could
    not reach them) and the latest attempts, newest first, plus whether the number is on
    the organization-wide do-not-call list. Other apps read the dialer through this
    function and never query its tables. Matches the contact's main number (``phone``);
    alternative numbers are not searched.
    """
    from .dnc import is_blocked
    from .models import Attempt

    contacts = []
    for c in (Contact.objects.filter(organization_id=organization_id, phone=e164)
              .select_related("campaign").order_by("-created_at", "-id")[:limit]):
        contacts.append({
            "id": c.pk, "name": c.name, "campaign_id": c.campaign_id, "campaign": c.campaign.name,
            "status": c.status, "status_label": str(Contact.Status(c.status).label),
            "attempts": c.attempts, "last_result": c.last_result, "last_attempt_at": c.last_attempt_at,
            "legal_basis": c.legal_basis, "legal_basis_label": str(Contact.LegalBasis(c.legal_basis).label),
            "unreached": c.status == Contact.Status.FAILED
            or (c.attempts > 0 and c.last_result in UNREACHED_RESULTS),
        })
    attempts = []
    for a in (Attempt.objects.filter(organization_id=organization_id, phone=e164)
              .select_related("campaign").order_by("-created_at", "-id")[:limit]):
        attempts.append({
            "uid": a.uid, "campaign_id": a.campaign_id, "campaign": a.campaign.name, "contact_id": a.contact_id,
            "created_at": a.created_at, "answered_at": a.answered_at, "ended_at": a.ended_at,
            "state": a.state, "result": a.result,
            "result_label": str(Attempt.Result(a.result).label) if a.result else str(Attempt.State(a.state).label),
            "agent": a.agent, "billsec": a.billsec, "hangup_cause_text": a.hangup_cause_text,
        })
    return {"contacts": contacts, "attempts": attempts, "do_not_call": is_blocked(organization_id, None, e164)}


# --- Retry policy -------------------------------------------------------------------------


def schedule_next(contact: Contact, result: str, now: datetime, *, campaign: Campaign | None = None,
                  save: bool = False) -> Contact:
    """Apply the campaign's retry policy and working hours after an attempt ended.

    Call it after ``contact.attempts`` / ``attempts_today`` already count the attempt.
    ``answered`` -> done; other results retry after the policy's delay for that result
    (``Campaign.retry_policy``: busy +10 min, no answer +30 min... by default) until
    ``max_attempts`` (contact's own or the campaign's) or the daily cap; a retry that
    would fall outside the working hours (campaign's or contact's zone, holidays) moves
    to the next window's opening. ``dnc`` contacts stay ``dnc``.
    """
    from .core import retry_decision

    campaign = campaign or contact.campaign
    contact.last_result = result
    if contact.status == Contact.Status.DNC:
        contact.next_attempt_at = None
    else:
        decision = retry_decision(
            result, attempts=contact.attempts, max_attempts=contact.max_attempts or campaign.max_attempts,
            attempts_today=contact.attempts_today, max_per_day=campaign.max_attempts_per_day,
            policy=campaign.retry_policy or {}, now=now, tz=campaign.timezone or hours.DEFAULT_TZ)
        contact.status = decision.status
        contact.next_attempt_at = decision.next_attempt_at
        if decision.next_attempt_at is not None:
            try:
                window = hours.next_window_start(
                    campaign.working_hours, campaign.timezone, contact.timezone or None, decision.next_attempt_at,
                    respect_holidays=campaign.respect_holidays, subdivision=campaign.holiday_subdivision)
            except hours.HoursError:
                window = None
            if window is not None:
                contact.next_attempt_at = window
    if save:
        contact.save(update_fields=["status", "next_attempt_at", "last_result"])
    return contact


# --- Callbacks ----------------------------------------------------------------------------


def schedule_callback(contact: Contact, when: datetime, *, agent: str = "", note: str = "", user=None,
                      request=None) -> Callback:
    """An agent promised to call back: the contact becomes due at ``when``."""
    if contact.status == Contact.Status.DNC:
        raise CampaignActionError(_("O contato está na lista de não ligar."))
    with transaction.atomic():
        cb = Callback.objects.create(organization_id=contact.organization_id, campaign_id=contact.campaign_id,
                                     contact=contact, scheduled_for=when, agent=agent, note=note, created_by=user)
        apply_callback(cb)
        audit.record("dialer.callback.create", request=request, actor=user,
                     organization=contact.organization, target=cb, contact=contact.pk, when=when.isoformat())
    return cb


def apply_callback(cb: Callback) -> None:
    """Make the contact due at the callback's time (and dialable again if it was done).

    A callback for one person (``assigned_to``) waits with status ``callback``, which the
    engine never claims: it comes back on that person's page (``desk_services``)."""
    status = Contact.Status.CALLBACK if cb.assigned_to_id else Contact.Status.PENDING
    Contact.objects.filter(pk=cb.contact_id).exclude(status=Contact.Status.DNC).update(
        next_attempt_at=cb.scheduled_for, status=status)


# --- Imports ------------------------------------------------------------------------------


def import_runner() -> str:
    """``process``, ``thread`` or ``celery``: where imports run (``CENTRAL_IMPORT_RUNNER``).

    ``auto`` (default) is ``celery`` when a broker is configured, else ``process``: a child
    process of this one with a memory cap (``central.dialer.importworker``). ``thread`` runs
    the import inside this process without the cap (tests, debugging).
    """
    from django.conf import settings

    runner = getattr(settings, "DIALER_IMPORT_RUNNER", "") or os.environ.get("CENTRAL_IMPORT_RUNNER", "auto")
    if runner == "auto":
        has_broker = getattr(settings, "CELERY_BROKER_URL", "") and not getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False)
        runner = "celery" if has_broker else "process"
    return runner


def import_thread_name(job_id: int) -> str:
    """Name of the thread that runs (or supervises) an import in this process."""
    return f"import-{job_id}"


def _in_background(name: str, target) -> None:
    def work() -> None:
        from django.db import connections

        try:
            target()
        finally:
            connections.close_all()

    threading.Thread(target=work, name=name, daemon=True).start()


def start_import(job: ImportJob) -> str:
    """Run an import in the background; returns the runner (see :func:`import_runner`).

    ``process`` and ``thread`` use a thread of this process that supervises the job (the
    child process, or the import itself); it closes its database connection at the end.
    """
    runner = import_runner()
    if runner == "celery":
        from kombu.exceptions import OperationalError as BrokerDown

        import central.celery  # noqa: F401 - makes Central's Celery app (Redis broker) the current one
        from central.core.live import layer_errors as redis_errors

        from .tasks import run_import

        try:
            run_import.delay(job.pk)
            return "celery"
        except (BrokerDown, *redis_errors()) as exc:
            # Redis (the broker) unreachable: the upload is stored and its job row written,
            # so run it here, in a capped child process like the embedded default, rather
            # than answer 500 and leave a queued job no worker will ever hear of. The job
            # is claimed with its token, so a worker that got the message after all skips it.
            log.warning("import %s: broker unreachable (%s); running it in this process", job.pk, exc)
            runner = "process"
    from .importworker import execute

    _in_background(import_thread_name(job.pk), lambda: execute(job.pk, isolated=runner == "process"))
    return runner


def start_claimed(job_id: int, token: str) -> None:
    """Run a job taken over from a dead worker (the recovery sweep) like :func:`start_import`."""
    from .importworker import run_claimed, run_isolated

    if import_runner() == "process":
        _in_background(import_thread_name(job_id), lambda: run_isolated(job_id, token))
    else:
        _in_background(import_thread_name(job_id), lambda: run_claimed(job_id, token))


def purge_attempts(organization_id: int, before: datetime, *, dry_run: bool = True) -> int:
    """Retention (``central maintenance``): delete the organization's finished attempts
    created before ``before``; how many (would be) deleted. Attempts still in flight (not
    completed) are never touched: reconcile may still need them."""
    from .models import Attempt

    rows = Attempt.objects.filter(organization_id=organization_id, created_at__lt=before,
                                  state=Attempt.State.COMPLETED)
    if dry_run:
        return rows.count()
    return rows.delete()[1].get(Attempt._meta.label, 0)


def campaigns_overview(organization_id: int, now: datetime | None = None) -> list[dict]:
    """The organization's active campaigns as the operations overview shows them (read-only).

    Per campaign: the engine's live view (``live.engine_state``: agents, calls in progress,
    why it dials or not; empty when no dialer runs it), the abandonment over the last hour
    and today (the live panel's definition, ``metrics.campaign_live``: ``abandoned`` results
    plus answered calls an agent took after ``abandon_after_s``, over answered ones; one
    aggregate query per campaign) and its cap, its alarm and the contacts left to dial.
    "Today" is the campaign's own time zone, as on its live panel.
    """
    from datetime import timedelta

    from django.db.models import F, Q

    from . import live
    from .models import Attempt

    now = now or timezone.now()
    out = []
    for c in Campaign.objects.filter(organization_id=organization_id, status=Campaign.Status.ACTIVE).order_by("name"):
        try:
            zone = ZoneInfo(c.timezone or "America/Sao_Paulo")
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("America/Sao_Paulo")
        midnight = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
        hour_ago = now - timedelta(hours=1)
        answered = Q(result__in=("answered", "abandoned"))
        abandoned = Q(result="abandoned") | Q(result="answered", connected_at__isnull=False,
                                              connected_at__gt=F("answered_at") + timedelta(seconds=c.abandon_after_s))
        today, hour = Q(created_at__gte=midnight), Q(created_at__gte=hour_ago)
        agg = Attempt.objects.filter(campaign=c, state=Attempt.State.COMPLETED,
                                     created_at__gte=min(midnight, hour_ago)).aggregate(
            answered_today=Count("id", filter=today & answered), abandoned_today=Count("id", filter=today & abandoned),
            answered_1h=Count("id", filter=hour & answered), abandoned_1h=Count("id", filter=hour & abandoned),
            dials_today=Count("id", filter=today))
        remaining = Contact.objects.filter(campaign=c, status__in=(Contact.Status.PENDING,
                                                                    Contact.Status.IN_PROGRESS)).count()
        out.append({"id": c.pk, "name": c.name, "queue": c.queue, "pacing_mode": c.pacing_mode,
                    "cap": c.max_abandon_rate, "engine": live.engine_state(c.pk),
                    "alarm": campaign_alarm(c), "contacts_remaining": remaining, **agg})
    return out
