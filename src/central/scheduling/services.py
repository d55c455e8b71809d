"""The agenda's service functions: what the staff pages, the REST API, the reminders and
the WhatsApp assistant call. Nothing else writes the agenda's tables.

The assistant's API, in one list (all take the organization first; errors are
:class:`SchedulingError` subclasses whose ``str()`` is pt-BR text fit for the patient):

* :func:`find_patient`, :func:`get_or_create_patient` — a patient by WhatsApp number;
* :func:`find_slots` — open slots (each with an opaque, signed :attr:`OpenSlot.token`);
* :func:`hold_slot` — keep a slot for ``ClinicSettings.hold_minutes`` (by token or by fields);
* :func:`book` — the held slot becomes a booking (after the patient pressed "confirm");
* :func:`confirm`, :func:`cancel`, :func:`reschedule` — the patient's changes;
* :func:`upcoming_for_patient`, :func:`clinic_info`;
* :func:`reply_to_reminder` — the buttons of a reminder (Confirmar / Remarcar / Cancelar);
* :func:`join_waitlist`, :func:`accept_offer` — see :mod:`central.scheduling.waitlist`.

No double booking: :func:`hold_slot` runs in one transaction that re-checks the overlap
before inserting. On SQLite the transaction starts with ``BEGIN IMMEDIATE`` (settings:
``transaction_mode``), so writers are serialised and the re-check is decisive; on
PostgreSQL two transactions may pass the re-check together, and the exclusion constraint
(migration 0002) rejects the second insert, which becomes :class:`SlotUnavailable`.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.core import signing
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from central.core.holidays import holidays_between
from central.core.live import publish_org_event
from central.core.phones import InvalidPhone, normalize
from central.core.refusals import Refusal

from . import states
from .availability import Busy, Change, Policy, ServiceSpec, Slot, WeeklyRule, iter_slots
from .models import (
    Appointment,
    AppointmentEvent,
    ClinicSettings,
    ExternalBusy,
    Location,
    Patient,
    Professional,
    ScheduleException,
    Service,
    WeeklySchedule,
)

log = logging.getLogger(__name__)

#: The channel-layer payload type of an agenda change (dashboard/agenda.js listens for it).
LIVE_EVENT = "scheduling.appointment"
_TOKEN_SALT = "central.scheduling.slot"
#: Longest block (appointment plus buffers) the agenda accepts; availability reads rely on it.
MAX_BLOCK = timedelta(days=1)
_WINDOW_DAYS = 7


class SchedulingError(Refusal):
    """A refusal with a pt-BR message for the person (patient or staff) who asked."""

    code = "scheduling_error"
    status = 400


class SlotUnavailable(SchedulingError):
    status = 409
    code = "slot_unavailable"


class HoldExpired(SchedulingError):
    status = 409
    code = "hold_expired"


class InvalidTransition(SchedulingError):
    status = 409
    code = "invalid_transition"


# --- settings -------------------------------------------------------------------------------


def settings_for(org) -> ClinicSettings:
    cs = ClinicSettings.objects.filter(organization=org).first()
    if cs is None:
        try:
            with transaction.atomic():
                cs = ClinicSettings.objects.create(organization=org,
                                                   reminder_offsets=list(ClinicSettings.DEFAULT_REMINDERS))
        except IntegrityError:
            cs = ClinicSettings.objects.get(organization=org)
    return cs


def policy_for(org, cs: ClinicSettings | None = None) -> Policy:
    cs = cs or settings_for(org)
    return Policy(
        tz=org.timezone or "America/Sao_Paulo",
        min_notice=timedelta(minutes=cs.min_notice_minutes),
        max_days_ahead=cs.max_days_ahead,
        step=timedelta(minutes=cs.slot_step_minutes or 15),
        per_day_limit=cs.per_day_limit,
    )


def spec_for(service: Service) -> ServiceSpec:
    return ServiceSpec(service.duration, service.before, service.after)


# --- patients -------------------------------------------------------------------------------


def normalize_phone(raw: str) -> str:
    """E.164 of a Brazilian (or international) number; :class:`SchedulingError` otherwise."""
    try:
        return normalize(raw).e164
    except InvalidPhone as exc:
        raise SchedulingError(_("Telefone inválido: %(motivo)s.") % {"motivo": exc.reason}) from exc


def find_patient(org, phone: str) -> Patient | None:
    return Patient.objects.filter(organization=org, phone=normalize_phone(phone)).first()


def get_or_create_patient(org, phone: str, name: str = "", birth_date: date | None = None) -> tuple[Patient, bool]:
    e164 = normalize_phone(phone)
    patient = Patient.objects.filter(organization=org, phone=e164).first()
    if patient is not None:
        return patient, False
    try:
        with transaction.atomic():
            return Patient.objects.create(organization=org, phone=e164, name=name.strip() or e164,
                                          birth_date=birth_date), True
    except IntegrityError:  # the same number written twice at once
        return Patient.objects.get(organization=org, phone=e164), False


def upcoming_for_patient(org, patient: Patient, now: datetime | None = None):
    now = now or timezone.now()
    return (Appointment.objects.filter(organization=org, patient=patient, start__gte=now,
                                       status__in=states.OPEN)
            .select_related("professional", "service", "location").order_by("start"))


def appointments_for_number(organization_id: int, e164: str, *, limit: int = 50) -> list[dict]:
    """The appointments of the patient with this E.164 number, newest first (read-only).

    For the messaging app's person view ("one person across channels"): other apps read
    the agenda through this function and never query the scheduling tables.
    """
    rows = (Appointment.objects.filter(organization_id=organization_id, patient__phone=e164)
            .select_related("professional", "service").order_by("-start", "-id")[:limit])
    return [{"id": a.pk, "start": a.start, "end": a.end, "status": a.status,
             "status_label": str(states.LABELS.get(a.status, a.status)), "professional": a.professional.name,
             "service": a.service.name, "channel": a.channel} for a in rows]


# --- availability ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenSlot:
    """A slot as the assistant and the API see it: ``token`` is opaque and signed."""

    token: str
    start: datetime
    end: datetime
    professional_id: int
    professional: str
    location_id: int | None
    service_id: int


def slot_token(org, service_id: int, slot: Slot) -> str:
    return signing.dumps([org.pk, service_id, slot.professional_id, slot.start.isoformat(),
                          slot.location_id], salt=_TOKEN_SALT, compress=True)


def parse_slot_token(org, token: str) -> tuple[int, int, datetime, int | None]:
    """(service id, professional id, start, location id) of a token this organization issued."""
    try:
        org_id, service_id, pro_id, start, loc_id = signing.loads(token, salt=_TOKEN_SALT,
                                                                   max_age=7 * 24 * 3600)
    except (signing.BadSignature, ValueError, TypeError) as exc:
        raise SlotUnavailable(_("Horário inválido ou expirado; consulte os horários de novo.")) from exc
    if org_id != org.pk:
        raise SlotUnavailable(_("Horário inválido ou expirado; consulte os horários de novo."))
    return int(service_id), int(pro_id), datetime.fromisoformat(start), loc_id


#: Process-local cache of what availability reads on every question but rarely changes: the
#: clinic's settings, which professionals offer a service, their weekly rules. Keyed by
#: (org id, version, what); the version lives in Django's cache (Redis in production, shared
#: by every process) and is replaced by a new random token whenever one of those rows
#: changes (``signals.py``: WeeklySchedule, ScheduleException, ClinicSettings, Professional,
#: Service and its professionals), so a stale copy is never used. A token, not a counter: a counter restarts
#: at 1 after the cache is cleared and could meet an old entry again. One cache read per
#: ``find_slots`` instead of four queries (each a round trip to PostgreSQL).
#: ``QuerySet.update()`` sends no signal: change these rows with ``save()`` (forms, API, admin).
_MEMO: dict[tuple, object] = {}
_MEMO_MAX = 512


def _config_version_key(org_id: int) -> str:
    return f"scheduling:config:{org_id}"


def bump_config_version(org_id: int) -> None:
    from django.core.cache import cache

    cache.set(_config_version_key(org_id), uuid.uuid4().hex, None)


def _config_version(org) -> str:
    from django.core.cache import cache

    key = _config_version_key(org.pk)
    version = cache.get(key)
    if version is None:
        cache.add(key, uuid.uuid4().hex, None)
        version = cache.get(key)
    return version


def _memo(org, version: str | None, what, load):
    if version is None:
        version = _config_version(org)
    key = (org.pk, version, what)
    try:
        return _MEMO[key]
    except KeyError:
        pass
    found = load()
    if len(_MEMO) >= _MEMO_MAX:
        _MEMO.clear()
    _MEMO[key] = found
    return found


def _rules(org, pro_ids: list[int], version: str | None = None) -> list[WeeklyRule]:
    pro_ids = sorted(pro_ids)
    return _memo(org, version, ("rules", tuple(pro_ids)), lambda: [
        WeeklyRule(p, wd, a, b, loc, vf, vu) for p, wd, a, b, loc, vf, vu in
        WeeklySchedule.objects.filter(organization=org, professional_id__in=pro_ids).order_by().values_list(
            "professional_id", "weekday", "start_time", "end_time", "location_id", "valid_from", "valid_until")])


# The two reads below run for every availability question (several times for one "next 10
# slots"), so they are plain SQL: compiling the equivalent querysets cost more than the
# database's answer (half of find_slots' time in bench/scheduling_availability.py), and the
# appointments and the external busy time come back in one round trip. Table and column
# names come from the models; values are always parameters.


def _q(name: str) -> str:
    return connection.ops.quote_name(name)


def _db_dt(value: datetime):
    return connection.ops.adapt_datetimefield_value(value)


def _utc(value) -> datetime:
    """A datetime column as the driver returns it (SQLite: text in UTC; PostgreSQL: aware;
    MySQL: naive UTC) as an aware UTC datetime, without Django's per-value converters."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _marks(values) -> str:
    return ", ".join(["%s"] * len(values))


