"""Agenda pages for the clinic's staff: day and week agenda (per professional or the whole
clinic) with live updates, booking / moving / cancelling with a form, check-in and
no-show buttons, patients with their history, and reports with charts.

Every view resolves the organization through :func:`_org` (404 for a foreign one) and
looks rows up inside it; every change goes through :mod:`central.scheduling.services`,
the functions the API and the assistant use (same validation, audit and live update).
Reading needs viewer; acting on appointments and patients needs agent (the front desk).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from central.core.ids import parse_id
from central.core.roles import Role, at_least
from central.core.tenancy import membership_for_request

from . import reports, services, states
from .models import Appointment, Patient, Professional, Service

ACTIONS = {
    "confirm": (services.confirm, Role.AGENT),
    "check_in": (services.check_in, Role.AGENT),
    "complete": (services.complete, Role.AGENT),
    "no_show": (services.mark_no_show, Role.AGENT),
}


def _org(request, need: str = Role.VIEWER):
    membership = membership_for_request(request)  # 404 for foreign organizations
    if membership.organization.kind != "clinic":
        raise Http404
    if not at_least(membership.role, need):
        raise PermissionDenied
    return membership.organization, at_least(membership.role, Role.AGENT)


def _zone(org) -> ZoneInfo:
    return ZoneInfo(org.timezone or "America/Sao_Paulo")


def _day(value: str | None, zone: ZoneInfo) -> date:
    try:
        return date.fromisoformat(value) if value else datetime.now(zone).date()
    except ValueError:
        return datetime.now(zone).date()


def _range(day: date, view: str, zone: ZoneInfo) -> tuple[date, int, datetime, datetime]:
    if view == "week":
        first = day - timedelta(days=day.weekday())
        days = 7
    else:
        first, days = day, 1
    start = datetime.combine(first, time(0), zone)
    return first, days, start, start + timedelta(days=days)


def _agenda_context(request, org, can_act):
    zone = _zone(org)
    view = "week" if request.GET.get("view") == "week" else "day"
    day = _day(request.GET.get("date"), zone)
    first, ndays, start, end = _range(day, view, zone)
    pros = list(Professional.objects.filter(organization=org, is_active=True))
    chosen = parse_id(request.GET.get("professional"))
    shown = [p for p in pros if chosen is None or p.pk == chosen]
    appts = (Appointment.objects.filter(organization=org, start__gte=start, start__lt=end,
                                        professional__in=shown)
             .exclude(status__in=(states.EXPIRED, states.RESCHEDULED))
             .select_related("patient", "service", "professional").order_by("start"))
    columns: list[dict] = []
    if view == "day":
        by_pro = {p.pk: [] for p in shown}
        for a in appts:
            by_pro[a.professional_id].append(a)
        columns = [{"title": p.name, "subtitle": p.specialty, "items": by_pro[p.pk]} for p in shown]
    else:
        days = [first + timedelta(days=i) for i in range(ndays)]
        by_day = {d: [] for d in days}
        for a in appts:
            by_day.setdefault(a.start.astimezone(zone).date(), []).append(a)
        columns = [{"title": d, "items": by_day[d], "is_day": True} for d in days]
    step = timedelta(days=7 if view == "week" else 1)
    return {
        "view": view, "day": day, "first": first, "last": first + timedelta(days=ndays - 1),
        "prev": (first - step).isoformat(), "next": (first + step).isoformat(),
        "today": datetime.now(zone).date().isoformat(), "professionals": pros, "chosen": chosen,
        "columns": columns, "can_act": can_act, "range_start": start.isoformat(), "range_end": end.isoformat(),
        "tz": org.timezone,
    }


@login_required
def agenda(request):
    org, can_act = _org(request)
    context = _agenda_context(request, org, can_act)
    template = "scheduling/_agenda_grid.html" if request.GET.get("partial") else "scheduling/agenda.html"
    return render(request, template, context)


def _slots_for(org, request):
    service = Service.objects.filter(organization=org, pk=parse_id(request.GET.get("service"))).first()
    if service is None:
        return None, []
    pro = parse_id(request.GET.get("professional"))
    day = request.GET.get("date")
    start = None
    if day:
        try:
            start = datetime.combine(date.fromisoformat(day), time(0), _zone(org))
        except ValueError:
            start = None
    end = start + timedelta(days=1) if start else None
    exclude = parse_id(request.GET.get("move"))
    return service, services.find_slots(org, service, professional=pro, start=start, end=end, limit=40,
                                        exclude_appointment=exclude)


@login_required
def new_appointment(request):
    org, _can = _org(request, Role.AGENT)
    if request.method == "POST":
        token = request.POST.get("slot", "")
        phone = request.POST.get("phone", "").strip()
        name = request.POST.get("name", "").strip()
        try:
            if not token:
                raise services.SchedulingError(_("Escolha um horário."))
            patient, _created = services.get_or_create_patient(org, phone, name)
            hold = services.hold_slot(org, patient=patient, token=token, channel=Appointment.Channel.STAFF,
                                      actor=request.user)
            appt = services.book(hold, actor=request.user, channel=Appointment.Channel.STAFF)
        except services.SchedulingError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, _("Agendado."))
            return redirect("scheduling:appointment", pk=appt.pk)
    service, slots = _slots_for(org, request)
    return render(request, "scheduling/new.html", {
        "services": Service.objects.filter(organization=org, is_active=True),
        "professionals": Professional.objects.filter(organization=org, is_active=True),
        "service": service, "slots": slots, "q": request.GET, "tz": org.timezone,
        "phone": request.POST.get("phone", request.GET.get("phone", "")),
        "name": request.POST.get("name", ""),
    })


def _appointment(org, pk: int) -> Appointment:
    appt = (Appointment.objects.filter(organization=org, pk=pk)
            .select_related("patient", "service", "professional", "location").first())
    if appt is None:
        raise Http404
    return appt


@login_required
def appointment(request, pk: int):
    org, can_act = _org(request)
    appt = _appointment(org, pk)
    service = slots = None
    if request.GET.get("move") and can_act:
        service, slots = _slots_for(org, request)
    return render(request, "scheduling/appointment.html", {
        "a": appt, "events": appt.events.all(), "can_act": can_act, "slots": slots, "q": request.GET,
        "professionals": Professional.objects.filter(organization=org, is_active=True, services=appt.service),
        "allowed": {t for t in states.TRANSITIONS.get(appt.status, ())}, "tz": org.timezone,
        "open": appt.status in states.OPEN,
    })


@login_required
@require_POST
def appointment_action(request, pk: int, action: str):
    org, _can = _org(request, Role.AGENT)
    appt = _appointment(org, pk)
    try:
        if action in ACTIONS:
            ACTIONS[action][0](appt, actor=request.user, channel=Appointment.Channel.STAFF)
        elif action == "cancel":
            services.cancel(appt, by=request.POST.get("by", states.BY_CLINIC),
                            reason=request.POST.get("reason", "").strip(), actor=request.user,
                            channel=Appointment.Channel.STAFF)
        elif action == "move":
            appt = services.reschedule(appt, token=request.POST.get("slot", ""),
                                       reason=request.POST.get("reason", "").strip(), actor=request.user,
                                       channel=Appointment.Channel.STAFF)
        else:
            raise Http404
    except services.SchedulingError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Agendamento: %(status)s.") % {"status": appt.status_label})
    back = request.POST.get("next", "")
    if back.startswith("/scheduling/") and "//" not in back:
        return redirect(back)
    return redirect("scheduling:appointment", pk=appt.pk)


@login_required
def patients(request):
    org, can_act = _org(request)
    q = request.GET.get("q", "").strip()
    rows = Patient.objects.filter(organization=org)
    if q:
        digits = "".join(ch for ch in q if ch.isdigit())
        cond = Q(name__icontains=q)
        if len(digits) >= 4:
            cond |= Q(phone__contains=digits)
        rows = rows.filter(cond)
    return render(request, "scheduling/patients.html", {"patients": rows[:200], "q": q, "can_act": can_act})


@login_required
def patient(request, pk: int):
    org, can_act = _org(request)
    p = Patient.objects.filter(organization=org, pk=pk).first()
    if p is None:
        raise Http404
    if request.method == "POST":
        if not can_act:
            raise PermissionDenied
        p.notes = request.POST.get("notes", "")[:5000]
        p.save(update_fields=["notes"])
        messages.success(request, _("Observações salvas."))
        return redirect("scheduling:patient", pk=p.pk)
    history = p.appointments.select_related("service", "professional").order_by("-start")[:200]
    return render(request, "scheduling/patient.html", {
        "p": p, "history": history, "can_act": can_act, "tz": org.timezone,
        "new_url": reverse("scheduling:new") + f"?phone={p.phone}",
    })


@login_required
def report(request):
    org, _can = _org(request)
    try:
        days = min(max(int(request.GET.get("days", "30")), 1), 366)
    except ValueError:
        days = 30
    data = reports.summary(org, days=days)
    return render(request, "scheduling/reports.html", {"r": data, "days": days, "chart": data["chart"]})


@csrf_exempt
@require_POST
def google_notify(request):
    """Google Calendar push notification: no session; the channel id and its HMAC token
    (``calendar_sync.channel_token``) identify the calendar, anything else is 404."""
    from . import calendar_sync

    ok = calendar_sync.handle_notification(request.headers.get("X-Goog-Channel-Id", ""),
                                           request.headers.get("X-Goog-Channel-Token", ""),
                                           request.headers.get("X-Goog-Resource-State", ""))
    if not ok:
        raise Http404
    return HttpResponse(status=200)
