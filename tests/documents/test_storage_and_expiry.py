"""The documents storage (local by default, S3 from the environment), cache expiry with the
clock moved forward, requests that wait too long, the offline alert figures, and the
agent's public address under the trusted-proxy rule of ``central.core.clientaddr``."""

from __future__ import annotations

import hashlib
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone, translation

from central.documents import services
from central.documents.consumers import _client_ip
from central.documents.models import Agent, CachedFile, Transfer
from central.documents.storage import S3_BACKEND, StorageConfigError, storage_config
from tests.documents.factories import make_agent, make_document


@pytest.mark.backend_free
def test_local_storage_is_private_in_the_data_dir(tmp_path):
    config = storage_config({}, tmp_path)
    assert config["OPTIONS"]["location"] == str(tmp_path / "documents")
    assert config["OPTIONS"]["file_permissions_mode"] == 0o600
    assert config["OPTIONS"]["directory_permissions_mode"] == 0o700


@pytest.mark.backend_free
def test_s3_storage_is_assembled_from_the_environment(tmp_path):
    from django.core.files.storage.handler import StorageHandler

    env = {"CENTRAL_DOCUMENTS_STORAGE": "s3", "CENTRAL_DOCUMENTS_S3_BUCKET": "central-docs",
           "CENTRAL_DOCUMENTS_S3_ENDPOINT_URL": "https://minio.example.com:9000",
           "CENTRAL_DOCUMENTS_S3_REGION": "sa-east-1", "CENTRAL_DOCUMENTS_S3_ACCESS_KEY_ID": "AKIDEXAMPLE",
           "CENTRAL_DOCUMENTS_S3_SECRET_ACCESS_KEY": "not-a-real-secret", "CENTRAL_DOCUMENTS_S3_PREFIX": "cache",
           "CENTRAL_DOCUMENTS_S3_ADDRESSING_STYLE": "path", "CENTRAL_DOCUMENTS_S3_SSE": "AES256"}
    config = storage_config(env, tmp_path)
    assert config["BACKEND"] == S3_BACKEND
    # django-storages builds the backend from it (no network needed until first use).
    backend = StorageHandler({"documents": config})["documents"]
    assert type(backend).__name__ == "S3Storage"
    assert backend.bucket_name == "central-docs" and backend.location == "cache"
    assert backend.endpoint_url == "https://minio.example.com:9000" and backend.region_name == "sa-east-1"
    assert backend.access_key == "AKIDEXAMPLE" and backend.addressing_style == "path"
    assert backend.default_acl is None and backend.file_overwrite is False
    assert backend.object_parameters == {"ServerSideEncryption": "AES256"}
    with pytest.raises(StorageConfigError):
        storage_config({"CENTRAL_DOCUMENTS_STORAGE": "s3"}, tmp_path)
    with pytest.raises(StorageConfigError):
        storage_config({"CENTRAL_DOCUMENTS_STORAGE": "ftp"}, tmp_path)


def _cached_document(org, tmp_path, settings):
    settings.STORAGES = {**settings.STORAGES, "documents": storage_config({}, tmp_path)}
    from django.core.files.storage import storages

    storages._storages.pop("documents", None)
    data = b"%PDF-1.4 cached"
    agent = make_agent(org, state=Agent.State.ONLINE)
    doc = make_document(org, agent=agent, size=len(data), sha256=hashlib.sha256(data).hexdigest())
    tr = services.request_document(doc)
    result = services.receive_chunk(agent, tr.pk, 0, [data], hashlib.sha256(data).hexdigest(), max_chunk=1 << 20)
    assert result.state == services.COMPLETE
    return doc, CachedFile.objects.get(document=doc)


def test_cache_expires_with_the_clock_moved_forward(tenants, tmp_path, settings):
    settings.DOCUMENTS_CACHE_DAYS = 15
    doc, cached = _cached_document(tenants["a"], tmp_path, settings)
    path = Path(tmp_path / "documents" / cached.storage_name)
    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert cached.expires_at - cached.created_at == timedelta(days=15)
    assert services.expire_cache(timezone.now() + timedelta(days=14)) == 0
    later = timezone.now() + timedelta(days=15, minutes=1)
    assert services.expire_cache(later) == 1
    assert services.expire_cache(later) == 0  # run twice (two workers): nothing twice
    assert not path.exists()
    doc.refresh_from_db()
    assert doc.removed_at is None  # the index entry stays
    assert services.valid_cache(doc) is None
    assert services.document_status(doc)["state"] == "site"


