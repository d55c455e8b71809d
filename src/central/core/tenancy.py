"""Tenant scoping in one place.

Every tenant-owned model inherits :class:`TenantOwned`; every API view inherits
``central.core.api.TenantViewSet`` which asks :func:`membership_for_request` which
organization the request acts for. No view filters by organization by hand, so no view can
forget to (the healthchecks ``_get_check_for_user`` pattern, applied to a whole viewset).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import models
from django.http import Http404

if TYPE_CHECKING:
    from .models import Membership, Organization

ORG_HEADER = "HTTP_X_ORGANIZATION"
SESSION_KEY = "central_org_id"


class TenantQuerySet(models.QuerySet):
    def for_org(self, organization: Organization | int) -> TenantQuerySet:
        org_id = organization if isinstance(organization, int) else organization.pk
        return self.filter(organization_id=org_id)


class TenantOwned(models.Model):
    """Abstract base: a row that belongs to exactly one organization."""

    organization = models.ForeignKey(
        "core.Organization", on_delete=models.CASCADE, related_name="+", db_index=True
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


def membership_for_request(request) -> Membership:
    """The membership the request acts through, or 404.

    The organization comes from the ``X-Organization`` header (id or slug), then the
    session's chosen organization, then the user's first membership. A header naming an
    organization the user does not belong to is a 404, not a 403: we do not confirm that
    another tenant exists.
    """
    from .models import Membership

    cached = getattr(request, "_central_membership", None)
    if cached is not None:
        return cached
    user = request.user
    if not user or not user.is_authenticated:
        raise Http404
    memberships = Membership.objects.select_related("organization").filter(
        user=user, organization__is_active=True
    )
    wanted = request.META.get(ORG_HEADER, "").strip()
    if not wanted:
        session = getattr(request, "session", None)
        session_org = session.get(SESSION_KEY) if session is not None else None
        if session_org:
            wanted = str(session_org)
    membership = None
    if wanted:
        if wanted.isdigit():
            membership = memberships.filter(organization_id=int(wanted)).first()
        else:
            membership = memberships.filter(organization__slug=wanted).first()
        if membership is None:
            raise Http404
    else:
        membership = memberships.order_by("created_at", "id").first()
    if membership is None:
        raise Http404
    request._central_membership = membership
    request.organization = membership.organization
    return membership
