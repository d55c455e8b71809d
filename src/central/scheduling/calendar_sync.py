"""Google Calendar sync, optional per professional (``Professional.google_calendar_id``).

Google's own client (``google-api-python-client`` with ``google-auth`` credentials) talks
to ``CENTRAL_GOOGLE_CALENDAR_ENDPOINT`` (default Google's; tests point it at a fake server
that follows the documented shapes, tests/scheduling/fake_calendar.py). Credentials come
from the environment: ``CENTRAL_GOOGLE_CREDENTIALS_FILE`` (a service account key file; the
professional's calendar is shared with the service account, or
``CENTRAL_GOOGLE_SUBJECT`` names a user for domain-wide delegation) or
``CENTRAL_GOOGLE_ACCESS_TOKEN`` (an OAuth access token). Nothing is configured: nothing
happens (every entry point returns at once).

What it does:

* **push** (:func:`push_appointment`, after every transition): an appointment is an event
  with *our own id* (:func:`event_id`, base32hex as the API requires), so a re-send is an
  update, never a duplicate: ``events.update``, and ``events.insert`` with that id when the
  event does not exist yet (404); cancelled / moved / expired appointments are deleted (a
  404 or 410 "already deleted" is success);
* **busy time back** (:func:`sync_professional`): ``events.list`` with the stored sync
  token (incremental: changed and deleted events), a full sync from now when there is no
  token, and a **full resync when the token is refused with HTTP 410** (the stored busy
  rows are dropped and rebuilt). Events that are not ours, not cancelled and not
  "transparent" (free) become :class:`ExternalBusy` rows, which block slots;
  :func:`freebusy` answers ``freeBusy.query`` for a range (a quick check of a calendar
  nobody has synchronised yet);
* **push notifications** (:func:`ensure_channel`): a watch channel on the events of the
  calendar when ``CENTRAL_GOOGLE_WEBHOOK_URL`` is set, renewed (stop + watch) a day before
  it expires; a notification (``/scheduling/google/notify/``, :func:`handle_notification`,
  the channel token checked) only triggers :func:`sync_professional`.

:func:`sync_all` (periodic, ``schedules.py``) renews channels and syncs every professional
with a calendar id.
"""

from __future__ import annotations

import logging
import os
import uuid
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from . import states
from .models import Appointment, CalendarSync, ExternalBusy, Professional

log = logging.getLogger(__name__)

DEFAULT_ENDPOINT = "https://www.googleapis.com/calendar/v3/"  # the API's base URL (root + servicePath)
SCOPES = ["https://www.googleapis.com/auth/calendar"]
#: Prefix of our event ids (base32hex: only 0-9 and a-v).
EVENT_PREFIX = "central"
#: How far ahead a full sync reads.
FULL_SYNC_DAYS = 120
RENEW_BEFORE = timedelta(days=1)
HTTP_TIMEOUT = 10  # seconds per request to the Calendar API
GONE_STATES = (states.CANCELLED, states.RESCHEDULED, states.EXPIRED)


def configured() -> bool:
    return bool(os.environ.get("CENTRAL_GOOGLE_ACCESS_TOKEN") or os.environ.get("CENTRAL_GOOGLE_CREDENTIALS_FILE"))


def _credentials():
    token = os.environ.get("CENTRAL_GOOGLE_ACCESS_TOKEN")
    if token:
        from google.oauth2.credentials import Credentials

        return Credentials(token=token)
    from google.oauth2 import service_account

    creds = service_account.Credentials.from_service_account_file(os.environ["CENTRAL_GOOGLE_CREDENTIALS_FILE"],
                                                                  scopes=SCOPES)
    subject = os.environ.get("CENTRAL_GOOGLE_SUBJECT")
    return creds.with_subject(subject) if subject else creds


def calendar_service():
    """The Calendar v3 client: the discovery document shipped with the package (no network
    call to fetch it), the endpoint from the environment."""
    import google_auth_httplib2
    import httplib2
    from googleapiclient.discovery import build

    endpoint = os.environ.get("CENTRAL_GOOGLE_CALENDAR_ENDPOINT", DEFAULT_ENDPOINT)
    # A bounded timeout: the push runs right after a booking commits, a hung Google
    # connection must not hold that request (httplib2's default is no timeout at all).
    http = google_auth_httplib2.AuthorizedHttp(_credentials(), http=httplib2.Http(timeout=HTTP_TIMEOUT))
    return build("calendar", "v3", http=http, cache_discovery=False, static_discovery=True,
                 client_options={"api_endpoint": endpoint})


