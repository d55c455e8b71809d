"""Serving a recording: range requests to its tenant, 404 to everyone else, audited."""

from __future__ import annotations

import asyncio
import os

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.test import AsyncClient, Client

from tests.recordings.factories import make_recording

pytestmark = pytest.mark.django_db

DATA = bytes(range(256)) * 40  # 10,240 bytes, every offset identifiable


@pytest.fixture
def recording(tenants):
    return make_recording(tenants["a"], data=DATA)


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_whole_file_and_ranges_to_the_owning_tenant(tenants, recording) -> None:
    from central.core.models import AuditLog

    client = _client(tenants["alice"])
    url = f"/recordings/{recording.pk}/audio"
    whole = client.get(url)
    assert whole.status_code == 200 and _body(whole) == DATA
    assert whole["Accept-Ranges"] == "bytes" and whole["Content-Length"] == str(len(DATA))
    assert whole["Content-Type"] == "audio/wav" and "no-store" in whole["Cache-Control"]

    first = client.get(url, HTTP_RANGE="bytes=0-99")
    assert first.status_code == 206 and _body(first) == DATA[:100]
    assert first["Content-Range"] == f"bytes 0-99/{len(DATA)}" and first["Content-Length"] == "100"

    middle = client.get(url, HTTP_RANGE="bytes=5000-6999")
    assert middle.status_code == 206 and _body(middle) == DATA[5000:7000]
    assert middle["Content-Range"] == f"bytes 5000-6999/{len(DATA)}"

    suffix = client.get(url, HTTP_RANGE="bytes=-500")
    assert suffix.status_code == 206 and _body(suffix) == DATA[-500:]
    assert suffix["Content-Range"] == f"bytes {len(DATA) - 500}-{len(DATA) - 1}/{len(DATA)}"

    open_ended = client.get(url, HTTP_RANGE="bytes=10000-")
    assert open_ended.status_code == 206 and _body(open_ended) == DATA[10000:]

    past_end = client.get(url, HTTP_RANGE=f"bytes={len(DATA)}-")
    assert past_end.status_code == 416 and past_end["Content-Range"] == f"bytes */{len(DATA)}"
    assert client.get(url, HTTP_RANGE="bytes=-0").status_code == 416

    malformed = client.get(url, HTTP_RANGE="bytes=9-2")  # ignored: the whole file
    assert malformed.status_code == 200 and _body(malformed) == DATA

    audits = AuditLog.objects.filter(action="recording.listen", organization=tenants["a"])
    assert audits.count() == 6  # every answered request (not the two 416s)
    assert set(audits.values_list("target_id", flat=True)) == {str(recording.pk)}


def test_other_tenant_viewer_and_agent_without_identity_get_404(tenants, recording) -> None:
    url = f"/recordings/{recording.pk}/audio"
    for user in ("bob", "vera", "artur"):
        response = _client(tenants[user]).get(url, HTTP_RANGE="bytes=0-10")
        assert response.status_code == 404, user
    # bob naming tenant A explicitly: still 404 (no membership)
    response = _client(tenants["bob"]).get(url, HTTP_X_ORGANIZATION=str(tenants["a"].pk))
    assert response.status_code == 404
    assert Client().get(url).status_code == 302  # anonymous: to the sign-in page
    # the API lists it to its tenant only
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(tenants["alice"])
    rows = api.get("/api/v1/recordings/").json()
    rows = rows["results"] if isinstance(rows, dict) else rows
    assert [r["id"] for r in rows] == [recording.pk] and rows[0]["audio_url"] == url
    api.force_authenticate(tenants["bob"])
    assert api.get(f"/api/v1/recordings/{recording.pk}/").status_code == 404


def test_an_agent_hears_only_the_calls_taken_at_their_own_interfaces(tenants) -> None:
    from central.agents.models import Agent, AgentInterface

    agent = Agent.objects.create(organization=tenants["a"], user=tenants["artur"], name="Artur")
    AgentInterface.objects.create(organization=tenants["a"], agent=agent, interface="PJSIP/2001")
    from tests.telephony.factories import make_call_record

    own_call = make_call_record(tenants["a"], agent_interface="PJSIP/2001")
    other_call = make_call_record(tenants["a"], agent_interface="PJSIP/2002")
    own = make_recording(tenants["a"], agent="PJSIP/2001", data=DATA, call_record=own_call)
    other = make_recording(tenants["a"], agent="PJSIP/2002", data=DATA, call_record=other_call)
    artur = _client(tenants["artur"])
    assert artur.get(f"/recordings/{own.pk}/audio", HTTP_RANGE="bytes=0-9").status_code == 206
    assert artur.get(f"/recordings/{other.pk}/audio").status_code == 404
    from central.core.models import Membership
    from central.recordings.services import recordings_by_call

    membership = Membership.objects.get(user=tenants["artur"])
    assert recordings_by_call(membership, [own_call.id, other_call.id]) == {own_call.id: [own]}
    supervisor = Membership.objects.get(user=tenants["alice"])
    assert recordings_by_call(supervisor, [own_call.id, other_call.id]) == {own_call.id: [own],
                                                                           other_call.id: [other]}


def test_a_row_whose_path_leaves_the_store_is_404(tenants, recording) -> None:
    from central.recordings.models import Recording

    Recording.objects.filter(pk=recording.pk).update(path="../../../../etc/passwd")
    assert _client(tenants["alice"]).get(f"/recordings/{recording.pk}/audio").status_code == 404


@pytest.mark.django_db(transaction=True)
def test_asgi_streams_chunk_by_chunk(tenants, monkeypatch) -> None:
    """Under ASGI the body is pulled chunk by chunk: when the first chunk arrives only one
    has been read from the disk. (Django serves a plain synchronous streaming body under
    ASGI by reading all of it into a list first: 4 reads before the first byte.)"""
    from central.recordings import views

    big = make_recording(tenants["a"], data=b"\x01" * (3 * views.CHUNK + 17))
    reads = []
    real_pread = os.pread

    def counting_pread(fd, size, offset):
        reads.append(size)
        return real_pread(fd, size, offset)

    monkeypatch.setattr(views.os, "pread", counting_pread)

    async def fetch():
        client = AsyncClient()
        await client.aforce_login(tenants["alice"])
        response = await client.get(f"/recordings/{big.pk}/audio", headers={"Range": "bytes=1-"})
        assert response.status_code == 206
        parts, reads_at_first = [], None
        async for part in response:  # what the ASGI handler iterates
            if reads_at_first is None:
                reads_at_first = len(reads)
            parts.append(part)
        await sync_to_async(connections.close_all)()  # the sync thread's connection (PostgreSQL pass)
        return parts, reads_at_first

    parts, reads_at_first = asyncio.run(fetch())
    assert reads_at_first == 1
    assert [len(p) for p in parts] == [views.CHUNK, views.CHUNK, views.CHUNK, 16]
