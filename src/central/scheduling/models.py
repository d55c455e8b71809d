"""The clinic's agenda: locations, professionals, services, patients, schedules, appointments.

Every row belongs to one organization (``TenantOwned``). Holds are appointments in the
``held`` state (so one exclusion constraint guards holds and bookings alike, see the
migration); the state machine is :mod:`central.scheduling.states`; every transition is a
row of :class:`AppointmentEvent`.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from central.core.tenancy import TenantOwned

from . import states


class ClinicSettings(TenantOwned):
    """The clinic's booking policy (one row per organization, created on first use)."""

    state = models.CharField(_("UF"), max_length=2, blank=True, default="SP")
    city = models.CharField(_("cidade"), max_length=120, blank=True)
    min_notice_minutes = models.PositiveIntegerField(_("antecedência mínima (min)"), default=120)
    max_days_ahead = models.PositiveIntegerField(_("dias à frente"), default=60)
    slot_step_minutes = models.PositiveIntegerField(_("intervalo entre horários (min)"), default=15)
    per_day_limit = models.PositiveIntegerField(_("limite de consultas por profissional/dia"), null=True, blank=True)
    hold_minutes = models.PositiveIntegerField(_("reserva expira em (min)"), default=10)
    waitlist_offer_minutes = models.PositiveIntegerField(_("oferta da lista de espera expira em (min)"), default=30)
    reminder_offsets = models.JSONField(_("lembretes (minutos antes)"), default=list, blank=True)
    reminders_enabled = models.BooleanField(_("lembretes ativos"), default=True)
    ask_birth_date = models.BooleanField(_("pedir data de nascimento"), default=False)
    emergency_text = models.TextField(
        _("orientação de emergência"), blank=True,
        default="Em caso de emergência, ligue 192 (SAMU) ou procure o pronto-socorro mais próximo.")

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["organization"], name="sched_one_settings_per_org")]
        verbose_name = _("configuração da agenda")
        verbose_name_plural = _("configurações da agenda")

    DEFAULT_REMINDERS = (24 * 60, 2 * 60)

    def offsets(self) -> list[int]:
        """Reminder offsets in minutes before the appointment, largest first."""
        values = self.reminder_offsets or list(self.DEFAULT_REMINDERS)
        return sorted({int(v) for v in values if int(v) > 0}, reverse=True)


