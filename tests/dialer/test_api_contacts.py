"""Contacts, do-not-call, callbacks, attempts and imports through the API."""

from __future__ import annotations

import pytest

from central.dialer.models import Contact, DoNotCall, ImportJob
from tests.dialer import factories

pytestmark = pytest.mark.django_db
#: Imports run in a background thread with its own connection: those tests commit for real.
background = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _imports_in_threads(settings):
    """The suite also runs with REDIS_URL set (PostgreSQL+Redis) but no Celery worker."""
    settings.DIALER_IMPORT_RUNNER = "thread"


def test_celery_task_runs_the_import(tenants, settings, tmp_path):
    from central.celery import app as celery_app
    from central.dialer import importer, services

    settings.DIALER_IMPORT_RUNNER = "celery"
    camp = factories.campaign(tenants["a"])
    path = tmp_path / "l.csv"
    path.write_text("telefone\n11987654321\n")
    job = importer.new_job(tenants["a"], kind="contacts", filename="l.csv", stored_path=path, campaign=camp)
    saved = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True  # run the real task body inline, no worker
    try:
        assert services.start_import(job) == "celery"
    finally:
        celery_app.conf.task_always_eager = saved
    job.refresh_from_db()
    assert (job.status, job.imported) == ("done", 1)


def test_create_contact_normalizes_phone_and_rejects_bad_ones(tenants, api_as):
    camp = factories.campaign(tenants["a"])
    alice = api_as(tenants["alice"])
    r = alice.post("/api/v1/dialer/contacts/", {"campaign": camp.pk, "name": "Ana", "phone": "(68) 99999-1234",
                                                "alt_phones": ["011 3265-4321"]}, format="json")
    assert r.status_code == 201, r.content
    body = r.json()
    assert body["phone"] == "+5568999991234" and body["timezone"] == "America/Rio_Branco"
    assert body["alt_phones"] == ["+551132654321"]
    r = alice.post("/api/v1/dialer/contacts/", {"campaign": camp.pk, "phone": "(20) 9999-1234"}, format="json")
    assert r.status_code == 400 and r.json()["error"]["fields"]["phone"] == ["DDD 20 não existe"]
    r = alice.post("/api/v1/dialer/contacts/", {"campaign": camp.pk, "phone": "68999991234"}, format="json")
    assert r.status_code == 400 and "já está na campanha" in r.json()["error"]["fields"]["phone"][0]


def test_contact_cannot_point_at_foreign_campaign(tenants, api_as):
    foreign = factories.campaign(tenants["b"])
    r = api_as(tenants["alice"]).post("/api/v1/dialer/contacts/", {"campaign": foreign.pk, "phone": "11987654321"},
                                      format="json")
    assert r.status_code == 400 and "campaign" in r.json()["error"]["fields"]
    assert not Contact.objects.exists()


def test_contact_list_filter_and_search(tenants, api_as):
    camp = factories.campaign(tenants["a"])
    factories.contact(tenants["a"], camp, name="Maria Souza", phone="+5511987654321")
    factories.contact(tenants["a"], camp, name="João", phone="+5521987654321", status="done")
    alice = api_as(tenants["alice"])
    r = alice.get("/api/v1/dialer/contacts/", {"campaign": camp.pk, "search": "souza"})
    assert [c["name"] for c in r.json()["results"]] == ["Maria Souza"]
    r = alice.get("/api/v1/dialer/contacts/", {"status": "done"})
    assert [c["phone"] for c in r.json()["results"]] == ["+5521987654321"]