def _status(exc) -> int:
    return int(getattr(getattr(exc, "resp", None), "status", 0) or 0)


def event_id(appt: Appointment) -> str:
    """Our id for the appointment's event: stable, unique per installation, base32hex."""
    return f"{EVENT_PREFIX}{appt.organization_id}o{appt.pk}"


def _event_body(appt: Appointment) -> dict:
    tz = appt.organization.timezone or "America/Sao_Paulo"
    first_name = (appt.patient.name or "").split(" ")[0]
    return {
        "id": event_id(appt),
        "summary": f"{appt.service.name} – {first_name}",
        "description": f"Agendamento {appt.pk} ({appt.status_label}) · Central",
        "start": {"dateTime": appt.start.isoformat(), "timeZone": tz},
        "end": {"dateTime": appt.end.isoformat(), "timeZone": tz},
        "extendedProperties": {"private": {"central_appointment": str(appt.pk)}},
    }


def push_appointment(appointment_id: int, service=None) -> str | None:
    """Create, update or delete the appointment's event; returns what was done."""
    from googleapiclient.errors import HttpError

    if not configured() and service is None:
        return None
    appt = (Appointment.objects.select_related("professional", "service", "patient", "organization")
            .filter(pk=appointment_id).first())
    if appt is None or not appt.professional.google_calendar_id or appt.status == states.HELD:
        return None
    svc = service or calendar_service()
    cal = appt.professional.google_calendar_id
    eid = event_id(appt)
    if appt.status in GONE_STATES:
        try:
            svc.events().delete(calendarId=cal, eventId=eid).execute()
        except HttpError as exc:
            if _status(exc) not in (404, 410):  # never created, or already deleted
                raise
        return "deleted"
    body = _event_body(appt)
    try:
        svc.events().update(calendarId=cal, eventId=eid, body=body).execute()
        done = "updated"
    except HttpError as exc:
        if _status(exc) not in (404, 410):
            raise
        svc.events().insert(calendarId=cal, body=body).execute()
        done = "inserted"
    if appt.google_event_id != eid:
        Appointment.objects.filter(pk=appt.pk).update(google_event_id=eid)
    return done


def _aware(value: dict) -> datetime | None:
    if "dateTime" in value:
        return datetime.fromisoformat(value["dateTime"].replace("Z", "+00:00"))
    if "date" in value:  # an all-day event blocks the whole day (UTC midnight of the calendar day)
        return datetime.fromisoformat(value["date"]).replace(tzinfo=UTC)
    return None


def _apply(pro: Professional, items: list[dict]) -> None:
    for ev in items:
        ext = ev.get("id", "")
        if not ext or ext.startswith(EVENT_PREFIX):
            continue  # our own appointments are already busy in the agenda
        if ev.get("status") == "cancelled" or ev.get("transparency") == "transparent":
            ExternalBusy.objects.filter(professional=pro, external_id=ext).delete()
            continue
        start, end = _aware(ev.get("start", {})), _aware(ev.get("end", {}))
        if start is None or end is None or end <= start:
            continue
        ExternalBusy.objects.update_or_create(professional=pro, external_id=ext, defaults={
            "organization_id": pro.organization_id, "start": start, "end": end})


def sync_professional(pro: Professional, service=None, now: datetime | None = None) -> str:
    """Incremental sync of the professional's calendar into ExternalBusy ("incremental",
    "full", or "resync" after a 410)."""
    from googleapiclient.errors import HttpError

    now = now or timezone.now()
    svc = service or calendar_service()
    state, _ = CalendarSync.objects.get_or_create(professional=pro, defaults={"organization_id": pro.organization_id})
    mode = "incremental" if state.sync_token else "full"
    try:
        token = _list_all(svc, pro, state.sync_token, now)
    except HttpError as exc:
        if _status(exc) != 410:
            state.last_error = str(exc)[:300]
            state.save(update_fields=["last_error"])
            raise
        # The sync token is no longer valid: wipe what came from it and start over.
        mode = "resync"
        with transaction.atomic():
            ExternalBusy.objects.filter(professional=pro).delete()
            state.sync_token = ""
            state.save(update_fields=["sync_token"])
        token = _list_all(svc, pro, "", now)
    state.sync_token = token or ""
    state.last_sync_at = now
    state.last_error = ""
    fields = ["sync_token", "last_sync_at", "last_error"]
    if mode != "incremental":
        state.last_full_sync_at = now
        fields.append("last_full_sync_at")
    state.save(update_fields=fields)
    return mode