def test_waiting_request_expires_and_offline_alert(tenants, settings):
    settings.DOCUMENTS_REQUEST_WAIT_HOURS = 2
    settings.DOCUMENTS_OFFLINE_ALERT_MINUTES = 30
    agent = make_agent(tenants["a"], state=Agent.State.OFFLINE, offline_since=timezone.now() - timedelta(hours=1))
    doc = make_document(tenants["a"], agent=agent)
    tr = services.request_document(doc)
    assert tr.state == Transfer.State.WAITING
    assert services.expire_waiting(timezone.now() + timedelta(hours=1)) == 0
    with translation.override("pt-br"):  # the job runs without a request: the installation's language
        assert services.expire_waiting(timezone.now() + timedelta(hours=3)) == 1
    tr.refresh_from_db()
    assert tr.state == Transfer.State.FAILED and "expirou" in tr.failure
    assert services.offline_alert(agent)
    assert services.summary(tenants["a"].pk)["agents_alert"] == 1
    from central.documents.metrics import gauge_values

    longest = gauge_values()["central_documents_agent_offline_longest_seconds"]["empresa-a"]
    assert 3500 < longest < 3700


def _scope(peer: str, forwarded: str = "") -> dict:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return {"client": (peer, 50000), "headers": headers}


@pytest.mark.backend_free
def test_agent_public_ip_follows_the_trusted_proxy_rule(settings):
    settings.TRUSTED_PROXIES = []
    assert _client_ip(_scope("198.51.100.7", "203.0.113.9")) == "198.51.100.7"  # not believed
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    assert _client_ip(_scope("127.0.0.1", "10.9.9.9, 203.0.113.9")) == "203.0.113.9"
    assert _client_ip(_scope("198.51.100.7", "203.0.113.9")) == "198.51.100.7"


def test_a_second_request_never_stores_a_file_being_verified(tenants, tmp_path, settings):
    """Two requests reach the end of one upload (a retried last chunk racing the first):
    only the one that claimed the verification stores the file; a claim left by a dead
    process is taken over after VERIFY_CLAIM."""
    settings.STORAGES = {**settings.STORAGES, "documents": storage_config({}, tmp_path)}
    from django.core.files.storage import storages

    storages._storages.pop("documents", None)
    data = b"%PDF-1.4 racing"
    agent = make_agent(tenants["a"], state=Agent.State.ONLINE)
    doc = make_document(tenants["a"], agent=agent, size=len(data), sha256=hashlib.sha256(data).hexdigest())
    tr = services.request_document(doc)
    # The state in which the first request has written the last chunk and claimed the check.
    services.partial_path(tr).write_bytes(data)
    claimed_at = timezone.now()
    Transfer.objects.filter(pk=tr.pk).update(state=Transfer.State.UPLOADING, received=len(data),
                                             finished_at=claimed_at)
    empty = hashlib.sha256(b"").hexdigest()
    second = services.receive_chunk(agent, tr.pk, len(data), [b""], empty, max_chunk=1 << 20)
    assert second.state == services.RECEIVING and second.offset == len(data)
    assert not CachedFile.objects.filter(document=doc).exists()
    Transfer.objects.filter(pk=tr.pk).update(finished_at=claimed_at - services.VERIFY_CLAIM - timedelta(seconds=1))
    taken_over = services.receive_chunk(agent, tr.pk, len(data), [b""], empty, max_chunk=1 << 20)
    assert taken_over.state == services.COMPLETE
    assert CachedFile.objects.filter(document=doc).count() == 1


def test_whole_file_digest_follows_the_chunks_and_is_rebuilt_from_disk(tenants, tmp_path, settings):
    """The verification at the last chunk uses the digest kept chunk by chunk; a process that
    did not see the earlier chunks (another web worker, a restart) rebuilds it from the
    partial file, so bytes changed on disk between two chunks are still caught."""
    settings.STORAGES = {**settings.STORAGES, "documents": storage_config({}, tmp_path)}
    from django.core.files.storage import storages

    storages._storages.pop("documents", None)
    data = b"%PDF-1.4 " + bytes(range(256)) * 40
    half = len(data) // 2
    org = tenants["a"]
    agent = make_agent(org, state=Agent.State.ONLINE)

    def send(doc_data: bytes, tamper: bool):
        doc = make_document(org, agent=agent, size=len(doc_data), sha256=hashlib.sha256(doc_data).hexdigest())
        tr = services.request_document(doc)
        first = services.receive_chunk(agent, tr.pk, 0, [doc_data[:half]], hashlib.sha256(doc_data[:half]).hexdigest(),
                                       max_chunk=1 << 20)
        assert first.offset == half
        tr.refresh_from_db()
        services.RUNNING_DIGESTS.drop(services.partial_path(tr))  # as if another process went on
        if tamper:
            with open(services.partial_path(tr), "r+b") as fh:
                fh.write(b"%PDF-1.5")
        rest = doc_data[half:]
        return services.receive_chunk(agent, tr.pk, half, [rest], hashlib.sha256(rest).hexdigest(), max_chunk=1 << 20)

    assert send(data, tamper=False).state == services.COMPLETE
    assert send(data + b"2", tamper=True).state == services.REJECTED


@pytest.mark.backend_free
def test_codes_and_tokens_never_look_like_a_command_line_option():
    """``central-agent enroll URL --code CODE`` read a code starting with "-" as an option."""
    from central.documents.models import hash_secret, new_secret

    for _ in range(2000):
        value, digest = new_secret()
        assert not value.startswith("-") and len(value) == 64 and digest == hash_secret(value)
