"""Organizations (tenants), memberships with roles, the audit log and process heartbeats."""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext_lazy as _

from .roles import Role
from .tenancy import TenantOwned


class Organization(models.Model):
    class Kind(models.TextChoices):
        COMPANY = "company", _("Empresa")
        CONDOMINIUM = "condominium", _("Condomínio")
        CLINIC = "clinic", _("Clínica")

    name = models.CharField(_("nome"), max_length=200)
    slug = models.SlugField(_("identificador"), max_length=80, unique=True)
    kind = models.CharField(_("tipo"), max_length=20, choices=Kind.choices, default=Kind.COMPANY)
    timezone = models.CharField(_("fuso horário"), max_length=64, default="America/Sao_Paulo")
    is_active = models.BooleanField(_("ativa"), default=True)
    created_at = models.DateTimeField(_("criada em"), default=dj_timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("organização")
        verbose_name_plural = _("organizações")

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    , verbose_name=_("usuário"))
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    , verbose_name=_("organização"))
    role = models.CharField(_("papel"), max_length=20, choices=Role.choices, default=Role.VIEWER)
    # The user's own choice of where requests without X-Organization go (see
    # tenancy.default_membership). Only the user sets it; a user's first membership starts as
    # the default so a single-tenant user never has to choose.
    is_default = models.BooleanField(_("organização padrão"), default=False)
    created_at = models.DateTimeField(default=dj_timezone.now, verbose_name=_("criado em"))

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="unique_membership"),
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(is_default=True), name="one_default_organization"
            ),
        ]
        ordering = ["organization__name"]
        verbose_name = _("vínculo")
        verbose_name_plural = _("vínculos")

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization} ({self.role})"

    def save(self, *args, **kwargs) -> None:
        if self.pk is None and not self.is_default:
            self.is_default = not Membership.objects.filter(user_id=self.user_id).exists()
        elif self.pk is not None:
            # A membership's user never changes: re-pointing one to another user moved that
            # user into this tenant without their consent (issue 8, finding 2).
            stored = Membership.objects.filter(pk=self.pk).values_list("user_id", flat=True).first()
            if stored is not None and stored != self.user_id:
                raise ValueError("a membership's user never changes")
        super().save(*args, **kwargs)


def hash_invitation_token(token: str) -> str:
    """Invitation tokens are stored hashed: a database dump must not let anyone join.

    The token is 256 random bits, so a plain SHA-256 (not a slow password hash) is enough.
    """
    return hashlib.sha256(token.encode()).hexdigest()


