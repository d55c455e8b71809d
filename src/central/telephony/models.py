"""Telephony data: the Asterisk servers a tenant owns and what the PBX link learns from them.

* :class:`AsteriskServer` says where to connect. The AMI secret is never stored: the row
  holds the *name* of the environment variable that carries it (``secret_env``), so a
  database dump or backup never leaks PBX credentials.
* :class:`Extension` is the ramais panel snapshot, written by the ``central pbx`` process
  whenever a line changes state, read by the web process (API and pages).
* :class:`LiveCall` is the "calls in progress" snapshot. It lives in the database (not in
  a process-local cache) because the PBX link and the web server are separate processes
  in production and one process in embedded mode; the database is the store both share
  in both layouts.
* :class:`CallRecord` is the call detail record (CDR) of a finished call, one per
  ``Linkedid`` per server.

All rows are tenant-owned: a server belongs to one organization and everything learnt
from it inherits that organization (``server.organization``).
"""

from __future__ import annotations

from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext_lazy as _

from central.core.outbound import read_secret
from central.core.tenancy import TenantOwned

env_name_validator = RegexValidator(
    r"^[A-Z_][A-Z0-9_]*$", _("Use o nome de uma variável de ambiente (A-Z, 0-9 e _).")
)


class AsteriskServer(TenantOwned):
    class Status(models.TextChoices):
        UNKNOWN = "unknown", _("Desconhecido")
        CONNECTED = "connected", _("Conectado")
        DISCONNECTED = "disconnected", _("Desconectado")
        ERROR = "error", _("Erro")

    class Auth(models.TextChoices):
        PLAIN = "plain", _("Senha")
        MD5 = "md5", _("Desafio MD5")

    name = models.CharField(_("nome"), max_length=80)
    host = models.CharField(_("endereço"), max_length=255)
    port = models.PositiveIntegerField(_("porta AMI"), default=5038)
    username = models.CharField(_("usuário AMI"), max_length=80)
    secret_env = models.CharField(
        _("variável com a senha AMI"),
        max_length=100,
        validators=[env_name_validator],
        help_text=_("Nome da variável de ambiente que guarda a senha, com o prefixo "
                    "CENTRAL_TENANT_SECRET_ (ex.: CENTRAL_TENANT_SECRET_PBX1). "
                    "A senha nunca é gravada no banco."),
    )
    auth = models.CharField(_("autenticação"), max_length=10, choices=Auth.choices, default=Auth.PLAIN)
    enabled = models.BooleanField(_("ativo"), default=True)
    use_simulator = models.BooleanField(
        _("simulador"), default=False, help_text=_("Servidor simulado do modo demonstração.")
    )
    status = models.CharField(_("situação"), max_length=20, choices=Status.choices, default=Status.UNKNOWN)
    status_detail = models.CharField(_("detalhe"), max_length=300, blank=True)
    status_at = models.DateTimeField(_("situação em"), null=True, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now, verbose_name=_("criado em"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("atualizado em"))

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="telephony_server_unique_name"),
        ]
        verbose_name = _("servidor Asterisk")
        verbose_name_plural = _("servidores Asterisk")

    def __str__(self) -> str:
        return f"{self.name} ({self.host}:{self.port})"

    def secret(self, environ: dict[str, str] | None = None) -> str | None:
        """The AMI secret, read from the environment at connect time (None if unset).

        Read through :func:`central.core.outbound.read_secret`: a name outside the tenant
        prefix reads as unset, so a row naming ``SECRET_KEY`` never sends it anywhere.
        The platform's own server (``CENTRAL_AMI_URL``) gets its secret in
        ``central.telephony.link``, not from here.
        """
        return read_secret(self.secret_env, environ)


