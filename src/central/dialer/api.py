"""Dialer REST API (mounted at /api/v1/dialer/): campaigns and their actions, contacts,
do-not-call lists, attempts, callbacks, imports and exports.

Every viewset inherits the tenant base (scoping, organization stamping, audit). Foreign
keys a client sends (campaign, contact) are looked up inside the request's organization
by :class:`TenantRelatedField`, so a client cannot attach rows to another tenant's
campaign by guessing its id.

Custom actions (start/pause/resume/finish, import, export, errors) are mapped by hand in
``api_urls`` rather than with ``@action``: the tenant-isolation walker reverses every
named route without arguments, which detail routes cannot satisfy. They still go through
the viewset (``get_object`` scoping, ``action_roles``).

Uploads: ``POST campaigns/{id}/import/`` and ``POST dnc/import/`` take a multipart
``file``. The body-size middleware lets paths ending in ``/import/`` through; this module
enforces ``CENTRAL_MAX_IMPORT_BYTES`` (default 200 MB) itself and streams the upload
straight to ``$CENTRAL_DATA_DIR/imports/`` with :class:`ImportUploadHandler` (never into
memory, never into /tmp first), then runs the import in the background.
"""

from __future__ import annotations

import os
import uuid

import django_filters
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response

from central.core import audit
from central.core.api import TenantModelViewSet, TenantReadOnlyViewSet
from central.core.bodylimit import UPLOAD_ENVELOPE_BYTES
from central.core.ids import parse_id
from central.core.phones import try_normalize
from central.core.roles import Role
from central.core.streaming import SyncStreamingHttpResponse

from . import dnc, exporter, hours, importer, rules, services
from .models import Attempt, Callback, Campaign, Contact, DoNotCall, ImportJob


def max_import_bytes() -> int:
    from central.core.bodylimit import max_upload_bytes

    return max_upload_bytes()


class TenantRelatedField(serializers.PrimaryKeyRelatedField):
    """A foreign key resolved only among the request organization's rows."""

    def get_queryset(self):
        org = self.context.get("organization")
        qs = super().get_queryset()
        return qs.filter(organization=org) if org is not None else qs.none()


def _server_queryset():
    from central.telephony.models import AsteriskServer

    return AsteriskServer.objects.all()


def _phone_or_error(value: str) -> str:
    phone, reason = try_normalize(value)
    if phone is None:
        raise serializers.ValidationError(reason)
    return phone.e164


# --- Campaigns ----------------------------------------------------------------------------


class ServerField(TenantRelatedField):
    """The campaign's PBX: the id of an Asterisk server of the request's organization.

    Another tenant's server, the platform's (unless it is configured for this
    organization) and an id that does not exist get the same 400: no oracle."""

    default_error_messages = {
        "does_not_exist": _("Servidor Asterisk inexistente nesta organização (use o id de um servidor dela)."),
        "incorrect_type": _("Servidor Asterisk inexistente nesta organização (use o id de um servidor dela)."),
    }


def _outbound_validator(validate):
    from central.core.outbound import OutboundRefused

    def run(value):
        try:
            return validate(value)
        except OutboundRefused as exc:
            raise serializers.ValidationError(str(exc)) from None

    return run


_SPAN = {"type": "array", "minItems": 2, "maxItems": 2,
         "items": {"type": "string", "pattern": r"^([01]\d|2[0-4]):[0-5]\d$", "example": "09:00"}}


@extend_schema_field({
    "type": "object",
    "description": "Dialing hours per weekday (mon..sun): a list of [start, end] spans, "
                   "HH:MM in the campaign's time zone (24:00 = midnight); a day left out or "
                   "empty has no dialing.",
    "properties": {day: {"type": "array", "items": _SPAN} for day in hours.DAYS},
    "additionalProperties": False,
    "example": {"mon": [["09:00", "12:00"], ["13:00", "20:00"]], "sat": [["10:00", "16:00"]], "sun": []},
})
class WorkingHoursField(serializers.JSONField):
    """``Campaign.working_hours`` with its shape in the schema (rules.py validates it)."""


