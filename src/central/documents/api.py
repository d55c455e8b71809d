"""Documents REST API (mounted at ``/api/v1/documents/``): agents, the document index,
requests (transfers), downloads and enrollment codes for users (JWT or session), and the
site agent's own HTTP endpoints (enrollment, whoami, chunked upload), authenticated by the
agent token with the protocol's ``Authorization: Agent <token>``.

Roles: reading the index and the agents needs viewer; requesting and downloading a
document needs agent (documents may hold personal data: a read-only dashboard viewer
sees that a document exists, not its contents); the download audit needs supervisor;
enrollment codes and revoking an agent need admin.
"""

from __future__ import annotations

import django_filters
from django.http import FileResponse, Http404, JsonResponse
from django.urls import path
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter
from rest_framework.views import APIView

from central.core.api import TenantReadOnlyViewSet, TenantViewSet
from central.core.ids import parse_id
from central.core.metrics import BAD_INPUT
from central.core.roles import Role
from central.core.throttling import AuthThrottle
from central_agent import protocol as P

from . import services
from .models import Agent, Document, Download, EnrollmentCode, Transfer
from .upload_asgi import status_body

# --- Serializers ------------------------------------------------------------------------------


class AgentSerializer(serializers.ModelSerializer):
    alert = serializers.SerializerMethodField(help_text="offline longer than the alert threshold")

    class Meta:
        model = Agent
        fields = ["id", "name", "state", "connected_at", "offline_since", "last_heartbeat", "version", "os",
                  "hostname", "local_ips", "public_ip", "uptime_seconds", "documents_count", "bytes_total",
                  "pending_transfers", "last_error", "folders", "created_at", "alert"]
        read_only_fields = fields

    def get_alert(self, obj) -> bool:
        return services.offline_alert(obj)


class DocumentSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()
    agent_name = serializers.CharField(source="agent.name", read_only=True)

    class Meta:
        model = Document
        fields = ["id", "agent", "agent_name", "folder", "path", "name", "size", "mtime", "sha256", "title",
                  "author", "pages", "created", "index_error", "indexed_at", "removed_at", "status"]
        read_only_fields = fields

    def get_status(self, obj) -> dict:
        return services.document_status(obj)


class TransferSerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)
    label = serializers.SerializerMethodField()
    document_name = serializers.CharField(source="document.name", read_only=True)
    requested_by = serializers.CharField(source="requested_by.username", read_only=True, default=None)

    class Meta:
        model = Transfer
        fields = ["id", "document", "document_name", "agent", "state", "label", "percent", "received", "size",
                  "sha256", "attempts", "last_failure", "failure", "from_cache", "requested_by", "created_at",
                  "started_at", "finished_at", "wait_until"]
        read_only_fields = fields

    def get_label(self, obj) -> str:
        return services.transfer_summary(obj)["label"]


class DownloadSerializer(serializers.ModelSerializer):
    document_name = serializers.CharField(source="document.name", read_only=True)

    class Meta:
        model = Download
        fields = ["id", "document", "document_name", "username", "ip", "size", "at"]
        read_only_fields = fields


class EnrollmentCodeSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)

    class Meta:
        model = EnrollmentCode
        fields = ["id", "agent_name", "status", "created_by", "created_at", "expires_at", "used_at", "agent"]
        read_only_fields = ["id", "status", "created_by", "created_at", "expires_at", "used_at", "agent"]


class EnrollmentCodeCreatedSerializer(EnrollmentCodeSerializer):
    code = serializers.CharField(read_only=True, help_text="shown once; give it to `central-agent enroll`")

    class Meta(EnrollmentCodeSerializer.Meta):
        fields = [*EnrollmentCodeSerializer.Meta.fields, "code"]


# --- Viewsets -----------------------------------------------------------------------------------


