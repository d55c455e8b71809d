"""Template context: the organization the page acts for, and the user's other ones."""

from __future__ import annotations

from django.http import Http404


def organization(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from central.core.models import Membership
    from central.core.tenancy import membership_for_request

    try:
        current = membership_for_request(request)
    except Http404:
        return {"memberships": [], "current_membership": None}
    memberships = list(Membership.objects.select_related("organization").filter(user=user))
    return {"memberships": memberships, "current_membership": current}
