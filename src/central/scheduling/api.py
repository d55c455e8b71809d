"""Agenda REST API (mounted at /api/v1/scheduling/).

Configuration (locations, professionals, services, weekly schedules, exceptions, the
clinic's settings) needs supervisor to write; the front desk (agent) books, moves,
cancels, checks in and registers patients. Every foreign key a client sends is looked up
inside the request's organization (:class:`TenantRelatedField`).

Appointments are never written field by field: ``POST appointments/`` holds and books
through :mod:`central.scheduling.services` (the same race-proof path as the assistant)
and the transitions are actions (``confirm``, ``check-in``, ``complete``, ``no-show``,
``cancel``, ``reschedule``) mapped by hand in ``api_urls`` like the dialer's (the
isolation walker reverses named routes without arguments). Open slots:
``GET services/{id}/slots/?professional=&start=&end=&limit=``.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from central.core.api import TenantModelViewSet, TenantReadOnlyViewSet, TenantViewSet
from central.core.roles import Role

from . import services, states
from .models import (
    Appointment,
    AppointmentEvent,
    ClinicSettings,
    Location,
    Patient,
    Professional,
    ReminderSend,
    ScheduleException,
    Service,
    WaitlistEntry,
    WeeklySchedule,
)


class TenantRelatedField(serializers.PrimaryKeyRelatedField):
    """A foreign key resolved only among the request organization's rows."""

    def get_queryset(self):
        org = self.context.get("organization")
        qs = super().get_queryset()
        return qs.filter(organization=org) if org is not None else qs.none()


def _related(model, **kw):
    return TenantRelatedField(queryset=model.objects.all(), **kw)


class LocationSerializer(serializers.ModelSerializer):
    class Meta:
        model = Location
        fields = ["id", "name", "address", "phone", "directions", "is_active"]


class ProfessionalSerializer(serializers.ModelSerializer):
    class Meta:
        model = Professional
        fields = ["id", "name", "specialty", "google_calendar_id", "is_active"]


class ServiceSerializer(serializers.ModelSerializer):
    professionals = _related(Professional, many=True, required=False)

    class Meta:
        model = Service
        fields = ["id", "name", "duration_minutes", "buffer_before_minutes", "buffer_after_minutes", "price",
                  "instructions", "professionals", "is_active"]

    def validate_duration_minutes(self, value):
        if not 5 <= value <= 24 * 60:
            raise serializers.ValidationError(_("A duração vai de 5 minutos a 24 horas."))
        return value


class PatientSerializer(serializers.ModelSerializer):
    class Meta:
        model = Patient
        fields = ["id", "name", "phone", "birth_date", "notes", "created_at"]
        read_only_fields = ["created_at"]

    def validate_phone(self, value):
        try:
            e164 = services.normalize_phone(value)
        except services.SchedulingError as exc:
            raise serializers.ValidationError(str(exc)) from exc
        org = self.context.get("organization")
        clash = Patient.objects.filter(organization=org, phone=e164)
        if self.instance is not None:
            clash = clash.exclude(pk=self.instance.pk)
        if clash.exists():
            raise serializers.ValidationError(_("Já existe um paciente com este telefone."))
        return e164


class WeeklyScheduleSerializer(serializers.ModelSerializer):
    professional = _related(Professional)
    location = _related(Location, required=False, allow_null=True)

    class Meta:
        model = WeeklySchedule
        fields = ["id", "professional", "location", "weekday", "start_time", "end_time", "valid_from", "valid_until"]

    def validate(self, attrs):
        start = attrs.get("start_time", getattr(self.instance, "start_time", None))
        end = attrs.get("end_time", getattr(self.instance, "end_time", None))
        if start and end and end <= start:
            raise serializers.ValidationError(_("O fim deve ser depois do início."))
        return attrs


