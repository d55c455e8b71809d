"""Dialer pages: campaigns list, campaign detail (actions, counts, import with live
progress, recent attempts), do-not-call list.

Access goes through one helper per object kind (:func:`_campaign_for`, the healthchecks
``_get_check_for_user`` shape): it returns the campaign of the request's organization and
whether the user may change it, or 404s. Every view calls it, so none can forget it.
Actions go through :mod:`central.dialer.services`, the same functions the API and CLI
call, so they are validated and audited the same way.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from central.core import audit
from central.core.ids import parse_id
from central.core.phones import InvalidPhone
from central.core.roles import Role, at_least
from central.core.tenancy import membership_for_request

from . import dnc, live, services
from .forms import CampaignForm, CampaignQuickForm, queue_warning
from .models import Attempt, Campaign, Contact, DoNotCall, ImportJob


def _org_and_write(request):
    membership = membership_for_request(request)  # 404 for foreign orgs
    return membership.organization, at_least(membership.role, Role.SUPERVISOR)


def _campaign_for(request, pk: int) -> tuple[Campaign, bool]:
    org, can_write = _org_and_write(request)
    campaign = Campaign.objects.for_org(org).filter(pk=pk).first()
    if campaign is None:
        raise Http404
    return campaign, can_write


def _status_labels() -> dict[str, str]:
    return {str(k): str(v) for k, v in Contact.Status.choices}


def _pbx_queues(org) -> dict[str, dict[str, int]]:
    """Queues the organization's PBXs report (telephony's read function, never its tables)."""
    from central.telephony.store import queues_for_org

    return queues_for_org(org.pk)


def _saved(request, form, campaign: Campaign, action: str) -> None:
    """Audit a saved settings form and warn when its queue reaches nobody."""
    audit.record(action, request=request, target=campaign, fields=sorted(form.changed_data))
    warning = queue_warning(campaign.queue, form.queues)
    if warning:
        messages.warning(request, warning)


@login_required
def campaigns(request):
    org, can_write = _org_and_write(request)
    queues = _pbx_queues(org)
    if request.method == "POST":
        if not can_write:
            raise PermissionDenied
        form = CampaignQuickForm(request.POST, organization=org, queues=queues)
        if form.is_valid():
            campaign = form.save()
            _saved(request, form, campaign, "campaign.create")
            return redirect("dialer:campaign", pk=campaign.pk)
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    rows = list(Campaign.objects.for_org(org).order_by("-created_at"))
    counts: dict[int, dict[str, int]] = {}
    for cid, status, n in (Contact.objects.for_org(org).values_list("campaign_id", "status")
                           .annotate(n=Count("id")).order_by()):
        counts.setdefault(cid, {})[status] = n
    for c in rows:
        by = counts.get(c.pk, {})
        c.total_contacts = sum(by.values())
        c.pending_contacts = by.get(Contact.Status.PENDING, 0)
        c.done_contacts = by.get(Contact.Status.DONE, 0)
    return render(request, "dialer/campaigns.html", {"campaigns": rows, "can_write": can_write, "queues": queues,
                                                     "progress_type": live.PROGRESS_TYPE})


@login_required
def campaign_new(request):
    org, can_write = _org_and_write(request)
    if not can_write:
        raise PermissionDenied
    return _settings_page(request, org, None)


@login_required
def campaign_settings(request, pk: int):
    camp, can_write = _campaign_for(request, pk)
    if not can_write:
        raise PermissionDenied
    if camp.status == Campaign.Status.FINISHED:
        messages.error(request, _("A campanha está encerrada e não pode ser alterada."))
        return redirect("dialer:campaign", pk=camp.pk)
    return _settings_page(request, camp.organization, camp)


def _settings_page(request, org, camp: Campaign | None):
    """The full settings form: create (``camp`` None) or change one campaign."""
    queues = _pbx_queues(org)
    form = CampaignForm(request.POST or None, instance=camp, organization=org, queues=queues)
    if request.method == "POST" and form.is_valid():
        saved = form.save()
        _saved(request, form, saved, "campaign.create" if camp is None else "campaign.update")
        messages.success(request, _("Configuração salva."))
        return redirect("dialer:campaign", pk=saved.pk)
    warning = queue_warning(camp.queue, queues) if camp is not None and not form.is_bound else None
    return render(request, "dialer/campaign_form.html", {
        "form": form, "campaign": camp, "queues": queues, "queue_warning": warning})


@login_required
def campaign(request, pk: int):
    camp, can_write = _campaign_for(request, pk)
    counts = services.counts_by_status(camp)
    labels = _status_labels()
    attempts = (Attempt.objects.filter(campaign=camp).select_related("contact").order_by("-created_at")
                [:live.RECENT_ATTEMPTS])
    imports = ImportJob.objects.filter(campaign=camp).order_by("-created_at")[:5]
    return render(request, "dialer/campaign.html", {
        "campaign": camp,
        "can_write": can_write,
        "counts": [(s, labels[s], n) for s, n in counts.items()],
        "total": sum(counts.values()),
        "problems": services.validate_campaign_settings(camp),
        "queue_warning": queue_warning(camp.queue, _pbx_queues(camp.organization)),
        "attempts": attempts,
        "imports": imports,
        "legal_bases": Contact.LegalBasis.choices,
        "result_labels": {str(k): str(v) for k, v in Attempt.Result.choices},
        "attempt_labels": {"result": {str(k): str(v) for k, v in Attempt.Result.choices},
                           "state": {str(k): str(v) for k, v in Attempt.State.choices}},
        "progress_type": live.PROGRESS_TYPE,
        "weekdays": _weekday_rows(camp),
        "upload_url": f"/api/v1/dialer/campaigns/{camp.pk}/import/",
    })


def _weekday_rows(camp: Campaign) -> list[tuple[str, str]]:
    from .hours import DAY_NAMES_PT, DAYS

    hours = camp.working_hours or {}
    out = []
    for key, label in zip(DAYS, DAY_NAMES_PT, strict=True):
        spans = hours.get(key) or []
        out.append((label, ", ".join(f"{a}–{b}" for a, b in spans) if spans else _("fechado")))
    return out


@login_required
@require_POST
def campaign_action(request, pk: int, action: str):
    camp, can_write = _campaign_for(request, pk)
    if not can_write:
        raise PermissionDenied
    fn = services.ACTIONS.get(action)
    if fn is None:
        raise Http404
    try:
        fn(camp, request=request)
        messages.success(request, _("Campanha: %(status)s.") % {"status": camp.get_status_display()})
    except services.CampaignActionError as exc:
        messages.error(request, str(exc))
    return redirect("dialer:campaign", pk=camp.pk)


@login_required
def dnc_list(request):
    org, can_write = _org_and_write(request)
    if request.method == "POST":
        if not can_write:
            raise PermissionDenied
        campaign = None
        if request.POST.get("campaign"):
            campaign_id = parse_id(request.POST["campaign"])
            if campaign_id is None:
                return HttpResponseBadRequest(_("Campanha inválida."))
            campaign = Campaign.objects.for_org(org).filter(pk=campaign_id).first()
            if campaign is None:
                raise Http404
        try:
            phone, flagged = dnc.add_raw(org, request.POST.get("phone", ""), campaign=campaign,
                                         source=DoNotCall.Source.MANUAL, reason=request.POST.get("reason", ""))
            audit.record("dialer.dnc.create", request=request, phone=phone, campaign=campaign.pk if campaign else None)
            messages.success(request, _("%(phone)s não será mais ligado (%(n)d contatos marcados).")
                             % {"phone": phone, "n": flagged})
        except InvalidPhone as exc:
            messages.error(request, _("Telefone inválido: %(reason)s.") % {"reason": exc.reason})
        return redirect("dialer:dnc")
    query = request.GET.get("q", "").strip()
    entries = DoNotCall.objects.for_org(org).select_related("campaign").order_by("-created_at", "-id")
    if query:
        entries = entries.filter(phone__contains="".join(ch for ch in query if ch.isdigit()) or query)
    return render(request, "dialer/dnc.html", {
        "entries": entries[:200],
        "total": DoNotCall.objects.for_org(org).count(),
        "campaigns": Campaign.objects.for_org(org).exclude(status=Campaign.Status.FINISHED).order_by("name"),
        "sources": DoNotCall.Source.choices,
        "imports": ImportJob.objects.for_org(org).filter(kind=ImportJob.Kind.DNC).order_by("-created_at")[:5],
        "can_write": can_write,
        "query": query,
        "upload_url": "/api/v1/dialer/dnc/import/",
    })