_FAR = datetime(9999, 1, 1, tzinfo=UTC)


def _changes(org, pro_ids: list[int] | None, start: datetime, end: datetime) -> list[Change]:
    """Exceptions of these professionals (``None``: all) and the clinic's own that touch
    [start, end)."""
    t = ScheduleException._meta.db_table
    sql = (f"SELECT {_q('kind')}, {_q('start')}, {_q('end')}, {_q('professional_id')}, {_q('location_id')} "
           f"FROM {_q(t)} WHERE {_q('organization_id')} = %s AND {_q('start')} < %s AND {_q('end')} > %s")
    params = [org.pk, _db_dt(end), _db_dt(start)]
    if pro_ids is not None:
        sql += f" AND ({_q('professional_id')} IS NULL OR {_q('professional_id')} IN ({_marks(pro_ids)}))"
        params += pro_ids
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return [Change(k, _utc(s), _utc(e), p, loc) for k, s, e, p, loc in cur.fetchall()]


def _changes_from(org, version: str, pro_ids: list[int], start: datetime, end: datetime) -> list[Change]:
    """:func:`_changes` for availability, from the per-version cache: every exception of the
    organization that ends after the first moment asked is read once per config version
    (exceptions are few and change seldom; a save bumps the version). An older moment than
    the cached copy covers (a question about the past) reads the database."""
    since, rows = _memo(org, version, "changes", lambda: (start, _changes(org, None, start, _FAR)))
    if start < since:
        return _changes(org, pro_ids, start, end)
    wanted = set(pro_ids)
    return [c for c in rows if c.start < end and c.end > start
            and (c.professional_id is None or c.professional_id in wanted)]


