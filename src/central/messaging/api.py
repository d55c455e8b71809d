"""WhatsApp REST API (mounted at /api/v1/messaging/).

Numbers, contacts, conversations (with their actions: send, assign, resolve, hand-off,
read, labels, notes), messages (and their media), templates, canned responses and labels.
Every viewset is tenant-scoped by ``TenantViewSet``; every action goes through
``central.messaging.services`` (one place for the rules and the audit log). Custom
actions are mapped by hand in ``api_urls`` (the isolation walker reverses only routes
without arguments; the actions still go through ``get_object``'s scoping).

Roles: reads need viewer; working the inbox (send, notes, assign, resolve, read, labels of
a conversation) needs agent; templates, canned responses and labels need supervisor;
numbers need admin. Refusals of the rules answer 409 with the service's code
(``window_closed`` carries the approved templates offered in ``fields.templates``).
"""

from __future__ import annotations

import django_filters
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.http import HttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response

from central.core import outbound
from central.core.api import TenantModelViewSet, TenantReadOnlyViewSet, TenantViewSet
from central.core.roles import Role

from . import services
from .models import CannedResponse, Contact, Conversation, Label, Message, Template, WhatsAppNumber
from .sender import error_reason


class RuleRefused(APIException):
    """A messaging rule refused the action (window, opt-out, state...)."""

    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def _refused(exc: services.MessagingError) -> Exception:
    """An invalid message is a validation error on its ``message`` field (the compose box
    highlights it); every other refusal goes through ``central.core.errors`` as is."""
    if isinstance(exc, services.InvalidMessage):
        return ValidationError({"message": [exc.message]})
    return exc


class TenantRelated(serializers.PrimaryKeyRelatedField):
    """A related row named by id, looked up inside the request's organization only."""

    def get_queryset(self):
        org = self.context.get("organization")
        qs = super().get_queryset()
        return qs.filter(organization=org) if org is not None else qs.none()


# --- numbers -----------------------------------------------------------------------------------------------


class WhatsAppNumberSerializer(serializers.ModelSerializer):
    token_configured = serializers.SerializerMethodField()
    app_secret_configured = serializers.SerializerMethodField()

    class Meta:
        model = WhatsAppNumber
        fields = ["id", "phone_number_id", "display_number", "name", "waba_id", "access_token_env",
                  "app_secret_env", "token_configured", "app_secret_configured", "use_simulator", "is_active",
                  "created_at"]
        read_only_fields = ["id", "use_simulator", "created_at"]

    def get_token_configured(self, obj) -> bool:
        return outbound.read_secret(obj.access_token_env) is not None

    def get_app_secret_configured(self, obj) -> bool:
        return outbound.read_secret(obj.app_secret_env) is not None

    def _env(self, value):
        if value:
            try:
                outbound.validate_env_name(value)
            except outbound.OutboundRefused as exc:
                raise ValidationError(str(exc)) from None
        return value

    def validate_access_token_env(self, value):
        return self._env(value)

    def validate_app_secret_env(self, value):
        return self._env(value)

    def validate_phone_number_id(self, value):
        if not value.isdigit():
            raise ValidationError(_("Use o ID numérico do número (phone_number_id) da Meta."))
        if self.instance is not None and self.instance.use_simulator and value != self.instance.phone_number_id:
            raise ValidationError(_("O número do simulador não muda."))
        return value

    def validate_display_number(self, value):
        from central.core.phones import InvalidPhone, normalize

        try:
            return normalize(value).e164
        except InvalidPhone as exc:
            raise ValidationError(exc.reason) from None


class WhatsAppNumberViewSet(TenantModelViewSet):
    queryset = WhatsAppNumber.objects.all()
    serializer_class = WhatsAppNumberSerializer
    write_role = Role.ADMIN
    audit_prefix = "messaging.number"
    filterset_fields = ["is_active", "use_simulator"]

    def perform_create(self, serializer):
        super().perform_create(serializer)
        from .numbers import forget

        forget()

    def perform_update(self, serializer):
        super().perform_update(serializer)
        from .numbers import forget

        forget()

    def sync_templates(self, request, pk=None):
        """Fetch the number's templates from the Graph API (audited when something changed)."""
        number = self.get_object()
        try:
            counts = services.sync_templates(number, request=request, actor=request.user)
        except services.MessagingError as exc:
            raise _refused(exc) from None
        return Response(counts)


