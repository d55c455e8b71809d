"""Recordings API: the recordings a member may hear, with the URL that streams each.

Read only: rows are created by the indexer and deleted by retention. The list is the
member's :func:`~central.recordings.services.listenable` set (agents see their own calls'
recordings, supervisors the organization's); anything else is absent (404 on retrieve).
"""

from __future__ import annotations

import django_filters
from django.urls import reverse
from rest_framework import serializers

from central.core.api import TenantReadOnlyViewSet
from central.core.roles import Role
from central.core.tenancy import membership_for_request

from .models import Recording
from .services import listenable


class RecordingSerializer(serializers.ModelSerializer):
    audio_url = serializers.SerializerMethodField()

    class Meta:
        model = Recording
        fields = ["id", "attempt_uid", "call_record", "campaign_id", "agent", "size", "duration", "content_type",
                  "started_at", "created_at", "audio_url"]
        read_only_fields = fields

    def get_audio_url(self, obj: Recording) -> str:
        return reverse("recordings:audio", args=[obj.pk])


class RecordingFilter(django_filters.FilterSet):
    since = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="gte")
    until = django_filters.IsoDateTimeFilter(field_name="started_at", lookup_expr="lt")

    class Meta:
        model = Recording
        fields = ["call_record", "attempt_uid", "campaign_id", "agent"]


class RecordingViewSet(TenantReadOnlyViewSet):
    queryset = Recording.objects.all()
    serializer_class = RecordingSerializer
    filterset_class = RecordingFilter
    ordering_fields = ["started_at", "size", "duration"]
    ordering = ["-started_at", "-id"]
    read_role = Role.AGENT

    def get_queryset(self):
        return listenable(membership_for_request(self.request)).order_by(*self.ordering)
