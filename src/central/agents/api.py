"""Agents REST API: agents, their interfaces, pause codes (tenant-scoped, supervisors write).

Every foreign key a client sends is checked against the request's organization (a user
who is not a member with the agent role or above, another tenant's server or agent is
"not found"), and interfaces go through ``identity.check_interface_claim``.
"""

from __future__ import annotations

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from rest_framework import serializers

from central.core.api import TenantModelViewSet
from central.core.models import Membership
from central.core.roles import Role, at_least

from .identity import check_interface_claim
from .models import Agent, AgentInterface, PauseCode


def _django_errors(exc: DjangoValidationError) -> serializers.ValidationError:
    return serializers.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)


def member_role(organization_id: int, user_id: int) -> str | None:
    return Membership.objects.filter(organization_id=organization_id, user_id=user_id) \
        .values_list("role", flat=True).first()


class QueueAgentSerializer(serializers.ModelSerializer):
    # A plain id checked against this organization's members: a related field over every
    # user would tell "exists in another tenant" from "does not exist".
    user = serializers.IntegerField(source="user_id")
    username = serializers.CharField(source="user.username", read_only=True)
    interfaces = serializers.SerializerMethodField()

    class Meta:
        model = Agent
        fields = ["id", "user", "username", "name", "extension", "interfaces", "created_at", "updated_at"]
        read_only_fields = ["id", "username", "interfaces", "created_at", "updated_at"]

    def get_interfaces(self, obj) -> list[str]:
        return [i.interface for i in obj.interfaces.all()]

    def validate_user(self, user_id: int) -> int:
        org = self.context["organization"]
        role = member_role(org.pk, user_id)
        if role is None:
            raise serializers.ValidationError(_("Usuário não encontrado."))
        if not at_least(role, Role.AGENT):
            raise serializers.ValidationError(_("Só membros com papel de agente ou acima podem ser agentes."))
        qs = Agent.objects.filter(organization=org, user_id=user_id)
        if self.instance is not None:
            qs = qs.exclude(pk=self.instance.pk)
        if qs.exists():
            raise serializers.ValidationError(_("Este usuário já é um agente."))
        return user_id


class AgentInterfaceSerializer(serializers.ModelSerializer):
    class Meta:
        model = AgentInterface
        fields = ["id", "agent", "interface", "server", "created_at"]
        read_only_fields = ["id", "created_at"]
        validators = []  # the per-organization uniqueness is check_interface_claim's

    def validate(self, attrs):
        org = self.context["organization"]
        agent = attrs.get("agent", getattr(self.instance, "agent", None))
        if agent is not None and agent.organization_id != org.pk:
            raise serializers.ValidationError({"agent": _("Agente não encontrado.")})
        interface = attrs.get("interface", getattr(self.instance, "interface", ""))
        server = attrs.get("server", getattr(self.instance, "server", None))
        try:
            check_interface_claim(org.pk, interface, server,
                                  exclude_pk=self.instance.pk if self.instance is not None else None)
        except DjangoValidationError as exc:
            raise _django_errors(exc) from None
        return attrs


class PauseCodeSerializer(serializers.ModelSerializer):
    class Meta:
        model = PauseCode
        fields = ["id", "code", "label", "position", "active"]
        read_only_fields = ["id"]
        validators = []

    def validate_code(self, value: str) -> str:
        qs = PauseCode.objects.filter(organization=self.context["organization"], code=value)
        if self.instance is not None:
            qs = qs.exclude(pk=self.instance.pk)
        if qs.exists():
            raise serializers.ValidationError(_("Já existe um motivo com este código."))
        return value


class AgentViewSet(TenantModelViewSet):
    """Agents of the organization (a member with the agent role or above, linked to
    interfaces). Any member reads; supervisors and above write."""

    queryset = Agent.objects.select_related("user").prefetch_related("interfaces")
    serializer_class = QueueAgentSerializer
    audit_prefix = "agents.agent"
    search_fields = ["name", "extension", "user__username"]


class AgentInterfaceFilter(django_filters.FilterSet):
    # Plain numbers: a choice filter over every tenant's rows would tell "exists elsewhere"
    # (200, empty) from "does not exist" (400).
    agent = django_filters.NumberFilter(field_name="agent_id")
    server = django_filters.NumberFilter(field_name="server_id")

    class Meta:
        model = AgentInterface
        fields = ["agent", "server"]


class AgentInterfaceViewSet(TenantModelViewSet):
    queryset = AgentInterface.objects.select_related("agent")
    serializer_class = AgentInterfaceSerializer
    audit_prefix = "agents.interface"
    filterset_class = AgentInterfaceFilter


class PauseCodeViewSet(TenantModelViewSet):
    queryset = PauseCode.objects.all()
    serializer_class = PauseCodeSerializer
    audit_prefix = "agents.pause_code"
    filterset_fields = ["active"]
