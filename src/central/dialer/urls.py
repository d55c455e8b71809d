"""Dialer pages, mounted at /dialer/."""

from django.urls import path

from . import report_views, views

app_name = "dialer"

urlpatterns = [
    path("", views.campaigns, name="campaigns"),
    path("campaigns/new/", views.campaign_new, name="campaign_new"),
    path("campaigns/<int:pk>/", views.campaign, name="campaign"),
    path("campaigns/<int:pk>/settings/", views.campaign_settings, name="campaign_settings"),
    path("campaigns/<int:pk>/<str:action>/", views.campaign_action, name="campaign_action"),
    path("dnc/", views.dnc_list, name="dnc"),
    path("reports/", report_views.reports_page, name="reports"),
]