def _busy(org, pro_ids: list[int], start: datetime, end: datetime, spec: ServiceSpec, now: datetime,
          exclude: int | None = None) -> list[Busy]:
    """Busy blocks that can touch a slot starting in [start, end): bookings and live holds
    (an expired hold no longer blocks), and external calendar busy time, in one query."""
    lo, hi = start - spec.before - timedelta(minutes=1), end + spec.duration + spec.after + timedelta(minutes=1)
    a, x = Appointment._meta.db_table, ExternalBusy._meta.db_table
    active = sorted(states.ACTIVE)
    # The lower bound on block_start (blocks are shorter than MAX_BLOCK) lets the database
    # seek the (organization, block_start) index instead of reading the tenant's whole agenda.
    sql = (f"SELECT {_q('professional_id')}, {_q('block_start')}, {_q('block_end')}, 1 FROM {_q(a)} "
           f"WHERE {_q('organization_id')} = %s AND {_q('professional_id')} IN ({_marks(pro_ids)}) "
           f"AND {_q('status')} IN ({_marks(active)}) "
           f"AND {_q('block_start')} > %s AND {_q('block_start')} < %s AND {_q('block_end')} > %s "
           # an expired hold no longer blocks
           f"AND NOT ({_q('status')} = %s AND {_q('hold_expires_at')} IS NOT NULL AND {_q('hold_expires_at')} <= %s)")
    params = [org.pk, *pro_ids, *active, _db_dt(lo - MAX_BLOCK), _db_dt(hi), _db_dt(lo), states.HELD, _db_dt(now)]
    if exclude is not None:
        sql += f" AND {_q('id')} <> %s"
        params.append(exclude)
    sql += (f" UNION ALL SELECT {_q('professional_id')}, {_q('start')}, {_q('end')}, 0 FROM {_q(x)} "
            f"WHERE {_q('organization_id')} = %s AND {_q('professional_id')} IN ({_marks(pro_ids)}) "
            f"AND {_q('start')} < %s AND {_q('end')} > %s")
    params += [org.pk, *pro_ids, _db_dt(hi), _db_dt(lo)]
    with connection.cursor() as cur:
        cur.execute(sql, params)
        return [Busy(p, _utc(s), _utc(e), bool(counts)) for p, s, e, counts in cur.fetchall()]


