"""Agent identity, pause codes and the agents table's alert thresholds.

* :class:`Agent` is a person of the organization (a member with the ``agent`` role or
  above) as the operation knows them: display name and, optionally, their own extension
  (a supervisor's phone for listen/whisper/barge, an agent's phone for manual dial).
* :class:`AgentInterface` is a queue interface that person answers on
  (``PJSIP/2001``, ``Local/agent2@agent-phones``): one agent per interface in an
  organization. ``server`` narrows it to one of the organization's Asterisk servers;
  empty means any of them. Interfaces are strings per PBX, so the rule that keeps a
  tenant from claiming another tenant's line is in :func:`central.agents.identity.
  check_interface_claim` (the same PBX registered by two organizations).
* :class:`PauseCode` is the tenant's list of pause reasons; ``code`` is the text sent to
  Asterisk as ``QueuePause`` ``Reason`` (and read back from ``PausedReason``).
* :class:`AgentSettings` holds the agents table's colour thresholds (defaults when absent).

Agent *state* is not here: it stays in ``telephony.QueueMember``, written only by the PBX
link from AMI events.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext_lazy as _

from central.core.tenancy import TenantOwned

#: Interfaces as Asterisk names them: Technology/resource (PJSIP/2001, Local/2001@ctx,
#: SIP/x, IAX2/x, Custom:x is a state interface, not a member interface).
interface_validator = RegexValidator(
    r"^(PJSIP|SIP|IAX2|Local|DAHDI|Agent)/[A-Za-z0-9_.@+\-]{1,100}$",
    _("Use uma interface do Asterisk, como PJSIP/2001 ou Local/2001@agentes."),
)
extension_validator = RegexValidator(r"^[0-9A-Za-z_+\-]{1,40}$", _("Use só o número do ramal (ex.: 2001)."))
pause_code_validator = RegexValidator(
    r"^[a-z0-9][a-z0-9_\-]{0,39}$", _("Use letras minúsculas sem acento, números, - e _ (ex.: almoco).")
)


class Agent(TenantOwned):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_profiles",
                             verbose_name=_("usuário"))
    name = models.CharField(_("nome"), max_length=120)
    extension = models.CharField(_("ramal"), max_length=40, blank=True, validators=[extension_validator],
                                 help_text=_("Ramal do próprio agente (ex.: 2001): usado para escuta e discagem manual."))
    created_at = models.DateTimeField(default=dj_timezone.now, verbose_name=_("criado em"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("atualizado em"))

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["organization", "user"], name="agents_agent_one_per_user")]
        verbose_name = _("agente")
        verbose_name_plural = _("agentes")

    def __str__(self) -> str:
        return self.name


class AgentInterface(TenantOwned):
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="interfaces", verbose_name=_("agente"))
    interface = models.CharField(_("interface"), max_length=120, validators=[interface_validator])
    server = models.ForeignKey("telephony.AsteriskServer", on_delete=models.CASCADE, null=True, blank=True,
                               related_name="+", verbose_name=_("servidor"),
                               help_text=_("Vazio: a interface vale em qualquer servidor da organização."))
    created_at = models.DateTimeField(default=dj_timezone.now, verbose_name=_("criado em"))

    class Meta:
        ordering = ["interface"]
        constraints = [models.UniqueConstraint(fields=["organization", "interface"],
                                               name="agents_interface_unique_per_org")]
        verbose_name = _("interface do agente")
        verbose_name_plural = _("interfaces dos agentes")

    def __str__(self) -> str:
        return self.interface


class PauseCode(TenantOwned):
    code = models.CharField(_("código"), max_length=40, validators=[pause_code_validator],
                            help_text=_("Enviado ao Asterisk como motivo da pausa (QueuePause Reason)."))
    label = models.CharField(_("nome"), max_length=80)
    position = models.PositiveSmallIntegerField(_("ordem"), default=0)
    active = models.BooleanField(_("ativo"), default=True)

    class Meta:
        ordering = ["position", "label"]
        constraints = [models.UniqueConstraint(fields=["organization", "code"], name="agents_pausecode_unique")]
        verbose_name = _("motivo de pausa")
        verbose_name_plural = _("motivos de pausa")

    def __str__(self) -> str:
        return self.label


#: Seeded for every new organization (and the demo): (code, pt-BR label). The labels are
#: data the supervisor edits afterwards, so they are stored in Portuguese.
DEFAULT_PAUSE_CODES = (
    ("almoco", "Almoço"),
    ("intervalo", "Intervalo"),
    ("treinamento", "Treinamento"),
    ("back-office", "Back office"),
)

DEFAULT_PAUSE_ALERT_MINUTES = 15
DEFAULT_WRAPUP_ALERT_SECONDS = 60


class AgentSettings(TenantOwned):
    pause_alert_minutes = models.PositiveIntegerField(
        _("alerta de pausa longa (min)"), default=DEFAULT_PAUSE_ALERT_MINUTES, validators=[MinValueValidator(1)])
    wrapup_alert_seconds = models.PositiveIntegerField(
        _("alerta de pós-atendimento longo (s)"), default=DEFAULT_WRAPUP_ALERT_SECONDS,
        validators=[MinValueValidator(1)])

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization"], name="agents_settings_one_per_org")]
        verbose_name = _("configuração dos agentes")
        verbose_name_plural = _("configurações dos agentes")


def seed_pause_codes(organization_id: int) -> int:
    """Create the default pause codes an organization lacks; returns how many."""
    have = set(PauseCode.objects.filter(organization_id=organization_id).values_list("code", flat=True))
    new = [PauseCode(organization_id=organization_id, code=code, label=label, position=i)
           for i, (code, label) in enumerate(DEFAULT_PAUSE_CODES) if code not in have]
    PauseCode.objects.bulk_create(new)
    return len(new)


class PauseInterval(TenantOwned):
    """One finished pause of a queue member (from the PBX link's rows, via
    ``telephony.signals.pause_ended``): the agents table's pause time today."""

    server_id = models.BigIntegerField(verbose_name=_("ID do servidor"))
    queue = models.CharField(max_length=80, verbose_name=_("fila"))
    interface = models.CharField(max_length=120, verbose_name=_("interface"))
    reason = models.CharField(max_length=80, blank=True, verbose_name=_("motivo"))
    started_at = models.DateTimeField(verbose_name=_("início"))
    ended_at = models.DateTimeField(verbose_name=_("terminou em"))

    class Meta:
        indexes = [models.Index(fields=["organization", "interface", "ended_at"], name="agents_pause_org_iface")]
        verbose_name = _("pausa registrada")
        verbose_name_plural = _("pausas registradas")
