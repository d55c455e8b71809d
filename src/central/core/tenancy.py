"""Tenant scoping in one place.

Every tenant-owned model inherits :class:`TenantOwned`; every API view inherits
``central.core.api.TenantViewSet`` which asks :func:`membership_for_request` which
organization the request acts for. No view filters by organization by hand, so no view can
forget to (the healthchecks ``_get_check_for_user`` pattern, applied to a whole viewset).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.core.exceptions import BadRequest
from django.db import models
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .ids import parse_id

if TYPE_CHECKING:
    from .models import Membership, Organization

ORG_HEADER_NAME = "X-Organization"
#: The same header as Django's request.META key.
ORG_HEADER = "HTTP_" + ORG_HEADER_NAME.upper().replace("-", "_")
SESSION_KEY = "central_org_id"
_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,80}")


class TenantQuerySet(models.QuerySet):
    def for_org(self, organization: Organization | int) -> TenantQuerySet:
        org_id = organization if isinstance(organization, int) else organization.pk
        return self.filter(organization_id=org_id)


class TenantOwned(models.Model):
    """Abstract base: a row that belongs to exactly one organization."""

    organization = models.ForeignKey(
        "core.Organization", on_delete=models.CASCADE, related_name="+", db_index=True,
        verbose_name=gettext_lazy("organização"),
    )

    objects = TenantQuerySet.as_manager()

    class Meta:
        abstract = True


class InvalidOrganization(BadRequest):
    """The organization a request names is not even a well-formed id or slug (400)."""

    code = "invalid_organization"


class OrganizationRequired(BadRequest):
    """The user belongs to several organizations, chose no default and named none (400)."""

    code = "organization_required"


def parse_organization_ref(value: str) -> int | str:
    """An ``X-Organization`` / form value as an id (int) or a slug (str); 400 otherwise.

    Ids beyond a 64-bit integer, non-ASCII digits and anything that is not a slug are
    malformed: they used to reach the ORM and answer 500.
    """
    value = value.strip()
    if value.isascii() and value.isdigit():
        number = parse_id(value)
        if number is None:
            raise InvalidOrganization(_("Organização inválida: identificador fora do intervalo."))
        return number
    if not _SLUG.fullmatch(value):
        raise InvalidOrganization(_("Organização inválida: informe o id ou o identificador (slug)."))
    return value


def default_membership(user) -> Membership | None:
    """The membership a request acts through when it names no organization.

    It is the organization the user chose as default (``Membership.is_default``), or their
    only organization. Never "the newest" or "the oldest" membership: joining another
    organization must not move where a client without a header writes.
    """
    from .models import Membership

    memberships = Membership.objects.select_related("organization").filter(
        user=user, organization__is_active=True
    )
    chosen = memberships.filter(is_default=True).first()
    if chosen is not None:
        return chosen
    only = list(memberships[:2])
    return only[0] if len(only) == 1 else None


def find_membership(user, ref: int | str) -> Membership | None:
    """The user's active membership in the organization ``ref`` (id or slug) names."""
    from .models import Membership

    memberships = Membership.objects.select_related("organization").filter(
        user=user, organization__is_active=True
    )
    if isinstance(ref, int):
        return memberships.filter(organization_id=ref).first()
    return memberships.filter(organization__slug=ref).first()


def membership_for_request(request) -> Membership:
    """The membership the request acts through, or 404.

    The organization comes from the ``X-Organization`` header (id or slug), then the
    session's chosen organization, then the user's default organization
    (:func:`default_membership`). A header naming an organization the user does not belong
    to is a 404, not a 403: we do not confirm that another tenant exists. A malformed
    header is a 400 (:class:`InvalidOrganization`).
    """
    cached = getattr(request, "_central_membership", None)
    if cached is not None:
        return cached
    user = request.user
    if not user or not user.is_authenticated:
        raise Http404
    wanted = request.META.get(ORG_HEADER, "").strip()
    if not wanted:
        session = getattr(request, "session", None)
        session_org = session.get(SESSION_KEY) if session is not None else None
        if session_org:
            wanted = str(session_org)
    if wanted:
        membership = find_membership(user, parse_organization_ref(wanted))
        if membership is None:
            raise Http404
    else:
        membership = default_membership(user)
        if membership is None:
            from .models import Membership

            if Membership.objects.filter(user=user, organization__is_active=True).exists():
                raise OrganizationRequired(
                    _("Escolha a organização: envie o cabeçalho X-Organization ou defina uma organização padrão.")
                )
            raise Http404
    request._central_membership = membership
    request.organization = membership.organization
    from .logging import set_tenant

    set_tenant(membership.organization.slug)  # log lines of this request name the tenant (reset per request)
    # Pages and API answers show times in the tenant's zone (a clinic in Manaus is not on
    # Brasília time). RequestIdMiddleware resets the zone at the start of every request.
    timezone.activate(organization_zone(membership.organization))
    return membership


def organization_zone(organization) -> ZoneInfo:
    """The organization's time zone; the installation's default when it names none we know."""
    name = getattr(organization, "timezone", "") or ""
    try:
        return ZoneInfo(name) if name else timezone.get_default_timezone()
    except (ZoneInfoNotFoundError, ValueError):
        return timezone.get_default_timezone()