@extend_schema_field({
    "type": "object",
    "description": "Seconds to wait before calling a contact again, per result of the "
                   "previous attempt (0 to 30 days); a result left out waits as long as `failed` "
                   "(900 s when that is left out too), until the campaign's attempt limit.",
    "properties": {result: {"type": "integer", "minimum": 0, "maximum": rules.MAX_RETRY_DELAY_S}
                   for result in Attempt.Result.values},
    "additionalProperties": False,
    "example": {"busy": 600, "no_answer": 1800},
})
class RetryPolicyField(serializers.JSONField):
    """``Campaign.retry_policy`` with its shape in the schema (rules.py validates it)."""


class CampaignSerializer(serializers.ModelSerializer):
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    asterisk_server = ServerField(
        queryset=_server_queryset(), required=False, allow_null=True,
        help_text="Id of an Asterisk server of the organization; null: the default server.")
    asterisk_server_name = serializers.CharField(source="asterisk_server.name", read_only=True, default="")
    #: The dialer's alarm (every Originate refused...) as the live panel shows it, or null.
    alarm_info = serializers.SerializerMethodField()
    working_hours = WorkingHoursField(required=False, label=Campaign._meta.get_field("working_hours").verbose_name)
    retry_policy = RetryPolicyField(required=False, label=Campaign._meta.get_field("retry_policy").verbose_name)

    class Meta:
        model = Campaign
        exclude = ["organization"]
        read_only_fields = ["status", "created_at", "updated_at", "started_at", "finished_at",
                            "alarm", "alarm_message", "alarm_at"]

    def get_alarm_info(self, obj) -> dict | None:
        from central.dialer.services import campaign_alarm

        return campaign_alarm(obj)

    def validate_holiday_subdivision(self, value):
        value = (value or "").upper()
        return self._field_rule("holiday_subdivision", value)

    @staticmethod
    def _field_rule(name: str, value):
        """One field through the settings rule, so its error comes with the other fields'
        (validate() runs the whole rule, cross-field checks included, only after them)."""
        message = rules.campaign_settings_errors({name: value}).get(name)
        if message:
            raise serializers.ValidationError(message)
        return value

    def validate(self, attrs):
        if self.instance is not None and self.instance.status == Campaign.Status.FINISHED:
            raise serializers.ValidationError(_("A campanha está encerrada e não pode ser alterada."))
        # The one settings rule (central.dialer.rules), on the values after this change:
        # the dashboard form and the admin run the same function through Campaign.clean().
        base = self.instance if self.instance is not None else Campaign()
        values = {name: attrs.get(name, getattr(base, name)) for name in rules.SETTINGS_FIELDS}
        errors = rules.campaign_settings_errors(values)
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


def _field_validator(name: str):
    def validate_field(self, value):
        return self._field_rule(name, value)

    validate_field.__name__ = f"validate_{name}"
    return validate_field


for _name in rules.SETTINGS_FIELDS:
    if _name not in ("use_0303_prefix", "holiday_subdivision"):
        setattr(CampaignSerializer, f"validate_{_name}", _field_validator(_name))


class CampaignDetailSerializer(CampaignSerializer):
    # A plain string here keeps one "status" enum component (CampaignStatusEnum) in the schema.
    status = serializers.CharField(read_only=True)
    contacts_by_status = serializers.SerializerMethodField()
    problems = serializers.SerializerMethodField()

    def get_contacts_by_status(self, obj) -> dict[str, int]:
        return services.counts_by_status(obj)

    def get_problems(self, obj) -> list[str]:
        return services.validate_campaign_settings(obj)


class ActionResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    legal_basis = serializers.ChoiceField(Contact.LegalBasis.choices, required=False)
    origin = serializers.CharField(required=False, allow_blank=True, max_length=200)