def _list_all(svc, pro: Professional, sync_token: str, now: datetime) -> str | None:
    """Every page of events.list; the last page carries ``nextSyncToken``."""
    kwargs: dict = {"calendarId": pro.google_calendar_id, "singleEvents": True, "showDeleted": True}
    if sync_token:
        kwargs["syncToken"] = sync_token
    else:
        kwargs["timeMin"] = now.isoformat()
        kwargs["timeMax"] = (now + timedelta(days=FULL_SYNC_DAYS)).isoformat()
    page = None
    while True:
        resp = svc.events().list(pageToken=page, **kwargs).execute()
        with transaction.atomic():
            _apply(pro, resp.get("items", []))
        page = resp.get("nextPageToken")
        if not page:
            return resp.get("nextSyncToken")


def freebusy(pro: Professional, start: datetime, end: datetime, service=None) -> list[tuple[datetime, datetime]]:
    """Busy intervals of the professional's calendar in [start, end) (``freeBusy.query``)."""
    svc = service or calendar_service()
    resp = svc.freebusy().query(body={"timeMin": start.isoformat(), "timeMax": end.isoformat(),
                                      "items": [{"id": pro.google_calendar_id}]}).execute()
    cal = resp.get("calendars", {}).get(pro.google_calendar_id, {})
    return [(datetime.fromisoformat(b["start"].replace("Z", "+00:00")),
             datetime.fromisoformat(b["end"].replace("Z", "+00:00"))) for b in cal.get("busy", [])]


def ensure_channel(pro: Professional, service=None, now: datetime | None = None) -> str | None:
    """Watch the calendar's events (push notifications); renew a day before expiry.
    Returns "created", "renewed" or None (no webhook URL, or the channel is fresh)."""
    address = os.environ.get("CENTRAL_GOOGLE_WEBHOOK_URL", "")
    if not address:
        return None
    now = now or timezone.now()
    svc = service or calendar_service()
    state, _ = CalendarSync.objects.get_or_create(professional=pro, defaults={"organization_id": pro.organization_id})
    if state.channel_id and state.channel_expires_at and state.channel_expires_at - now > RENEW_BEFORE:
        return None
    done = "renewed" if state.channel_id else "created"
    if state.channel_id:
        try:
            svc.channels().stop(body={"id": state.channel_id, "resourceId": state.channel_resource_id}).execute()
        except Exception:  # an expired channel may be gone already; the new one replaces it
            log.info("stopping channel %s failed", state.channel_id, exc_info=True)
    new_id = str(uuid.uuid4())
    channel = svc.events().watch(calendarId=pro.google_calendar_id, body={
        "id": new_id, "type": "web_hook", "address": address, "token": channel_token(new_id)}).execute()
    state.channel_id = channel["id"]
    state.channel_resource_id = channel.get("resourceId", "")
    expiration = channel.get("expiration")
    state.channel_expires_at = (datetime.fromtimestamp(int(expiration) / 1000, UTC) if expiration
                                else now + timedelta(days=7))
    state.save(update_fields=["channel_id", "channel_resource_id", "channel_expires_at"])
    return done


def channel_token(channel_id: str) -> str:
    """The token Google echoes in ``X-Goog-Channel-Token`` with every notification: an HMAC
    of the channel id with the installation's secret, so a forged notification is refused."""
    from django.utils.crypto import salted_hmac

    return salted_hmac("central.scheduling.calendar_channel", channel_id).hexdigest()


def handle_notification(channel_id: str, token: str, resource_state: str) -> bool:
    """A push notification arrived (``/scheduling/google/notify/``): sync that calendar.
    False when the channel is unknown or the token does not match."""
    from django.utils.crypto import constant_time_compare

    if not channel_id or not constant_time_compare(token or "", channel_token(channel_id)):
        return False
    state = CalendarSync.objects.select_related("professional").filter(channel_id=channel_id).first()
    if state is None:
        return False
    if resource_state != "sync":  # "sync" only announces a new channel
        sync_professional(state.professional)
    return True


def sync_all() -> int:
    """Periodic: renew channels and sync every professional with a calendar id."""
    if not configured():
        return 0
    done = 0
    svc = calendar_service()
    for pro in Professional.objects.exclude(google_calendar_id="").filter(is_active=True):
        try:
            ensure_channel(pro, svc)
            sync_professional(pro, svc)
            done += 1
        except Exception:  # one calendar failing must not stop the others
            log.exception("calendar sync of professional %s failed", pro.pk)
    return done