class ScheduleExceptionSerializer(serializers.ModelSerializer):
    professional = _related(Professional, required=False, allow_null=True)
    location = _related(Location, required=False, allow_null=True)

    class Meta:
        model = ScheduleException
        fields = ["id", "professional", "location", "kind", "start", "end", "reason"]

    def validate(self, attrs):
        start = attrs.get("start", getattr(self.instance, "start", None))
        end = attrs.get("end", getattr(self.instance, "end", None))
        if start and end and end <= start:
            raise serializers.ValidationError(_("O fim deve ser depois do início."))
        return attrs


class ClinicSettingsSerializer(serializers.ModelSerializer):
    class Meta:
        model = ClinicSettings
        fields = ["id", "state", "city", "min_notice_minutes", "max_days_ahead", "slot_step_minutes",
                  "per_day_limit", "hold_minutes", "waitlist_offer_minutes", "reminder_offsets",
                  "reminders_enabled", "ask_birth_date", "emergency_text"]

    def validate_reminder_offsets(self, value):
        if not isinstance(value, list) or not all(isinstance(v, int) and 0 < v <= 14 * 24 * 60 for v in value):
            raise serializers.ValidationError(_("Informe os lembretes em minutos antes da consulta, ex.: [1440, 120]."))
        return value

    def validate_state(self, value):
        from central.core.holidays import SUBDIVISIONS

        value = (value or "").upper()
        if value and value not in SUBDIVISIONS:
            raise serializers.ValidationError(_("UF desconhecida (use a sigla: SP, RJ, MG...)."))
        return value


class AppointmentSerializer(serializers.ModelSerializer):
    status_label = serializers.CharField(read_only=True)
    patient_name = serializers.CharField(source="patient.name", read_only=True)
    professional_name = serializers.CharField(source="professional.name", read_only=True)
    service_name = serializers.CharField(source="service.name", read_only=True)
    rescheduled_to = serializers.SerializerMethodField()

    class Meta:
        model = Appointment
        fields = ["id", "professional", "professional_name", "service", "service_name", "location", "patient",
                  "patient_name", "start", "end", "status", "status_label", "channel", "hold_expires_at",
                  "rescheduled_from", "rescheduled_to", "cancelled_by", "cancel_reason", "notes", "created_at"]
        read_only_fields = fields

    def get_rescheduled_to(self, obj) -> int | None:
        nxt = getattr(obj, "rescheduled_to", None)
        return nxt.pk if nxt is not None else None


class BookSerializer(serializers.Serializer):
    """Book a slot: ``token`` (from the slots endpoint) or service + professional + start."""

    patient = _related(Patient)
    token = serializers.CharField(required=False, allow_blank=True)
    service = _related(Service, required=False)
    professional = _related(Professional, required=False)
    start = serializers.DateTimeField(required=False)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    channel = serializers.ChoiceField(choices=Appointment.Channel.choices, default=Appointment.Channel.STAFF)

    def validate(self, attrs):
        if not attrs.get("token") and not all(attrs.get(k) for k in ("service", "professional", "start")):
            raise serializers.ValidationError(_("Informe o horário (token) ou serviço, profissional e início."))
        return attrs


class CancelSerializer(serializers.Serializer):
    by = serializers.ChoiceField(choices=[(states.BY_PATIENT, _("paciente")), (states.BY_CLINIC, _("clínica"))])
    reason = serializers.CharField(max_length=300)


class RescheduleSerializer(serializers.Serializer):
    token = serializers.CharField(required=False, allow_blank=True)
    start = serializers.DateTimeField(required=False)
    professional = _related(Professional, required=False)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=300)

    def validate(self, attrs):
        if not attrs.get("token") and not attrs.get("start"):
            raise serializers.ValidationError(_("Informe o novo horário."))
        return attrs


class SlotSerializer(serializers.Serializer):
    token = serializers.CharField()
    start = serializers.DateTimeField()
    end = serializers.DateTimeField()
    professional_id = serializers.IntegerField()
    professional = serializers.CharField()
    location_id = serializers.IntegerField(allow_null=True)


class EventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AppointmentEvent
        fields = ["id", "appointment", "from_status", "to_status", "at", "actor_label", "channel", "reason"]


class ReminderSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReminderSend
        fields = ["id", "appointment", "offset_minutes", "due_at", "status", "kind", "sent_at", "replied"]


class WaitlistSerializer(serializers.ModelSerializer):
    patient = _related(Patient)
    service = _related(Service)
    professional = _related(Professional, required=False, allow_null=True)
    current = _related(Appointment, required=False, allow_null=True)

    class Meta:
        model = WaitlistEntry
        fields = ["id", "patient", "service", "professional", "current", "earliest", "latest", "status",
                  "offer", "offer_expires_at", "created_at"]
        read_only_fields = ["status", "offer", "offer_expires_at", "created_at"]


# --- viewsets --------------------------------------------------------------------------------


class LocationViewSet(TenantModelViewSet):
    queryset = Location.objects.all()
    serializer_class = LocationSerializer
    audit_prefix = "scheduling.location"


class ProfessionalViewSet(TenantModelViewSet):
    queryset = Professional.objects.all()
    serializer_class = ProfessionalSerializer
    audit_prefix = "scheduling.professional"
    filterset_fields = ["is_active"]


class ServiceViewSet(TenantModelViewSet):
    queryset = Service.objects.prefetch_related("professionals")
    serializer_class = ServiceSerializer
    audit_prefix = "scheduling.service"
    action_roles = {"slots": Role.VIEWER}

    @extend_schema(parameters=[OpenApiParameter("professional", int), OpenApiParameter("start", str),
                               OpenApiParameter("end", str), OpenApiParameter("limit", int)],
                   responses=SlotSerializer(many=True))
    def slots(self, request, pk=None):
        """Open slots of this service, soonest first (``limit`` up to 100, default 10)."""
        service = self.get_object()
        q = request.query_params
        pro = None
        if q.get("professional"):
            pro = Professional.objects.filter(organization=self.organization, pk=_int(q["professional"])).first()
            if pro is None:
                raise ValidationError({"professional": _("Profissional não encontrado.")})
        limit = min(max(_int(q.get("limit", "10")), 1), 100)
        slots = services.find_slots(self.organization, service, professional=pro, start=_when(q.get("start")),
                                    end=_when(q.get("end")), limit=limit)
        return Response(SlotSerializer(slots, many=True).data)


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationError(_("Número inválido: %(valor)s") % {"valor": value}) from None


def _when(value) -> datetime | None:
    if not value:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValidationError(_("Data e hora inválidas: %(valor)s (use ISO 8601).") % {"valor": value})
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


class PatientViewSet(TenantModelViewSet):
    queryset = Patient.objects.all()
    serializer_class = PatientSerializer
    audit_prefix = "scheduling.patient"
    write_role = Role.AGENT
    filterset_fields = ["phone"]

    def perform_destroy(self, instance):
        if instance.appointments.exists():
            raise ValidationError(_("Paciente com agendamentos não pode ser excluído."))
        super().perform_destroy(instance)


class WeeklyScheduleViewSet(TenantModelViewSet):
    queryset = WeeklySchedule.objects.all()
    serializer_class = WeeklyScheduleSerializer
    audit_prefix = "scheduling.schedule"
    filterset_fields = ["professional"]


class ScheduleExceptionViewSet(TenantModelViewSet):
    queryset = ScheduleException.objects.all()
    serializer_class = ScheduleExceptionSerializer
    audit_prefix = "scheduling.exception"
    filterset_fields = ["professional", "kind"]


class ClinicSettingsViewSet(TenantViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                            mixins.UpdateModelMixin):
    """The clinic's booking policy: one row, created on first read."""

    queryset = ClinicSettings.objects.all()
    serializer_class = ClinicSettingsSerializer
    audit_prefix = "scheduling.settings"
    write_role = Role.ADMIN

    def list(self, request, *args, **kwargs):
        services.settings_for(self.organization)
        return super().list(request, *args, **kwargs)


