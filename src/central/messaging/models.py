"""WhatsApp channel data: numbers, contacts, conversations, messages, templates, the inbox.

One person is one E.164 number within a tenant (``Contact.phone``, normalised by
:mod:`central.core.phones` like the dialer's contacts), so other apps find the same person
by number through their own service functions.

A :class:`Conversation` is one *episode* with a contact on one business number: it opens on
an inbound message, is owned by the automated responder (``bot``), waits for a human
(``pending``), is owned by a human (``open``) and ends ``resolved``. At most one
conversation per (number, contact) is not resolved (a partial unique constraint); the next
inbound message after a resolve starts a new episode, so first-response and resolution
times are per episode and the history stays.

:class:`WebhookEvent` is the durable inbox of the webhook: one row per inbound message or
status, keyed by what Meta gives (``msg:<wamid>``, ``status:<wamid>:<status>``); the
webhook answers 200 only after the insert, and a duplicate delivery hits the unique key.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext_lazy as _

from central.core.tenancy import TenantOwned

#: Meta's customer service window: free-form messages only within 24 h of the customer's
#: last message (outside it only an approved template; error 131047 otherwise).
SERVICE_WINDOW_SECONDS = 24 * 3600


class WhatsAppNumber(TenantOwned):
    """A business phone number of the Cloud API, owned by one tenant.

    ``phone_number_id`` routes webhook deliveries (``metadata.phone_number_id``) to the
    tenant, so it is unique across the installation. Secrets are never stored: the access
    token and the app secret are read from environment variables whose *names* are stored
    (``central.core.outbound.read_secret``: only ``CENTRAL_TENANT_SECRET_*``). A simulator
    number gets both from the embedded simulator instead, like the PBX simulator's secret.
    """

    phone_number_id = models.CharField(_("ID do número (phone_number_id)"), max_length=64, unique=True)
    display_number = models.CharField(_("número"), max_length=32, help_text=_("E.164, ex.: +5511999990000"))
    name = models.CharField(_("nome verificado"), max_length=120, blank=True)
    waba_id = models.CharField(_("ID da conta WhatsApp Business"), max_length=64, blank=True)
    access_token_env = models.CharField(
        _("variável do token de acesso"), max_length=100, blank=True,
        help_text=_("Nome da variável de ambiente (prefixo CENTRAL_TENANT_SECRET_)."))
    app_secret_env = models.CharField(
        _("variável do segredo do app"), max_length=100, blank=True,
        help_text=_("Nome da variável de ambiente (prefixo CENTRAL_TENANT_SECRET_)."))
    use_simulator = models.BooleanField(_("simulador"), default=False, editable=False)
    is_active = models.BooleanField(_("ativo"), default=True)
    created_at = models.DateTimeField(_("criado em"), default=dj_timezone.now)

    class Meta:
        ordering = ["display_number"]
        verbose_name = _("número de WhatsApp")
        verbose_name_plural = _("números de WhatsApp")

    def __str__(self) -> str:
        return f"{self.display_number} ({self.phone_number_id})"


class Label(TenantOwned):
    name = models.CharField(_("nome"), max_length=60)
    color = models.CharField(_("cor"), max_length=7, default="#6b7280")

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="messaging_label_unique")]
        verbose_name = _("etiqueta")
        verbose_name_plural = _("etiquetas")

    def __str__(self) -> str:
        return self.name


class Contact(TenantOwned):
    """A customer on WhatsApp: ``wa_id`` as WhatsApp gives it, ``phone`` in E.164.

    ``wa_id`` is what messages are addressed to (Brazilian ``wa_id`` values often lack
    the ninth digit); ``phone`` is the person across channels. LGPD: ``opted_in_at`` is when
    consent was recorded, ``opted_out_at`` when the customer asked to stop (nothing but the
    confirmation is sent after it, until a new opt-in).
    """

    wa_id = models.CharField(_("WhatsApp ID"), max_length=32)
    phone = models.CharField(_("telefone"), max_length=20, db_index=True)
    name = models.CharField(_("nome"), max_length=200, blank=True)
    labels = models.ManyToManyField(Label, blank=True, related_name="contacts", verbose_name=_("etiquetas"))
    opted_in_at = models.DateTimeField(_("consentimento em"), null=True, blank=True)
    consent_source = models.CharField(_("origem do consentimento"), max_length=120, blank=True)
    opted_out_at = models.DateTimeField(_("descadastro em"), null=True, blank=True)
    created_at = models.DateTimeField(_("criado em"), default=dj_timezone.now)
    updated_at = models.DateTimeField(_("atualizado em"), auto_now=True)

    class Meta:
        ordering = ["name", "phone"]
        constraints = [models.UniqueConstraint(fields=["organization", "wa_id"], name="messaging_contact_wa_id")]
        verbose_name = _("contato")
        verbose_name_plural = _("contatos")

    def __str__(self) -> str:
        return f"{self.name or self.phone}"

    @property
    def opted_out(self) -> bool:
        return self.opted_out_at is not None and (self.opted_in_at is None or self.opted_out_at >= self.opted_in_at)


class Conversation(TenantOwned):
    class State(models.TextChoices):
        BOT = "bot", _("Assistente")
        PENDING = "pending", _("Aguardando atendente")
        OPEN = "open", _("Com atendente")
        RESOLVED = "resolved", _("Resolvida")

    number = models.ForeignKey(WhatsAppNumber, on_delete=models.CASCADE, related_name="conversations",
                               verbose_name=_("número"))
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="conversations",
                                verbose_name=_("contato"))
    state = models.CharField(_("situação"), max_length=10, choices=State.choices, default=State.BOT, db_index=True)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="+", verbose_name=_("atendente"))
    labels = models.ManyToManyField(Label, blank=True, related_name="conversations", verbose_name=_("etiquetas"))
    unread_count = models.PositiveIntegerField(_("não lidas"), default=0)
    last_inbound_at = models.DateTimeField(_("última mensagem do cliente"), null=True, blank=True)
    last_message_at = models.DateTimeField(_("última mensagem"), null=True, blank=True, db_index=True)
    last_message_preview = models.CharField(max_length=120, blank=True, verbose_name=_("prévia da última mensagem"))
    handoff_reason = models.CharField(_("motivo do encaminhamento"), max_length=200, blank=True)
    handoff_at = models.DateTimeField(_("encaminhada em"), null=True, blank=True)
    opened_at = models.DateTimeField(_("aberta em"), default=dj_timezone.now)
    first_response_at = models.DateTimeField(_("primeira resposta em"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolvida em"), null=True, blank=True)

    class Meta:
        ordering = ["-last_message_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["number", "contact"], condition=~Q(state="resolved"),
                                    name="messaging_one_live_conversation"),
        ]
        indexes = [models.Index(fields=["organization", "state", "-last_message_at"])]
        verbose_name = _("conversa")
        verbose_name_plural = _("conversas")

    def __str__(self) -> str:
        return f"{self.contact} [{self.state}]"

    def window_closes_at(self):
        """End of the 24 h customer service window, or None (the customer never wrote)."""
        from datetime import timedelta

        if self.last_inbound_at is None:
            return None
        return self.last_inbound_at + timedelta(seconds=SERVICE_WINDOW_SECONDS)

    def window_open(self, now=None) -> bool:
        closes = self.window_closes_at()
        return closes is not None and (now or dj_timezone.now()) < closes


class Message(TenantOwned):
    class Direction(models.TextChoices):
        IN = "in", _("Recebida")
        OUT = "out", _("Enviada")

    class Kind(models.TextChoices):
        TEXT = "text", _("Texto")
        INTERACTIVE = "interactive", _("Interativa")  # buttons/list sent, or a reply to them
        BUTTON = "button", _("Botão de modelo")  # template quick reply pressed
        TEMPLATE = "template", _("Modelo")
        IMAGE = "image", _("Imagem")
        DOCUMENT = "document", _("Documento")
        AUDIO = "audio", _("Áudio")
        VIDEO = "video", _("Vídeo")
        STICKER = "sticker", _("Figurinha")
        LOCATION = "location", _("Localização")
        CONTACTS = "contacts", _("Contatos")
        REACTION = "reaction", _("Reação")
        UNSUPPORTED = "unsupported", _("Não suportada")
        NOTE = "note", _("Nota interna")  # never sent to WhatsApp

    class Status(models.TextChoices):
        RECEIVED = "received", _("Recebida")
        QUEUED = "queued", _("Na fila")
        SENDING = "sending", _("Enviando")
        SENT = "sent", _("Enviada")
        DELIVERED = "delivered", _("Entregue")
        READ = "read", _("Lida")
        FAILED = "failed", _("Falhou")
        CANCELED = "canceled", _("Cancelada")

    class Sender(models.TextChoices):
        CUSTOMER = "customer", _("Cliente")
        USER = "user", _("Atendente")
        BOT = "bot", _("Assistente")
        SYSTEM = "system", _("Sistema")

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages", verbose_name=_("conversa"))
    direction = models.CharField(max_length=3, choices=Direction.choices, verbose_name=_("direção"))
    kind = models.CharField(_("tipo"), max_length=12, choices=Kind.choices, default=Kind.TEXT)
    wamid = models.CharField(max_length=160, null=True, blank=True, verbose_name=_("ID da mensagem no WhatsApp"))
    status = models.CharField(_("situação"), max_length=10, choices=Status.choices, db_index=True)
    error_code = models.IntegerField(_("código do erro"), null=True, blank=True)
    error_title = models.CharField(_("erro"), max_length=300, blank=True)
    body = models.TextField(_("texto"), blank=True)
    payload = models.JSONField(default=dict, blank=True, verbose_name=_("conteúdo"))
    media = models.JSONField(default=dict, blank=True, verbose_name=_("mídia"))
    sender = models.CharField(max_length=10, choices=Sender.choices, verbose_name=_("remetente"))
    sender_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+", verbose_name=_("usuário remetente"))
    context_wamid = models.CharField(max_length=160, blank=True, verbose_name=_("mensagem de contexto"))
    created_at = models.DateTimeField(default=dj_timezone.now, db_index=True, verbose_name=_("criado em"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("enviado em"))
    delivered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("entregue em"))
    read_at = models.DateTimeField(null=True, blank=True, verbose_name=_("lido em"))
    failed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("falhou em"))
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("tentativas"))
    next_attempt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("próxima tentativa em"))

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["wamid"], condition=Q(wamid__isnull=False), name="messaging_message_wamid"),
        ]
        indexes = [
            models.Index(fields=["conversation", "created_at"]),
            models.Index(fields=["status", "next_attempt_at"]),
        ]
        verbose_name = _("mensagem")
        verbose_name_plural = _("mensagens")

    def __str__(self) -> str:
        return f"{self.direction} {self.kind} {self.wamid or self.pk}"


class Template(TenantOwned):
    """A message template of one number (synced from the API, or edited for the simulator)."""

    class Category(models.TextChoices):
        MARKETING = "MARKETING", _("Marketing")
        UTILITY = "UTILITY", _("Utilidade")
        AUTHENTICATION = "AUTHENTICATION", _("Autenticação")

    class Status(models.TextChoices):
        APPROVED = "APPROVED", _("Aprovado")
        PENDING = "PENDING", _("Em análise")
        REJECTED = "REJECTED", _("Rejeitado")
        PAUSED = "PAUSED", _("Pausado")
        DISABLED = "DISABLED", _("Desativado")

    number = models.ForeignKey(WhatsAppNumber, on_delete=models.CASCADE, related_name="templates",
                               verbose_name=_("número"))
    name = models.CharField(_("nome"), max_length=512)
    language = models.CharField(_("idioma"), max_length=15, default="pt_BR")
    category = models.CharField(_("categoria"), max_length=20, choices=Category.choices, default=Category.UTILITY)
    status = models.CharField(_("situação"), max_length=10, choices=Status.choices, default=Status.APPROVED)
    body = models.TextField(_("corpo"), help_text=_("Parâmetros como {{1}}, {{2}}."))
    header = models.CharField(_("cabeçalho"), max_length=60, blank=True)
    footer = models.CharField(_("rodapé"), max_length=60, blank=True)
    buttons = models.JSONField(_("botões"), default=list, blank=True)
    external_id = models.CharField(max_length=64, blank=True, verbose_name=_("ID externo"))
    synced_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sincronizado em"))

    class Meta:
        ordering = ["name", "language"]
        constraints = [models.UniqueConstraint(fields=["number", "name", "language"], name="messaging_template_unique")]
        verbose_name = _("modelo de mensagem")
        verbose_name_plural = _("modelos de mensagem")

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"

    @property
    def parameter_count(self) -> int:
        import re

        found = {int(n) for n in re.findall(r"\{\{(\d+)\}\}", self.body)}
        return max(found) if found else 0


class CannedResponse(TenantOwned):
    shortcut = models.CharField(_("atalho"), max_length=40)
    title = models.CharField(_("título"), max_length=120, blank=True)
    body = models.TextField(_("texto"))

    class Meta:
        ordering = ["shortcut"]
        constraints = [models.UniqueConstraint(fields=["organization", "shortcut"], name="messaging_canned_unique")]
        verbose_name = _("resposta pronta")
        verbose_name_plural = _("respostas prontas")

    def __str__(self) -> str:
        return self.shortcut


class WebhookEvent(TenantOwned):
    """One inbound message or status of a webhook delivery, stored before the 200.

    ``key`` is unique: ``msg:<wamid>`` or ``status:<wamid>:<status>``. A duplicate delivery
    (Meta retries for up to 7 days) inserts nothing. ``processed_at`` is set in the same
    transaction as the effects; rows still NULL after a crash are picked up at start.
    ``ignored`` marks an event that was processed without effect (a status for a message
    this installation never sent, after its retries), with why in ``last_error``.
    """

    class Kind(models.TextChoices):
        MESSAGE = "message", _("Mensagem")
        STATUS = "status", _("Situação")

    number = models.ForeignKey(WhatsAppNumber, on_delete=models.CASCADE, related_name="+", verbose_name=_("número"))
    key = models.CharField(max_length=200, unique=True, verbose_name=_("chave"))
    kind = models.CharField(max_length=8, choices=Kind.choices, verbose_name=_("tipo"))
    payload = models.JSONField(default=dict, verbose_name=_("conteúdo"))
    received_at = models.DateTimeField(default=dj_timezone.now, verbose_name=_("recebido em"))
    processed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("processado em"))
    # A status for a message whose send is not recorded yet waits and is tried again.
    next_try_at = models.DateTimeField(null=True, blank=True, verbose_name=_("próxima tentativa em"))
    # Inbound messages: when the automated responder was given it (after the effects
    # committed); still NULL after a crash, so it is given again at start.
    dispatched_at = models.DateTimeField(null=True, blank=True, verbose_name=_("despachado em"))
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("tentativas"))
    last_error = models.CharField(max_length=300, blank=True, verbose_name=_("último erro"))
    ignored = models.BooleanField(default=False, verbose_name=_("ignoradas"))

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["processed_at", "id"], name="messaging_webhook_pending")]
        verbose_name = _("evento de webhook")
        verbose_name_plural = _("eventos de webhook")

    def __str__(self) -> str:
        return self.key


class ChannelSettings(TenantOwned):
    """A tenant's choices about the WhatsApp channel (one row per organization, created on
    first change; absent means every default).

    ``dialer_fallback``: supervisors may start a WhatsApp template to a campaign contact
    the dialer could not reach (from the person view), when consent allows. Off by
    default: writing first to someone who did not answer a call is a decision the tenant
    takes, not the platform.
    """

    dialer_fallback = models.BooleanField(
        _("modelo de WhatsApp para contatos não alcançados pelo discador"), default=False)
    updated_at = models.DateTimeField(_("atualizado em"), auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization"], name="messaging_settings_one_per_org")]
        verbose_name = _("configuração do WhatsApp")
        verbose_name_plural = _("configurações do WhatsApp")

    def __str__(self) -> str:
        return f"settings of {self.organization_id}"

    @classmethod
    def for_org(cls, organization) -> ChannelSettings:
        return cls.objects.filter(organization=organization).first() or cls(organization=organization)


#: For the OpenAPI enum name (settings.SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]): the
#: telephony app has a "direction" choice set too.
MESSAGE_DIRECTIONS = Message.Direction