def _closed(org, cs: ClinicSettings, start: datetime, end: datetime) -> set[date]:
    z = ZoneInfo(org.timezone or "America/Sao_Paulo")
    return set(holidays_between(start.astimezone(z).date(), end.astimezone(z).date(), cs.state, cs.city))


def professionals_for(org, service: Service, professional: Professional | int | None = None) -> dict[int, str]:
    """The active professionals who offer ``service`` (or just ``professional``): id -> name."""
    qs = service.professionals.filter(organization=org, is_active=True)
    if professional is not None:
        qs = qs.filter(pk=professional if isinstance(professional, int) else professional.pk)
    return dict(qs.values_list("id", "name"))


def find_slots(org, service: Service, *, professional: Professional | int | None = None,
               start: datetime | None = None, end: datetime | None = None, limit: int | None = 10,
               now: datetime | None = None, exclude_appointment: int | None = None) -> list[OpenSlot]:
    """Open slots for ``service`` (any professional offering it, or one), soonest first.

    Reads bookings in windows of whole local days that grow (the rest of the first day and
    the next, then 2, 4 and 7 days) and stops at ``limit``: "the next 10 free slots" reads
    one or two days of rows in one query, not the whole horizon. Only the slots returned get a signed token.
    """
    now = now or timezone.now()
    version = _config_version(org)
    cs = _memo(org, version, "settings", lambda: settings_for(org))
    policy = policy_for(org, cs)
    pro_key = professional if professional is None or isinstance(professional, int) else professional.pk
    names = _memo(org, version, ("professionals", service.pk, pro_key),
                  lambda: professionals_for(org, service, professional))
    pro_ids = sorted(names)
    if not pro_ids:
        return []
    spec = spec_for(service)
    zone = ZoneInfo(policy.tz)
    horizon = now + timedelta(days=policy.max_days_ahead + 1)
    window_start = max(start or now, now)
    stop = min(end, horizon) if end else horizon
    if window_start >= stop:
        return []
    rules = _rules(org, pro_ids, version)
    changes = _changes_from(org, version, pro_ids, window_start - timedelta(days=1), stop + timedelta(days=1))
    closed = _closed(org, cs, window_start, stop)
    found: list[Slot] = []
    spans = iter((2, 2, 4))  # the first window: the rest of today and tomorrow (one round trip, mostly)
    while window_start < stop and (limit is None or len(found) < limit):
        local_day = window_start.astimezone(zone).date()
        window_end = min(datetime.combine(local_day + timedelta(days=next(spans, _WINDOW_DAYS)), time(0), zone),
                         stop)
        # From the local day's start: the per-day limit counts the whole day's bookings.
        busy = _busy(org, pro_ids, datetime.combine(local_day, time(0), zone), window_end, spec, now,
                     exclude_appointment)
        for day in iter_slots(spec, pro_ids, rules, changes, busy, policy, now, window_start, window_end, closed,
                              per_day=None if limit is None else limit - len(found)):
            found.extend(day)
            if limit is not None and len(found) >= limit:
                break
        window_start = window_end
    if limit is not None:
        found = found[:limit]
    return [OpenSlot(slot_token(org, service.pk, s), s.start, s.end, s.professional_id,
                     names.get(s.professional_id, ""), s.location_id, service.pk) for s in found]


