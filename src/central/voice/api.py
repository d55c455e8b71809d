"""Voice REST API (mounted at /api/v1/voice/): AI extensions, units, residents, visits,
and the voice process's live status / refresh / restart proxied for the tenant.

Tenant scoping comes from ``TenantViewSet``.  ``VoiceLiveView`` (``live/status``,
``live/refresh``, ``live/restart``) only ever shows or touches the requesting
organization's extensions: the voice process serves every tenant, so its status is
filtered here before it leaves.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import urllib.error
import urllib.request

from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import APIView

from central.core import outbound, parsers
from central.core.api import TenantModelViewSet, TenantReadOnlyViewSet
from central.core.errors import ServiceUnavailable
from central.core.permissions import HasOrgRole
from central.core.roles import Role
from central.core.tenancy import membership_for_request
from central.core.unique import UniqueFieldsMixin, allocate
from central.voice.live import for_organization
from central.voice.models import (
    AUDIOSOCKET_PORTS,
    FIRST_PORT,
    AIExtension,
    Resident,
    Unit,
    VisitLog,
)

log = logging.getLogger("central.voice.api")

VOICE_API_URL_ENV = "CENTRAL_VOICE_API_URL"
DEFAULT_VOICE_API_URL = "http://127.0.0.1:8090"


def voice_api(method: str, path: str, body: dict | None = None, timeout: float = 5.0) -> tuple[int, dict]:
    """Call the voice process's management API (bearer token from CENTRAL_VOICE_TOKEN)."""
    base = os.environ.get(VOICE_API_URL_ENV, DEFAULT_VOICE_API_URL).rstrip("/")
    req = urllib.request.Request(
        base + path, method=method, data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {os.environ.get('CENTRAL_VOICE_TOKEN', '')}",
                 "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, parsers.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, parsers.loads(exc.read() or b"{}")
        except ValueError:
            return exc.code, {"error": str(exc)}
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        # HTTPException: something else answers on that port (e.g. an AudioSocket listener
        # on a compat port sends binary frames): as good as unreachable.
        log.warning("voice management API at %s unreachable: %s", base, exc)
        return 503, {}


def _unavailable(code: int, data: dict) -> ServiceUnavailable:
    """The voice process did not answer (or refused the web process' token): 503 in the
    API's error shape, the details in the log, not in a tenant's answer."""
    if code in (401, 403):
        log.error("the voice process refused CENTRAL_VOICE_TOKEN (HTTP %s): set the same token "
                  "for the web and voice processes", code)
    elif code != 503:
        log.warning("voice management API answered %s: %s", code, data)
    return ServiceUnavailable(_("Processo de voz indisponível."), code="voice_unavailable", retry_after=5)


class AIExtensionSerializer(UniqueFieldsMixin, serializers.ModelSerializer):
    """Numbers and ports are installation-unique (central.core.unique): a value another
    row holds, in any tenant, is a 400 under the field; ports left out are picked by the
    platform."""

    port = serializers.IntegerField(required=False, min_value=1, max_value=65535)
    return_port = serializers.IntegerField(required=False, min_value=1, max_value=65535)

    class Meta:
        model = AIExtension
        fields = [
            "id", "number", "return_number", "bind_ip", "port", "return_port", "greeting",
            "instructions", "providers", "concierge_extension", "enabled", "created_at", "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        # The installation-wide check is UniqueFieldsMixin's (one message, no owner named).
        validators: list = []
        extra_kwargs = {"number": {"validators": []}, "return_number": {"validators": []}}

    def create(self, validated_data):
        missing = [f for f in ("port", "return_port") if not validated_data.get(f)]
        if missing:
            for field, port in zip(missing, allocate(AUDIOSOCKET_PORTS, FIRST_PORT, len(missing)), strict=True):
                validated_data[field] = port
        return super().create(validated_data)

    def validate_concierge_extension(self, value: str) -> str:
        if not value:
            return value
        try:
            return outbound.validate_dial_target(value, technology=False)
        except outbound.OutboundRefused as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate_providers(self, value):
        from central.voice.providers.registry import ConfigError, build_providers

        if not isinstance(value, dict):
            raise serializers.ValidationError(_("Deve ser um objeto JSON."))
        try:
            # Declared settings only; key variables and URLs by central.core.outbound.
            build_providers(value, check_destinations=True)
        except (ConfigError, TypeError, ValueError) as exc:
            raise serializers.ValidationError(str(exc)) from None
        return value


class AIExtensionViewSet(TenantModelViewSet):
    queryset = AIExtension.objects.all()
    serializer_class = AIExtensionSerializer
    write_role = Role.ADMIN
    audit_prefix = "voice.extension"
    filterset_fields = ["enabled"]
    search_fields = ["number", "return_number"]


class VoiceLiveView(APIView):
    """The voice process's live state for your organization: status (GET), reload the
    configuration or restart one AI extension's listeners (POST, admins).

    Not a TenantViewSet (there are no rows): scoped by hand, in one place, by
    :meth:`_org` — the voice process reports and acts by organization id (status is
    filtered here, refresh and restart are scoped in the voice process itself).
    """

    tenant_scoped_by_hand = True
    permission_classes = [IsAuthenticated, HasOrgRole]
    read_role = Role.VIEWER
    write_role = Role.ADMIN  # POST refresh/restart
    op = "status"

    def _org(self, request) -> int:
        return membership_for_request(request).organization.pk

    @extend_schema(responses={200: OpenApiTypes.OBJECT, 503: OpenApiTypes.OBJECT})
    def get(self, request):
        if self.op != "status":
            raise exceptions.MethodNotAllowed("GET", _("Use POST."))
        org = self._org(request)
        code, data = voice_api("GET", "/api/status")
        if code != 200:
            raise _unavailable(code, data)
        # By organization id, not by number: what the voice process runs for this tenant.
        return Response(for_organization(data, org))

    @extend_schema(
        request=inline_serializer("VoiceRestartRequest", {"ramal": serializers.CharField(required=False)}),
        responses={200: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT, 503: OpenApiTypes.OBJECT},
    )
    def post(self, request):
        org = self._org(request)
        if self.op == "refresh":
            code, data = voice_api("POST", "/api/refresh", {"organization_id": org})
            if code != 200:
                raise _unavailable(code, data)
            return Response(data)  # the voice process already cut the report to this tenant
        if self.op == "restart":
            ramal = str(request.data.get("ramal", ""))
            if not AIExtension.objects.filter(organization_id=org, number=ramal).exists():
                raise exceptions.NotFound(_("Ramal não encontrado."))
            code, data = voice_api("POST", "/api/restart", {"ramal": ramal, "organization_id": org})
            if code == 404:
                raise exceptions.NotFound(_("Ramal não encontrado."))
            if code != 200:
                raise _unavailable(code, data)
            return Response(data)
        raise exceptions.MethodNotAllowed("POST", _("Use GET."))


class ResidentNestedSerializer(serializers.ModelSerializer):
    class Meta:
        model = Resident
        fields = ["id", "name", "extension", "priority", "active"]


class UnitSerializer(serializers.ModelSerializer):
    residents = ResidentNestedSerializer(many=True, read_only=True)

    class Meta:
        model = Unit
        fields = ["id", "block", "number", "residents"]
        read_only_fields = ["id", "residents"]


class UnitViewSet(TenantModelViewSet):
    queryset = Unit.objects.prefetch_related("residents")
    serializer_class = UnitSerializer
    audit_prefix = "voice.unit"
    search_fields = ["number", "block"]


class ResidentSerializer(serializers.ModelSerializer):
    class Meta:
        model = Resident
        fields = ["id", "unit", "name", "extension", "priority", "active"]
        read_only_fields = ["id"]

    def validate_extension(self, value: str) -> str:
        try:
            return outbound.validate_dial_target(value.strip())
        except outbound.OutboundRefused as exc:
            raise serializers.ValidationError(str(exc)) from None

    def validate_unit(self, unit: Unit) -> Unit:
        org = self.context.get("organization")
        if org is None or unit.organization_id != org.pk:
            # Same answer as a missing unit: do not confirm another tenant's ids.
            raise serializers.ValidationError(_("Unidade não encontrada."))
        return unit


class ResidentViewSet(TenantModelViewSet):
    queryset = Resident.objects.select_related("unit")
    serializer_class = ResidentSerializer
    audit_prefix = "voice.resident"
    filterset_fields = ["unit", "active"]
    search_fields = ["name", "extension"]


class VisitLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = VisitLog
        fields = ["id", "visit_id", "extension_number", "visitor_name", "unit", "unit_label", "outcome",
                  "started_at", "ended_at", "audit"]


class VisitLogViewSet(TenantReadOnlyViewSet):
    queryset = VisitLog.objects.all()
    serializer_class = VisitLogSerializer
    filterset_fields = ["outcome", "extension_number"]
    search_fields = ["visitor_name", "unit_label"]


router = DefaultRouter()
router.register("extensions", AIExtensionViewSet, basename="voice-extension")
router.register("units", UnitViewSet, basename="voice-unit")
router.register("residents", ResidentViewSet, basename="voice-resident")
router.register("visits", VisitLogViewSet, basename="voice-visit")

#: The voice process's live view (not rows, so not on the router). Each path answers only
#: its own method (the schema then documents GET status, POST refresh and restart).
_READ, _WRITE = ["get", "head", "options"], ["post", "options"]
live_urlpatterns = [
    path("live/status/", VoiceLiveView.as_view(op="status", http_method_names=_READ), name="voice-live-status"),
    path("live/refresh/", VoiceLiveView.as_view(op="refresh", http_method_names=_WRITE), name="voice-live-refresh"),
    path("live/restart/", VoiceLiveView.as_view(op="restart", http_method_names=_WRITE), name="voice-live-restart"),
]
