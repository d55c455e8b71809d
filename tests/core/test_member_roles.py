"""Roles never escalate (issue 8, finding 4): a walker over actor role x target role x action.

Before the fix an admin could make themselves owner, demote or remove the owner, and the
last owner could be removed. The rule now lives in ``central.core.roles.check_member_change``;
this module checks (1) the rule itself against the policy written out independently below,
(2) every API path that changes memberships or invitations against the same policy, for
every combination, and (3) that no such path exists that this walker does not drive.
"""

from __future__ import annotations

import itertools

import pytest
from django.contrib.auth import get_user_model
from django.urls import get_resolver

from central.core.models import Invitation, Membership
from central.core.roles import MemberAction, Role, RoleChangeDenied, check_member_change
from tests.core.test_tenant_isolation import walk

pytestmark = pytest.mark.django_db

ROLES = [Role.OWNER, Role.ADMIN, Role.SUPERVISOR, Role.AGENT, Role.VIEWER]
ORDER = {r: i for i, r in enumerate(reversed(ROLES))}  # viewer 0 ... owner 4


def policy(actor: str, *, target: str | None = None, new: str | None = None, owners: int = 2,
           removes: bool = False) -> bool:
    """The finding's rule, written as plainly as possible: who may do what."""
    if actor not in (Role.OWNER, Role.ADMIN):
        return False  # only admins and owners manage members
    if new is not None and ORDER[new] > ORDER[actor]:
        return False  # nobody grants a role above their own
    if target is not None and ORDER[target] > ORDER[actor]:
        return False  # nor touches one above their own
    if Role.OWNER in (target, new) and actor != Role.OWNER:
        return False  # owners are changed only by owners
    # an organization always keeps one owner
    return not (target == Role.OWNER and (removes or new != Role.OWNER) and owners <= 1)


def allowed(actor, action, **kw) -> bool:
    try:
        check_member_change(actor, action, **kw)
    except RoleChangeDenied:
        return False
    return True


@pytest.mark.parametrize("owners", [1, 2])
def test_rule_matches_policy_for_every_combination(owners):
    for actor, target, new in itertools.product([*ROLES, None], ROLES, ROLES):
        a = actor or "none"
        assert allowed(actor, MemberAction.CHANGE_ROLE, target_role=target, new_role=new, owner_count=owners) == (
            actor is not None and policy(actor, target=target, new=new, owners=owners)
        ), (a, "change", target, new, owners)
        assert allowed(actor, MemberAction.REMOVE, target_role=target, owner_count=owners) == (
            actor is not None and policy(actor, target=target, owners=owners, removes=True)
        ), (a, "remove", target, owners)
        assert allowed(actor, MemberAction.REVOKE_INVITATION, target_role=target) == (
            actor is not None and policy(actor, target=target)
        ), (a, "revoke", target)
        for action in (MemberAction.INVITE, MemberAction.ACCEPT_INVITATION):
            assert allowed(actor, action, new_role=new) == (actor is not None and policy(actor, new=new)), (a, action, new)


# --- the API, every combination ------------------------------------------------------------------

# Every API route that writes memberships or invitations, as (route, HTTP method); the
# walker below fails when the URL map has one that is not listed (and so not driven here).
DRIVEN = {
    ("api/v1/members/<pk>/", "PATCH"), ("api/v1/members/<pk>/", "PUT"), ("api/v1/members/<pk>/", "DELETE"),
    ("api/v1/invitations/", "POST"), ("api/v1/invitations/<pk>/revoke/", "POST"),
    ("api/v1/invitations/accept/", "POST"),
}


def test_every_membership_writing_route_is_driven_by_this_walker():
    import re

    found = set()
    for route, pattern in walk(get_resolver().url_patterns):
        cls = getattr(pattern.callback, "cls", None) or getattr(pattern.callback, "view_class", None)
        model = getattr(getattr(cls, "queryset", None), "model", None)
        if model not in (Membership, Invitation) and "invitation" not in route and "member" not in route:
            continue
        if not route.startswith("api/v1/"):
            continue
        clean = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"<\1>", route).replace("^", "").replace("$", "")
        if "\\." in clean or "<format>" in clean:
            continue  # DRF's format-suffix duplicates
        actions = getattr(pattern.callback, "actions", None)
        methods = {m.upper() for m in actions} if actions else {
            m.upper() for m in ("post", "put", "patch", "delete") if hasattr(cls, m)
        }
        found |= {(clean, m) for m in methods if m not in {"GET", "HEAD", "OPTIONS"}}
    assert found == DRIVEN, f"drive these through the role walker: {found - DRIVEN}; stale: {DRIVEN - found}"


