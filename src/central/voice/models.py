"""AI extensions (ramais de IA), the condominium's units and residents, and visit logs.

The voice process never queries these per call: :mod:`central.voice.loader` turns them
into plain :class:`central.voice.config.VoiceConfig` at start and on refresh, and writes
a JSON snapshot it can start from when the database is down.
"""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from central.core import unique
from central.core.tenancy import TenantOwned

_port = [MinValueValidator(1), MaxValueValidator(65535)]


def default_providers() -> dict:
    return {"tts": [{"type": "espeak"}], "reply": [{"type": "rules"}], "stt": []}


class AIExtension(TenantOwned):
    number = models.CharField(_("ramal"), max_length=20)
    return_number = models.CharField(_("ramal de retorno"), max_length=20, blank=True)
    bind_ip = models.CharField(
        _("IP de escuta"), max_length=45, default="127.0.0.1",
        help_text=_("Endereço em que o Asterisk alcança este ramal; 0.0.0.0 expõe a porta a toda a rede."),
    )
    port = models.PositiveIntegerField(_("porta"), default=8080, validators=_port)
    return_port = models.PositiveIntegerField(_("porta de retorno"), default=8081, validators=_port)
    greeting = models.TextField(_("saudação"), default="Olá! Aqui é a portaria virtual.")
    instructions = models.TextField(_("persona / instruções"), blank=True)
    providers = models.JSONField(_("provedores"), default=default_providers, blank=True)
    concierge_extension = models.CharField(
        _("ramal da portaria humana"), max_length=40, blank=True,
        help_text=_("Para onde transferir quando o visitante pede ou algo falha."),
    )
    enabled = models.BooleanField(_("ativo"), default=True)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("criado em"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("atualizado em"))
    #: extension_ia.extension_ia_id of the legacy AudioSocket server (``central import-legacy``).
    legacy_id = models.BigIntegerField(_("id no sistema legado"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("ramal de IA")
        verbose_name_plural = _("ramais de IA")
        ordering = ["number"]
        # Installation-unique (central.core.unique, EXTENSION_NUMBERS / AUDIOSOCKET_PORTS):
        # one voice process and one dialplan serve every tenant.
        constraints = [
            models.UniqueConstraint(fields=["number"], name="voice_ext_number_installation_unique"),
            models.UniqueConstraint(fields=["return_number"], condition=~models.Q(return_number=""),
                                    name="voice_ext_return_number_installation_unique"),
            models.UniqueConstraint(fields=["port"], condition=models.Q(port__gt=0),
                                    name="voice_ext_port_installation_unique"),
            models.UniqueConstraint(fields=["return_port"], condition=models.Q(return_port__gt=0),
                                    name="voice_ext_return_port_installation_unique"),
            models.UniqueConstraint(fields=["organization", "legacy_id"], condition=models.Q(legacy_id__isnull=False),
                                    name="voice_ext_legacy_unique"),
        ]

    def clean(self) -> None:
        super().clean()
        values = {f: getattr(self, f) for f in ("number", "return_number", "port", "return_port")}
        errors = unique.conflicts(self._meta.label_lower, values, instance=self)
        if errors:
            from django.core.exceptions import ValidationError

            raise ValidationError(errors)

    def __str__(self) -> str:
        return f"{self.number} ({self.organization})"


#: Dialplan extensions of the shared Asterisk: a visitor dials ``number``, Central
#: originates the resident's leg into ``return_number``.
EXTENSION_NUMBERS = unique.register(
    "voice.extension_numbers", "voice.aiextension.number", "voice.aiextension.return_number"
)
#: TCP ports of the voice process's AudioSocket listeners (0 = any free port, tests only).
AUDIOSOCKET_PORTS = unique.register(
    "voice.audiosocket_ports", "voice.aiextension.port", "voice.aiextension.return_port"
)
#: Where the platform starts looking when it picks ports for a new extension.
FIRST_PORT = 8080


class Unit(TenantOwned):
    block = models.CharField(_("bloco"), max_length=20, blank=True)
    number = models.CharField(_("número"), max_length=20)

    class Meta:
        verbose_name = _("unidade")
        verbose_name_plural = _("unidades")
        ordering = ["block", "number"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "block", "number"], name="voice_unit_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.number} bloco {self.block}" if self.block else self.number


class Resident(TenantOwned):
    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="residents", verbose_name=_("unidade"))
    name = models.CharField(_("nome"), max_length=120)
    extension = models.CharField(
        _("ramal ou telefone"), max_length=80,
        help_text=_("Ramal (1101), canal (PJSIP/1101) ou telefone em E.164 (+5511999990001)."),
    )
    priority = models.PositiveSmallIntegerField(_("ordem"), default=0)
    active = models.BooleanField(_("ativo"), default=True)

    class Meta:
        verbose_name = _("morador")
        verbose_name_plural = _("moradores")
        ordering = ["priority", "name"]

    def __str__(self) -> str:
        return self.name


class VisitLog(TenantOwned):
    class Outcome(models.TextChoices):
        AUTHORIZED = "authorized", _("Autorizado")
        DENIED = "denied", _("Recusado")
        NO_ANSWER = "no_answer", _("Morador não atendeu")
        TRANSFERRED = "transferred", _("Transferido")
        ABANDONED = "abandoned", _("Visitante desligou")
        FAILED = "failed", _("Falha do sistema")  # the resident could not be called

    visit_id = models.UUIDField(_("id da visita"), unique=True)
    extension_number = models.CharField(_("ramal"), max_length=20)
    visitor_name = models.CharField(_("visitante"), max_length=120, blank=True)
    unit = models.ForeignKey(Unit, null=True, blank=True, on_delete=models.SET_NULL, related_name="visits", verbose_name=_("unidade"))
    unit_label = models.CharField(_("unidade"), max_length=60, blank=True)
    outcome = models.CharField(_("resultado"), max_length=20, choices=Outcome.choices, db_index=True)
    started_at = models.DateTimeField(_("início"))
    ended_at = models.DateTimeField(_("fim"))
    audit = models.JSONField(_("trilha de auditoria"), default=list, blank=True)

    class Meta:
        verbose_name = _("visita")
        verbose_name_plural = _("visitas")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.visitor_name or '-'} -> {self.unit_label}: {self.outcome}"


class ConfigVersion(models.Model):
    """One row: bumped on every change of what the voice process loads (AI extensions,
    units, residents, an organization switched on or off), by :mod:`central.voice.signals`.

    The voice process reads this single row every few seconds (``SELECT version ... WHERE
    id = 1``) and reloads when it moved, so a change made through the API, the admin or
    another process reaches the listeners by itself, with or without Redis.
    """

    SINGLETON = 1

    version = models.BigIntegerField(default=0, verbose_name=_("versão"))
    changed_at = models.DateTimeField(auto_now=True, verbose_name=_("alterado em"))

    class Meta:
        verbose_name = _("versão da configuração de voz")

    @classmethod
    def bump(cls) -> None:
        from django.db.models import F
        from django.utils import timezone

        if not cls.objects.filter(pk=cls.SINGLETON).update(version=F("version") + 1, changed_at=timezone.now()):
            cls.objects.get_or_create(pk=cls.SINGLETON, defaults={"version": 1})

    @classmethod
    def current(cls) -> int:
        return cls.objects.filter(pk=cls.SINGLETON).values_list("version", flat=True).first() or 0
