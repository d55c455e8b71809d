"""Dialer data: campaigns, contacts, do-not-call lists, attempts, callbacks, leases, imports.

An ``Attempt`` row is written *before* its Originate is sent and carries the pre-assigned
channel id, so after a crash or an AMI reconnect the engine can ask Asterisk what became
of it instead of dialing the contact again (DESIGN principle 4).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext_lazy as _

from central.core.tenancy import TenantOwned


def default_working_hours() -> dict:
    weekdays = {day: [["09:00", "20:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
    # Brazilian telemarketing self-regulation (and several state laws) allow Saturdays 10-16
    # and forbid Sundays; campaigns may narrow this further.
    return {**weekdays, "sat": [["10:00", "16:00"]], "sun": []}


def default_dispositions() -> list:
    """The issue's list (venda, sem interesse, agendar retorno, número errado, não ligar
    mais): ``central.dialer.desk.DEFAULT_DISPOSITIONS``."""
    from central.dialer.desk import DEFAULT_DISPOSITIONS

    return [dict(item) for item in DEFAULT_DISPOSITIONS]


def default_retry_policy() -> dict:
    """Seconds until the next try, per result of the previous attempt."""
    return {"busy": 600, "no_answer": 1800, "congestion": 300, "failed": 900, "abandoned": 300}


class RecordMode(models.TextChoices):
    """Values are :mod:`central.recordings.policy`'s ``RECORD_*`` constants."""

    NONE = "none", _("Nenhuma")
    ALL = "all", _("Todas")
    PERCENT = "percent", _("Uma porcentagem")


