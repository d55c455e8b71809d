"""URLs of ``api_live`` for the lead to include under /api/v1/dialer/:

    from central.dialer.api_live_urls import urlpatterns as live_urlpatterns
    urlpatterns += live_urlpatterns
"""

from django.urls import path

from central.dialer.api_live import CampaignLiveViewSet, PlannerView

urlpatterns = [
    path("campaigns/<int:pk>/live/", CampaignLiveViewSet.as_view({"get": "retrieve"}), name="dialer-campaign-live"),
    path("planner/", PlannerView.as_view(), name="dialer-planner"),
]
