"""Template context: the organization the page acts for, and the user's other ones."""

from __future__ import annotations

from django.http import Http404


def organization(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from central.core.models import Membership
    from central.core.tenancy import OrganizationRequired, membership_for_request

    memberships = list(Membership.objects.select_related("organization").filter(user=user))
    try:
        current = membership_for_request(request)
    except (Http404, OrganizationRequired):
        # Still list them: with several organizations and no default, the switcher is
        # how the user picks one.
        return {"memberships": memberships, "current_membership": None}
    return {"memberships": memberships, "current_membership": current, "nav_items": nav_items(current)}


def nav_items(membership) -> list[dict]:
    """Menu entries contributed by capabilities (``central.<app>.nav.items(membership)``)."""
    from importlib import import_module
    from importlib.util import find_spec

    items: list[dict] = []
    for app in ("telephony", "dialer", "voice", "messaging", "scheduling", "documents", "agents"):
        if find_spec(f"central.{app}.nav") is not None:
            items.extend(import_module(f"central.{app}.nav").items(membership))
    return items
