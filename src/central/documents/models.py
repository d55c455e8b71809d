"""Site agents, their document index, transfers on demand and the 15-day cache.

A site agent (``agent/``, command ``central-agent``) runs at a customer's site behind NAT,
connects *out* to Central's ``/ws/agent/`` and indexes a local folder of PDFs. Central
keeps the index per agent and folder; a document's bytes travel only when someone asks
for it (a :class:`Transfer`), are verified against the indexed SHA-256 and are cached
(:class:`CachedFile`) for ``CENTRAL_DOCUMENTS_CACHE_DAYS``. Every download is audited
(:class:`Download`). Secrets (enrollment codes, agent tokens) are stored as SHA-256
hashes only: they are 256 random bits, so a fast hash is enough and a database dump lets
nobody connect as an agent.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from central.core.tenancy import TenantOwned


def hash_secret(value: str) -> str:
    """The stored form of an enrollment code or an agent token (see module docstring)."""
    return hashlib.sha256(value.encode()).hexdigest()


def new_secret() -> tuple[str, str]:
    """A fresh secret and its hash; the secret is shown once and never stored.

    Hex, not URL-safe base64: a code starting with "-" was read as an option by
    ``central-agent enroll URL --code CODE`` (about one code in 64 failed to enroll)."""
    value = secrets.token_hex(32)
    return value, hash_secret(value)


class Agent(TenantOwned):
    """A site agent of one organization, with the state it last reported."""

    class State(models.TextChoices):
        ONLINE = "online", _("Conectado")
        OFFLINE = "offline", _("Desconectado")

    name = models.CharField(_("nome"), max_length=120)
    state = models.CharField(_("estado"), max_length=10, choices=State.choices, default=State.OFFLINE)
    #: The socket that currently speaks for the agent: a late disconnect of an older socket
    #: (two processes with one token, a reconnect racing a drop) must not mark it offline.
    connection_id = models.CharField(max_length=64, blank=True, editable=False, verbose_name=_("ID da conexão"))
    connected_at = models.DateTimeField(_("conectado desde"), null=True, blank=True)
    offline_since = models.DateTimeField(_("desconectado desde"), null=True, blank=True)
    last_heartbeat = models.DateTimeField(_("último sinal"), null=True, blank=True)
    version = models.CharField(_("versão"), max_length=40, blank=True)
    os = models.CharField(_("sistema operacional"), max_length=120, blank=True)
    hostname = models.CharField(_("máquina"), max_length=255, blank=True)
    local_ips = models.JSONField(_("IPs locais"), default=list, blank=True)
    #: The address Central saw (``central.core.clientaddr`` trusted-proxy rules).
    public_ip = models.GenericIPAddressField(_("IP público"), null=True, blank=True)
    uptime_seconds = models.PositiveBigIntegerField(_("tempo ligado (s)"), default=0)
    documents_count = models.PositiveIntegerField(_("documentos indexados"), default=0)
    bytes_total = models.PositiveBigIntegerField(_("bytes indexados"), default=0)
    pending_transfers = models.PositiveIntegerField(_("transferências pendentes"), default=0)
    last_error = models.TextField(_("último erro"), blank=True)
    #: Per watched folder: files, bytes, errors, skipped per reason, readable, watch mode.
    folders = models.JSONField(_("pastas"), default=list, blank=True)
    #: Seconds between heartbeats the agent announced; silent for three of them = offline.
    heartbeat_interval = models.FloatField(default=30.0, verbose_name=_("intervalo de sinal de vida"))
    #: The agent's local index identity and the last batch applied from it: a batch at or
    #: below ``index_seq`` is acknowledged again without being applied twice (the agent
    #: re-sends after a drop before the ack); another identity or a gap asks for a resync.
    index_id = models.CharField(max_length=64, blank=True, editable=False, verbose_name=_("ID do índice"))
    index_seq = models.PositiveBigIntegerField(default=0, editable=False, verbose_name=_("sequência do índice"))
    created_at = models.DateTimeField(_("criado em"), default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("agente local")
        verbose_name_plural = _("agentes locais")

    def __str__(self) -> str:
        return self.name


class EnrollmentCode(TenantOwned):
    """A one-time, expiring code an administrator hands to whoever installs an agent."""

    code_hash = models.CharField(max_length=64, unique=True, editable=False, verbose_name=_("hash do código"))
    agent_name = models.CharField(_("nome do agente"), max_length=120)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+", verbose_name=_("criado por"))
    created_at = models.DateTimeField(_("criado em"), default=timezone.now)
    expires_at = models.DateTimeField(_("expira em"))
    used_at = models.DateTimeField(_("usado em"), null=True, blank=True)
    agent = models.ForeignKey(Agent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("agente"))

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("código de registro")
        verbose_name_plural = _("códigos de registro")

    @property
    def status(self) -> str:
        if self.used_at:
            return "used"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"


class AgentToken(TenantOwned):
    """The long-lived credential of an agent (hash only). Revoking it closes the live socket."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="tokens", verbose_name=_("agente"))
    token_hash = models.CharField(max_length=64, unique=True, editable=False, verbose_name=_("hash do token"))
    created_at = models.DateTimeField(_("criado em"), default=timezone.now)
    last_used_at = models.DateTimeField(_("último uso"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revogado em"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("token de agente")
        verbose_name_plural = _("tokens de agente")


class Document(TenantOwned):
    """One PDF at the site, as the agent indexed it (the bytes stay there until asked for)."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="documents", verbose_name=_("agente"))
    folder = models.CharField(_("pasta"), max_length=500)
    path = models.CharField(_("caminho"), max_length=1000)
    name = models.CharField(_("nome"), max_length=255)
    size = models.PositiveBigIntegerField(_("tamanho"), default=0)
    mtime = models.DateTimeField(_("modificado em"), null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, verbose_name=_("SHA-256"))
    title = models.CharField(_("título"), max_length=500, blank=True)
    author = models.CharField(_("autor"), max_length=300, blank=True)
    pages = models.PositiveIntegerField(_("páginas"), null=True, blank=True)
    created = models.DateTimeField(_("criado em (PDF)"), null=True, blank=True)
    index_error = models.CharField(_("erro de indexação"), max_length=500, blank=True)
    indexed_at = models.DateTimeField(_("indexado em"), default=timezone.now)
    #: Set when the file disappeared at the site; the row stays for the transfer history.
    removed_at = models.DateTimeField(_("removido em"), null=True, blank=True)

    class Meta:
        ordering = ["folder", "path", "id"]
        verbose_name = _("documento")
        verbose_name_plural = _("documentos")
        constraints = [
            models.UniqueConstraint(fields=["agent", "folder", "path"], name="documents_document_unique_path"),
        ]
        indexes = [models.Index(fields=["organization", "name"]), models.Index(fields=["sha256"])]

    def __str__(self) -> str:
        return self.name


class Transfer(TenantOwned):
    """A request for a document's bytes: from the click to a verified cached copy (or a failure)."""

    class State(models.TextChoices):
        WAITING = "waiting", _("Aguardando o agente")
        REQUESTED = "requested", _("Solicitado")
        UPLOADING = "uploading", _("Enviando")
        AVAILABLE = "available", _("Disponível")
        FAILED = "failed", _("Falhou")

    ACTIVE = (State.WAITING, State.REQUESTED, State.UPLOADING)

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="transfers", verbose_name=_("documento"))
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="transfers", verbose_name=_("agente"))
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                     on_delete=models.SET_NULL, related_name="+", verbose_name=_("pedido por"))
    state = models.CharField(_("estado"), max_length=12, choices=State.choices, default=State.WAITING)
    #: The SHA-256 and size the upload must match (the index entry's at request time).
    sha256 = models.CharField(max_length=64, verbose_name=_("SHA-256"))
    size = models.PositiveBigIntegerField(default=0, verbose_name=_("tamanho"))
    received = models.PositiveBigIntegerField(_("bytes recebidos"), default=0)
    attempts = models.PositiveSmallIntegerField(_("tentativas"), default=0)
    #: A rejected attempt that was re-requested (shown next to the progress).
    last_failure = models.CharField(_("última falha"), max_length=500, blank=True)
    failure = models.CharField(_("motivo da falha"), max_length=500, blank=True)
    #: Served from a cached copy: no bytes moved (counts as a cache hit).
    from_cache = models.BooleanField(_("do cache"), default=False)
    created_at = models.DateTimeField(_("solicitado em"), default=timezone.now)
    started_at = models.DateTimeField(_("início do envio"), null=True, blank=True)
    finished_at = models.DateTimeField(_("concluído em"), null=True, blank=True)
    #: A waiting request fails past this (``CENTRAL_DOCUMENTS_REQUEST_WAIT_HOURS``).
    wait_until = models.DateTimeField(_("aguarda até"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("transferência")
        verbose_name_plural = _("transferências")
        indexes = [models.Index(fields=["organization", "state"]), models.Index(fields=["agent", "state"])]

    @property
    def percent(self) -> int:
        if not self.size:
            return 100 if self.state == self.State.AVAILABLE else 0
        return min(100, int(self.received * 100 / self.size))


class CachedFile(TenantOwned):
    """A verified copy of a document in the documents storage, until ``expires_at``."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="cached", verbose_name=_("documento"))
    transfer = models.ForeignKey(Transfer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("transferência"))
    storage_name = models.CharField(max_length=500, verbose_name=_("nome no armazenamento"))
    size = models.PositiveBigIntegerField(default=0, verbose_name=_("tamanho"))
    sha256 = models.CharField(max_length=64, verbose_name=_("SHA-256"))
    created_at = models.DateTimeField(_("armazenado em"), default=timezone.now)
    expires_at = models.DateTimeField(_("expira em"))
    #: Set by the expiry job once the file is gone from storage (the row is the history).
    removed_at = models.DateTimeField(_("removido em"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("arquivo em cache")
        verbose_name_plural = _("arquivos em cache")
        indexes = [models.Index(fields=["removed_at", "expires_at"])]


class Download(TenantOwned):
    """The download audit: who took which cached document, when and from where."""

    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="downloads", verbose_name=_("documento"))
    cached = models.ForeignKey(CachedFile, null=True, on_delete=models.SET_NULL, related_name="downloads", verbose_name=_("em cache"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("usuário"))
    username = models.CharField(_("usuário"), max_length=150, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True, verbose_name=_("IP"))
    user_agent = models.CharField(max_length=300, blank=True, verbose_name=_("navegador (user agent)"))
    size = models.PositiveBigIntegerField(default=0, verbose_name=_("tamanho"))
    at = models.DateTimeField(_("em"), default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("download")
        verbose_name_plural = _("downloads")


class AgentEvent(TenantOwned):
    """Recent things that happened to an agent (detail page): connects, drops, errors."""

    LABELS = {
        "enrolled": _("registrado"), "connected": _("conectou"), "disconnected": _("desconectou"),
        "hello": _("identificou-se"), "revoked": _("token revogado"), "transfer_done": _("documento enviado"),
        "transfer_retry": _("envio rejeitado, solicitado novamente"), "transfer_failed": _("envio falhou"),
    }

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="events", verbose_name=_("agente"))
    at = models.DateTimeField(default=timezone.now, verbose_name=_("quando"))
    kind = models.CharField(max_length=30, verbose_name=_("tipo"))
    detail = models.CharField(max_length=500, blank=True, verbose_name=_("detalhe"))

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["agent", "at"])]
        verbose_name = _("evento do agente local")
        verbose_name_plural = _("eventos do agente local")

    @property
    def label(self) -> str:
        return str(self.LABELS.get(self.kind, self.kind))