class Campaign(TenantOwned):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Rascunho")
        ACTIVE = "active", _("Ativa")
        PAUSED = "paused", _("Pausada")
        FINISHED = "finished", _("Encerrada")

    class Pacing(models.TextChoices):
        PREVIEW = "preview", _("Prévia")
        PROGRESSIVE = "progressive", _("Progressivo")
        RATIO = "ratio", _("Razão fixa")
        PREDICTIVE = "predictive", _("Preditivo")

    name = models.CharField(_("nome"), max_length=200)
    status = models.CharField(_("situação"), max_length=20, choices=Status.choices, default=Status.DRAFT, db_index=True)
    queue = models.CharField(_("fila"), max_length=80, help_text=_("Fila do Asterisk cujos membros são os agentes."))
    # A reference, not a name: server names repeat across tenants, and the dialer of a
    # server claims only campaigns of the server's own organization (docs/security.md,
    # "Dial strings and PBX selection"). Empty: the default PBX, which serves only the
    # organization it is configured for (CENTRAL_AMI_ORG).
    asterisk_server = models.ForeignKey(
        "telephony.AsteriskServer", verbose_name=_("servidor Asterisk"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="campaigns", help_text=_("Vazio: o servidor padrão."))
    dial_context = models.CharField(
        _("contexto de discagem"), max_length=80, default="discador-out",
        help_text=_("Contexto do plano de discagem do Asterisk (Originate Context; também o de Local/<número>@<contexto>)."))
    dial_exten = models.CharField(
        _("extensão de discagem"), max_length=80, default="fila",
        help_text=_("Extensão desse contexto para onde vai a chamada atendida (Originate Exten), que a põe na fila."))
    trunk = models.CharField(_("tronco"), max_length=120, blank=True, help_text=_("Ex.: PJSIP/{number}@operadora. Vazio: Local/{number}@<contexto>."))
    caller_id = models.CharField(_("identificador de chamada (bina)"), max_length=40, blank=True)
    use_0303_prefix = models.BooleanField(_("usar prefixo 0303 de telemarketing"), default=False)
    pacing_mode = models.CharField(_("modo de discagem"), max_length=20, choices=Pacing.choices, default=Pacing.PROGRESSIVE)
    dial_ratio = models.FloatField(_("chamadas por agente livre (razão)"), default=1.5)
    max_abandon_rate = models.FloatField(_("abandono máximo"), default=0.03)
    abandon_after_s = models.FloatField(_("segundos até considerar abandono"), default=2.0)
    max_channels = models.PositiveIntegerField(_("canais máximos"), default=30)
    max_cps = models.FloatField(_("chamadas por segundo (máx.)"), default=5.0)
    ring_timeout_s = models.PositiveIntegerField(_("tempo de toque (s)"), default=30)
    max_attempts = models.PositiveIntegerField(_("tentativas máximas por contato"), default=3)
    max_attempts_per_day = models.PositiveIntegerField(_("tentativas por dia por contato"), default=3)
    retry_policy = models.JSONField(_("política de nova tentativa"), default=default_retry_policy)
    timezone = models.CharField(_("fuso horário"), max_length=64, default="America/Sao_Paulo")
    working_hours = models.JSONField(_("horário de funcionamento"), default=default_working_hours)
    respect_holidays = models.BooleanField(_("não discar em feriados"), default=True)
    holiday_subdivision = models.CharField(_("UF para feriados estaduais"), max_length=2, blank=True)
    short_call_message = models.CharField(
        _("mensagem quando não há agente"),
        max_length=300,
        default="Olá, aqui é da {empresa}. Retornaremos sua ligação em breve. Obrigado.",
    )
    short_call_alarm = models.PositiveIntegerField(_("alarme de chamadas curtas por dia"), default=50)
    # The agent's page (docs/agents.md, "Agent's page"): what the agent may answer after a
    # call ({code, label, effect}: central.dialer.desk), the script they read with the
    # contact's fields substituted, and the most wrap-up the pacing waits for a disposition.
    dispositions = models.JSONField(_("resultados do atendimento"), default=default_dispositions, blank=True)
    script = models.TextField(_("roteiro"), blank=True, max_length=20000,
                              help_text=_("Use {nome}, {telefone} e os campos importados, como {cidade}."))
    wrapup_limit_s = models.PositiveIntegerField(
        _("pós-atendimento máximo (s)"), default=0,
        help_text=_("0: o discador conta o wrapuptime fixo da fila. Acima de 0: conta o pós-atendimento real, "
                    "até o agente salvar o resultado, no máximo estes segundos."))
    # Call recording (docs/recordings.md): the dialer starts MixMonitor on the answered call
    # for all, none or a share of the attempts (central.recordings.policy.should_record).
    record = models.CharField(_("gravar chamadas"), max_length=10, choices=RecordMode.choices,
                              default=RecordMode.NONE)
    record_percent = models.PositiveSmallIntegerField(
        _("porcentagem gravada"), default=0, help_text=_("Com \"uma porcentagem\": de 1 a 100% das chamadas atendidas."))
    # Set by the dialer when every Originate of the campaign fails (a dialplan mistake:
    # "Extension does not exist."): the campaign is paused and the panel shows why.
    # Cleared when the campaign is started or resumed.
    alarm = models.CharField(_("alarme"), max_length=40, blank=True)
    alarm_message = models.CharField(_("detalhe do alarme"), max_length=300, blank=True)
    alarm_at = models.DateTimeField(_("alarme desde"), null=True, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now, verbose_name=_("criado em"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("atualizado em"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("início"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("fim"))
    # Id of the row in the legacy dialer (discador_campanhas.id) this campaign was imported
    # from: what makes `central import-legacy` idempotent (docs/legacy-import.md).
    legacy_id = models.BigIntegerField(_("id no sistema legado"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "legacy_id"], condition=models.Q(legacy_id__isnull=False),
                                    name="dialer_campaign_legacy_unique"),
        ]
        verbose_name = _("campanha")
        verbose_name_plural = _("campanhas")

    def clean(self) -> None:
        """The API's settings rules for the dashboard and admin forms too
        (:mod:`central.dialer.rules`: ranges, caller ID, hours, and the dial strings within
        ``central.core.outbound``'s rule, docs/security.md rule 17), and a server of the
        same organization."""
        super().clean()
        from django.core.exceptions import ValidationError

        from .rules import SETTINGS_FIELDS, campaign_settings_errors

        errors = campaign_settings_errors({name: getattr(self, name) for name in SETTINGS_FIELDS})
        if self.asterisk_server_id is not None and self.asterisk_server.organization_id != self.organization_id:
            errors["asterisk_server"] = str(_("O servidor Asterisk da campanha não pertence a esta organização."))
        if errors:
            raise ValidationError(errors)

    def __str__(self) -> str:
        return self.name


class Contact(TenantOwned):
    class Status(models.TextChoices):
        PENDING = "pending", _("Aguardando")
        IN_PROGRESS = "in_progress", _("Em ligação")
        DONE = "done", _("Concluído")
        FAILED = "failed", _("Esgotado")
        DNC = "dnc", _("Não ligar")
        INVALID = "invalid", _("Número inválido")
        #: A callback promised for one agent: waits for them (their page), never
        #: claimed by the engine (central.dialer.desk_services).
        CALLBACK = "callback", _("Retorno com agente")

    class LegalBasis(models.TextChoices):
        CONSENT = "consent", _("Consentimento")
        LEGITIMATE_INTEREST = "legitimate_interest", _("Legítimo interesse")
        CONTRACT = "contract", _("Execução de contrato")
        LEGAL_OBLIGATION = "legal_obligation", _("Obrigação legal")
        CREDIT_PROTECTION = "credit_protection", _("Proteção do crédito")

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="contacts", verbose_name=_("campanha"))
    name = models.CharField(_("nome"), max_length=200, blank=True)
    phone = models.CharField(_("telefone (E.164)"), max_length=20)
    alt_phones = models.JSONField(_("telefones alternativos"), default=list, blank=True)
    custom_fields = models.JSONField(_("campos personalizados"), default=dict, blank=True)
    status = models.CharField(_("situação"), max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(_("tentativas"), default=0)
    attempts_today = models.PositiveIntegerField(default=0, verbose_name=_("tentativas hoje"))
    attempts_day = models.DateField(null=True, blank=True, help_text="day attempts_today counts", verbose_name=_("dia das tentativas"))
    max_attempts = models.PositiveIntegerField(_("tentativas máximas"), null=True, blank=True, help_text=_("Vazio: o da campanha."))
    next_attempt_at = models.DateTimeField(_("próxima tentativa"), null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("última tentativa"))
    last_result = models.CharField(_("último resultado"), max_length=20, blank=True)
    timezone = models.CharField(_("fuso horário"), max_length=64, blank=True, help_text=_("Derivado do DDD."))
    legal_basis = models.CharField(_("base legal (LGPD)"), max_length=30, choices=LegalBasis.choices, default=LegalBasis.LEGITIMATE_INTEREST)
    origin = models.CharField(_("origem do dado"), max_length=200, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now, verbose_name=_("criado em"))
    #: discador_contatos.id of the legacy dialer (see Campaign.legacy_id).
    legacy_id = models.BigIntegerField(_("id no sistema legado"), null=True, blank=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["campaign", "phone"], name="unique_contact_phone"),
            models.UniqueConstraint(fields=["organization", "legacy_id"], condition=models.Q(legacy_id__isnull=False),
                                    name="dialer_contact_legacy_unique"),
        ]
        indexes = [models.Index(fields=["campaign", "status", "next_attempt_at"], name="contact_due")]
        ordering = ["id"]
        verbose_name = _("contato")
        verbose_name_plural = _("contatos")

    def __str__(self) -> str:
        return f"{self.name} {self.phone}".strip()


class DoNotCall(TenantOwned):
    """A number never to be dialed: organization-wide (campaign empty) or for one campaign."""

    class Source(models.TextChoices):
        MANUAL = "manual", _("Manual")
        OPT_OUT = "opt_out", _("Pedido do cliente")
        NAO_ME_PERTURBE = "nao_me_perturbe", _("Não Me Perturbe")
        PROCON_SP = "procon_sp", _("Procon-SP")
        IMPORT = "import", _("Importação")

    phone = models.CharField(_("telefone (E.164)"), max_length=20, db_index=True)
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.CASCADE, related_name="dnc_entries", verbose_name=_("campanha"))
    source = models.CharField(_("origem"), max_length=20, choices=Source.choices, default=Source.MANUAL)
    reason = models.CharField(_("motivo"), max_length=200, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now, verbose_name=_("criado em"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "campaign", "phone"], name="unique_dnc"),
            models.UniqueConstraint(
                fields=["organization", "phone"], condition=models.Q(campaign__isnull=True), name="unique_dnc_org_wide"
            ),
        ]
        verbose_name = _("número bloqueado")
        verbose_name_plural = _("não ligar")

    def __str__(self) -> str:
        return self.phone


