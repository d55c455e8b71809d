"""Roles and what they may do.

Roles are ordered: each one can do everything the roles below it can. Keeping them a total
order (instead of a permission matrix) is what VICIdial-style contact centers actually use
and keeps every check a single comparison.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OWNER = "owner", _("Proprietário")
    ADMIN = "admin", _("Administrador")
    SUPERVISOR = "supervisor", _("Supervisor")
    AGENT = "agent", _("Agente")
    VIEWER = "viewer", _("Visualizador")


RANK: dict[str, int] = {
    Role.VIEWER: 10,
    Role.AGENT: 20,
    Role.SUPERVISOR: 30,
    Role.ADMIN: 40,
    Role.OWNER: 50,
}


def at_least(role: str, minimum: str) -> bool:
    """True when ``role`` ranks at or above ``minimum``."""
    return RANK.get(role, 0) >= RANK[minimum]


# --- Who may change whose membership ---------------------------------------------------------

# The least role that manages members and invitations at all.
MANAGE_MEMBERS = Role.ADMIN


class MemberAction(models.TextChoices):
    """Every way a membership or an invitation changes. Each goes through
    :func:`check_member_change`; tests/core/test_member_roles.py walks them all."""

    INVITE = "invite", _("Convidar")
    REVOKE_INVITATION = "revoke_invitation", _("Revogar convite")
    ACCEPT_INVITATION = "accept_invitation", _("Aceitar convite")
    CHANGE_ROLE = "change_role", _("Mudar papel")
    REMOVE = "remove", _("Remover")


class RoleChangeDenied(Exception):
    """A membership change the rules below forbid; ``code`` names the rule."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def check_member_change(
    actor_role: str | None,
    action: str,
    *,
    target_role: str | None = None,
    new_role: str | None = None,
    owner_count: int = 1,
) -> None:
    """Raise :class:`RoleChangeDenied` unless ``actor_role`` may do ``action``.

    The rules (issue 8, finding 4), in one place for every path that changes memberships
    or invitations:

    1. Only admins and owners manage members (``MANAGE_MEMBERS``).
    2. Nobody grants a role above their own (``new_role``: invitations, role changes).
    3. Nobody changes, removes or revokes a role above their own (``target_role``).
    4. Owners are granted, changed and removed only by owners.
    5. An organization always keeps one owner (``owner_count`` is the owners it has now).

    For ``ACCEPT_INVITATION`` the actor is the *inviter*, checked again at acceptance with
    their current role: an admin demoted after inviting cannot have their invitation grant
    what they no longer may.
    """
    if action not in MemberAction.values:
        raise ValueError(f"unknown member action {action!r}")
    if actor_role is None or not at_least(actor_role, MANAGE_MEMBERS):
        raise RoleChangeDenied("not_allowed", str(_("Somente administradores e proprietários gerenciam membros.")))
    if Role.OWNER in (target_role, new_role) and actor_role != Role.OWNER:
        raise RoleChangeDenied("owners_only", str(_("Somente proprietários concedem, alteram ou removem proprietários.")))
    if new_role is not None and RANK[new_role] > RANK[actor_role]:
        raise RoleChangeDenied("role_above_own", str(_("Ninguém concede um papel acima do seu.")))
    if target_role is not None and RANK[target_role] > RANK[actor_role]:
        raise RoleChangeDenied("role_above_own", str(_("Ninguém altera ou remove um papel acima do seu.")))
    losing_owner = target_role == Role.OWNER and (
        action == MemberAction.REMOVE or (action == MemberAction.CHANGE_ROLE and new_role != Role.OWNER)
    )
    if losing_owner and owner_count <= 1:
        raise RoleChangeDenied("last_owner", str(_("A organização precisa de pelo menos um proprietário.")))