# --- labels, canned responses, templates ---------------------------------------------------------------------


class LabelSerializer(serializers.ModelSerializer):
    class Meta:
        model = Label
        fields = ["id", "name", "color"]

    def validate_color(self, value):
        import re

        if not re.fullmatch(r"#[0-9a-fA-F]{6}", value or ""):
            raise ValidationError(_("Use uma cor como #1a7f37."))
        return value


class LabelViewSet(TenantModelViewSet):
    queryset = Label.objects.all()
    serializer_class = LabelSerializer
    search_fields = ["name"]


class CannedResponseSerializer(serializers.ModelSerializer):
    class Meta:
        model = CannedResponse
        fields = ["id", "shortcut", "title", "body"]


class CannedResponseViewSet(TenantModelViewSet):
    queryset = CannedResponse.objects.all()
    serializer_class = CannedResponseSerializer
    search_fields = ["shortcut", "title", "body"]


class TemplateSerializer(serializers.ModelSerializer):
    number = TenantRelated(queryset=WhatsAppNumber.objects.all())
    parameter_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Template
        fields = ["id", "number", "name", "language", "category", "status", "body", "header", "footer", "buttons",
                  "parameter_count", "external_id", "synced_at"]
        read_only_fields = ["id", "external_id", "synced_at"]

    def validate_buttons(self, value):
        if not isinstance(value, list) or len(value) > 10 or not all(isinstance(b, dict) for b in value):
            raise ValidationError(_("Até 10 botões, cada um um objeto."))
        return value


class TemplateViewSet(TenantModelViewSet):
    """The template registry (changes audited as ``messaging.template.*``)."""

    queryset = Template.objects.select_related("number")
    serializer_class = TemplateSerializer
    audit_prefix = "messaging.template"
    filterset_fields = ["number", "status", "language", "category"]
    search_fields = ["name", "body"]


# --- contacts --------------------------------------------------------------------------------------------------


class WhatsAppContactSerializer(serializers.ModelSerializer):
    labels = TenantRelated(queryset=Label.objects.all(), many=True, required=False)
    opted_out = serializers.BooleanField(read_only=True)

    class Meta:
        model = Contact
        fields = ["id", "wa_id", "phone", "name", "labels", "opted_in_at", "consent_source", "opted_out_at",
                  "opted_out", "created_at", "updated_at"]
        read_only_fields = ["id", "wa_id", "phone", "opted_in_at", "consent_source", "opted_out_at", "created_at",
                            "updated_at"]


class ConsentSerializer(serializers.Serializer):
    source = serializers.CharField(max_length=120)


class ContactFilter(django_filters.FilterSet):
    # One label (a ModelChoiceFilter): the multiple-choice filter's error echoes the id,
    # which would tell another tenant's label from a missing one.
    label = django_filters.ModelChoiceFilter(field_name="labels", queryset=Label.objects.all())
    opted_out = django_filters.BooleanFilter(field_name="opted_out_at", lookup_expr="isnull", exclude=True)

    class Meta:
        model = Contact
        fields = ["phone", "wa_id"]


