"""API permission: the request's membership must exist and rank high enough.

Reads need ``read_role`` (viewer by default); writes need ``write_role`` (supervisor by
default). Viewsets override the two attributes instead of writing checks by hand.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import SAFE_METHODS, BasePermission

from .roles import Role, at_least
from .tenancy import membership_for_request


class HasOrgRole(BasePermission):
    message = _("Seu papel nesta organização não permite esta ação.")

    def has_permission(self, request, view) -> bool:
        if not request.user or not request.user.is_authenticated:
            return False
        membership = membership_for_request(request)  # 404 for foreign organizations
        needed = getattr(view, "read_role", Role.VIEWER)
        if request.method not in SAFE_METHODS:
            needed = getattr(view, "write_role", Role.SUPERVISOR)
        action_roles = getattr(view, "action_roles", {})
        needed = action_roles.get(getattr(view, "action", None), needed)
        return at_least(membership.role, needed)