class ImportJobSerializer(serializers.ModelSerializer):
    percent = serializers.SerializerMethodField()
    errors_url = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = ["id", "kind", "campaign", "filename", "status", "total_bytes", "processed_bytes", "percent",
                  "rows", "imported", "merged", "rejected", "dnc", "errors", "errors_url", "message", "options",
                  "created_at", "started_at", "finished_at"]
        read_only_fields = fields

    def get_percent(self, obj) -> int:
        return importer.job_percent(obj)

    def get_errors_url(self, obj) -> str | None:
        return f"/api/v1/dialer/imports/{obj.pk}/errors/" if obj.errors_path else None


class ImportUploadHandler(FileUploadHandler):
    """Writes the uploaded file straight into ``$CENTRAL_DATA_DIR/imports/``; stops past the limit."""

    def __init__(self, request=None, limit: int | None = None):
        super().__init__(request)
        self.limit = limit or max_import_bytes()
        self.path = None
        self.fh = None
        self.size = 0
        self.too_big = False

    def new_file(self, field_name, file_name, content_type, content_length, charset=None, content_type_extra=None):
        super().new_file(field_name, file_name, content_type, content_length, charset, content_type_extra)
        self.path = importer.imports_dir() / f"{uuid.uuid4().hex[:12]}-{importer.safe_name(file_name)}"
        self.fh = open(self.path, "wb")  # noqa: SIM115 - closed in file_complete/upload_interrupted
        self.size = 0

    def receive_data_chunk(self, raw_data, start):
        self.size += len(raw_data)
        if self.size > self.limit:
            self.too_big = True
            self._discard()
            raise StopUpload(connection_reset=True)
        self.fh.write(raw_data)
        return None

    def file_complete(self, file_size):
        self.fh.close()
        f = UploadedFile(file=None, name=self.file_name, content_type=self.content_type, size=file_size)
        f.stored_path = str(self.path)
        return f

    def upload_interrupted(self):
        self._discard()

    def _discard(self):
        if self.fh is not None:
            self.fh.close()
        if self.path is not None and os.path.exists(self.path):
            os.unlink(self.path)


def _quota_in_use(organization) -> int:
    """Bytes of this organization's uploads waiting or being imported (still on disk)."""
    from django.db.models import Sum

    active = ImportJob.objects.filter(organization=organization,
                                      status__in=[ImportJob.Status.QUEUED, ImportJob.Status.RUNNING])
    return active.aggregate(total=Sum("total_bytes"))["total"] or 0


def _receive_upload(request, organization) -> tuple[UploadedFile, dict]:
    """Parse the multipart body with :class:`ImportUploadHandler`; 413 past the limit or
    past the organization's quota of uploads not yet imported (``CENTRAL_IMPORT_QUOTA_BYTES``)."""
    limit = max_import_bytes()
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > limit + UPLOAD_ENVELOPE_BYTES:
        raise _TooLarge(limit)
    quota = settings.IMPORT_QUOTA_BYTES
    if length and _quota_in_use(organization) + length > quota + UPLOAD_ENVELOPE_BYTES:
        raise _OverQuota(quota)
    handler = next((h for h in request._request.upload_handlers if isinstance(h, ImportUploadHandler)), None)
    if handler is None:  # not installed by UploadViewMixin (should not happen)
        handler = ImportUploadHandler(request._request, limit)
        request._request.upload_handlers = [handler]
    data = request.data
    if handler.too_big:
        raise _TooLarge(limit)
    upload = data.get("file")
    if upload is None or not getattr(upload, "stored_path", None):
        raise ValidationError({"file": [_("Envie o arquivo CSV ou XLSX no campo 'file' (multipart).")]})
    if upload.size == 0:
        os.unlink(upload.stored_path)
        raise ValidationError({"file": [_("Arquivo vazio.")]})
    if _quota_in_use(organization) + upload.size > quota:  # chunked bodies had no Content-Length
        os.unlink(upload.stored_path)
        raise _OverQuota(quota)
    return upload, data


