"""Every change to memberships and invitations, each checked by ``roles.check_member_change``.

The API, the dashboard and the tests call these functions; none of them writes
``Membership`` or ``Invitation`` rows by hand. Each change runs in a transaction that first
locks the organization row, so two concurrent requests cannot both demote "one of the two
owners" and leave none.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import audit
from .models import Invitation, Membership, Organization, hash_invitation_token
from .roles import MemberAction, Role, RoleChangeDenied, check_member_change


class InvitationInvalid(Exception):
    """The token is unknown, expired, revoked, used, or names someone else (one answer)."""


class AlreadyMember(Exception):
    """The person is already a member of the organization (400, never a 500)."""


def _lock(organization: Organization | int) -> Organization:
    org_id = organization if isinstance(organization, int) else organization.pk
    return Organization.objects.select_for_update().get(pk=org_id)


def role_of(user, organization: Organization | int) -> str | None:
    org_id = organization if isinstance(organization, int) else organization.pk
    return Membership.objects.filter(user=user, organization_id=org_id).values_list("role", flat=True).first()


def owner_count(organization: Organization | int) -> int:
    org_id = organization if isinstance(organization, int) else organization.pk
    return Membership.objects.filter(organization_id=org_id, role=Role.OWNER).count()


def change_role(actor, membership: Membership, new_role: str, *, request=None) -> Membership:
    with transaction.atomic():
        _lock(membership.organization_id)
        membership = Membership.objects.select_for_update().get(pk=membership.pk)
        check_member_change(
            role_of(actor, membership.organization_id), MemberAction.CHANGE_ROLE,
            target_role=membership.role, new_role=new_role,
            owner_count=owner_count(membership.organization_id),
        )
        old = membership.role
        membership.role = new_role
        membership.save(update_fields=["role"])
        audit.record("membership.update", request=request, actor=actor, organization=membership.organization,
                     target=membership, username=membership.user.username, old_role=old, new_role=new_role)
    return membership


def remove_member(actor, membership: Membership, *, request=None) -> None:
    with transaction.atomic():
        _lock(membership.organization_id)
        membership = Membership.objects.select_for_update().select_related("user", "organization").get(pk=membership.pk)
        check_member_change(
            role_of(actor, membership.organization_id), MemberAction.REMOVE,
            target_role=membership.role, owner_count=owner_count(membership.organization_id),
        )
        audit.record("membership.delete", request=request, actor=actor, organization=membership.organization,
                     target=membership, username=membership.user.username, role=membership.role)
        membership.delete()


def invitation_lifetime() -> timedelta:
    return timedelta(days=settings.INVITATION_DAYS)


def create_invitation(
    actor, organization: Organization, *, role: str, email: str = "", username: str = "", request=None
) -> tuple[Invitation, str]:
    """A new pending invitation and its token (returned once, stored only hashed).

    Whether the e-mail or username belongs to any user of the installation is never
    looked at here, so the answer cannot reveal other tenants' users. Only members of this
    organization are refused (``AlreadyMember``), and a second pending invitation for the
    same person replaces nothing: it is refused too.
    """
    email, username = email.strip(), username.strip()
    with transaction.atomic():
        _lock(organization)
        check_member_change(role_of(actor, organization), MemberAction.INVITE, new_role=role)
        members = Membership.objects.filter(organization=organization)
        if (username and members.filter(user__username=username).exists()) or (
            email and members.filter(user__email__iexact=email).exists()
        ):
            raise AlreadyMember(_("Essa pessoa já é membro da organização."))
        pending = Invitation.objects.for_org(organization).filter(
            accepted_at__isnull=True, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )
        if (username and pending.filter(username=username).exists()) or (
            email and pending.filter(email__iexact=email).exists()
        ):
            raise AlreadyMember(_("Já existe um convite pendente para essa pessoa."))
        token, token_hash = Invitation.new_token()
        invitation = Invitation.objects.create(
            organization=organization, email=email, username=username, role=role, token_hash=token_hash,
            invited_by=actor, expires_at=timezone.now() + invitation_lifetime(),
        )
        audit.record("invitation.create", request=request, actor=actor, organization=organization,
                     target=invitation, email=email, username=username, role=role)
    return invitation, token


def revoke_invitation(actor, invitation: Invitation, *, request=None) -> Invitation:
    with transaction.atomic():
        _lock(invitation.organization_id)
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        check_member_change(role_of(actor, invitation.organization_id), MemberAction.REVOKE_INVITATION,
                            target_role=invitation.role)
        if invitation.status != Invitation.Status.PENDING:
            raise InvitationInvalid(_("Este convite não está mais pendente."))
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        audit.record("invitation.revoke", request=request, actor=actor, organization=invitation.organization,
                     target=invitation, role=invitation.role)
    return invitation


def pending_invitation(token: str) -> Invitation | None:
    """The pending invitation ``token`` opens, or None (unknown, used, revoked, expired)."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    invitation = (
        Invitation.objects.select_related("invited_by")
        .filter(token_hash=hash_invitation_token(token))
        .first()
    )
    if invitation is None or invitation.status != Invitation.Status.PENDING:
        return None
    invitation.organization = Organization.objects.get(pk=invitation.organization_id)
    return invitation


def accept_invitation(user, token: str, *, request=None) -> Membership:
    """Join the invitation's organization as ``user``.

    Every failure answers the same ``InvitationInvalid`` (unknown token, expired, revoked,
    used, addressed to someone else, inviter no longer allowed to grant the role) so the
    endpoint is not an oracle. The user's default organization does not move unless this
    is their first membership.
    """
    invitation = pending_invitation(token)
    if invitation is None or not invitation.addresses(user):
        raise InvitationInvalid(_("Convite inválido ou expirado."))
    with transaction.atomic():
        org = _lock(invitation.organization_id)
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.status != Invitation.Status.PENDING or not org.is_active:
            raise InvitationInvalid(_("Convite inválido ou expirado."))
        inviter_role = role_of(invitation.invited_by, org) if invitation.invited_by else None
        try:
            check_member_change(inviter_role, MemberAction.ACCEPT_INVITATION, new_role=invitation.role)
        except RoleChangeDenied:
            raise InvitationInvalid(_("Convite inválido ou expirado.")) from None
        if Membership.objects.filter(user=user, organization=org).exists():
            raise AlreadyMember(_("Você já é membro desta organização."))
        try:
            with transaction.atomic():
                membership = Membership.objects.create(user=user, organization=org, role=invitation.role)
        except IntegrityError:
            raise AlreadyMember(_("Você já é membro desta organização.")) from None
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        audit.record("invitation.accept", request=request, actor=user, organization=org, target=invitation,
                     role=invitation.role)
    return membership


def set_default_organization(user, membership: Membership, *, request=None) -> Membership:
    """Make ``membership`` the user's default organization (their own choice only)."""
    if membership.user_id != user.pk:
        raise ValueError("only the user chooses their default organization")
    with transaction.atomic():
        Membership.objects.filter(user=user, is_default=True).exclude(pk=membership.pk).update(is_default=False)
        Membership.objects.filter(pk=membership.pk).update(is_default=True)
        membership.is_default = True
        audit.record("membership.default", request=request, actor=user, organization=membership.organization,
                     target=membership)
    return membership