@pytest.fixture
def org(db):
    from central.core.models import Organization

    return Organization.objects.create(name="Org", slug="org")


def member(org, role, name=None):
    from tests.factories import unique

    user = get_user_model().objects.create_user(name or unique("u"), f"{unique('m')}@example.com", "senha-forte-123")
    return Membership.objects.create(user=user, organization=org, role=role)


def owners_in(org):
    return Membership.objects.filter(organization=org, role=Role.OWNER).count()


@pytest.mark.parametrize("actor_role", ROLES)
def test_api_change_role_and_remove_follow_the_rule(org, api_as, actor_role):
    member(org, Role.OWNER)  # a bystander owner, so "last owner" is tested separately
    actor = member(org, actor_role)
    client = api_as(actor.user)
    for target_role, new_role in itertools.product(ROLES, ROLES):
        target = member(org, target_role)
        owners = owners_in(org)
        for method in ("patch", "put"):
            response = getattr(client, method)(f"/api/v1/members/{target.pk}/", {"role": new_role}, format="json")
            expect = policy(actor_role, target=target_role, new=new_role, owners=owners)
            assert (response.status_code == 200) == expect, (actor_role, method, target_role, new_role, response.content)
            target.refresh_from_db()
            assert target.role == (new_role if expect else target_role)
            Membership.objects.filter(pk=target.pk).update(role=target_role)
        response = client.delete(f"/api/v1/members/{target.pk}/")
        expect = policy(actor_role, target=target_role, owners=owners, removes=True)
        assert (response.status_code == 204) == expect, (actor_role, "delete", target_role, response.content)
        assert Membership.objects.filter(pk=target.pk).exists() != expect
        if not expect and actor_role in (Role.OWNER, Role.ADMIN):
            assert response.status_code == 403
            assert response.json()["error"]["code"] in {"owners_only", "role_above_own"}
        Membership.objects.filter(pk=target.pk).delete()


@pytest.mark.parametrize("actor_role", ROLES)
def test_api_invite_revoke_and_accept_follow_the_rule(org, api_as, actor_role):
    from tests.factories import unique

    actor = member(org, actor_role)
    client = api_as(actor.user)
    owner = api_as(member(org, Role.OWNER).user)
    for role in ROLES:
        email = f"{unique('c')}@example.com"
        response = client.post("/api/v1/invitations/", {"email": email, "role": role}, format="json")
        expect = policy(actor_role, new=role)
        assert (response.status_code == 201) == expect, (actor_role, "invite", role, response.content)
        if expect:
            invitee = get_user_model().objects.create_user(unique("i"), email, "x")
            # the inviter's role is checked again when the invitation is accepted
            accepted = api_as(invitee).post("/api/v1/invitations/accept/", {"token": response.json()["token"]},
                                            format="json")
            assert accepted.status_code == 200, accepted.content
            assert Membership.objects.get(user=invitee, organization=org).role == role
        # revoke an invitation (made by an owner) of each role
        made = owner.post("/api/v1/invitations/", {"email": f"{unique('r')}@example.com", "role": role}, format="json")
        revoked = client.post(f"/api/v1/invitations/{made.json()['id']}/revoke/")
        expect = policy(actor_role, target=role)
        assert (revoked.status_code == 200) == expect, (actor_role, "revoke", role, revoked.content)
        assert (Invitation.objects.get(pk=made.json()["id"]).revoked_at is not None) == expect


def test_admin_cannot_make_themselves_owner_nor_demote_or_remove_the_owner(org, api_as):
    owner = member(org, Role.OWNER)
    admin = member(org, Role.ADMIN)
    client = api_as(admin.user)
    assert client.patch(f"/api/v1/members/{admin.pk}/", {"role": "owner"}, format="json").status_code == 403
    assert client.patch(f"/api/v1/members/{owner.pk}/", {"role": "viewer"}, format="json").status_code == 403
    assert client.delete(f"/api/v1/members/{owner.pk}/").status_code == 403
    owner.refresh_from_db()
    admin.refresh_from_db()
    assert (owner.role, admin.role) == (Role.OWNER, Role.ADMIN)


def test_last_owner_can_be_neither_removed_nor_demoted(org, api_as):
    owner = member(org, Role.OWNER)
    client = api_as(owner.user)
    for response in (
        client.patch(f"/api/v1/members/{owner.pk}/", {"role": "admin"}, format="json"),
        client.delete(f"/api/v1/members/{owner.pk}/"),
    ):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "last_owner"
    second = member(org, Role.OWNER)
    assert client.patch(f"/api/v1/members/{owner.pk}/", {"role": "admin"}, format="json").status_code == 200
    assert api_as(second.user).delete(f"/api/v1/members/{second.pk}/").status_code == 403
    assert owners_in(org) == 1