def _slot_is_open(org, service: Service, pro_id: int, start: datetime, now: datetime,
                  exclude: int | None = None) -> Slot | None:
    cs = settings_for(org)
    policy = policy_for(org, cs)
    spec = spec_for(service)
    zone = ZoneInfo(policy.tz)
    local_day = start.astimezone(zone).date()
    day_start = datetime.combine(local_day, time(0), zone)
    day_end = datetime.combine(local_day + timedelta(days=1), time(0), zone)
    busy = _busy(org, [pro_id], day_start, day_end, spec, now, exclude)  # the whole day: per-day limit
    changes = _changes(org, [pro_id], day_start - timedelta(days=1), day_end + timedelta(days=1))
    for day in iter_slots(spec, [pro_id], _rules(org, [pro_id]), changes, busy, policy, now,
                          start, start + timedelta(microseconds=1), _closed(org, cs, day_start, day_end)):
        for s in day:
            if s.start == start:
                return s
    return None


# --- transitions ----------------------------------------------------------------------------


def _actor_label(actor, actor_label: str) -> str:
    if actor_label:
        return actor_label
    return getattr(actor, "username", "") or ""


def _publish(appt: Appointment) -> None:
    payload = {
        "type": LIVE_EVENT, "id": appt.pk, "status": appt.status, "status_label": appt.status_label,
        "professional": appt.professional_id, "start": appt.start.isoformat(), "end": appt.end.isoformat(),
    }
    org_id = appt.organization_id
    transaction.on_commit(lambda: publish_org_event(org_id, payload))


def _after_commit_hooks(appt: Appointment, old_status: str) -> None:
    """Live update always; a freed slot goes to the waitlist; calendar sync when set up."""
    _publish(appt)
    freed = old_status in states.OPEN and appt.status in (states.CANCELLED, states.RESCHEDULED)
    appt_id = appt.pk
    if freed:
        def offer():
            from .waitlist import offer_freed_slot

            try:
                offer_freed_slot(appt_id)
            except Exception:  # the cancellation stands even if the offer fails
                log.exception("waitlist offer for appointment %s failed", appt_id)

        transaction.on_commit(offer)
    if appt.status != states.HELD and old_status != appt.status:
        def sync():
            from .calendar_sync import push_appointment

            try:
                push_appointment(appt_id)
            except Exception:
                log.exception("calendar sync of appointment %s failed", appt_id)

        transaction.on_commit(sync)