class ContactViewSet(TenantViewSet, mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.UpdateModelMixin,
                     mixins.DestroyModelMixin):
    """Contacts are created by the customer's first message, never through the API."""

    queryset = Contact.objects.prefetch_related("labels")
    serializer_class = WhatsAppContactSerializer
    write_role = Role.AGENT
    action_roles = {"destroy": Role.ADMIN}
    filterset_class = ContactFilter
    search_fields = ["name", "phone", "wa_id"]

    @extend_schema(request=ConsentSerializer, responses=WhatsAppContactSerializer)
    def opt_in(self, request, pk=None):
        """Record consent (LGPD) with where it was given; audited."""
        contact = self.get_object()
        data = ConsentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.record_opt_in(contact, source=data.validated_data["source"], request=request)
        contact.refresh_from_db()
        return Response(WhatsAppContactSerializer(contact, context=self.get_serializer_context()).data)

    @extend_schema(request=ConsentSerializer, responses=WhatsAppContactSerializer)
    def opt_out(self, request, pk=None):
        """Record an opt-out on the customer's behalf (they asked by phone, at the desk); audited."""
        contact = self.get_object()
        data = ConsentSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.record_opt_out(contact, source=data.validated_data["source"], request=request)
        contact.refresh_from_db()
        return Response(WhatsAppContactSerializer(contact, context=self.get_serializer_context()).data)

    def history(self, request, pk=None):
        """One person across channels: WhatsApp conversations, the dialer's contacts and
        attempts, call records, for this E.164 number (each app's own read function)."""
        contact = self.get_object()
        org_id = contact.organization_id
        conversations = [
            {"id": c.pk, "number": c.number.display_number, "state": c.state, "opened_at": c.opened_at,
             "resolved_at": c.resolved_at, "last_message_at": c.last_message_at}
            for c in services.conversations_for_phone(contact.organization, contact.phone)[:50]]
        out = {"phone": contact.phone, "whatsapp": conversations, "dialer": None, "calls": []}
        try:
            from central.dialer.services import history_for_number

            out["dialer"] = history_for_number(org_id, contact.phone)
        except ImportError:
            pass
        try:
            from central.telephony.store import records_for_number

            out["calls"] = records_for_number(org_id, contact.phone)
        except ImportError:
            pass
        return Response(out)


# --- conversations and messages ------------------------------------------------------------------------------------


class MessageSerializer(serializers.ModelSerializer):
    sender_name = serializers.CharField(source="sender_user.username", read_only=True, default="")
    error_reason = serializers.SerializerMethodField()
    has_media = serializers.SerializerMethodField()

    class Meta:
        model = Message
        fields = ["id", "conversation", "direction", "kind", "wamid", "status", "error_code", "error_title",
                  "error_reason", "body", "payload", "media", "has_media", "sender", "sender_name", "context_wamid",
                  "created_at", "sent_at", "delivered_at", "read_at", "failed_at"]
        read_only_fields = fields

    def get_error_reason(self, obj) -> str:
        return error_reason(obj.error_code, obj.error_title) if obj.status == Message.Status.FAILED else ""

    def get_has_media(self, obj) -> bool:
        return bool((obj.media or {}).get("id"))


class ConversationSerializer(serializers.ModelSerializer):
    contact = WhatsAppContactSerializer(read_only=True)
    number = serializers.CharField(source="number.display_number", read_only=True)
    assignee_name = serializers.CharField(source="assignee.username", read_only=True, default="")
    labels = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    window_open = serializers.SerializerMethodField()
    window_closes_at = serializers.SerializerMethodField()

    class Meta:
        model = Conversation
        fields = ["id", "number", "contact", "state", "assignee", "assignee_name", "labels", "unread_count",
                  "last_inbound_at", "last_message_at", "last_message_preview", "window_open", "window_closes_at",
                  "handoff_reason", "handoff_at", "opened_at", "first_response_at", "resolved_at"]
        read_only_fields = fields

    def get_window_open(self, obj) -> bool:
        return obj.window_open()

    def get_window_closes_at(self, obj) -> str | None:
        closes = obj.window_closes_at()
        return serializers.DateTimeField().to_representation(closes) if closes else None


