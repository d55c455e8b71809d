"""Organizations (tenants), memberships with roles, the audit log and process heartbeats."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext_lazy as _

from .roles import Role


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
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("papel"), max_length=20, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(default=dj_timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="unique_membership")
        ]
        ordering = ["organization__name"]
        verbose_name = _("vínculo")
        verbose_name_plural = _("vínculos")

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization} ({self.role})"


class AuditLog(models.Model):
    """Who did what, when, from where. Rows are only ever inserted."""

    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(_("ação"), max_length=80, db_index=True)
    target_type = models.CharField(max_length=80, blank=True)
    target_id = models.CharField(max_length=80, blank=True)
    details = models.JSONField(default=dict, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(default=dj_timezone.now, db_index=True)

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

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=40)
    host = models.CharField(max_length=120)
    pid = models.IntegerField()
    started_at = models.DateTimeField(default=dj_timezone.now)
    last_seen = models.DateTimeField(default=dj_timezone.now)
    info = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return self.name