class AgentViewSet(TenantReadOnlyViewSet):
    """Site agents of the organization with their last reported state."""

    queryset = Agent.objects.all()
    serializer_class = AgentSerializer
    filterset_fields = ["state"]
    search_fields = ["name", "hostname"]
    ordering_fields = ["name", "state", "last_heartbeat", "created_at"]
    action_roles = {"revoke": Role.ADMIN}

    @extend_schema(request=None, responses=AgentSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        """Revoke the agent's tokens and close its live connection; it must enroll again."""
        agent = self.get_object()
        services.revoke_agent(agent, request=request)
        agent.refresh_from_db()
        return Response(AgentSerializer(agent).data)


class DocumentFilter(django_filters.FilterSet):
    size_min = django_filters.NumberFilter(field_name="size", lookup_expr="gte")
    size_max = django_filters.NumberFilter(field_name="size", lookup_expr="lte")
    pages_min = django_filters.NumberFilter(field_name="pages", lookup_expr="gte")
    pages_max = django_filters.NumberFilter(field_name="pages", lookup_expr="lte")
    modified_after = django_filters.IsoDateTimeFilter(field_name="mtime", lookup_expr="gte")
    modified_before = django_filters.IsoDateTimeFilter(field_name="mtime", lookup_expr="lte")
    created_after = django_filters.IsoDateTimeFilter(field_name="created", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created", lookup_expr="lte")
    removed = django_filters.BooleanFilter(field_name="removed_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = Document
        fields = ["agent", "folder"]


class DocumentViewSet(TenantReadOnlyViewSet):
    """The document index: search by name, title, author or path (``?search=``), filter by
    size, pages and dates. Files removed at the site are hidden unless ``?removed=true``."""

    queryset = Document.objects.select_related("agent")
    serializer_class = DocumentSerializer
    filterset_class = DocumentFilter
    search_fields = ["name", "title", "author", "path"]
    ordering_fields = ["name", "title", "size", "pages", "mtime", "created", "indexed_at"]
    action_roles = {"request_pdf": Role.AGENT, "download": Role.AGENT}

    def get_queryset(self):
        qs = super().get_queryset()
        if self.action == "list" and self.request.query_params.get("removed") is None:
            qs = qs.filter(removed_at__isnull=True)
        return qs

    @extend_schema(request=None, responses={201: TransferSerializer, 200: TransferSerializer})
    @action(detail=True, methods=["post"], url_path="request", url_name="request")
    def request_pdf(self, request, pk=None):
        """*Solicitar PDF*: a valid cached copy answers at once (200, state available);
        otherwise the agent is asked (201), or the request waits for it to reconnect."""
        document = self.get_object()
        try:
            tr = services.request_document(document, user=request.user, request=request)
        except services.TransferRefused as exc:
            raise serializers.ValidationError({"document": [exc.message]}) from None
        code = status.HTTP_200_OK if tr.from_cache else status.HTTP_201_CREATED
        return Response(TransferSerializer(tr).data, status=code)

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None):
        """The cached PDF, streamed (404 when no valid copy: request it first). Audited."""
        return download_response(self.get_object(), request)


def download_response(document: Document, request):
    fh, cached = services.open_download(document, user=request.user, request=request)
    if fh is None:
        raise Http404(_("Documento não disponível em cache; solicite-o primeiro."))
    response = FileResponse(fh, content_type="application/pdf", as_attachment=True, filename=document.name)
    response["Content-Length"] = str(cached.size)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


class TransferViewSet(TenantReadOnlyViewSet):
    """Requests for documents and their transfers (state, progress, failure)."""

    queryset = Transfer.objects.select_related("document", "requested_by")
    serializer_class = TransferSerializer
    filterset_fields = ["state", "document", "agent", "from_cache"]
    ordering_fields = ["created_at", "finished_at", "state"]


class DownloadViewSet(TenantReadOnlyViewSet):
    """The download audit."""

    queryset = Download.objects.select_related("document")
    serializer_class = DownloadSerializer
    read_role = Role.SUPERVISOR
    filterset_fields = ["document", "username"]
    ordering_fields = ["at"]


class EnrollmentCodeViewSet(TenantViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin,
                            mixins.CreateModelMixin):
    """One-time codes that enroll a new site agent (admins). The code is in the create
    answer only; it expires after ``CENTRAL_DOCUMENTS_ENROLL_MINUTES``."""

    queryset = EnrollmentCode.objects.select_related("created_by")
    serializer_class = EnrollmentCodeSerializer
    read_role = Role.ADMIN
    write_role = Role.ADMIN

    @extend_schema(responses={201: EnrollmentCodeCreatedSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        row, code = services.create_enrollment_code(self.organization, serializer.validated_data["agent_name"],
                                                    user=request.user, request=request)
        row.code = code
        return Response(EnrollmentCodeCreatedSerializer(row).data, status=status.HTTP_201_CREATED)


router = DefaultRouter()
router.register("agents", AgentViewSet, basename="documents-agent")
router.register("documents", DocumentViewSet, basename="documents-document")
router.register("requests", TransferViewSet, basename="documents-request")
router.register("downloads", DownloadViewSet, basename="documents-download")
router.register("enrollment-codes", EnrollmentCodeViewSet, basename="documents-enrollment-code")


# --- The agent's own endpoints (protocol paths) ------------------------------------------------


def _agent_from(request) -> Agent | None:
    return services.authenticate(P.parse_auth_header(request.META.get("HTTP_AUTHORIZATION")) or "")


def _protocol_json(record, status_code: int) -> JsonResponse:
    return JsonResponse(record.to_dict(), status=status_code)


class AgentEnrollView(APIView):
    """A site agent enrolls with a one-time code and receives its token (shown once).

    ``POST ENROLL_PATH``. No user: the code is the credential. Throttled per client address like the sign-in.
    """

    tenant_scoped_by_hand = True  # the code names the organization (hash lookup)
    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [AuthThrottle]

    @extend_schema(request=OpenApiTypes.OBJECT, responses={201: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT})
    def post(self, request):
        try:
            body = P.EnrollRequest.from_dict(request.data)
        except P.ProtocolError as exc:
            BAD_INPUT.labels("agent_enroll", "body").inc()
            return _protocol_json(P.EnrollError(error="invalid_code", detail=str(exc)[:200]), 400)
        try:
            agent, token = services.enroll(body.code.strip(), hostname=body.hostname, version=body.version,
                                           os_name=body.os, request=request)
        except services.EnrollmentRefused as exc:
            return _protocol_json(P.EnrollError(error=exc.code, detail=str(exc)), 400)
        return _protocol_json(P.EnrollResponse(agent_id=str(agent.pk), name=agent.name, token=token), 201)


class AgentWhoAmIView(APIView):
    """Which site agent this token belongs to (``central-agent check``); 401 otherwise.

    ``GET WHOAMI_PATH``."""

    tenant_scoped_by_hand = True  # the token names the agent
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: OpenApiTypes.OBJECT, 401: OpenApiTypes.OBJECT})
    def get(self, request):
        agent = _agent_from(request)
        if agent is None:
            return JsonResponse({"error": {"code": "token_invalid", "message": _("Token de agente inválido.")}},
                                status=401)
        return _protocol_json(P.WhoAmI(agent_id=str(agent.pk), name=agent.name,
                                       organization=agent.organization.name), 200)


@csrf_exempt
def agent_upload(request, transfer_id: str):
    """``GET upload_path(id)``: Central's committed offset (protocol section "Upload"). The
    ``PATCH`` with the chunks never reaches Django: ``upload_asgi.AgentUploadASGI`` reads it
    as it streams in. Only for a transfer this agent was asked for: an unknown id, another
    agent's or another tenant's transfer and a finished one all answer 410."""
    agent = _agent_from(request)
    if agent is None:
        return JsonResponse({"error": {"code": "token_invalid", "message": _("Token de agente inválido.")}},
                            status=401)
    if request.method != "GET":
        return JsonResponse({"error": {"code": "method_not_allowed", "message": request.method}}, status=405)
    try:
        return JsonResponse(status_body(services.upload_status(services.upload_target(agent, parse_id(transfer_id)))))
    except services.TransferRefused as exc:
        return JsonResponse({"error": {"code": exc.code, "message": exc.message}},
                            status=P.UPLOAD_GONE if exc.code == "gone" else exc.status)


agent_urlpatterns = [
    path(P.ENROLL_ROUTE, AgentEnrollView.as_view(), name="documents-agent-enroll"),
    path(P.WHOAMI_ROUTE, AgentWhoAmIView.as_view(), name="documents-agent-whoami"),
    path(P.UPLOAD_ROUTE, agent_upload, name="documents-agent-upload"),
]
