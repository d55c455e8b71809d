"""Core API: the tenant-scoped viewset base, organizations, members, audit log, auth."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import AuthenticationFailed, NotFound, PermissionDenied, Throttled
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt import views as jwt_views

from . import audit, loginguard, members
from .models import AuditLog, Invitation, Membership, Organization
from .permissions import HasOrgRole
from .roles import Role, RoleChangeDenied
from .tenancy import (
    default_membership,
    find_membership,
    membership_for_request,
    parse_organization_ref,
)
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
            raise PermissionDenied(_("Somente proprietários e administradores alteram a organização."))
        instance = serializer.save()
        audit.record("organization.update", request=self.request, organization=instance, target=instance)


# --- Members and invitations ---------------------------------------------------------------


def _denied(exc: RoleChangeDenied) -> PermissionDenied:
    return PermissionDenied(exc.message, code=exc.code)


class MembershipSerializer(serializers.ModelSerializer):
    """A member of the current organization. Only ``role`` changes; the user never does."""

    username = serializers.CharField(source="user.username", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)

    class Meta:
        model = Membership
        fields = ["id", "username", "email", "role", "created_at"]
        read_only_fields = ["id", "created_at"]


class MembershipViewSet(
    TenantViewSet,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
):
    """Members of the current organization; admins and owners change roles and remove.

    There is no create: people join through an invitation (``invitations/``). Every change
    goes through ``central.core.members`` and so through ``roles.check_member_change``.
    """

    queryset = Membership.objects.select_related("user")
    serializer_class = MembershipSerializer
    write_role = Role.ADMIN
    filterset_fields = ["role"]
    search_fields = ["user__username", "user__email"]

    def perform_update(self, serializer):
        new_role = serializer.validated_data.get("role", serializer.instance.role)
        try:
            serializer.instance = members.change_role(
                self.request.user, serializer.instance, new_role, request=self.request
            )
        except RoleChangeDenied as exc:
            raise _denied(exc) from None

    def perform_destroy(self, instance):
        try:
            members.remove_member(self.request.user, instance, request=self.request)
        except RoleChangeDenied as exc:
            raise _denied(exc) from None


class InvitationSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True)
    invited_by = serializers.CharField(source="invited_by.username", read_only=True, default=None)

    class Meta:
        model = Invitation
        fields = ["id", "email", "username", "role", "status", "invited_by", "created_at", "expires_at",
                  "accepted_at", "revoked_at"]
        read_only_fields = ["id", "status", "invited_by", "created_at", "expires_at", "accepted_at", "revoked_at"]

    def validate(self, attrs):
        email, username = attrs.get("email", "").strip(), attrs.get("username", "").strip()
        if bool(email) == bool(username):
            raise serializers.ValidationError(
                {"email": [_("Informe o e-mail ou o usuário da pessoa convidada (um dos dois).")]}
            )
        return attrs


class InvitationCreatedSerializer(InvitationSerializer):
    token = serializers.CharField(read_only=True)
    accept_url = serializers.CharField(read_only=True)

    class Meta(InvitationSerializer.Meta):
        fields = [*InvitationSerializer.Meta.fields, "token", "accept_url"]


class InvitationViewSet(TenantViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.CreateModelMixin):
    """Invitations to join the current organization (admins and owners).

    The create answer carries the token and the acceptance link once; only a hash is
    stored. Nobody invites with a role above their own; only owners invite owners.
    """

    queryset = Invitation.objects.select_related("invited_by")
    serializer_class = InvitationSerializer
    read_role = Role.ADMIN
    write_role = Role.ADMIN
    filterset_fields = ["role", "email", "username"]
    ordering_fields = ["created_at", "expires_at"]

    @extend_schema(responses={201: InvitationCreatedSerializer})
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            invitation, token = members.create_invitation(
                request.user, self.organization, role=data.get("role", Role.AGENT),
                email=data.get("email", ""), username=data.get("username", ""), request=request,
            )
        except RoleChangeDenied as exc:
            raise _denied(exc) from None
        except members.AlreadyMember as exc:
            raise serializers.ValidationError({"email" if data.get("email") else "username": [str(exc)]}) from None
        invitation.token = token
        invitation.accept_url = request.build_absolute_uri(reverse("dashboard:invitation", args=[token]))
        return Response(InvitationCreatedSerializer(invitation).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=InvitationSerializer)
    @action(detail=True, methods=["post"])
    def revoke(self, request, pk=None):
        """Revoke a pending invitation (it can no longer be accepted)."""
        invitation = self.get_object()
        try:
            invitation = members.revoke_invitation(request.user, invitation, request=request)
        except RoleChangeDenied as exc:
            raise _denied(exc) from None
        except members.InvitationInvalid as exc:
            raise serializers.ValidationError(str(exc)) from None
        return Response(InvitationSerializer(invitation).data)


class AcceptInvitationSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=100)


class AcceptedSerializer(serializers.Serializer):
    organization = serializers.DictField()
    role = serializers.CharField()


class InvitationAcceptView(APIView):
    """The invited person, signed in, accepts with the token from the invitation link.

    Not tenant-scoped: the user is not a member yet. Any token that does not open a pending
    invitation addressed to this user answers the same 400.
    """

    permission_classes = [IsAuthenticated]
    throttle_classes = [AuthThrottle]

    @extend_schema(request=AcceptInvitationSerializer, responses=AcceptedSerializer)
    def post(self, request):
        serializer = AcceptInvitationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            membership = members.accept_invitation(request.user, serializer.validated_data["token"], request=request)
        except (members.InvitationInvalid, members.AlreadyMember) as exc:
            raise serializers.ValidationError({"token": [str(exc)]}) from None
        org = membership.organization
        return Response({"organization": {"id": org.pk, "slug": org.slug, "name": org.name}, "role": membership.role})


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
    default_organization = serializers.IntegerField(allow_null=True)
    organizations = MeOrganizationSerializer(many=True)


class DefaultOrganizationSerializer(serializers.Serializer):
    organization = serializers.CharField(help_text="id or slug of one of your organizations")


class MeViewSet(viewsets.ViewSet):
    """The signed-in user, the organizations (with role) they belong to, and their default."""

    permission_classes = [IsAuthenticated]

    @extend_schema(responses=MeSerializer)
    def list(self, request):
        memberships = Membership.objects.select_related("organization").filter(user=request.user)
        default = default_membership(request.user)
        return Response(
            {
                "id": request.user.pk,
                "username": request.user.username,
                "default_organization": default.organization_id if default else None,
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

    @extend_schema(methods=["GET"], responses=MeOrganizationSerializer)
    @extend_schema(methods=["PUT"], request=DefaultOrganizationSerializer, responses=MeOrganizationSerializer)
    @action(detail=False, methods=["get", "put"], url_path="default-organization")
    def default_organization(self, request):
        """Where requests without ``X-Organization`` go: the user's own choice.

        PUT ``{"organization": <id or slug>}`` with one of your organizations; any other
        organization is a 404, as with the header.
        """
        if request.method == "PUT":
            serializer = DefaultOrganizationSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            membership = find_membership(request.user, parse_organization_ref(serializer.validated_data["organization"]))
            if membership is None:
                raise NotFound()
            members.set_default_organization(request.user, membership, request=request)
        else:
            membership = default_membership(request.user)
            if membership is None:
                raise NotFound()
        org = membership.organization
        return Response({"id": org.pk, "slug": org.slug, "name": org.name, "role": membership.role})


# --- Auth (JWT) ---------------------------------------------------------------------------


class LoginView(jwt_views.TokenObtainPairView):
    """Username + password -> access (15 min) and refresh (7 days) tokens."""

    throttle_classes = [AuthThrottle]

    def post(self, request, *args, **kwargs):
        try:
            response = super().post(request, *args, **kwargs)
        except AuthenticationFailed:
            wait = loginguard.blocked_for(request)
            if wait is not None:  # the per-account / per-client sign-in limit refused it
                raise Throttled(wait=wait) from None
            raise
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
