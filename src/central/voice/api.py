"""Voice REST API (mounted at /api/v1/voice/): AI extensions, units, residents, visits,
and the voice process's live status / refresh / restart proxied for the tenant.

Tenant scoping comes from ``TenantViewSet``.  ``VoiceLiveView`` (``live/status``,
``live/refresh``, ``live/restart``) only ever shows or touches the requesting
organization's extensions: the voice process serves every tenant, so its status is
filtered here before it leaves.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request

from django.urls import path
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import APIView

from central.core.api import TenantModelViewSet, TenantReadOnlyViewSet
from central.core.permissions import HasOrgRole
from central.core.roles import Role
from central.core.tenancy import membership_for_request
from central.voice.models import AIExtension, Resident, Unit, VisitLog

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
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read() or b"{}")
        except ValueError:
            return exc.code, {"error": str(exc)}
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return 503, {"error": _("processo de voz indisponível: %(erro)s") % {"erro": exc}}


class AIExtensionSerializer(serializers.ModelSerializer):
    class Meta:
        model = AIExtension
        fields = [
            "id", "number", "return_number", "bind_ip", "port", "return_port", "greeting",
            "instructions", "providers", "concierge_extension", "enabled", "created_at", "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]

    def validate_number(self, value: str) -> str:
        qs = AIExtension.objects.filter(organization=self.context.get("organization"), number=value)
        if self.instance is not None:
            qs = qs.exclude(pk=self.instance.pk)
        if qs.exists():
            raise serializers.ValidationError(_("Já existe um ramal de IA com este número."))
        return value

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
    """The voice process's live status / refresh / restart, for the request's tenant only.

    Not a TenantViewSet (there are no rows): scoped by hand, in one place, by
    :meth:`_mine` — the tenant's own AI extension numbers filter everything returned.
    """

    tenant_scoped_by_hand = True
    permission_classes = [IsAuthenticated, HasOrgRole]
    read_role = Role.VIEWER
    write_role = Role.ADMIN  # POST refresh/restart
    op = "status"

    def _mine(self, request) -> set[str]:
        org = membership_for_request(request).organization
        return set(AIExtension.objects.filter(organization=org).values_list("number", flat=True))

    @extend_schema(responses={200: OpenApiTypes.OBJECT, 503: OpenApiTypes.OBJECT})
    def get(self, request):
        if self.op != "status":
            return Response({"detail": _("Use POST.")}, status=status.HTTP_405_METHOD_NOT_ALLOWED)
        mine = self._mine(request)
        code, data = voice_api("GET", "/api/status")
        if code != 200:
            return Response(data, status=status.HTTP_503_SERVICE_UNAVAILABLE)
        return Response({
            "config_source": data.get("config_source"),
            "extensions": [e for e in data.get("extensions", []) if e.get("ramal") in mine],
            "turns": [t for t in data.get("turns", []) if t.get("ramal") in mine],
        })

    @extend_schema(
        request=inline_serializer("VoiceRestartRequest", {"ramal": serializers.CharField(required=False)}),
        responses={200: OpenApiTypes.OBJECT, 404: OpenApiTypes.OBJECT, 503: OpenApiTypes.OBJECT},
    )
    def post(self, request):
        mine = self._mine(request)
        if self.op == "refresh":
            code, data = voice_api("POST", "/api/refresh", {})
            if code != 200:
                return Response(data, status=status.HTTP_503_SERVICE_UNAVAILABLE)
            return Response({k: [n for n in v if n in mine] if isinstance(v, list) else v for k, v in data.items()})
        if self.op == "restart":
            ramal = str(request.data.get("ramal", ""))
            if ramal not in mine:
                return Response({"detail": _("Ramal não encontrado.")}, status=status.HTTP_404_NOT_FOUND)
            code, data = voice_api("POST", "/api/restart", {"ramal": ramal})
            return Response(data, status=code)
        return Response({"detail": _("Use GET.")}, status=status.HTTP_405_METHOD_NOT_ALLOWED)


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

#: The voice process's live view (not rows, so not on the router).
live_urlpatterns = [
    path("live/status/", VoiceLiveView.as_view(op="status"), name="voice-live-status"),
    path("live/refresh/", VoiceLiveView.as_view(op="refresh"), name="voice-live-refresh"),
    path("live/restart/", VoiceLiveView.as_view(op="restart"), name="voice-live-restart"),
]
