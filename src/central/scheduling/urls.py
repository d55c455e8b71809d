"""Agenda pages, mounted at /scheduling/."""

from django.urls import path

from . import views

app_name = "scheduling"

urlpatterns = [
    path("", views.agenda, name="agenda"),
    path("new/", views.new_appointment, name="new"),
    path("appointments/<int:pk>/", views.appointment, name="appointment"),
    path("appointments/<int:pk>/<str:action>/", views.appointment_action, name="appointment_action"),
    path("patients/", views.patients, name="patients"),
    path("patients/<int:pk>/", views.patient, name="patient"),
    path("reports/", views.report, name="reports"),
    path("google/notify/", views.google_notify, name="google_notify"),
]