def test_dnc_entry_flags_pending_contacts_and_new_ones(tenants, api_as):
    org = tenants["a"]
    camp = factories.campaign(org)
    waiting = factories.contact(org, camp, phone="+5511987654321")
    done = factories.contact(org, factories.campaign(org), phone="+5511987654321", status="done")
    alice = api_as(tenants["alice"])
    r = alice.post("/api/v1/dialer/dnc/", {"phone": "(11) 98765-4321", "reason": "pediu"}, format="json")
    assert r.status_code == 201, r.content
    assert r.json()["phone"] == "+5511987654321" and r.json()["contacts_flagged"] == 1
    waiting.refresh_from_db()
    done.refresh_from_db()
    assert (waiting.status, done.status) == ("dnc", "done")
    r = alice.post("/api/v1/dialer/dnc/", {"phone": "11987654321"}, format="json")
    assert r.status_code == 400 and "já está nesta lista" in r.json()["error"]["fields"]["phone"][0]
    # A contact created afterwards is born dnc.
    r = alice.post("/api/v1/dialer/contacts/", {"campaign": factories.campaign(org).pk, "phone": "11987654321"},
                   format="json")
    assert r.json()["status"] == "dnc"
    # Campaign list: only that campaign's contacts.
    other = factories.contact(org, factories.campaign(org), phone="+5511911112222")
    mine = factories.contact(org, camp, phone="+5511911112222")
    r = alice.post("/api/v1/dialer/dnc/", {"phone": "11911112222", "campaign": camp.pk}, format="json")
    assert r.status_code == 201
    other.refresh_from_db()
    mine.refresh_from_db()
    assert (mine.status, other.status) == ("dnc", "pending")
    # Changing a contact's number to a blocked one makes it dnc too.
    fresh = factories.contact(org, factories.campaign(org), phone="+5511933334444")
    r = alice.patch(f"/api/v1/dialer/contacts/{fresh.pk}/", {"phone": "11987654321"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "dnc"


def test_callback_sets_next_attempt(tenants, api_as):
    org = tenants["a"]
    contact = factories.contact(org, status="failed")
    artur = api_as(tenants["artur"])  # agents schedule callbacks
    r = artur.post("/api/v1/dialer/callbacks/", {"contact": contact.pk, "scheduled_for": "2026-12-01T10:30:00-03:00",
                                                 "note": "ligar depois do almoço"}, format="json")
    assert r.status_code == 201, r.content
    assert r.json()["campaign"] == contact.campaign_id
    contact.refresh_from_db()
    assert contact.status == "pending"
    assert contact.next_attempt_at.isoformat() == "2026-12-01T13:30:00+00:00"
    cb_id = r.json()["id"]
    r = artur.patch(f"/api/v1/dialer/callbacks/{cb_id}/", {"scheduled_for": "2026-12-02T09:00:00-03:00"},
                    format="json")
    assert r.status_code == 200
    contact.refresh_from_db()
    assert contact.next_attempt_at.isoformat() == "2026-12-02T12:00:00+00:00"
    blocked = factories.contact(org, status="dnc")
    r = artur.post("/api/v1/dialer/callbacks/", {"contact": blocked.pk, "scheduled_for": "2026-12-01T10:30:00Z"},
                   format="json")
    assert r.status_code == 400


def test_attempts_are_read_only_and_filterable(tenants, api_as):
    org = tenants["a"]
    c = factories.contact(org)
    a1 = factories.attempt(org, c, result="busy", state="completed")
    factories.attempt(org, c, result="answered", state="completed")
    alice = api_as(tenants["alice"])
    r = alice.get("/api/v1/dialer/attempts/", {"result": "busy"})
    assert [x["id"] for x in r.json()["results"]] == [a1.pk]
    assert alice.post("/api/v1/dialer/attempts/", {}, format="json").status_code == 405


def _join_import(job_id: int, timeout: float = 60.0) -> None:
    """Wait for the import thread itself to end (no polling while it writes: the in-memory
    shared-cache SQLite of the tests refuses a write to a table another thread is reading,
    instead of waiting like the file database with its busy timeout does)."""
    import threading

    from central.dialer.services import import_thread_name

    for thread in threading.enumerate():
        if thread.name == import_thread_name(job_id):
            thread.join(timeout)
            assert not thread.is_alive(), f"import {job_id} still running after {timeout}s"


def _wait_job(client, job_id):
    _join_import(job_id)
    r = client.get(f"/api/v1/dialer/imports/{job_id}/")
    body = r.json()
    assert r.status_code == 200, body
    assert body["status"] in ("done", "failed"), body
    return body


@background
def test_upload_import_runs_in_background_and_reports_progress(tenants, api_as, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    camp = factories.campaign(tenants["a"])
    alice = api_as(tenants["alice"])
    content = "nome;telefone\nAna;11987654321\nBeto;sem número\n".encode("cp1252")
    from django.core.files.uploadedfile import SimpleUploadedFile

    r = alice.post(f"/api/v1/dialer/campaigns/{camp.pk}/import/",
                   {"file": SimpleUploadedFile("lista.csv", content), "legal_basis": "consent"}, format="multipart")
    assert r.status_code == 202, r.content
    job = _wait_job(alice, r.json()["id"])
    assert (job["status"], job["rows"], job["imported"], job["rejected"], job["percent"]) == ("done", 2, 1, 1, 100)
    assert job["errors"] == [{"row": 3, "column": "telefone", "reason": "telefone contém letras ou símbolos"}]
    stored = ImportJob.objects.get(pk=job["id"])
    assert stored.stored_path.startswith(str(tmp_path / "imports"))
    assert Contact.objects.get(campaign=camp).legal_basis == "consent"
    errors = alice.get(job["errors_url"])
    assert errors.status_code == 200
    assert "telefone contém letras" in b"".join(errors.streaming_content).decode("utf-8-sig")
    # Bob cannot see Alice's import.
    assert api_as(tenants["bob"]).get(f"/api/v1/dialer/imports/{job['id']}/").status_code == 404


def test_upload_limit_is_enforced(tenants, api_as, settings, tmp_path, monkeypatch):
    settings.DATA_DIR = tmp_path
    monkeypatch.setenv("CENTRAL_MAX_IMPORT_BYTES", "1000")
    camp = factories.campaign(tenants["a"])
    from django.core.files.uploadedfile import SimpleUploadedFile

    body = ("telefone\n" + "11987654321\n" * 2000).encode()
    r = api_as(tenants["alice"]).post(f"/api/v1/dialer/campaigns/{camp.pk}/import/",
                                      {"file": SimpleUploadedFile("big.csv", body)}, format="multipart")
    assert r.status_code == 413
    assert "limite" in r.json()["error"]["message"]
    assert not ImportJob.objects.exists()
    assert not list((tmp_path / "imports").glob("*")) if (tmp_path / "imports").exists() else True


@background
def test_dnc_file_import(tenants, api_as, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    org = tenants["a"]
    camp = factories.campaign(org)
    waiting = factories.contact(org, camp, phone="+5511987654321")
    from django.core.files.uploadedfile import SimpleUploadedFile

    # Procon-SP-like: DDD and number in separate columns, a date.
    content = b"DDD;TELEFONE;DATA_INCLUSAO\n11;987654321;01/02/2025\n21;33334444;02/02/2025\n99;12;x\n"
    alice = api_as(tenants["alice"])
    r = alice.post("/api/v1/dialer/dnc/import/", {"file": SimpleUploadedFile("procon.csv", content),
                                                  "source": "procon_sp"}, format="multipart")
    assert r.status_code == 202, r.content
    job = _wait_job(alice, r.json()["id"])
    assert (job["imported"], job["rejected"]) == (2, 1), job
    entry = DoNotCall.objects.get(phone="+5511987654321")
    assert entry.campaign_id is None and entry.source == "procon_sp" and "01/02/2025" in entry.reason
    waiting.refresh_from_db()
    assert waiting.status == "dnc"


@background
def test_browser_style_upload_with_session_and_csrf(tenants, settings, tmp_path):
    """The dashboard posts the file with a session cookie and the CSRF token in the form: the
    CSRF check reads the body, and it must already go through our handler (to imports/)."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    settings.DATA_DIR = tmp_path
    camp = factories.campaign(tenants["a"])
    client = Client(enforce_csrf_checks=True)
    client.force_login(tenants["alice"])
    client.get(f"/dialer/campaigns/{camp.pk}/")
    token = client.cookies["csrftoken"].value
    url = f"/api/v1/dialer/campaigns/{camp.pk}/import/"
    r = client.post(url, {"file": SimpleUploadedFile("l.csv", b"telefone\n11987654321\n")})
    assert r.status_code == 403  # no token: refused
    r = client.post(url, {"file": SimpleUploadedFile("l.csv", b"telefone\n11987654321\n"),
                          "csrfmiddlewaretoken": token})
    assert r.status_code == 202, r.content
    job = ImportJob.objects.get(pk=r.json()["id"])
    assert job.stored_path.startswith(str(tmp_path / "imports"))
    _join_import(job.pk)
    job.refresh_from_db()
    assert (job.status, job.imported) == ("done", 1), job.message


@background
def test_upload_quota_is_per_tenant(tenants, api_as, settings, tmp_path):
    """Uploads waiting or importing count against CENTRAL_IMPORT_QUOTA_BYTES per organization."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.DATA_DIR = tmp_path
    settings.IMPORT_QUOTA_BYTES = 10_000
    camp = factories.campaign(tenants["a"])
    factories.importjob(tenants["a"], status="running", total_bytes=9_000)
    body = ("telefone\n" + "11987654321\n" * 200).encode()  # 2.4 KB: over A's remaining quota
    r = api_as(tenants["alice"]).post(f"/api/v1/dialer/campaigns/{camp.pk}/import/",
                                      {"file": SimpleUploadedFile("lista.csv", body)}, format="multipart")
    assert r.status_code == 413 and r.json()["error"]["code"] == "quota_exceeded", r.content
    assert "CENTRAL_IMPORT_QUOTA_BYTES" in r.json()["error"]["message"]
    assert not list((tmp_path / "imports").glob("*"))
    assert ImportJob.objects.filter(organization=tenants["a"]).count() == 1
    # Tenant B's quota is its own: the same upload is accepted there.
    camp_b = factories.campaign(tenants["b"])
    r = api_as(tenants["bob"]).post(f"/api/v1/dialer/campaigns/{camp_b.pk}/import/",
                                    {"file": SimpleUploadedFile("lista.csv", body)}, format="multipart")
    assert r.status_code == 202, r.content
    _wait_job(api_as(tenants["bob"]), r.json()["id"])
