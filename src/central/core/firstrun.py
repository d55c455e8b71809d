"""First run of a production installation: the first organization and its owner.

``central up`` creates demo organizations; a production install had no step for this, so
the superuser made with ``createsuperuser`` signed in to "No organization" and ``central
pbx`` had no tenant to attach the platform's Asterisk to. :func:`initialize` is what
``central init`` runs: idempotent (a second run with the same names changes nothing and
says so), never changes an existing user's password, never raises an existing member's
role (roles never escalate; an operator does that through the members API, audited).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.db import transaction
from django.utils.text import slugify

from .models import Membership, Organization
from .roles import Role


class InitError(Exception):
    """The request conflicts with what exists (the message says what to do)."""


@dataclass
class InitResult:
    organization: Organization
    user_created: bool
    organization_created: bool
    membership_created: bool

    @property
    def changed(self) -> bool:
        return self.user_created or self.organization_created or self.membership_created


def check_password(password: str, username: str, email: str) -> None:
    """Django's validators (length, common passwords, similarity to the user's names)."""
    user = get_user_model()(username=username, email=email)
    validate_password(password, user=user)


@transaction.atomic
def initialize(org_name: str, username: str, *, email: str = "", slug: str = "",
               kind: str = Organization.Kind.COMPANY, password: str | None = None) -> InitResult:
    """Create (or find) the organization and make ``username`` its owner.

    ``password`` is required only when the user does not exist yet. The new user is the
    installation's operator too (staff, superuser: Django admin, ``/ready`` details).
    """
    from .audit import record

    slug = slug or slugify(org_name)
    if not slug:
        raise InitError(f"cannot make an identifier from {org_name!r}: give --slug")
    org = Organization.objects.filter(slug=slug).first()
    org_created = org is None
    if org is None:
        org = Organization.objects.create(name=org_name, slug=slug, kind=kind)
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    user_created = user is None
    if user is None:
        if not password:
            raise InitError("a password is needed for the new user")
        user = User(username=username, email=email, is_staff=True, is_superuser=True)
        user.set_password(password)
        user.save()
    membership = Membership.objects.filter(user=user, organization=org).first()
    membership_created = membership is None
    if membership is None:
        Membership.objects.create(user=user, organization=org, role=Role.OWNER)
    elif membership.role != Role.OWNER:
        raise InitError(f"{username} is already {membership.role} of {slug}; change roles through "
                        "the members API or the admin (audited), not with init")
    if org_created or user_created or membership_created:
        record("installation.init", actor=user, organization=org, target=org,
               organization_created=org_created, user_created=user_created)
    return InitResult(org, user_created, org_created, membership_created)
