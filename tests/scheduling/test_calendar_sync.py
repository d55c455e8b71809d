"""Google Calendar sync through Google's Python client against a FAKE Calendar API server
(tests/scheduling/fake_calendar.py, documented shapes and error codes; no network)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from central.scheduling import calendar_sync, services, states
from central.scheduling.models import CalendarSync, ExternalBusy

from .conftest import FRIDAY_NOW, MONDAY_9
from .fake_calendar import FakeCalendar

pytestmark = pytest.mark.django_db
CAL = "ana@clinica.example"


@pytest.fixture(scope="module")
def fake():
    server = FakeCalendar().start()
    yield server
    server.stop()


@pytest.fixture
def google(fake, monkeypatch, clinic):
    monkeypatch.setenv("CENTRAL_GOOGLE_CALENDAR_ENDPOINT", fake.url)
    monkeypatch.setenv("CENTRAL_GOOGLE_ACCESS_TOKEN", "fake-token")
    monkeypatch.setenv("CENTRAL_GOOGLE_WEBHOOK_URL", "https://central.example/scheduling/google/notify/")
    clinic.ana.google_calendar_id = CAL
    clinic.ana.save()
    fake.events.pop(CAL, None)
    return clinic


def test_push_create_update_cancel_idempotent(google, fake):
    clinic = google
    appt = services.book(services.hold_slot(clinic.org, patient=clinic.patient, service=clinic.service,
                                            professional=clinic.ana, start=MONDAY_9, now=FRIDAY_NOW), now=FRIDAY_NOW)
    eid = calendar_sync.event_id(appt)
    assert calendar_sync.push_appointment(appt.pk) == "inserted"
    assert calendar_sync.push_appointment(appt.pk) == "updated"  # a re-send never duplicates
    assert list(fake.live(CAL)) == [eid]
    event = fake.live(CAL)[eid]
    assert event["start"]["dateTime"] == MONDAY_9.isoformat() and "Paula" in event["summary"]
    appt.refresh_from_db()
    assert appt.google_event_id == eid
    new = services.reschedule(appt, start=MONDAY_9 + timedelta(hours=1), now=FRIDAY_NOW)
    assert calendar_sync.push_appointment(appt.pk) == "deleted"
    assert calendar_sync.push_appointment(appt.pk) == "deleted"  # 410 "already deleted" is success
    assert calendar_sync.push_appointment(new.pk) == "inserted"
    services.cancel(new, by=states.BY_CLINIC, reason="férias", now=FRIDAY_NOW)
    calendar_sync.push_appointment(new.pk)
    assert fake.live(CAL) == {}


def test_personal_event_blocks_slots_and_410_resyncs(google, fake):
    clinic = google
    now = timezone.now()
    start = (now + timedelta(days=3)).replace(microsecond=0)
    personal = fake.add_personal_event(CAL, start.isoformat(), (start + timedelta(hours=2)).isoformat())
    fake.add_personal_event(CAL, (start + timedelta(hours=3)).isoformat(), (start + timedelta(hours=4)).isoformat(),
                            transparent=True)  # "free" time blocks nothing
    assert calendar_sync.sync_professional(clinic.ana) == "full"
    busy = list(ExternalBusy.objects.filter(professional=clinic.ana).values_list("external_id", "start", "end"))
    assert busy == [(personal, start, start + timedelta(hours=2))]
    slots = services.find_slots(clinic.org, clinic.service, professional=clinic.ana, start=start - timedelta(hours=1),
                                end=start + timedelta(hours=3), limit=None)
    assert all(not (s.start < start + timedelta(hours=2) and s.end > start) for s in slots)
    assert calendar_sync.freebusy(clinic.ana, start - timedelta(days=1), start + timedelta(days=1)) == [
        (start, start + timedelta(hours=2))]

    fake.cancel_event(CAL, personal)
    assert calendar_sync.sync_professional(clinic.ana) == "incremental"
    assert not ExternalBusy.objects.filter(professional=clinic.ana).exists()

    again = fake.add_personal_event(CAL, start.isoformat(), (start + timedelta(minutes=30)).isoformat())
    fake.invalidate_sync_tokens()
    assert calendar_sync.sync_professional(clinic.ana) == "resync"  # 410 Gone -> full sync
    assert list(ExternalBusy.objects.values_list("external_id", flat=True)) == [again]
    assert CalendarSync.objects.get(professional=clinic.ana).sync_token


def test_watch_channel_created_then_renewed_before_expiry(google, fake):
    clinic = google
    assert calendar_sync.ensure_channel(clinic.ana) == "created"
    state = CalendarSync.objects.get(professional=clinic.ana)
    first = state.channel_id
    assert first in fake.channels and fake.channels[first]["address"].endswith("/google/notify/")
    assert calendar_sync.ensure_channel(clinic.ana) is None  # still fresh
    later = state.channel_expires_at - timedelta(hours=12)  # less than a day left
    assert calendar_sync.ensure_channel(clinic.ana, now=later) == "renewed"
    state.refresh_from_db()
    assert state.channel_id != first and first not in fake.channels and state.channel_id in fake.channels


def test_nothing_happens_without_configuration(clinic, monkeypatch):
    monkeypatch.delenv("CENTRAL_GOOGLE_ACCESS_TOKEN", raising=False)
    monkeypatch.delenv("CENTRAL_GOOGLE_CREDENTIALS_FILE", raising=False)
    assert calendar_sync.sync_all() == 0
    assert calendar_sync.push_appointment(1) is None


def test_notification_with_the_channel_token_syncs_forged_one_is_404(google, fake, client):
    clinic = google
    calendar_sync.ensure_channel(clinic.ana)
    state = CalendarSync.objects.get(professional=clinic.ana)
    start = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    eid = fake.add_personal_event(CAL, start.isoformat(), (start + timedelta(hours=1)).isoformat())
    url = "/scheduling/google/notify/"
    forged = client.post(url, HTTP_X_GOOG_CHANNEL_ID=state.channel_id, HTTP_X_GOOG_CHANNEL_TOKEN="pro-1",
                         HTTP_X_GOOG_RESOURCE_STATE="exists")
    assert forged.status_code == 404 and not ExternalBusy.objects.exists()
    assert client.post(url, HTTP_X_GOOG_CHANNEL_ID="nope", HTTP_X_GOOG_CHANNEL_TOKEN=calendar_sync.channel_token("nope"),
                       HTTP_X_GOOG_RESOURCE_STATE="exists").status_code == 404
    ok = client.post(url, HTTP_X_GOOG_CHANNEL_ID=state.channel_id,
                     HTTP_X_GOOG_CHANNEL_TOKEN=calendar_sync.channel_token(state.channel_id),
                     HTTP_X_GOOG_RESOURCE_STATE="exists")
    assert ok.status_code == 200
    assert list(ExternalBusy.objects.values_list("external_id", flat=True)) == [eid]