class Invitation(TenantOwned):
    """An invitation to join an organization, accepted by the invited person while signed in.

    Members join only this way (or are created by a platform operator), never by naming a
    user id: an id would let a tenant admin probe and pull in other tenants' users.
    The invitation names an e-mail or a username; only a signed-in user with that e-mail or
    username who holds the token can accept it.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pendente")
        ACCEPTED = "accepted", _("Aceito")
        REVOKED = "revoked", _("Revogado")
        EXPIRED = "expired", _("Expirado")

    email = models.EmailField(_("e-mail"), blank=True)
    username = models.CharField(_("usuário"), max_length=150, blank=True)
    role = models.CharField(_("papel"), max_length=20, choices=Role.choices, default=Role.AGENT)
    token_hash = models.CharField(max_length=64, unique=True, editable=False, verbose_name=_("hash do token"))
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    , verbose_name=_("convidado por"))
    created_at = models.DateTimeField(_("criado em"), default=dj_timezone.now)
    expires_at = models.DateTimeField(_("expira em"))
    accepted_at = models.DateTimeField(_("aceito em"), null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    , verbose_name=_("aceito por"))
    revoked_at = models.DateTimeField(_("revogado em"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("convite")
        verbose_name_plural = _("convites")

    def __str__(self) -> str:
        return f"{self.email or self.username} -> {self.organization_id} ({self.role})"

    @staticmethod
    def new_token() -> tuple[str, str]:
        """(token to hand to the invited person once, hash to store)."""
        token = secrets.token_urlsafe(32)
        return token, hash_invitation_token(token)

    @property
    def status(self) -> str:
        if self.accepted_at is not None:
            return self.Status.ACCEPTED
        if self.revoked_at is not None:
            return self.Status.REVOKED
        if self.expires_at <= dj_timezone.now():
            return self.Status.EXPIRED
        return self.Status.PENDING

    def addresses(self, user) -> bool:
        """True when ``user`` is the person this invitation names."""
        if self.username:
            return user.username == self.username
        return bool(user.email) and user.email.strip().lower() == self.email.strip().lower()


class AuditLog(models.Model):
    """Who did what, when, from where. Rows are only ever inserted."""

    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    , verbose_name=_("organização"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    , verbose_name=_("autor"))
    actor_name = models.CharField(max_length=150, blank=True, verbose_name=_("nome do autor"))
    action = models.CharField(_("ação"), max_length=80, db_index=True)
    target_type = models.CharField(max_length=80, blank=True, verbose_name=_("tipo do alvo"))
    target_id = models.CharField(max_length=80, blank=True, verbose_name=_("ID do alvo"))
    details = models.JSONField(default=dict, blank=True, verbose_name=_("detalhes"))
    ip = models.GenericIPAddressField(null=True, blank=True, verbose_name=_("IP"))
    user_agent = models.CharField(max_length=300, blank=True, verbose_name=_("navegador (user agent)"))
    request_id = models.CharField(max_length=64, blank=True, verbose_name=_("ID da requisição"))
    created_at = models.DateTimeField(default=dj_timezone.now, db_index=True, verbose_name=_("criado em"))

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"])]
        verbose_name = _("registro de auditoria")
        verbose_name_plural = _("registros de auditoria")

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor_name} {self.action}"


class ProcessHeartbeat(models.Model):
    """One row per running Central process, refreshed every few seconds.

    ``central status`` and the dashboard read it to show what runs where; a stale row is a
    dead process. Dialer leases live with the dialer, this is only for visibility.
    """

    name = models.CharField(max_length=120, unique=True, verbose_name=_("nome"))
    kind = models.CharField(max_length=40, verbose_name=_("tipo"))
    host = models.CharField(max_length=120, verbose_name=_("máquina"))
    pid = models.IntegerField(verbose_name=_("PID"))
    started_at = models.DateTimeField(default=dj_timezone.now, verbose_name=_("início"))
    last_seen = models.DateTimeField(default=dj_timezone.now, verbose_name=_("visto por último"))
    info = models.JSONField(default=dict, blank=True, verbose_name=_("informações"))

    class Meta:
        ordering = ["kind", "name"]
        verbose_name = _("processo ativo")
        verbose_name_plural = _("processos ativos")

    def __str__(self) -> str:
        return self.name


class RetentionPolicy(models.Model):
    """How long one organization's data is kept (LGPD: no longer than needed).

    Days per kind of data; 0 keeps it forever. An organization without a row follows the
    installation's defaults (``CENTRAL_RETENTION_*_DAYS``). ``central maintenance``
    applies it (``central.core.maintenance``)."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="retention", verbose_name=_("organização"))
    attempts_days = models.PositiveIntegerField(_("tentativas do discador (dias)"), default=0)
    call_records_days = models.PositiveIntegerField(_("registros de chamadas (dias)"), default=0)
    conversations_days = models.PositiveIntegerField(_("conversas (dias)"), default=0)
    audit_days = models.PositiveIntegerField(_("log de auditoria (dias)"), default=0)
    recordings_days = models.PositiveIntegerField(_("gravações de chamadas (dias)"), default=0)

    class Meta:
        verbose_name = _("política de retenção")
        verbose_name_plural = _("políticas de retenção")

    def __str__(self) -> str:
        return str(self.organization)


class BackupRun(models.Model):
    """One scheduled backup or restore test, claimed by its slot (day or ISO week) so two
    workers running the same job at once do it once (``central.core.backups``)."""

    class Kind(models.TextChoices):
        BACKUP = "backup", _("cópia de segurança")
        RESTORE_TEST = "restore_test", _("teste de restauração")

    kind = models.CharField(max_length=20, choices=Kind.choices, verbose_name=_("tipo"))
    slot = models.CharField(max_length=40, verbose_name=_("posição"))
    started_at = models.DateTimeField(default=dj_timezone.now, verbose_name=_("início"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("fim"))
    ok = models.BooleanField(null=True, verbose_name=_("sucesso"))
    path = models.CharField(max_length=500, blank=True, verbose_name=_("caminho"))
    size = models.BigIntegerField(default=0, verbose_name=_("tamanho"))
    detail = models.TextField(blank=True, verbose_name=_("detalhe"))
    counts = models.JSONField(default=dict, blank=True, verbose_name=_("contagens"))

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["kind", "slot"], name="backuprun_one_per_slot")]
        verbose_name = _("cópia de segurança")
        verbose_name_plural = _("cópias de segurança")

    def __str__(self) -> str:
        return f"{self.kind} {self.slot}"