class Attempt(TenantOwned):
    """One dial attempt, written before the Originate leaves."""

    class State(models.TextChoices):
        CREATED = "created", _("Criada")  # row written, Originate not yet sent
        SENT = "sent", _("Enviada")  # Originate written to the AMI socket
        RINGING = "ringing", _("Chamando")
        ANSWERED = "answered", _("Atendida")  # customer answered, waiting or talking
        COMPLETED = "completed", _("Finalizada")
        UNKNOWN = "unknown", _("Indeterminada")  # sent, then the link dropped: reconcile

    class Result(models.TextChoices):
        ANSWERED = "answered", _("Atendida")
        BUSY = "busy", _("Ocupado")
        NO_ANSWER = "no_answer", _("Não atende")
        CONGESTION = "congestion", _("Congestionado")
        FAILED = "failed", _("Falha")
        ABANDONED = "abandoned", _("Abandonada")
        # Settled by reconcile when nothing the platform knows says how the call ended
        # (not on the PBX, no call record, no agent seen); the note says why.
        UNKNOWN = "unknown", _("Indeterminado")

    uid = models.CharField(max_length=64, unique=True, default=uuid.uuid4, help_text="pre-assigned ChannelId", verbose_name=_("UID"))
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="attempts", verbose_name=_("campanha"))
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="attempt_rows", verbose_name=_("contato"))
    phone = models.CharField(max_length=20, verbose_name=_("telefone"))
    state = models.CharField(max_length=20, choices=State.choices, default=State.CREATED, db_index=True, verbose_name=_("estado"))
    result = models.CharField(max_length=20, choices=Result.choices, blank=True, db_index=True, verbose_name=_("resultado"))
    dialer = models.CharField(max_length=120, blank=True, help_text="process that sent it", verbose_name=_("discador"))
    pacing_mode = models.CharField(max_length=20, blank=True, verbose_name=_("modo de discagem"))
    created_at = models.DateTimeField(default=dj_timezone.now, db_index=True, verbose_name=_("criado em"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("enviado em"))
    answered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("atendida em"))
    connected_at = models.DateTimeField(null=True, blank=True, help_text="agent picked up", verbose_name=_("conectado em"))
    ended_at = models.DateTimeField(null=True, blank=True, verbose_name=_("terminou em"))
    queue = models.CharField(max_length=80, blank=True, verbose_name=_("fila"))
    agent = models.CharField(max_length=120, blank=True, verbose_name=_("agente"))
    hangup_cause = models.IntegerField(null=True, blank=True, verbose_name=_("causa do desligamento"))
    hangup_cause_text = models.CharField(max_length=80, blank=True, verbose_name=_("texto da causa"))
    billsec = models.IntegerField(null=True, blank=True, verbose_name=_("tempo cobrado (s)"))
    talk_seconds = models.FloatField(null=True, blank=True, verbose_name=_("tempo falado (s)"))
    linkedid = models.CharField(max_length=64, blank=True, verbose_name=_("ID da chamada (linkedid)"))
    short_call = models.BooleanField(default=False, help_text="answered call of 6 s or less", verbose_name=_("chamada curta"))
    reconciled = models.BooleanField(default=False, verbose_name=_("conciliada"))
    note = models.CharField(max_length=300, blank=True, verbose_name=_("observação"))

    class Meta:
        indexes = [models.Index(fields=["campaign", "state"], name="attempt_live")]
        ordering = ["-created_at"]
        verbose_name = _("tentativa")
        verbose_name_plural = _("tentativas")

    def __str__(self) -> str:
        return f"{self.uid} {self.phone} {self.result or self.state}"


