"""Row factories for the documents models served by the API (tenant isolation walker)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from django.db import models
from django.utils import timezone

from tests.factories import factory, unique


@factory("documents.agent")
def make_agent(org, **fields) -> models.Model:
    from central.documents.models import Agent

    return Agent.objects.create(organization=org, **{"name": unique("agente"), **fields})


@factory("documents.document")
def make_document(org, **fields) -> models.Model:
    from central.documents.models import Document

    agent = fields.pop("agent", None) or make_agent(org)
    name = fields.pop("path", None) or f"{unique('doc')}.pdf"
    defaults = {"folder": "docs", "name": name.rsplit("/", 1)[-1], "size": 1234,
                "sha256": hashlib.sha256(name.encode()).hexdigest(), "pages": 2, "title": "Contrato"}
    defaults.update(fields)
    return Document.objects.create(organization=org, agent=agent, path=name, **defaults)


@factory("documents.transfer")
def make_transfer(org, **fields) -> models.Model:
    from central.documents.models import Transfer

    document = fields.pop("document", None) or make_document(org)
    defaults = {"state": Transfer.State.WAITING, "sha256": document.sha256, "size": document.size}
    defaults.update(fields)
    return Transfer.objects.create(organization=org, document=document, agent=document.agent, **defaults)


@factory("documents.download")
def make_download(org, **fields) -> models.Model:
    from central.documents.models import Download

    document = fields.pop("document", None) or make_document(org)
    return Download.objects.create(organization=org, document=document, username="bob", size=document.size,
                                   **fields)


@factory("documents.enrollmentcode")
def make_enrollment_code(org, **fields) -> models.Model:
    from central.documents.models import EnrollmentCode, new_secret

    _code, code_hash = new_secret()
    return EnrollmentCode.objects.create(organization=org, agent_name="Matriz", code_hash=code_hash,
                                         expires_at=timezone.now() + timedelta(hours=1), **fields)