class Extension(TenantOwned):
    """One extension (ramal) as last seen on its server."""

    class State(models.TextChoices):
        FREE = "free", _("Livre")
        RINGING = "ringing", _("Chamando")
        BUSY = "busy", _("Ocupado")
        ONHOLD = "onhold", _("Em espera")
        UNAVAILABLE = "unavailable", _("Indisponível")
        UNKNOWN = "unknown", _("Desconhecido")

    server = models.ForeignKey(AsteriskServer, on_delete=models.CASCADE, related_name="extensions", verbose_name=_("servidor"))
    exten = models.CharField(_("ramal"), max_length=80)
    context = models.CharField(_("contexto"), max_length=80, blank=True)
    device = models.CharField(_("dispositivo"), max_length=120, blank=True)
    label = models.CharField(_("nome"), max_length=120, blank=True)
    registered = models.BooleanField(_("registrado"), null=True, blank=True)
    state = models.CharField(_("estado"), max_length=20, choices=State.choices, default=State.UNKNOWN, db_index=True)
    status_text = models.CharField(_("estado no Asterisk"), max_length=40, blank=True)
    last_activity = models.DateTimeField(_("última atividade"), null=True, blank=True)
    updated_at = models.DateTimeField(default=dj_timezone.now, verbose_name=_("atualizado em"))
    #: painel_ramais.id of the legacy dialer's panel (``central import-legacy``).
    legacy_id = models.BigIntegerField(_("id no sistema legado"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["server_id", "exten"]
        constraints = [
            models.UniqueConstraint(fields=["server", "exten"], name="telephony_extension_unique"),
            models.UniqueConstraint(fields=["organization", "legacy_id"], condition=models.Q(legacy_id__isnull=False),
                                    name="telephony_extension_legacy_unique"),
        ]
        verbose_name = _("ramal")
        verbose_name_plural = _("ramais")

    def __str__(self) -> str:
        return f"{self.exten} ({self.state})"


class QueueMember(TenantOwned):
    """An agent (member) of an Asterisk queue as last seen: free, ringing, in a call, paused."""

    class Availability(models.TextChoices):
        FREE = "free", _("Livre")
        RINGING = "ringing", _("Chamando")
        IN_CALL = "in_call", _("Em atendimento")
        PAUSED = "paused", _("Em pausa")
        UNAVAILABLE = "unavailable", _("Indisponível")

    server = models.ForeignKey(AsteriskServer, on_delete=models.CASCADE, related_name="queue_members", verbose_name=_("servidor"))
    queue = models.CharField(_("fila"), max_length=80)
    interface = models.CharField(_("interface"), max_length=120)
    name = models.CharField(_("nome"), max_length=120, blank=True)
    availability = models.CharField(_("situação"), max_length=12, choices=Availability.choices,
                                    default=Availability.FREE, db_index=True)
    paused_reason = models.CharField(_("motivo da pausa"), max_length=80, blank=True)
    calls_taken = models.PositiveIntegerField(_("chamadas atendidas"), default=0)
    #: Start of the current state (availability or pause reason), for the running clock.
    last_change = models.DateTimeField(_("última mudança"), null=True, blank=True)
    #: End of the member's last call (AgentComplete): wrap-up has no AMI event.
    call_ended_at = models.DateTimeField(_("fim da última chamada"), null=True, blank=True)
    wrapup_time = models.PositiveIntegerField(_("pós-atendimento da fila (s)"), default=0)
    updated_at = models.DateTimeField(default=dj_timezone.now, verbose_name=_("atualizado em"))

    class Meta:
        ordering = ["queue", "name", "interface"]
        constraints = [
            models.UniqueConstraint(fields=["server", "queue", "interface"], name="telephony_queuemember_unique"),
        ]
        verbose_name = _("agente na fila")
        verbose_name_plural = _("agentes nas filas")

    def __str__(self) -> str:
        return f"{self.name or self.interface} @ {self.queue} ({self.availability})"


class Direction(models.TextChoices):
    INBOUND = "inbound", _("Entrante")
    OUTBOUND = "outbound", _("Saída")
    INTERNAL = "internal", _("Interna")
    UNKNOWN = "unknown", _("Desconhecida")


class LiveCall(TenantOwned):
    """A call in progress, refreshed by the ``central pbx`` process (deleted when it ends)."""

    class State(models.TextChoices):
        DIALING = "dialing", _("Discando")
        RINGING = "ringing", _("Chamando")
        QUEUED = "queued", _("Na fila")
        UP = "up", _("Em conversa")

    server = models.ForeignKey(AsteriskServer, on_delete=models.CASCADE, related_name="live_calls", verbose_name=_("servidor"))
    linkedid = models.CharField(max_length=64, verbose_name=_("ID da chamada (linkedid)"))
    direction = models.CharField(_("direção"), max_length=10, choices=Direction.choices, default=Direction.UNKNOWN)
    from_number = models.CharField(_("origem"), max_length=80, blank=True)
    to_number = models.CharField(_("destino"), max_length=80, blank=True)
    state = models.CharField(_("estado"), max_length=10, choices=State.choices, default=State.DIALING)
    queue = models.CharField(_("fila"), max_length=80, blank=True)
    agent = models.CharField(_("agente"), max_length=120, blank=True)
    attempt_id = models.CharField(_("tentativa"), max_length=64, blank=True)
    channels = models.PositiveIntegerField(_("canais"), default=0)
    started_at = models.DateTimeField(_("início"), default=dj_timezone.now)
    answered_at = models.DateTimeField(_("atendida em"), null=True, blank=True)
    #: When the caller joined the queue it waits in now (QueueCallerJoin, or QueueStatus'
    #: QueueEntry Wait after a reconnect); None when not waiting in a queue.
    queued_at = models.DateTimeField(_("na fila desde"), null=True, blank=True)
    updated_at = models.DateTimeField(default=dj_timezone.now, verbose_name=_("atualizado em"))

    class Meta:
        ordering = ["started_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["server", "linkedid"], name="telephony_livecall_unique"),
        ]
        verbose_name = _("chamada em curso")
        verbose_name_plural = _("chamadas em curso")


class CallRecord(TenantOwned):
    """Call detail record: one per finished call (``Linkedid``) per server."""

    class Disposition(models.TextChoices):
        ANSWERED = "answered", _("Atendida")
        BUSY = "busy", _("Ocupado")
        NO_ANSWER = "no_answer", _("Não atendida")
        CONGESTION = "congestion", _("Congestionamento")
        FAILED = "failed", _("Falhou")
        ABANDONED = "abandoned", _("Abandonada")

    # RESTRICT: call history outlives a careless server delete (disable it instead), while
    # deleting the whole organization still removes everything it owns.
    server = models.ForeignKey(AsteriskServer, on_delete=models.RESTRICT, related_name="call_records", verbose_name=_("servidor"))
    linkedid = models.CharField(max_length=64, verbose_name=_("ID da chamada (linkedid)"))
    direction = models.CharField(_("direção"), max_length=10, choices=Direction.choices, default=Direction.UNKNOWN)
    from_number = models.CharField(_("origem"), max_length=80, blank=True)
    to_number = models.CharField(_("destino"), max_length=80, blank=True)
    # The calls page filters campaign, agent, result and time within one organization:
    # those columns are indexed as (organization, column, started_at, id) in Meta, the
    # order the page reads them in (keyset paging, docs/telephony.md "Calls page").
    campaign_id = models.CharField(_("campanha"), max_length=64, blank=True)
    attempt_id = models.CharField(_("tentativa"), max_length=64, blank=True, db_index=True)
    queue = models.CharField(_("fila"), max_length=80, blank=True, db_index=True)
    #: The queue member's name as the PBX reported it (AgentConnect ``MemberName``).
    agent = models.CharField(_("agente"), max_length=120, blank=True)
    #: The member's interface (AgentConnect ``Interface``: ``PJSIP/2001``,
    #: ``Local/agent2@agent-phones``): what maps to a person (central.agents.identity).
    agent_interface = models.CharField(_("interface do agente"), max_length=120, blank=True)
    started_at = models.DateTimeField(_("início"))
    ring_at = models.DateTimeField(_("tocou em"), null=True, blank=True)
    answered_at = models.DateTimeField(_("atendida em"), null=True, blank=True)
    ended_at = models.DateTimeField(_("fim"), null=True, blank=True)
    disposition = models.CharField(_("resultado"), max_length=12, choices=Disposition.choices)
    hangup_cause = models.IntegerField(_("causa"), null=True, blank=True)
    hangup_cause_text = models.CharField(_("texto da causa"), max_length=120, blank=True)
    duration = models.PositiveIntegerField(_("duração (s)"), default=0)
    billsec = models.PositiveIntegerField(_("tempo falado (s)"), default=0)
    queue_wait = models.PositiveIntegerField(_("espera na fila (s)"), null=True, blank=True)
    hangup_by = models.CharField(_("desligada por"), max_length=10, blank=True,
                                 help_text=_("agent, customer ou transfer (AgentComplete)."))
    #: The call's channels in creation order with their own hangup causes, as the PBX
    #: link saw them: ``[{"channel": "PJSIP/trunk-0001", "cause": 16, "cause_text": ...}]``
    #: (empty for records written before the link kept them).
    legs = models.JSONField(_("pernas"), default=list, blank=True)
    #: The call was already in progress when the PBX link (re)connected: the link took
    #: it from Asterisk's channel listing, so its times before the connect (start,
    #: answer) are estimates (central.telephony.cdr, CdrBuilder._listed_channel).
    adopted = models.BooleanField(
        _("registro iniciado após reconexão do PBX link"), default=False,
        help_text=_("A chamada já estava em curso quando o PBX link conectou: os horários "
                    "anteriores à conexão são estimativas."))
    created_at = models.DateTimeField(default=dj_timezone.now, verbose_name=_("criado em"))

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["server", "linkedid"], name="telephony_callrecord_unique"),
        ]
        # One index per filter of the calls page, each ending in the page's order so a
        # keyset page is an index range read (bench/calls_page.py measures them).
        indexes = [
            models.Index(fields=["organization", "-started_at", "-id"], name="callrecord_org_time"),
            models.Index(fields=["organization", "direction", "-started_at", "-id"], name="callrecord_org_direction"),
            models.Index(fields=["organization", "disposition", "-started_at", "-id"], name="callrecord_org_result"),
            models.Index(fields=["organization", "campaign_id", "-started_at", "-id"], name="callrecord_org_campaign"),
            models.Index(fields=["organization", "agent_interface", "-started_at", "-id"], name="callrecord_org_agent"),
            models.Index(fields=["organization", "from_number", "-started_at", "-id"], name="callrecord_org_from"),
            models.Index(fields=["organization", "to_number", "-started_at", "-id"], name="callrecord_org_to"),
        ]
        verbose_name = _("registro de chamada")
        verbose_name_plural = _("registros de chamadas")

    def __str__(self) -> str:
        return f"{self.linkedid} {self.disposition}"