class Callback(TenantOwned):
    """A return call an agent promised the customer, dialed at its time to that agent."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="callbacks", verbose_name=_("campanha"))
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="callbacks", verbose_name=_("contato"))
    scheduled_for = models.DateTimeField(_("agendado para"), db_index=True)
    agent = models.CharField(_("agente"), max_length=120, blank=True, help_text=_("Vazio: qualquer agente."))
    #: The person the callback comes back to (on their page, as a preview, when due: a
    #: queue cannot ring one chosen member, docs/agents.md). Empty: any agent, through the
    #: campaign's queue like any other due contact.
    assigned_to = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("retorna para"), null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
    #: The zone the time was typed in (the contact's), to show it back the same way.
    timezone = models.CharField(_("fuso horário"), max_length=64, blank=True)
    note = models.CharField(_("observação"), max_length=300, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("criado por"))
    created_at = models.DateTimeField(default=dj_timezone.now, verbose_name=_("criado em"))
    done_at = models.DateTimeField(null=True, blank=True, verbose_name=_("concluído em"))

    class Meta:
        ordering = ["scheduled_for"]
        verbose_name = _("retorno agendado")
        verbose_name_plural = _("retornos agendados")


class Disposition(TenantOwned):
    """What the agent recorded about one call on their page: the campaign's result code,
    notes, the wrap-up it took. One per attempt; the dialer engine reads new rows to end
    the agent's wrap-up (real wrap-up pacing)."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="dispositions_saved", verbose_name=_("campanha"))
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="dispositions", verbose_name=_("contato"))
    attempt = models.OneToOneField(Attempt, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="disposition", verbose_name=_("tentativa"))
    code = models.CharField(_("resultado"), max_length=40)
    label = models.CharField(_("rótulo"), max_length=60)
    effect = models.CharField(max_length=20, verbose_name=_("efeito"))
    notes = models.TextField(_("observações"), blank=True, max_length=4000)
    agent_interface = models.CharField(_("interface do agente"), max_length=120, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+", verbose_name=_("usuário"))
    callback = models.ForeignKey(Callback, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("retorno"))
    call_ended_at = models.DateTimeField(null=True, blank=True, verbose_name=_("chamada terminou em"))
    wrapup_seconds = models.FloatField(default=0.0, verbose_name=_("pós-atendimento (s)"))
    saved_at = models.DateTimeField(default=dj_timezone.now, db_index=True, verbose_name=_("salvo em"))

    class Meta:
        ordering = ["-saved_at"]
        verbose_name = _("resultado de atendimento")
        verbose_name_plural = _("resultados de atendimento")

    def __str__(self) -> str:
        return f"{self.contact_id} {self.code}"


class CampaignLease(models.Model):
    """Which dialer process runs a campaign, until when.

    A holder renews before ``expires_at``; another process may take an expired lease. The
    ``generation`` grows on every takeover and fences stale writers.
    """

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, related_name="lease", verbose_name=_("campanha"))
    holder = models.CharField(max_length=120, verbose_name=_("detentor"))
    expires_at = models.DateTimeField(db_index=True, verbose_name=_("expira em"))
    acquired_at = models.DateTimeField(default=dj_timezone.now, verbose_name=_("obtido em"))
    generation = models.PositiveIntegerField(default=1, verbose_name=_("geração"))

    def __str__(self) -> str:
        return f"{self.campaign_id} → {self.holder} until {self.expires_at:%H:%M:%S}"

    class Meta:
        verbose_name = _("posse da campanha")
        verbose_name_plural = _("posses das campanhas")