def transition(appt: Appointment, target: str, *, actor=None, actor_label: str = "", channel: str = "",
               reason: str = "", cancelled_by: str = "", now: datetime | None = None) -> Appointment:
    """Move ``appt`` to ``target`` if the state machine allows it, audited; else
    :class:`InvalidTransition` naming both states."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Appointment.objects.select_for_update().get(pk=appt.pk)
        try:
            states.check(locked.status, target, reason=reason, cancelled_by=cancelled_by)
        except states.TransitionError as exc:
            raise InvalidTransition(str(exc)) from exc
        if target == states.BOOKED and locked.hold_expires_at and locked.hold_expires_at <= now:
            raise HoldExpired(_("A reserva deste horário expirou; escolha o horário de novo."))
        old = locked.status
        locked.status = target
        fields = ["status", "updated_at"]
        if target == states.BOOKED:
            locked.hold_expires_at = None
            fields.append("hold_expires_at")
        if target == states.CANCELLED:
            locked.cancelled_by = cancelled_by or states.BY_PATIENT
            locked.cancel_reason = reason[:300]
            fields += ["cancelled_by", "cancel_reason"]
        locked.save(update_fields=fields)
        AppointmentEvent.objects.create(
            organization_id=locked.organization_id, appointment=locked, from_status=old, to_status=target,
            at=now, actor=actor if getattr(actor, "is_authenticated", False) else None,
            actor_label=_actor_label(actor, actor_label)[:120], channel=channel or locked.channel,
            reason=reason[:300])
        _after_commit_hooks(locked, old)
    appt.refresh_from_db()
    return appt


def _expire_overlapping_holds(org_id: int, pro_id: int, bs: datetime, be: datetime, now: datetime) -> None:
    stale = Appointment.objects.filter(organization_id=org_id, professional_id=pro_id, status=states.HELD,
                                       hold_expires_at__lte=now, block_start__lt=be, block_end__gt=bs)
    for appt in stale:
        transition(appt, states.EXPIRED, actor_label="sistema", channel=Appointment.Channel.SYSTEM,
                   reason="reserva expirada", now=now)


def hold_slot(org, *, patient: Patient, service: Service | None = None,
              professional: Professional | int | None = None, start: datetime | None = None,
              token: str = "", location: Location | int | None = None, channel: str = Appointment.Channel.STAFF,
              actor=None, actor_label: str = "", now: datetime | None = None, check_schedule: bool = True,
              hold_minutes: int | None = None, exclude: int | None = None) -> Appointment:
    """Keep a slot for the patient for a few minutes (state ``held``), or
    :class:`SlotUnavailable`. Give either ``token`` (from :func:`find_slots`) or
    ``service`` + ``professional`` + ``start``."""
    now = now or timezone.now()
    if token:
        service_id, pro_id, start, loc_id = parse_slot_token(org, token)
        service = Service.objects.filter(organization=org, pk=service_id).first()
        location = loc_id
    else:
        pro_id = professional if isinstance(professional, int) else getattr(professional, "pk", None)
    if service is None or service.organization_id != org.pk or pro_id is None or start is None:
        raise SlotUnavailable(_("Horário inválido ou expirado; consulte os horários de novo."))
    if patient.organization_id != org.pk:
        raise SchedulingError(_("Paciente não encontrado."))
    if not Professional.objects.filter(organization=org, pk=pro_id, is_active=True).exists():
        raise SlotUnavailable(_("Profissional não encontrado."))
    loc_id = location if isinstance(location, int) or location is None else location.pk
    cs = settings_for(org)
    minutes = hold_minutes if hold_minutes is not None else cs.hold_minutes
    end = start + service.duration
    bs, be = start - service.before, end + service.after
    if be - bs > MAX_BLOCK:
        raise SchedulingError(_("Serviço longo demais: duração e intervalos somam mais de 24 horas."))
    taken = _("Este horário acabou de ser ocupado; escolha outro.")
    try:
        with transaction.atomic():
            _expire_overlapping_holds(org.pk, pro_id, bs, be, now)
            if check_schedule:
                slot = _slot_is_open(org, service, pro_id, start, now, exclude)
                if slot is None:
                    raise SlotUnavailable(taken)
                loc_id = loc_id or slot.location_id
            overlap = Appointment.objects.filter(professional_id=pro_id, status__in=states.ACTIVE,
                                                 block_start__lt=be, block_end__gt=bs)
            if exclude is not None:
                overlap = overlap.exclude(pk=exclude)
            if overlap.exists():
                raise SlotUnavailable(taken)
            appt = Appointment.objects.create(
                organization=org, professional_id=pro_id, service=service, location_id=loc_id, patient=patient,
                start=start, end=end, block_start=bs, block_end=be, status=states.HELD, channel=channel,
                hold_expires_at=now + timedelta(minutes=minutes), created_at=now)
            AppointmentEvent.objects.create(
                organization=org, appointment=appt, from_status="", to_status=states.HELD, at=now,
                actor=actor if getattr(actor, "is_authenticated", False) else None,
                actor_label=_actor_label(actor, actor_label)[:120], channel=channel)
            _publish(appt)
    except IntegrityError as exc:  # PostgreSQL: the exclusion constraint said no
        raise SlotUnavailable(taken) from exc
    return appt


def book(appt: Appointment, *, actor=None, actor_label: str = "", channel: str = "",
         now: datetime | None = None) -> Appointment:
    """The held slot becomes a booking (pending confirmation)."""
    return transition(appt, states.BOOKED, actor=actor, actor_label=actor_label, channel=channel, now=now)


def confirm(appt, **kw) -> Appointment:
    return transition(appt, states.CONFIRMED, **kw)


def check_in(appt, **kw) -> Appointment:
    return transition(appt, states.CHECKED_IN, **kw)


def complete(appt, **kw) -> Appointment:
    return transition(appt, states.COMPLETED, **kw)


def mark_no_show(appt, **kw) -> Appointment:
    return transition(appt, states.NO_SHOW, **kw)


def cancel(appt: Appointment, *, by: str, reason: str, **kw) -> Appointment:
    """Cancel (by ``states.BY_PATIENT`` or ``states.BY_CLINIC``, with a reason); a held
    slot is simply released."""
    return transition(appt, states.CANCELLED, cancelled_by=by, reason=reason, **kw)


def reschedule(appt: Appointment, *, start: datetime | None = None, professional: Professional | int | None = None,
               token: str = "", actor=None, actor_label: str = "", channel: str = "", reason: str = "",
               now: datetime | None = None, check_schedule: bool = True) -> Appointment:
    """Move a booking: one transaction holds and books the new slot and marks the old one
    ``rescheduled`` (linked both ways), or nothing changes."""
    now = now or timezone.now()
    org = appt.organization
    if appt.status not in states.OPEN:
        try:
            states.check(appt.status, states.RESCHEDULED)
        except states.TransitionError as exc:
            raise InvalidTransition(str(exc)) from exc
    with transaction.atomic():
        # The old booking leaves the agenda first: on PostgreSQL the exclusion constraint
        # would otherwise refuse a new slot overlapping the old one (moving by 15 minutes).
        transition(appt, states.RESCHEDULED, actor=actor, actor_label=actor_label, channel=channel,
                   reason=reason, now=now)
        if token:
            new = hold_slot(org, patient=appt.patient, token=token, channel=channel or appt.channel, actor=actor,
                            actor_label=actor_label, now=now, check_schedule=check_schedule, exclude=appt.pk)
        else:
            new = hold_slot(org, patient=appt.patient, service=appt.service,
                            professional=professional or appt.professional_id, start=start, location=appt.location_id,
                            channel=channel or appt.channel, actor=actor, actor_label=actor_label, now=now,
                            check_schedule=check_schedule, exclude=appt.pk)
        new.rescheduled_from = appt
        new.save(update_fields=["rescheduled_from"])
        transition(new, states.BOOKED, actor=actor, actor_label=actor_label, channel=channel, now=now)
    return new


def expire_holds(now: datetime | None = None) -> int:
    """Periodic job: holds past their expiry become ``expired`` (safe on two workers: the
    transition locks the row and refuses an already-expired hold)."""
    now = now or timezone.now()
    done = 0
    for appt in Appointment.objects.filter(status=states.HELD, hold_expires_at__lte=now).order_by("id")[:1000]:
        try:
            transition(appt, states.EXPIRED, actor_label="sistema", channel=Appointment.Channel.SYSTEM,
                       reason="reserva expirada", now=now)
            done += 1
        except InvalidTransition:
            continue  # another worker got there first
    return done


# --- what the assistant tells patients -------------------------------------------------------


def clinic_info(org) -> dict:
    """Facts the assistant may repeat (it never invents prices, times or addresses)."""
    cs = settings_for(org)
    return {
        "name": org.name,
        "timezone": org.timezone,
        "locations": [{"id": loc.pk, "name": loc.name, "address": loc.address, "phone": loc.phone,
                       "directions": loc.directions}
                      for loc in Location.objects.filter(organization=org, is_active=True)],
        "services": [{"id": s.pk, "name": s.name, "duration_minutes": s.duration_minutes,
                      "price": None if s.price is None else str(s.price), "instructions": s.instructions,
                      "professionals": list(s.professionals.filter(is_active=True).values_list("id", flat=True))}
                     for s in Service.objects.filter(organization=org, is_active=True).prefetch_related("professionals")],
        "professionals": [{"id": p.pk, "name": p.name, "specialty": p.specialty}
                          for p in Professional.objects.filter(organization=org, is_active=True)],
        "emergency": cs.emergency_text,
        "ask_birth_date": cs.ask_birth_date,
    }


REPLY_CONFIRM = "confirmar"
REPLY_RESCHEDULE = "remarcar"
REPLY_CANCEL = "cancelar"
REPLIES = (REPLY_CONFIRM, REPLY_RESCHEDULE, REPLY_CANCEL)


def reply_to_reminder(org, appointment_id: int, action: str, *, channel: str = Appointment.Channel.WHATSAPP,
                      now: datetime | None = None) -> dict:
    """A patient pressed a reminder's button: drive the state machine.

    ``action`` is one of :data:`REPLIES` (the buttons' ids, see ``reminders``). Answers
    ``{"ok", "status", "message"}``; for "remarcar" also ``"slots"`` (the next open slots of
    the same service and professional) for the assistant to offer.
    """
    appt = (Appointment.objects.filter(organization=org, pk=appointment_id)
            .select_related("service", "professional", "patient").first())
    if appt is None:
        raise SchedulingError(_("Agendamento não encontrado."))
    action = (action or "").strip().lower()
    from .models import ReminderSend

    ReminderSend.objects.filter(appointment=appt, replied="").update(replied=action[:12])
    if action == REPLY_CONFIRM:
        if appt.status == states.CONFIRMED:
            return {"ok": True, "status": appt.status, "message": _("Sua consulta já está confirmada.")}
        confirm(appt, actor_label="paciente", channel=channel, now=now)
        return {"ok": True, "status": appt.status, "message": _("Consulta confirmada. Até lá!")}
    if action == REPLY_CANCEL:
        cancel(appt, by=states.BY_PATIENT, reason=_("cancelado pelo paciente no lembrete"),
               actor_label="paciente", channel=channel, now=now)
        return {"ok": True, "status": appt.status, "message": _("Consulta cancelada.")}
    if action == REPLY_RESCHEDULE:
        if appt.status not in states.OPEN:
            raise InvalidTransition(_("Não é possível remarcar um agendamento “%(atual)s”.")
                                    % {"atual": appt.status_label})
        slots = find_slots(org, appt.service, professional=appt.professional_id, limit=5, now=now,
                           exclude_appointment=appt.pk)
        return {"ok": True, "status": appt.status, "slots": slots,
                "message": _("Escolha um novo horário.") if slots else _("Não há horários livres; vamos chamar a recepção.")}
    raise SchedulingError(_("Resposta não reconhecida."))


_DAY_NAMES = ("seg", "ter", "qua", "qui", "sex", "sáb", "dom")


def opening_hours(org) -> list[str]:
    """The clinic's opening hours as text lines ("seg a sex: 08:00–12:00, 13:00–18:00"), from
    the professionals' weekly schedules (the union per weekday; read-only, for the assistant)."""
    spans: dict[int, list[tuple]] = {}
    for wd, start, end in (WeeklySchedule.objects.filter(organization=org, professional__is_active=True)
                           .values_list("weekday", "start_time", "end_time")):
        spans.setdefault(wd, []).append((start, end))
    merged: dict[int, str] = {}
    for wd, items in spans.items():
        items.sort()
        out: list[list] = []
        for s, e in items:
            if out and s <= out[-1][1]:
                out[-1][1] = max(out[-1][1], e)
            else:
                out.append([s, e])
        merged[wd] = ", ".join(f"{s:%H:%M}–{e:%H:%M}" for s, e in out)
    lines: list[str] = []
    wd = 0
    while wd < 7:
        if wd not in merged:
            wd += 1
            continue
        last = wd
        while last + 1 < 7 and merged.get(last + 1) == merged[wd]:
            last += 1
        days = _DAY_NAMES[wd] if last == wd else _("%(de)s a %(ate)s") % {"de": _DAY_NAMES[wd], "ate": _DAY_NAMES[last]}
        lines.append(f"{days}: {merged[wd]}")
        wd = last + 1
    return lines


def service_for(org, service_id: int) -> Service | None:
    """The organization's active service with this id (None for another tenant's or none)."""
    return Service.objects.filter(organization=org, pk=service_id, is_active=True).first()


def appointment_for(org, appointment_id: int) -> Appointment | None:
    """The organization's appointment with this id (any state), for the assistant's hold."""
    return (Appointment.objects.filter(organization=org, pk=appointment_id)
            .select_related("service", "professional", "patient").first())