class AppointmentViewSet(TenantViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    queryset = Appointment.objects.select_related("patient", "professional", "service", "rescheduled_to")
    serializer_class = AppointmentSerializer
    write_role = Role.AGENT
    filterset_fields = ["professional", "patient", "service", "status", "channel"]

    def get_queryset(self):
        qs = super().get_queryset()
        q = self.request.query_params
        if q.get("start_after"):
            qs = qs.filter(start__gte=_when(q["start_after"]))
        if q.get("start_before"):
            qs = qs.filter(start__lt=_when(q["start_before"]))
        return qs

    def _answer(self, appt, code=status.HTTP_200_OK):
        appt = self.get_queryset().get(pk=appt.pk)
        return Response(AppointmentSerializer(appt, context=self.get_serializer_context()).data, status=code)

    @extend_schema(request=BookSerializer, responses={201: AppointmentSerializer})
    def create(self, request, *args, **kwargs):
        """Hold and book in one go (staff and API clients confirm on their side)."""
        body = BookSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        d = body.validated_data
        hold = services.hold_slot(self.organization, patient=d["patient"], token=d.get("token", ""),
                                  service=d.get("service"), professional=d.get("professional"),
                                  start=d.get("start"), channel=d["channel"], actor=request.user)
        appt = services.book(hold, actor=request.user, channel=d["channel"])
        if d.get("notes"):
            Appointment.objects.filter(pk=appt.pk).update(notes=d["notes"])
        return self._answer(appt, status.HTTP_201_CREATED)

    def _transition(self, request, fn, **kw):
        appt = self.get_object()
        fn(appt, actor=request.user, channel=Appointment.Channel.STAFF, **kw)
        return self._answer(appt)

    @extend_schema(request=None, responses=AppointmentSerializer)
    def confirm(self, request, pk=None):
        return self._transition(request, services.confirm)

    @extend_schema(request=None, responses=AppointmentSerializer)
    def check_in(self, request, pk=None):
        return self._transition(request, services.check_in)

    @extend_schema(request=None, responses=AppointmentSerializer)
    def complete(self, request, pk=None):
        return self._transition(request, services.complete)

    @extend_schema(request=None, responses=AppointmentSerializer)
    def no_show(self, request, pk=None):
        return self._transition(request, services.mark_no_show)

    @extend_schema(request=CancelSerializer, responses=AppointmentSerializer)
    def cancel(self, request, pk=None):
        body = CancelSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return self._transition(request, services.cancel, by=body.validated_data["by"],
                                reason=body.validated_data["reason"])

    @extend_schema(request=RescheduleSerializer, responses={201: AppointmentSerializer})
    def reschedule(self, request, pk=None):
        appt = self.get_object()
        body = RescheduleSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        d = body.validated_data
        new = services.reschedule(appt, token=d.get("token", ""), start=d.get("start"),
                                  professional=d.get("professional"), reason=d.get("reason", ""),
                                  actor=request.user, channel=Appointment.Channel.STAFF)
        return self._answer(new, status.HTTP_201_CREATED)


class AppointmentEventViewSet(TenantReadOnlyViewSet):
    queryset = AppointmentEvent.objects.all()
    serializer_class = EventSerializer
    filterset_fields = ["appointment"]


class ReminderViewSet(TenantReadOnlyViewSet):
    queryset = ReminderSend.objects.all()
    serializer_class = ReminderSerializer
    filterset_fields = ["appointment", "status"]


class WaitlistViewSet(TenantViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin,
                      mixins.DestroyModelMixin):
    queryset = WaitlistEntry.objects.all()
    serializer_class = WaitlistSerializer
    write_role = Role.AGENT
    audit_prefix = "scheduling.waitlist"
    filterset_fields = ["status", "service"]