class Location(TenantOwned):
    name = models.CharField(_("nome"), max_length=120)
    address = models.CharField(_("endereço"), max_length=300, blank=True)
    phone = models.CharField(_("telefone"), max_length=20, blank=True)
    directions = models.TextField(_("como chegar"), blank=True)
    is_active = models.BooleanField(_("ativo"), default=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("local")
        verbose_name_plural = _("locais")

    def __str__(self) -> str:
        return self.name


class Professional(TenantOwned):
    name = models.CharField(_("nome"), max_length=120)
    specialty = models.CharField(_("especialidade"), max_length=120, blank=True)
    google_calendar_id = models.CharField(_("Google Agenda (id)"), max_length=255, blank=True)
    is_active = models.BooleanField(_("ativo"), default=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("profissional")
        verbose_name_plural = _("profissionais")

    def __str__(self) -> str:
        return self.name


class Service(TenantOwned):
    name = models.CharField(_("nome"), max_length=120)
    duration_minutes = models.PositiveIntegerField(_("duração (min)"), default=30)
    buffer_before_minutes = models.PositiveIntegerField(_("intervalo antes (min)"), default=0)
    buffer_after_minutes = models.PositiveIntegerField(_("intervalo depois (min)"), default=0)
    price = models.DecimalField(_("preço"), max_digits=10, decimal_places=2, null=True, blank=True)
    instructions = models.TextField(_("instruções enviadas no agendamento"), blank=True)
    professionals = models.ManyToManyField(Professional, related_name="services", blank=True,
                                           verbose_name=_("profissionais"))
    is_active = models.BooleanField(_("ativo"), default=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("serviço")
        verbose_name_plural = _("serviços")

    def __str__(self) -> str:
        return self.name

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes)

    @property
    def before(self) -> timedelta:
        return timedelta(minutes=self.buffer_before_minutes)

    @property
    def after(self) -> timedelta:
        return timedelta(minutes=self.buffer_after_minutes)


class Patient(TenantOwned):
    """A patient, identified by the phone number (E.164) they write from.

    Consent and opt-out are the messaging contact's (``central.messaging``), read through
    messaging's service functions, never copied here.
    """

    name = models.CharField(_("nome"), max_length=160)
    phone = models.CharField(_("telefone (E.164)"), max_length=20)
    birth_date = models.DateField(_("data de nascimento"), null=True, blank=True)
    notes = models.TextField(_("observações"), blank=True)
    created_at = models.DateTimeField(_("criado em"), default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["organization", "phone"], name="sched_patient_phone_unique")]
        verbose_name = _("paciente")
        verbose_name_plural = _("pacientes")

    def __str__(self) -> str:
        return f"{self.name} ({self.phone})"


class WeeklySchedule(TenantOwned):
    class Weekday(models.IntegerChoices):
        MON = 0, _("segunda")
        TUE = 1, _("terça")
        WED = 2, _("quarta")
        THU = 3, _("quinta")
        FRI = 4, _("sexta")
        SAT = 5, _("sábado")
        SUN = 6, _("domingo")

    professional = models.ForeignKey(Professional, on_delete=models.CASCADE, related_name="schedules", verbose_name=_("profissional"))
    location = models.ForeignKey(Location, on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("local"))
    weekday = models.PositiveSmallIntegerField(_("dia da semana"), choices=Weekday.choices)
    start_time = models.TimeField(_("início"))
    end_time = models.TimeField(_("fim"))
    valid_from = models.DateField(_("válido a partir de"), null=True, blank=True)
    valid_until = models.DateField(_("válido até"), null=True, blank=True)

    class Meta:
        ordering = ["professional_id", "weekday", "start_time"]
        constraints = [models.CheckConstraint(condition=models.Q(end_time__gt=models.F("start_time")),
                                              name="sched_weekly_end_after_start")]
        verbose_name = _("horário semanal")
        verbose_name_plural = _("horários semanais")


class ScheduleException(TenantOwned):
    class Kind(models.TextChoices):
        OFF = "off", _("ausência / folga")
        EXTRA = "extra", _("horário extra")

    professional = models.ForeignKey(Professional, on_delete=models.CASCADE, null=True, blank=True,
                                     related_name="exceptions",
                                     help_text=_("vazio = a clínica toda"), verbose_name=_("profissional"))
    location = models.ForeignKey(Location, on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("local"))
    kind = models.CharField(_("tipo"), max_length=10, choices=Kind.choices, default=Kind.OFF)
    start = models.DateTimeField(_("início"))
    end = models.DateTimeField(_("fim"))
    reason = models.CharField(_("motivo"), max_length=200, blank=True)

    class Meta:
        ordering = ["start", "id"]
        constraints = [models.CheckConstraint(condition=models.Q(end__gt=models.F("start")),
                                              name="sched_exception_end_after_start")]
        verbose_name = _("exceção de agenda")
        verbose_name_plural = _("exceções de agenda")


class Appointment(TenantOwned):
    """A hold or a booking. ``block_start``/``block_end`` include the service's buffers:
    the range the exclusion constraint keeps free of overlaps per professional."""

    class Channel(models.TextChoices):
        WHATSAPP = "whatsapp", _("WhatsApp")
        STAFF = "staff", _("recepção")
        API = "api", _("API")
        PHONE = "phone", _("telefone")
        SYSTEM = "system", _("sistema")

    professional = models.ForeignKey(Professional, on_delete=models.PROTECT, related_name="appointments", verbose_name=_("profissional"))
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="appointments", verbose_name=_("serviço"))
    location = models.ForeignKey(Location, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("local"))
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="appointments", verbose_name=_("paciente"))
    start = models.DateTimeField(_("início"), db_index=True)
    end = models.DateTimeField(_("fim"))
    block_start = models.DateTimeField(verbose_name=_("início do bloqueio"))
    block_end = models.DateTimeField(verbose_name=_("fim do bloqueio"))
    status = models.CharField(_("situação"), max_length=20, choices=states.CHOICES, default=states.HELD,
                              db_index=True)
    channel = models.CharField(_("canal"), max_length=20, choices=Channel.choices, default=Channel.STAFF)
    hold_expires_at = models.DateTimeField(_("reserva expira em"), null=True, blank=True)
    rescheduled_from = models.OneToOneField("self", on_delete=models.SET_NULL, null=True, blank=True,
                                            related_name="rescheduled_to", verbose_name=_("remarcado de"))
    cancelled_by = models.CharField(_("cancelado por"), max_length=10, blank=True)
    cancel_reason = models.CharField(_("motivo do cancelamento"), max_length=300, blank=True)
    notes = models.TextField(_("observações"), blank=True)
    google_event_id = models.CharField(max_length=64, blank=True, verbose_name=_("ID do evento no Google"))
    created_at = models.DateTimeField(_("criado em"), default=timezone.now)
    updated_at = models.DateTimeField(_("atualizado em"), auto_now=True)

    class Meta:
        ordering = ["start", "id"]
        indexes = [models.Index(fields=["professional", "block_start"], name="sched_appt_pro_block"),
                   # availability reads a time window of the tenant's agenda (services._busy)
                   models.Index(fields=["organization", "block_start"], name="sched_appt_org_block")]
        constraints = [models.CheckConstraint(condition=models.Q(end__gt=models.F("start")),
                                              name="sched_appt_end_after_start")]
        verbose_name = _("agendamento")
        verbose_name_plural = _("agendamentos")

    def __str__(self) -> str:
        return f"{self.patient_id} {self.start:%Y-%m-%d %H:%M} ({self.status})"

    @property
    def status_label(self) -> str:
        return states.label(self.status)


