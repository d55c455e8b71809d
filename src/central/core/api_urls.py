from django.urls import path
from rest_framework.routers import DefaultRouter

from . import api

router = DefaultRouter()
router.register("organizations", api.OrganizationViewSet, basename="organization")
router.register("members", api.MembershipViewSet, basename="membership")
router.register("invitations", api.InvitationViewSet, basename="invitation")
router.register("audit-log", api.AuditLogViewSet, basename="auditlog")
router.register("me", api.MeViewSet, basename="me")

urlpatterns = [
    path("auth/token/", api.LoginView.as_view(), name="token_obtain"),
    path("auth/token/refresh/", api.RefreshView.as_view(), name="token_refresh"),
    path("auth/logout/", api.LogoutView.as_view(), name="token_logout"),
    # before the router, whose invitations/<pk>/ would otherwise swallow it
    path("invitations/accept/", api.InvitationAcceptView.as_view(), name="invitation_accept"),
    *router.urls,
]