class UploadViewMixin:
    """Installs :class:`ImportUploadHandler` before anything reads the body.

    It must happen before authentication: a browser upload carries the CSRF token in the
    form, and the CSRF check reads ``request.POST``, which parses the whole multipart body
    with Django's default handlers (into /tmp) unless ours are already in place.
    """

    upload_actions: tuple[str, ...] = ()

    def initialize_request(self, request, *args, **kwargs):
        drf_request = super().initialize_request(request, *args, **kwargs)
        if getattr(self, "action", None) in self.upload_actions:
            request.upload_handlers = [ImportUploadHandler(request)]
        return drf_request


class _TooLarge(ValidationError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"

    def __init__(self, limit: int):
        super().__init__(_("Arquivo maior que o limite de %(mb)d MB (CENTRAL_MAX_IMPORT_BYTES).")
                         % {"mb": limit // (1024 * 1024)}, code="too_large")


class _OverQuota(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "quota_exceeded"

    def __init__(self, quota: int):
        super().__init__(_("A organização já tem importações em andamento perto do limite de %(mb)d MB "
                           "(CENTRAL_IMPORT_QUOTA_BYTES); aguarde que terminem.")
                         % {"mb": quota // (1024 * 1024)}, code="quota_exceeded")


class CampaignFilter(django_filters.FilterSet):
    class Meta:
        model = Campaign
        fields = ["status", "pacing_mode", "queue"]


class CampaignViewSet(UploadViewMixin, TenantModelViewSet):
    """Campaigns; ``start``/``pause``/``resume``/``finish`` are audited actions."""

    queryset = Campaign.objects.all()
    serializer_class = CampaignSerializer
    filterset_class = CampaignFilter
    search_fields = ["name", "queue"]
    ordering_fields = ["created_at", "name", "status"]
    audit_prefix = "campaign"
    upload_actions = ("import_contacts",)
    action_roles = {a: Role.SUPERVISOR for a in ("start", "pause", "resume", "finish", "import_contacts")}

    def get_serializer_class(self):
        if self.action == "retrieve":
            return CampaignDetailSerializer
        if self.action == "import_contacts":
            return UploadSerializer
        return super().get_serializer_class()

    def perform_destroy(self, instance):
        if instance.status == Campaign.Status.ACTIVE:
            raise ValidationError(_("Pause ou encerre a campanha antes de excluí-la."))
        super().perform_destroy(instance)

    def _act(self, request, name: str):
        campaign = self.get_object()
        try:
            campaign = services.ACTIONS[name](campaign, request=request)
        except services.CampaignActionError as exc:
            raise ValidationError(str(exc), code="invalid_state") from exc
        return Response({"id": campaign.pk, "status": campaign.status})

    @extend_schema(request=None, responses=ActionResultSerializer)
    def start(self, request, pk=None):
        return self._act(request, "start")

    @extend_schema(request=None, responses=ActionResultSerializer)
    def pause(self, request, pk=None):
        return self._act(request, "pause")

    @extend_schema(request=None, responses=ActionResultSerializer)
    def resume(self, request, pk=None):
        return self._act(request, "resume")

    @extend_schema(request=None, responses=ActionResultSerializer)
    def finish(self, request, pk=None):
        return self._act(request, "finish")

    @extend_schema(request={"multipart/form-data": UploadSerializer}, responses={202: ImportJobSerializer})
    def import_contacts(self, request, pk=None):
        """Upload a CSV/XLSX of contacts; the import runs in the background (poll the job)."""
        campaign = self.get_object()
        if campaign.status == Campaign.Status.FINISHED:
            raise ValidationError(_("A campanha está encerrada."))
        upload, data = _receive_upload(request, self.organization)
        options = {"legal_basis": data.get("legal_basis") or Contact.LegalBasis.LEGITIMATE_INTEREST,
                   "origin": (data.get("origin") or "")[:200]}
        if options["legal_basis"] not in Contact.LegalBasis.values:
            os.unlink(upload.stored_path)
            raise ValidationError({"legal_basis": [_("Base legal desconhecida.")]})
        job = importer.new_job(self.organization, kind=ImportJob.Kind.CONTACTS, filename=upload.name,
                               stored_path=upload.stored_path, campaign=campaign, user=request.user, options=options)
        audit.record("dialer.import.contacts", request=request, target=job, campaign=campaign.pk,
                     filename=upload.name, bytes=upload.size)
        services.start_import(job)
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(parameters=[OpenApiParameter("attempts", bool, description="uma linha por tentativa"),
                               OpenApiParameter("contact_status", str, description="só contatos nesta situação")],
                   responses={(200, "text/csv"): str})
    def export(self, request, pk=None):
        """Results as CSV (streamed): one row per contact, or per attempt with ``?attempts=1``."""
        campaign = self.get_object()
        per_attempt = request.query_params.get("attempts") in ("1", "true", "sim")
        if per_attempt:
            lines = exporter.csv_lines(exporter.ATTEMPT_HEADER, exporter.attempt_rows(campaign))
        else:
            header, rows = exporter.contact_export(campaign, status=request.query_params.get("contact_status"))
            lines = exporter.csv_lines(header, rows)
        response = SyncStreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{exporter.export_filename(campaign, per_attempt)}"'
        audit.record("dialer.export", request=request, target=campaign, per_attempt=per_attempt)
        return response


# --- Contacts -----------------------------------------------------------------------------


class ContactSerializer(serializers.ModelSerializer):
    campaign = TenantRelatedField(queryset=Campaign.objects.all())
    phone = serializers.CharField(max_length=40)
    alt_phones = serializers.ListField(child=serializers.CharField(max_length=40), required=False)

    class Meta:
        model = Contact
        exclude = ["organization"]
        read_only_fields = ["attempts", "attempts_today", "attempts_day", "last_attempt_at", "last_result",
                            "timezone", "created_at"]
        validators = []  # (campaign, phone) uniqueness checked in validate() with a pt-BR message

    def validate_phone(self, value):
        return _phone_or_error(value)

    def validate_alt_phones(self, value):
        return [_phone_or_error(v) for v in value]

    def validate_status(self, value):
        if value == Contact.Status.IN_PROGRESS:
            raise serializers.ValidationError(_("Somente o discador coloca um contato em ligação."))
        return value

    def validate(self, attrs):
        campaign = attrs.get("campaign") or getattr(self.instance, "campaign", None)
        phone = attrs.get("phone") or getattr(self.instance, "phone", None)
        if self.instance is not None and "campaign" in attrs and attrs["campaign"] != self.instance.campaign:
            raise serializers.ValidationError({"campaign": [_("Um contato não muda de campanha.")]})
        dup = Contact.objects.filter(campaign=campaign, phone=phone)
        if self.instance is not None:
            dup = dup.exclude(pk=self.instance.pk)
        if phone and campaign and dup.exists():
            raise serializers.ValidationError({"phone": [_("Este telefone já está na campanha.")]})
        return attrs

    def _finish(self, validated):
        from central.core.phones import timezone_for

        if "phone" in validated:
            validated["timezone"] = timezone_for(validated["phone"])
        return validated

    def create(self, validated_data):
        validated_data = self._finish(validated_data)
        campaign = validated_data["campaign"]
        if dnc.is_blocked(campaign.organization_id, campaign.pk, validated_data["phone"]):
            validated_data["status"] = Contact.Status.DNC
            validated_data["last_result"] = "dnc"
        return super().create(validated_data)

    def update(self, instance, validated_data):
        validated_data = self._finish(validated_data)
        phone = validated_data.get("phone")
        if phone and phone != instance.phone and dnc.is_blocked(instance.organization_id, instance.campaign_id, phone):
            validated_data["status"] = Contact.Status.DNC
        return super().update(instance, validated_data)


class ContactFilter(django_filters.FilterSet):
    due_before = django_filters.IsoDateTimeFilter(field_name="next_attempt_at", lookup_expr="lte")

    class Meta:
        model = Contact
        fields = ["campaign", "status", "last_result", "legal_basis", "phone"]


class ContactViewSet(TenantModelViewSet):
    queryset = Contact.objects.all()
    serializer_class = ContactSerializer
    filterset_class = ContactFilter
    search_fields = ["name", "phone"]
    ordering_fields = ["id", "name", "next_attempt_at", "attempts", "created_at"]
    audit_prefix = "dialer.contact"


# --- Do-not-call --------------------------------------------------------------------------


class DoNotCallSerializer(serializers.ModelSerializer):
    campaign = TenantRelatedField(queryset=Campaign.objects.all(), required=False, allow_null=True)
    phone = serializers.CharField(max_length=40)
    contacts_flagged = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = DoNotCall
        exclude = ["organization"]
        read_only_fields = ["created_at"]
        validators = []  # uniqueness checked in validate() with a pt-BR message

    def validate_phone(self, value):
        return _phone_or_error(value)

    def validate(self, attrs):
        org = self.context["organization"]
        campaign = attrs.get("campaign", getattr(self.instance, "campaign", None))
        phone = attrs.get("phone", getattr(self.instance, "phone", None))
        qs = DoNotCall.objects.filter(organization=org, phone=phone)
        qs = qs.filter(campaign__isnull=True) if campaign is None else qs.filter(campaign=campaign)
        if self.instance is not None:
            qs = qs.exclude(pk=self.instance.pk)
        if qs.exists():
            raise serializers.ValidationError({"phone": [_("Este telefone já está nesta lista.")]})
        return attrs


class DncUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    campaign = serializers.IntegerField(required=False)
    source = serializers.ChoiceField(DoNotCall.Source.choices, required=False)


class DoNotCallViewSet(UploadViewMixin, TenantModelViewSet):
    """Do-not-call entries; adding one flags matching waiting contacts as ``dnc``."""

    queryset = DoNotCall.objects.order_by("-created_at", "-id")
    serializer_class = DoNotCallSerializer
    filterset_fields = ["campaign", "source", "phone"]
    search_fields = ["phone", "reason"]
    ordering_fields = ["created_at", "phone"]
    audit_prefix = "dialer.dnc"
    upload_actions = ("import_file",)

    def get_serializer_class(self):
        return DncUploadSerializer if self.action == "import_file" else super().get_serializer_class()

    def perform_create(self, serializer):
        super().perform_create(serializer)
        entry = serializer.instance
        entry.contacts_flagged = dnc.flag_contacts(entry.organization_id, entry.campaign_id, [entry.phone])

    def perform_update(self, serializer):
        super().perform_update(serializer)
        entry = serializer.instance
        entry.contacts_flagged = dnc.flag_contacts(entry.organization_id, entry.campaign_id, [entry.phone])

    @extend_schema(request={"multipart/form-data": DncUploadSerializer}, responses={202: ImportJobSerializer})
    def import_file(self, request):
        """Upload a do-not-call list (Não Me Perturbe, Procon-SP or any CSV/XLSX with phones)."""
        campaign = None
        campaign_id = request.query_params.get("campaign")
        if campaign_id:
            campaign = Campaign.objects.filter(organization=self.organization, pk=parse_id(campaign_id)).first()
            if campaign is None:
                raise ValidationError({"campaign": [_("Campanha não encontrada.")]})
        upload, data = _receive_upload(request, self.organization)
        if campaign is None and data.get("campaign"):
            campaign = Campaign.objects.filter(organization=self.organization, pk=parse_id(data.get("campaign"))).first()
            if campaign is None:
                os.unlink(upload.stored_path)
                raise ValidationError({"campaign": [_("Campanha não encontrada.")]})
        source = data.get("source") or DoNotCall.Source.IMPORT
        if source not in DoNotCall.Source.values:
            os.unlink(upload.stored_path)
            raise ValidationError({"source": [_("Origem desconhecida.")]})
        job = importer.new_job(self.organization, kind=ImportJob.Kind.DNC, filename=upload.name,
                               stored_path=upload.stored_path, campaign=campaign, user=request.user,
                               options={"source": source})
        audit.record("dialer.import.dnc", request=request, target=job, filename=upload.name, source=source)
        services.start_import(job)
        return Response(ImportJobSerializer(job).data, status=status.HTTP_202_ACCEPTED)


# --- Attempts, callbacks, imports ---------------------------------------------------------


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = Attempt
        exclude = ["organization"]


class AttemptFilter(django_filters.FilterSet):
    since = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Attempt
        fields = ["campaign", "contact", "result", "state", "agent", "short_call", "phone"]


class AttemptViewSet(TenantReadOnlyViewSet):
    queryset = Attempt.objects.all()
    serializer_class = AttemptSerializer
    filterset_class = AttemptFilter
    ordering_fields = ["created_at", "id"]


class MemberUserField(serializers.PrimaryKeyRelatedField):
    """A user id resolved only among the request organization's members (a callback comes
    back to one of them): another tenant's user answers like an id that does not exist."""

    def get_queryset(self):
        from django.contrib.auth import get_user_model

        org = self.context.get("organization")
        users = get_user_model().objects.all()
        return users.filter(memberships__organization=org).distinct() if org is not None else users.none()


class CallbackSerializer(serializers.ModelSerializer):
    contact = TenantRelatedField(queryset=Contact.objects.all())
    assigned_to = MemberUserField(required=False, allow_null=True,
                                  help_text="Id of the member the callback comes back to (on their agent's page); "
                                            "null: any agent, through the campaign's queue.")

    class Meta:
        model = Callback
        exclude = ["organization"]
        read_only_fields = ["campaign", "created_by", "created_at"]

    def validate_contact(self, value):
        if value.status == Contact.Status.DNC:
            raise serializers.ValidationError(_("O contato está na lista de não ligar."))
        return value


class CallbackViewSet(TenantModelViewSet):
    """Agent-scheduled return calls; scheduling one makes the contact due at that time."""

    queryset = Callback.objects.all()
    serializer_class = CallbackSerializer
    filterset_fields = ["campaign", "contact", "agent"]
    ordering_fields = ["scheduled_for", "created_at"]
    audit_prefix = "dialer.callback"
    write_role = Role.AGENT

    def perform_create(self, serializer):
        contact = serializer.validated_data["contact"]
        serializer.save(organization=self.organization, campaign=contact.campaign, created_by=self.request.user)
        services.apply_callback(serializer.instance)
        audit.record("dialer.callback.create", request=self.request, target=serializer.instance)

    def perform_update(self, serializer):
        extra = {}
        if "contact" in serializer.validated_data:
            extra["campaign"] = serializer.validated_data["contact"].campaign
        instance = serializer.save(**extra)
        audit.record("dialer.callback.update", request=self.request, target=instance,
                     fields=sorted(serializer.validated_data.keys()))
        if instance.done_at is None:
            services.apply_callback(instance)


class ImportJobViewSet(TenantReadOnlyViewSet):
    queryset = ImportJob.objects.all()
    serializer_class = ImportJobSerializer
    filterset_fields = ["kind", "campaign", "status"]
    ordering_fields = ["created_at"]

    @extend_schema(responses={(200, "text/csv"): str})
    def errors(self, request, pk=None):
        """The rejected rows of an import as CSV (row, column, reason, content)."""
        job = self.get_object()
        if not job.errors_path or not os.path.exists(job.errors_path):
            raise ValidationError(_("Esta importação não tem erros."))

        def chunks():
            with open(job.errors_path, "rb") as f:
                while block := f.read(64 * 1024):
                    yield block

        response = SyncStreamingHttpResponse(chunks(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="erros-importacao-{job.pk}.csv"'
        return response
