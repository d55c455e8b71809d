"""Core API: the tenant-scoped viewset base, organizations, members, audit log, auth."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework_simplejwt import views as jwt_views

from . import audit
from .models import AuditLog, Membership, Organization
from .permissions import HasOrgRole
from .roles import Role
from .tenancy import membership_for_request
from .throttling import AuthThrottle


class TenantViewSet(viewsets.GenericViewSet):
    """Base for every tenant-owned resource.

    ``get_queryset`` filters by the request's organization and ``perform_create`` stamps it,
    so a subclass only declares ``queryset`` and ``serializer_class``. Objects of another
    organization are simply not in the queryset: 404, never 403.
    """

    permission_classes = [IsAuthenticated, HasOrgRole]
    read_role = Role.VIEWER
    write_role = Role.SUPERVISOR
    audit_prefix = ""

    @property
    def organization(self) -> Organization:
        return membership_for_request(self.request).organization

    def get_queryset(self):
        return super().get_queryset().filter(organization=self.organization)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if self.request is not None and self.request.user.is_authenticated:
            context["organization"] = self.organization
        return context

    def perform_create(self, serializer):
        instance = serializer.save(organization=self.organization)
        if self.audit_prefix:
            audit.record(f"{self.audit_prefix}.create", request=self.request, target=instance)

    def perform_update(self, serializer):
        instance = serializer.save()
        if self.audit_prefix:
            audit.record(
                f"{self.audit_prefix}.update",
                request=self.request,
                target=instance,
                fields=sorted(serializer.validated_data.keys()),
            )

    def perform_destroy(self, instance):
        if self.audit_prefix:
            audit.record(f"{self.audit_prefix}.delete", request=self.request, target=instance)
        instance.delete()


# TenantViewSet comes first so its perform_* hooks win over the DRF mixins' ones.
class TenantModelViewSet(
    TenantViewSet,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
):
    pass


class TenantReadOnlyViewSet(TenantViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin):
    pass


# --- Organizations --------------------------------------------------------------------------


class OrganizationSerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Organization
        fields = ["id", "name", "slug", "kind", "timezone", "is_active", "created_at", "role"]
        read_only_fields = ["id", "slug", "kind", "is_active", "created_at", "role"]

    def get_role(self, obj) -> str | None:
        roles = self.context.get("roles", {})
        return roles.get(obj.pk)


class OrganizationViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin, viewsets.GenericViewSet
):
    """The organizations the user belongs to. Only owners and admins may rename one."""

    serializer_class = OrganizationSerializer
    permission_classes = [IsAuthenticated]
    queryset = Organization.objects.none()

    def get_queryset(self):
        return Organization.objects.filter(
            memberships__user=self.request.user, is_active=True
        ).distinct()

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if self.request.user.is_authenticated:
            context["roles"] = dict(
                Membership.objects.filter(user=self.request.user).values_list("organization_id", "role")
            )
        return context

    def perform_update(self, serializer):
        membership = Membership.objects.filter(
            user=self.request.user, organization=serializer.instance
        ).first()
        if membership is None or membership.role not in {Role.OWNER, Role.ADMIN}:
            from rest_framework.exceptions import PermissionDenied

            raise PermissionDenied(_("Somente proprietários e administradores alteram a organização."))
        instance = serializer.save()
        audit.record("organization.update", request=self.request, organization=instance, target=instance)


# --- Members --------------------------------------------------------------------------------


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    user_id = serializers.PrimaryKeyRelatedField(
        source="user", queryset=get_user_model().objects.all(), write_only=True, required=False
    )

    class Meta:
        model = Membership
        fields = ["id", "username", "email", "role", "created_at", "user_id"]
        read_only_fields = ["id", "created_at"]


class MembershipViewSet(TenantModelViewSet):
    """Members of the current organization; admins and owners manage them."""

    queryset = Membership.objects.select_related("user")
    serializer_class = MembershipSerializer
    write_role = Role.ADMIN
    audit_prefix = "membership"
    filterset_fields = ["role"]
    search_fields = ["user__username", "user__email"]

    def perform_create(self, serializer):
        if "user" not in serializer.validated_data:
            raise serializers.ValidationError({"user_id": [_("Obrigatório.")]})
        super().perform_create(serializer)


# --- Audit log ----------------------------------------------------------------------------


class AuditLogSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditLog
        fields = [
            "id", "created_at", "actor_name", "action", "target_type", "target_id",
            "details", "ip", "request_id",
        ]


class AuditLogViewSet(TenantReadOnlyViewSet):
    queryset = AuditLog.objects.all()
    serializer_class = AuditLogSerializer
    read_role = Role.SUPERVISOR
    filterset_fields = ["action", "actor_name", "target_type"]
    ordering_fields = ["created_at", "id"]


# --- Me -------------------------------------------------------------------------------------


class MeOrganizationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.CharField(required=False)
    name = serializers.CharField(required=False)
    role = serializers.CharField()


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    organizations = MeOrganizationSerializer(many=True)


class MeViewSet(viewsets.ViewSet):
    """The signed-in user and the organizations (with role) they belong to."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MeSerializer)
    def list(self, request):
        memberships = Membership.objects.select_related("organization").filter(user=request.user)
        return Response(
            {
                "id": request.user.pk,
                "username": request.user.username,
                "organizations": [
                    {"id": m.organization_id, "slug": m.organization.slug, "name": m.organization.name, "role": m.role}
                    for m in memberships
                ],
            }
        )

    @extend_schema(responses=MeOrganizationSerializer)
    @action(detail=False, methods=["get"])
    def organization(self, request):
        membership = membership_for_request(request)
        return Response({"id": membership.organization_id, "role": membership.role})


# --- Auth (JWT) ---------------------------------------------------------------------------


class LoginView(jwt_views.TokenObtainPairView):
    """Username + password -> access (15 min) and refresh (7 days) tokens."""

    throttle_classes = [AuthThrottle]

    def post(self, request, *args, **kwargs):
        response = super().post(request, *args, **kwargs)
        if response.status_code == 200:
            user = get_user_model().objects.filter(username=request.data.get("username")).first()
            audit.record("auth.token", request=request, actor=user)
        return response


class RefreshView(jwt_views.TokenRefreshView):
    """Refresh -> new access and a new refresh; the old refresh is blacklisted."""

    throttle_classes = [AuthThrottle]


class LogoutView(jwt_views.TokenBlacklistView):
    """Blacklist a refresh token so it can never be used again."""

    throttle_classes = [AuthThrottle]