class CampaignLiveState(models.Model):
    """The engine's latest live view of a campaign (agents, calls in progress, pacing
    reason), for the live panel of *any* web process.

    Only used without Redis (embedded installs: ``central web`` and ``central dialer`` may
    be separate processes on one SQLite file, whose in-process caches share nothing);
    with Redis the view lives in the shared cache (``central.dialer.live``). Written by
    the lease holder every few seconds; a row older than ``live.STATE_TTL`` is stale.
    Tenant-scoped through its campaign (read only via a campaign already scoped).
    """

    campaign = models.OneToOneField(Campaign, on_delete=models.CASCADE, primary_key=True,
                                    related_name="live_state", verbose_name=_("campanha"))
    state = models.JSONField(default=dict, verbose_name=_("estado"))
    updated_at = models.DateTimeField(db_index=True, verbose_name=_("atualizado em"))

    def __str__(self) -> str:
        return f"{self.campaign_id} @ {self.updated_at:%H:%M:%S}"

    class Meta:
        verbose_name = _("estado ao vivo da campanha")
        verbose_name_plural = _("estados ao vivo das campanhas")


class ImportJob(TenantOwned):
    class Kind(models.TextChoices):
        CONTACTS = "contacts", _("Contatos")
        DNC = "dnc", _("Não ligar")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Na fila")
        RUNNING = "running", _("Importando")
        DONE = "done", _("Concluída")
        FAILED = "failed", _("Falhou")

    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.CONTACTS, verbose_name=_("tipo"))
    campaign = models.ForeignKey(Campaign, null=True, blank=True, on_delete=models.CASCADE, related_name="imports", verbose_name=_("campanha"))
    filename = models.CharField(max_length=255, verbose_name=_("nome do arquivo"))
    stored_path = models.CharField(max_length=500, blank=True, verbose_name=_("arquivo guardado"))
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED, verbose_name=_("situação"))
    total_bytes = models.BigIntegerField(default=0, verbose_name=_("bytes no total"))
    processed_bytes = models.BigIntegerField(default=0, verbose_name=_("bytes processados"))
    rows = models.PositiveIntegerField(default=0, verbose_name=_("linhas"))
    imported = models.PositiveIntegerField(default=0, verbose_name=_("importadas"))
    merged = models.PositiveIntegerField(default=0, verbose_name=_("mescladas"))
    rejected = models.PositiveIntegerField(default=0, verbose_name=_("rejeitadas"))
    dnc = models.PositiveIntegerField(default=0, help_text="contacts imported already on a do-not-call list", verbose_name=_("não ligar"))
    options = models.JSONField(default=dict, blank=True, help_text="legal_basis, origin, source (DNC)", verbose_name=_("opções"))
    errors = models.JSONField(default=list, blank=True, help_text="first errors: {row, column, reason}", verbose_name=_("erros"))
    errors_path = models.CharField(max_length=500, blank=True, help_text="CSV with every rejected row", verbose_name=_("arquivo de erros"))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("criado por"))
    created_at = models.DateTimeField(default=dj_timezone.now, verbose_name=_("criado em"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("início"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("fim"))
    message = models.CharField(max_length=300, blank=True, verbose_name=_("mensagem"))
    # Who runs the job and how far its work is committed (central.dialer.importworker):
    # a worker that dies is noticed by its heartbeat/pid and the job resumes after resume_row.
    worker = models.CharField(max_length=120, blank=True, help_text="host:pid of the process running it", verbose_name=_("processo"))
    heartbeat_at = models.DateTimeField(null=True, blank=True, verbose_name=_("último sinal de vida"))
    resume_row = models.PositiveIntegerField(default=0, help_text="last file row whose effects are committed", verbose_name=_("linha de retomada"))
    errors_offset = models.BigIntegerField(default=0, help_text="size of the errors CSV at resume_row", verbose_name=_("posição nos erros"))
    resumes = models.PositiveSmallIntegerField(default=0, help_text="times resumed after its worker died", verbose_name=_("retomadas"))

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("importação")
        verbose_name_plural = _("importações")