class ConversationFilter(django_filters.FilterSet):
    mine = django_filters.BooleanFilter(method="filter_mine")
    unassigned = django_filters.BooleanFilter(field_name="assignee", lookup_expr="isnull")
    label = django_filters.ModelChoiceFilter(field_name="labels", queryset=Label.objects.all())
    q = django_filters.CharFilter(method="filter_q")

    class Meta:
        model = Conversation
        fields = ["state", "assignee", "number", "contact"]

    def filter_mine(self, queryset, name, value):
        user = getattr(self.request, "user", None)
        if value and user is not None:
            return queryset.filter(assignee=user)
        return queryset

    def filter_q(self, queryset, name, value):
        digits = "".join(ch for ch in value if ch.isdigit())
        cond = Q(contact__name__icontains=value)
        if digits:
            cond |= Q(contact__phone__contains=digits) | Q(contact__wa_id__contains=digits)
        return queryset.filter(cond)


class SendSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["text", "buttons", "list", "template"], default="text")
    text = serializers.CharField(required=False, allow_blank=False, max_length=4096)
    buttons = serializers.ListField(child=serializers.DictField(), required=False, max_length=10)
    sections = serializers.ListField(child=serializers.DictField(), required=False, max_length=10)
    list_button = serializers.CharField(required=False, max_length=20)
    header = serializers.CharField(required=False, max_length=60)
    footer = serializers.CharField(required=False, max_length=60)
    template = serializers.IntegerField(required=False)
    params = serializers.ListField(child=serializers.CharField(max_length=1024), required=False, max_length=20)


class AssignSerializer(serializers.Serializer):
    user = serializers.IntegerField(help_text="id of a member of the organization (agent or above)")


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=200)


class NoteSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=4096)


class LabelsSerializer(serializers.Serializer):
    labels = serializers.ListField(child=serializers.IntegerField(), max_length=50)


