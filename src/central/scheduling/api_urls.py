"""Mounted at /api/v1/scheduling/ by central.urls.

Actions are mapped by hand next to the router's routes, like the dialer's (see its
api_urls): the tenant-isolation walker reverses named routes without arguments.
"""

from django.urls import path
from rest_framework.routers import DefaultRouter

from . import api

router = DefaultRouter()
router.register("locations", api.LocationViewSet, basename="scheduling-location")
router.register("professionals", api.ProfessionalViewSet, basename="scheduling-professional")
router.register("services", api.ServiceViewSet, basename="scheduling-service")
router.register("patients", api.PatientViewSet, basename="scheduling-patient")
router.register("schedules", api.WeeklyScheduleViewSet, basename="scheduling-schedule")
router.register("exceptions", api.ScheduleExceptionViewSet, basename="scheduling-exception")
router.register("settings", api.ClinicSettingsViewSet, basename="scheduling-settings")
router.register("appointments", api.AppointmentViewSet, basename="scheduling-appointment")
router.register("events", api.AppointmentEventViewSet, basename="scheduling-event")
router.register("reminders", api.ReminderViewSet, basename="scheduling-reminder")
router.register("waitlist", api.WaitlistViewSet, basename="scheduling-waitlist")

_ACTIONS = {"confirm": "confirm", "check-in": "check_in", "complete": "complete", "no-show": "no_show",
            "cancel": "cancel", "reschedule": "reschedule"}

urlpatterns = [
    *[path(f"appointments/<int:pk>/{url}/", api.AppointmentViewSet.as_view({"post": name}))
      for url, name in _ACTIONS.items()],
    path("services/<int:pk>/slots/", api.ServiceViewSet.as_view({"get": "slots"})),
    *router.urls,
]
