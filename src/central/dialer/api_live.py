"""Live metrics and what-if planner endpoints of the dialer engine.

``GET /api/v1/dialer/campaigns/{id}/live/``: the figures of the campaign's live panel
(agents, calls in progress, dial level, answer and abandonment rates over 1 h / today /
24 h / 30 days, occupancy, calls and contacts per hour, AHT, contacts remaining, short
calls against the Anatel alarm, the chart of the day and the pacing's reason in pt-BR).

``POST /api/v1/dialer/planner/``: expected occupancy against abandonment per pacing mode
for a call center described in the body, simulated on a virtual clock by
``central.dialer.planner`` with the engine's own ``decide()``.
"""

from __future__ import annotations

from dataclasses import fields

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from central.core.api import TenantViewSet
from central.core.roles import Role
from central.core.tenancy import membership_for_request
from central.dialer import live, metrics
from central.dialer.models import Campaign
from central.dialer.planner import PlanScenario, plan


class CampaignLiveViewSet(TenantViewSet):
    """The campaign's live figures: dial level, calls in progress, abandonment, contacts left.

    Read-only, one action, tenant-scoped like every viewset."""

    queryset = Campaign.objects.all()
    read_role = Role.VIEWER
    serializer_class = serializers.Serializer  # the figures are a free-form JSON object

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def retrieve(self, request, pk=None):
        campaign = self.get_object()
        return Response(metrics.campaign_live(campaign, timezone.now(), live.engine_state(campaign.id)))


class PlannerInput(serializers.Serializer):
    agents = serializers.IntegerField(min_value=1, max_value=200, default=10)
    answer_rate = serializers.FloatField(min_value=0.01, max_value=0.95, default=0.30)
    talk_time = serializers.FloatField(min_value=5, max_value=3600, default=90.0)
    wrapup_time = serializers.FloatField(min_value=0, max_value=600, default=5.0)
    abandon_after = serializers.FloatField(min_value=0.5, max_value=60, default=2.0)
    target_abandon = serializers.FloatField(min_value=0.005, max_value=0.5, default=0.03)
    ratio = serializers.FloatField(min_value=1.0, max_value=10.0, default=2.0)
    hours = serializers.FloatField(min_value=0.1, max_value=8.0, default=1.0)
    seed = serializers.IntegerField(default=1)
    tune = serializers.BooleanField(default=False)

    def validate(self, attrs):
        # the busy/congestion shares of the default scenario must still fit with the answer rate
        if attrs["answer_rate"] + 0.12 > 1.0:
            attrs["busy_rate"] = max(0.0, 1.0 - attrs["answer_rate"] - 0.02)
        return attrs


class PlannerView(APIView):
    """Simulate a campaign's pacing (agents, answer rate, talk time) and see dial level and
    abandonment; reads and writes no data.

    Any member may ask. The membership is still resolved (a foreign ``X-Organization`` is a 404 like everywhere)."""

    permission_classes = [IsAuthenticated]
    tenant_scoped_by_hand = True  # tests/core/test_tenant_isolation.py: no tenant rows here

    @extend_schema(request=PlannerInput, responses={200: OpenApiTypes.OBJECT})
    def post(self, request):
        membership_for_request(request)
        data = PlannerInput(data=request.data)
        data.is_valid(raise_exception=True)
        params = dict(data.validated_data)
        tune = params.pop("tune")
        known = {f.name for f in fields(PlanScenario)}
        scenario = PlanScenario(**{k: v for k, v in params.items() if k in known})
        return Response(plan(scenario, tune=tune))