class ConversationViewSet(TenantReadOnlyViewSet):
    """The inbox. Actions are POSTs on ``conversations/{id}/<action>/``."""

    queryset = Conversation.objects.select_related("contact", "number", "assignee").prefetch_related(
        "labels", "contact__labels")
    serializer_class = ConversationSerializer
    write_role = Role.AGENT
    filterset_class = ConversationFilter
    ordering_fields = ["last_message_at", "opened_at", "unread_count", "id"]

    def _answer(self, conversation) -> Response:
        conversation.refresh_from_db()
        return Response(ConversationSerializer(conversation, context=self.get_serializer_context()).data)

    @extend_schema(request=SendSerializer, responses=MessageSerializer)
    def send(self, request, pk=None):
        """Queue a message: ``{"type": "text", "text"}``, ``{"type": "buttons", "text", "buttons":
        [{"id", "title"}]}``, ``{"type": "list", "text", "list_button", "sections"}`` or
        ``{"type": "template", "template": <id>, "params": [...]}``. 409 ``window_closed``
        outside the 24 h window (with the templates offered), ``opted_out``."""
        conversation = self.get_object()
        data = SendSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        try:
            if d["type"] == "template":
                template = Template.objects.filter(organization=self.organization, pk=d.get("template")).first()
                if template is None:
                    raise ValidationError({"template": [_("Modelo inexistente.")]})
                msg = services.send_template(conversation, template, d.get("params", []), user=request.user)
            elif not d.get("text"):
                raise ValidationError({"text": [_("Informe o texto.")]})
            elif d["type"] == "buttons":
                buttons = [(str(b.get("id", "")), str(b.get("title", ""))) for b in d.get("buttons", [])]
                msg = services.send_interactive(conversation, d["text"], buttons=buttons, header=d.get("header", ""),
                                                footer=d.get("footer", ""), user=request.user)
            elif d["type"] == "list":
                msg = services.send_interactive(conversation, d["text"], sections=d.get("sections", []),
                                                list_button=d.get("list_button", ""), header=d.get("header", ""),
                                                footer=d.get("footer", ""), user=request.user)
            else:
                msg = services.send_text(conversation, d["text"], user=request.user)
        except services.MessagingError as exc:
            raise _refused(exc) from None
        return Response(MessageSerializer(msg, context=self.get_serializer_context()).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(request=AssignSerializer, responses=ConversationSerializer)
    def assign(self, request, pk=None):
        """Give the conversation to a member (agent or above); audited."""
        conversation = self.get_object()
        data = AssignSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = get_user_model().objects.filter(pk=data.validated_data["user"],
                                               memberships__organization=self.organization).first()
        if user is None:
            raise ValidationError({"user": [_("Usuário não é membro desta organização.")]})
        try:
            services.assign(conversation, user, by=request.user, request=request)
        except services.MessagingError as exc:
            raise _refused(exc) from None
        return self._answer(conversation)

    @extend_schema(request=None, responses=ConversationSerializer)
    def resolve(self, request, pk=None):
        """End the conversation; the customer's next message opens a new one (audited)."""
        conversation = self.get_object()
        services.resolve(conversation, by=request.user, request=request)
        return self._answer(conversation)

    @extend_schema(request=ReasonSerializer, responses=ConversationSerializer)
    def hand_off(self, request, pk=None):
        """Send the conversation to the queue of humans (``pending``) with a reason."""
        conversation = self.get_object()
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.hand_off(conversation, data.validated_data["reason"], by=request.user)
        return self._answer(conversation)

    @extend_schema(request=None, responses=ConversationSerializer)
    def read(self, request, pk=None):
        """The agent read the thread: unread 0, read receipt to the customer."""
        conversation = self.get_object()
        services.mark_read(conversation, user=request.user)
        return self._answer(conversation)

    @extend_schema(request=NoteSerializer, responses=MessageSerializer)
    def note(self, request, pk=None):
        """An internal note (never sent to the customer)."""
        conversation = self.get_object()
        data = NoteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            msg = services.add_note(conversation, data.validated_data["text"], user=request.user)
        except services.MessagingError as exc:
            raise _refused(exc) from None
        return Response(MessageSerializer(msg, context=self.get_serializer_context()).data,
                        status=status.HTTP_201_CREATED)

    @extend_schema(request=LabelsSerializer, responses=ConversationSerializer)
    def labels(self, request, pk=None):
        """Replace the conversation's labels (ids of this organization's labels)."""
        conversation = self.get_object()
        data = LabelsSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ids = set(data.validated_data["labels"])
        found = list(Label.objects.filter(organization=self.organization, pk__in=ids))
        if len(found) != len(ids):
            raise ValidationError({"labels": [_("Etiqueta inexistente.")]})
        services.set_labels(conversation, found)
        return self._answer(conversation)

    def messages(self, request, pk=None):
        """The thread, oldest first (paginated)."""
        conversation = self.get_object()
        qs = Message.objects.filter(conversation=conversation).select_related("sender_user").order_by("created_at",
                                                                                                      "id")
        page = self.paginate_queryset(qs)
        data = MessageSerializer(page if page is not None else qs, many=True,
                                 context=self.get_serializer_context()).data
        return self.get_paginated_response(data) if page is not None else Response(data)


class MessageViewSet(TenantReadOnlyViewSet):
    queryset = Message.objects.select_related("sender_user", "conversation__number")
    serializer_class = MessageSerializer
    filterset_fields = ["conversation", "direction", "kind", "status"]
    ordering_fields = ["created_at", "id"]

    def media(self, request, pk=None):
        """The media of an inbound message, fetched from WhatsApp on demand."""
        message = self.get_object()
        try:
            content, mime = services.fetch_media(message)
        except services.MessagingError as exc:
            raise _refused(exc) from None
        except (LookupError, ValueError, outbound.OutboundRefused) as exc:
            raise RuleRefused(_("Não foi possível obter a mídia: %(reason)s") % {"reason": exc},
                              code="media_unavailable") from None
        except Exception as exc:  # network errors reaching the Graph API
            raise RuleRefused(_("Não foi possível obter a mídia: %(reason)s") % {"reason": type(exc).__name__},
                              code="media_unavailable") from None
        response = HttpResponse(content, content_type=mime)
        response["Content-Disposition"] = "attachment"
        response["X-Content-Type-Options"] = "nosniff"
        return response
