"""Telephony REST API: Asterisk servers, extensions (ramais), live calls and call records.

Everything is tenant-scoped by ``TenantViewSet``; reads need the viewer role. Servers are
written by admins only and their serializer has no secret field at all: the AMI secret
lives in the environment variable named by ``secret_env`` and never crosses the API.
Where a server points and which variable it names follow ``central.core.outbound``
(tenant-prefixed variables only, public addresses only).
"""

from __future__ import annotations

import django_filters
from django.db.models import RestrictedError
from django.utils.translation import gettext as _
from rest_framework import serializers

from central.core import outbound
from central.core.api import TenantModelViewSet, TenantReadOnlyViewSet
from central.core.roles import Role

from .models import AsteriskServer, CallRecord, Extension, LiveCall, QueueMember


class AsteriskServerSerializer(serializers.ModelSerializer):
    secret_configured = serializers.SerializerMethodField()

    class Meta:
        model = AsteriskServer
        fields = [
            "id", "name", "host", "port", "username", "secret_env", "secret_configured", "auth",
            "enabled", "use_simulator", "status", "status_detail", "status_at", "created_at",
            "updated_at",
        ]
        # use_simulator marks the platform's embedded simulator row: never a tenant's choice.
        read_only_fields = ["id", "secret_configured", "use_simulator", "status", "status_detail",
                            "status_at", "created_at", "updated_at"]

    #: Fields that decide where the link connects and what it sends there.
    CONNECTION_FIELDS = ("host", "port", "username", "secret_env", "auth")

    def get_secret_configured(self, obj) -> bool:
        """Whether this process has the secret; the value itself is never returned.
        A name outside the tenant prefix answers false (no existence oracle), except the
        platform's own CENTRAL_AMI_URL row, whose secret the link would really use."""
        from .link import server_secret

        return server_secret(obj) is not None

    def validate_secret_env(self, value: str) -> str:
        try:
            return outbound.validate_env_name(value)
        except outbound.OutboundRefused as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate(self, attrs):
        instance = self.instance
        touched = [f for f in self.CONNECTION_FIELDS if f in attrs]
        if instance is not None and touched and not outbound.env_name_allowed(instance.secret_env):
            # The platform's own rows (CENTRAL_AMI_URL, the simulator): configured by the
            # operator through the environment, not by the tenant.
            raise serializers.ValidationError(
                {touched[0]: _("Este servidor é configurado pelo operador da plataforma.")}
            )
        if "host" in attrs or "port" in attrs:
            host = attrs.get("host", getattr(instance, "host", ""))
            port = attrs.get("port", getattr(instance, "port", 5038))
            try:
                outbound.validate_host(host, port)
            except outbound.OutboundRefused as exc:
                raise serializers.ValidationError({"host": str(exc)}) from None
        return attrs

    def validate_name(self, value: str) -> str:
        org = self.context.get("organization")
        qs = AsteriskServer.objects.filter(organization=org, name=value)
        if self.instance is not None:
            qs = qs.exclude(pk=self.instance.pk)
        if qs.exists():
            raise serializers.ValidationError(_("Já existe um servidor com este nome."))
        return value


class AsteriskServerViewSet(TenantModelViewSet):
    queryset = AsteriskServer.objects.all()
    serializer_class = AsteriskServerSerializer
    write_role = Role.ADMIN
    audit_prefix = "telephony.server"
    filterset_fields = ["enabled", "status"]
    search_fields = ["name", "host"]
    ordering_fields = ["name", "created_at"]

    def perform_destroy(self, instance):
        try:
            super().perform_destroy(instance)
        except RestrictedError:
            raise serializers.ValidationError(
                {"detail": _("Este servidor tem registros de chamadas: desative-o em vez de excluir.")}
            ) from None


class ExtensionSerializer(serializers.ModelSerializer):
    server = serializers.CharField(source="server.name", read_only=True)
    server_id = serializers.IntegerField(read_only=True)

    class Meta:
        model = Extension
        fields = ["id", "server", "server_id", "exten", "context", "device", "label", "registered",
                  "state", "status_text", "last_activity", "updated_at"]


class ExtensionFilter(django_filters.FilterSet):
    state = django_filters.MultipleChoiceFilter(choices=Extension.State.choices)

    class Meta:
        model = Extension
        fields = ["state", "registered", "server"]


class ExtensionViewSet(TenantReadOnlyViewSet):
    queryset = Extension.objects.select_related("server")
    serializer_class = ExtensionSerializer
    filterset_class = ExtensionFilter
    search_fields = ["exten", "label", "device"]
    ordering_fields = ["exten", "state", "last_activity"]


class QueueMemberSerializer(serializers.ModelSerializer):
    server = serializers.CharField(source="server.name", read_only=True)

    class Meta:
        model = QueueMember
        fields = ["id", "server", "queue", "interface", "name", "availability", "paused_reason",
                  "calls_taken", "last_change", "call_ended_at", "wrapup_time", "updated_at"]


class QueueMemberViewSet(TenantReadOnlyViewSet):
    """Queue agents as the PBX reports them (free, ringing, in a call, paused)."""

    queryset = QueueMember.objects.select_related("server")
    serializer_class = QueueMemberSerializer
    filterset_fields = ["queue", "availability", "server"]
    search_fields = ["name", "interface"]
    ordering_fields = ["queue", "name", "availability", "last_change"]


class LiveCallSerializer(serializers.ModelSerializer):
    server = serializers.CharField(source="server.name", read_only=True)

    class Meta:
        model = LiveCall
        fields = ["id", "server", "linkedid", "direction", "from_number", "to_number", "state",
                  "queue", "agent", "attempt_id", "channels", "started_at", "answered_at",
                  "queued_at", "updated_at"]


class LiveCallViewSet(TenantReadOnlyViewSet):
    """Calls in progress, as last written by the ``central pbx`` process."""

    queryset = LiveCall.objects.select_related("server")
    serializer_class = LiveCallSerializer
    filterset_fields = ["state", "queue", "server"]
    ordering_fields = ["started_at"]


class CallRecordSerializer(serializers.ModelSerializer):
    server = serializers.CharField(source="server.name", read_only=True)

    class Meta:
        model = CallRecord
        fields = ["id", "server", "linkedid", "direction", "from_number", "to_number",
                  "campaign_id", "attempt_id", "queue", "agent", "agent_interface", "started_at",
                  "ring_at", "answered_at", "ended_at", "disposition", "hangup_cause",
                  "hangup_cause_text", "duration", "billsec", "queue_wait", "hangup_by", "legs", "adopted"]


class CallRecordFilter(django_filters.FilterSet):
    disposition = django_filters.MultipleChoiceFilter(choices=CallRecord.Disposition.choices)
    since = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="lt")
    date = django_filters.DateFilter(field_name="started_at", lookup_expr="date")

    class Meta:
        model = CallRecord
        fields = ["disposition", "queue", "agent", "agent_interface", "direction", "campaign_id", "attempt_id",
                  "server"]


class CallRecordViewSet(TenantReadOnlyViewSet):
    queryset = CallRecord.objects.select_related("server")
    serializer_class = CallRecordSerializer
    filterset_class = CallRecordFilter
    search_fields = ["from_number", "to_number", "linkedid"]
    ordering_fields = ["started_at", "ended_at", "billsec", "duration", "disposition"]
    ordering = ["-started_at", "-id"]