class QueueTargets(TenantOwned):
    """The organization's queue targets: the service level's threshold and the longest
    wait before the wallboard raises an alarm.

    Asterisk keeps ``servicelevel`` per queue in queues.conf (Asterisk 22.10.1
    apps/app_queue.c: "servicelevel: answered within this many seconds"); the wallboard
    uses one threshold per organization (default 20 s, the common 80/20 target), so every
    queue of a tenant is measured alike. One row per organization, absent = defaults.
    """

    DEFAULT_SERVICE_LEVEL_S = 20
    DEFAULT_MAX_WAIT_S = 60

    service_level_s = models.PositiveIntegerField(
        _("nível de serviço: atendidas em até (s)"), default=DEFAULT_SERVICE_LEVEL_S,
        help_text=_("Chamadas atendidas em até este tempo de espera contam no nível de serviço."))
    max_wait_s = models.PositiveIntegerField(
        _("alarme de espera na fila (s)"), default=DEFAULT_MAX_WAIT_S,
        help_text=_("Uma chamada esperando mais do que isto numa fila gera um alarme no painel."))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization"], name="telephony_queuetargets_one_per_org")]
        verbose_name = _("metas das filas")
        verbose_name_plural = _("metas das filas")

    def __str__(self) -> str:
        return f"{self.service_level_s} s / {self.max_wait_s} s"