class AppointmentEvent(TenantOwned):
    """One accepted transition: who, when, why and through which channel."""

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="events", verbose_name=_("agendamento"))
    from_status = models.CharField(max_length=20, blank=True, verbose_name=_("da situação"))
    to_status = models.CharField(max_length=20, verbose_name=_("para a situação"))
    at = models.DateTimeField(default=timezone.now, verbose_name=_("quando"))
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+", verbose_name=_("autor"))
    actor_label = models.CharField(max_length=120, blank=True, verbose_name=_("autor"))
    channel = models.CharField(max_length=20, blank=True, verbose_name=_("canal"))
    reason = models.CharField(max_length=300, blank=True, verbose_name=_("motivo"))

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("histórico do agendamento")
        verbose_name_plural = _("históricos de agendamento")

    @property
    def from_label(self) -> str:
        return states.label(self.from_status) if self.from_status else ""

    @property
    def to_label(self) -> str:
        return states.label(self.to_status)


class ReminderSend(TenantOwned):
    """A reminder claimed for (appointment, offset): the unique constraint is the
    exactly-once guarantee across workers."""

    class Status(models.TextChoices):
        CLAIMED = "claimed", _("em envio")
        SENT = "sent", _("enviado")
        SKIPPED = "skipped", _("pulado")
        OPTED_OUT = "opted_out", _("paciente descadastrado")
        FAILED = "failed", _("falhou")

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="reminders", verbose_name=_("agendamento"))
    offset_minutes = models.PositiveIntegerField(verbose_name=_("antecedência (min)"))
    due_at = models.DateTimeField(verbose_name=_("vence em"))
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.CLAIMED, verbose_name=_("situação"))
    kind = models.CharField(max_length=12, blank=True, verbose_name=_("tipo"))  # "template" or "interactive"
    detail = models.CharField(max_length=300, blank=True, verbose_name=_("detalhe"))
    claimed_at = models.DateTimeField(default=timezone.now, verbose_name=_("reservado em"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("enviado em"))
    replied = models.CharField(max_length=12, blank=True, verbose_name=_("respondido"))

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [models.UniqueConstraint(fields=["appointment", "offset_minutes"],
                                               name="sched_reminder_once")]
        verbose_name = _("lembrete")
        verbose_name_plural = _("lembretes")


class WaitlistEntry(TenantOwned):
    """A patient who wants an earlier slot (for a service, optionally a professional)."""

    class Status(models.TextChoices):
        WAITING = "waiting", _("aguardando")
        OFFERED = "offered", _("oferta enviada")
        ACCEPTED = "accepted", _("aceito")
        CANCELLED = "cancelled", _("cancelado")

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="waitlist", verbose_name=_("paciente"))
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+", verbose_name=_("serviço"))
    professional = models.ForeignKey(Professional, on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("profissional"))
    current = models.ForeignKey(Appointment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
                                help_text=_("o agendamento que o paciente quer antecipar"), verbose_name=_("atual"))
    earliest = models.DateTimeField(_("a partir de"), null=True, blank=True)
    latest = models.DateTimeField(_("até"), null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.WAITING, db_index=True, verbose_name=_("situação"))
    offer = models.ForeignKey(Appointment, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("oferta"))
    offer_expires_at = models.DateTimeField(null=True, blank=True, verbose_name=_("oferta expira em"))
    declined = models.JSONField(default=list, blank=True, verbose_name=_("recusado"))  # appointment ids offered and not taken
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("criado em"))

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("lista de espera")
        verbose_name_plural = _("lista de espera")


class CalendarSync(TenantOwned):
    """Google Calendar sync state of one professional (sync token, watch channel)."""

    professional = models.OneToOneField(Professional, on_delete=models.CASCADE, related_name="calendar_sync", verbose_name=_("profissional"))
    sync_token = models.TextField(blank=True, verbose_name=_("token de sincronização"))
    channel_id = models.CharField(max_length=64, blank=True, verbose_name=_("ID do canal"))
    channel_resource_id = models.CharField(max_length=255, blank=True, verbose_name=_("ID do recurso do canal"))
    channel_expires_at = models.DateTimeField(null=True, blank=True, verbose_name=_("canal expira em"))
    last_full_sync_at = models.DateTimeField(null=True, blank=True, verbose_name=_("última sincronização completa"))
    last_sync_at = models.DateTimeField(null=True, blank=True, verbose_name=_("última sincronização"))
    last_error = models.CharField(max_length=300, blank=True, verbose_name=_("último erro"))

    class Meta:
        ordering = ["id"]
        verbose_name = _("sincronização de agenda")
        verbose_name_plural = _("sincronizações de agenda")


class ExternalBusy(TenantOwned):
    """Busy time read back from a professional's external calendar (blocks slots)."""

    professional = models.ForeignKey(Professional, on_delete=models.CASCADE, related_name="external_busy", verbose_name=_("profissional"))
    external_id = models.CharField(max_length=255, verbose_name=_("ID externo"))
    start = models.DateTimeField(verbose_name=_("início"))
    end = models.DateTimeField(verbose_name=_("fim"))

    class Meta:
        ordering = ["start", "id"]
        constraints = [models.UniqueConstraint(fields=["professional", "external_id"], name="sched_busy_unique")]
        verbose_name = _("ocupação externa")
        verbose_name_plural = _("ocupações externas")
