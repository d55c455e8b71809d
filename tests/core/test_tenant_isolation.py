"""A user of organization A can never read or change organization B's rows, on any endpoint.

The test discovers the API from the URL map instead of listing endpoints by hand, so an
endpoint added later is covered (or fails here for lack of a factory) automatically.
"""

from __future__ import annotations

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from central.core.api import TenantViewSet
from tests.factories import ROW_FACTORIES

pytestmark = pytest.mark.django_db

# Endpoints that are not tenant-owned resources, each scoped another way.
NOT_TENANT_RESOURCES = {
    "OrganizationViewSet",  # lists only the organizations the user is a member of (tested below)
    "MeViewSet",  # the user's own identity
    "LoginView", "RefreshView", "LogoutView",  # authentication
    "InvitationAcceptView",  # the invited user is not a member yet; scoped by the token (tests/core/test_invitations.py)
    "APIRootView",  # DRF router index
}


def walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p


def api_viewsets() -> dict[str, tuple[type, str]]:
    """basename -> (viewset class, list url name) for every viewset under /api/v1/."""
    found: dict[str, tuple[type, str]] = {}
    for route, pattern in walk(get_resolver().url_patterns):
        if not route.startswith("api/v1/"):
            continue
        cls = getattr(pattern.callback, "cls", None) or getattr(pattern.callback, "view_class", None)
        if cls is None or pattern.name is None:
            continue
        if pattern.name.endswith("-list"):
            found[pattern.name[: -len("-list")]] = (cls, pattern.name)
        elif (
            not pattern.name.endswith("-detail")
            and not pattern.pattern.converters
            and not pattern.pattern.regex.groupindex
        ):
            # Routes with parameters are object actions: they go through the same
            # viewset queryset, so the detail checks below cover their scoping.
            found.setdefault(pattern.name, (cls, pattern.name))
    return found


def tenant_viewsets():
    return {b: v for b, v in api_viewsets().items() if issubclass(v[0], TenantViewSet)}


def test_every_api_view_is_tenant_scoped_or_explicitly_exempt():
    offenders = [
        f"{basename} ({cls.__name__})"
        for basename, (cls, _) in api_viewsets().items()
        if not issubclass(cls, TenantViewSet) and cls.__name__ not in NOT_TENANT_RESOURCES
        and not getattr(cls, "tenant_scoped_by_hand", False)
    ]
    assert not offenders, f"API views not built on TenantViewSet: {offenders}"


def test_every_tenant_model_has_a_factory():
    missing = [
        f"{basename}: {cls.queryset.model._meta.label_lower}"
        for basename, (cls, _) in tenant_viewsets().items()
        if cls.queryset.model._meta.label_lower not in ROW_FACTORIES
    ]
    assert not missing, f"add factories in tests/<app>/factories.py for {missing}"


@pytest.mark.parametrize("basename", sorted(tenant_viewsets()))
def test_foreign_rows_are_invisible_and_untouchable(basename, tenants, api_as):
    from django.urls import NoReverseMatch, reverse

    cls, list_name = tenant_viewsets()[basename]
    model = cls.queryset.model
    row_b = ROW_FACTORIES[model._meta.label_lower](tenants["b"])
    alice, bob = api_as(tenants["alice"]), api_as(tenants["bob"])
    list_url = reverse(list_name)

    # Bob (B) sees his row: proves the endpoint works and this test can fail.
    own = bob.get(list_url, {"page_size": 500})
    assert own.status_code == 200, own.content
    assert row_b.pk in ids(own.json())

    # Alice (A) never does, even asking for B explicitly.
    listed = alice.get(list_url, {"page_size": 500})
    assert listed.status_code == 200, listed.content
    assert row_b.pk not in ids(listed.json())
    forged = alice.get(list_url, HTTP_X_ORGANIZATION=str(tenants["b"].pk))
    assert forged.status_code == 404

    try:
        detail_url = reverse(f"{basename}-detail", args=[row_b.pk])
    except NoReverseMatch:
        return
    assert alice.get(detail_url).status_code == 404
    assert alice.patch(detail_url, {}, format="json").status_code in {404, 405}
    assert alice.put(detail_url, {}, format="json").status_code in {404, 405}
    assert alice.delete(detail_url).status_code in {404, 405}
    assert model.objects.filter(pk=row_b.pk).exists()
    assert bob.get(detail_url).status_code == 200


def ids(body) -> set:
    rows = body["results"] if isinstance(body, dict) and "results" in body else body
    return {row.get("id") for row in rows}


def test_organizations_endpoint_lists_only_own(tenants, api_as):
    body = api_as(tenants["alice"]).get("/api/v1/organizations/").json()
    assert {o["slug"] for o in body["results"]} == {"empresa-a"}
    assert api_as(tenants["alice"]).get(f"/api/v1/organizations/{tenants['b'].pk}/").status_code == 404


def test_viewer_cannot_write(tenants, api_as):
    response = api_as(tenants["vera"]).post("/api/v1/invitations/", {"username": "bob", "role": "agent"}, format="json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


def test_agent_cannot_read_audit_log(tenants, api_as):
    assert api_as(tenants["artur"]).get("/api/v1/audit-log/").status_code == 403


# --- List filters are not an existence oracle (issue 8, finding 16) -------------------------


def _filterset_class(cls):
    from central.core.filters import TenantFilterBackend

    return TenantFilterBackend().get_filterset_class(cls(), cls.queryset)


def _as_query(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(getattr(value, "pk", value))


def _related_row(model, org, member):
    """A row of ``model`` that ``org`` owns (or may name)."""
    from django.contrib.auth import get_user_model

    from central.core.models import Organization

    if model is Organization:
        return org
    if model is get_user_model():
        return member
    return ROW_FACTORIES[model._meta.label_lower](org)


def _missing_pk(model) -> int:
    from django.db.models import Max

    return (model.objects.aggregate(m=Max("pk"))["m"] or 0) + 1_000_000


def _filter_cases():
    for basename, (cls, _list_name) in sorted(tenant_viewsets().items()):
        fs = _filterset_class(cls)
        if fs is None:
            continue
        for name in sorted(fs.base_filters):
            yield pytest.param(basename, name, id=f"{basename}?{name}")


def test_filter_walker_covers_filters():
    """Guards the walker below: it must see the filters that exist (e.g. contacts?campaign)."""
    names = {p.values for p in _filter_cases()}
    assert {("dialer-contact", "campaign"), ("telephony-extension", "server"), ("membership", "role")} <= names


@pytest.mark.parametrize(("basename", "name"), list(_filter_cases()))
def test_filters_answer_the_same_for_a_foreign_id_and_a_missing_one(basename, name, tenants, api_as):
    """For every filter of every tenant endpoint: naming another tenant's row answers
    exactly like naming a row that does not exist, and never lists B's rows."""
    from django.urls import reverse

    cls, list_name = tenant_viewsets()[basename]
    model = cls.queryset.model
    flt = _filterset_class(cls).base_filters[name]
    row_b = ROW_FACTORIES[model._meta.label_lower](tenants["b"])
    alice = api_as(tenants["alice"])
    url = reverse(list_name)

    def ask(value):
        return alice.get(url, {name: value, "page_size": 500})

    related = getattr(flt, "queryset", None)
    if related is not None:
        related_model = related.model
        foreign = ask(_related_row(related_model, tenants["b"], tenants["bob"]).pk)
        missing = ask(_missing_pk(related_model))
        assert (foreign.status_code, foreign.json()) == (missing.status_code, missing.json()), (
            f"{basename}?{name}: another tenant's id answers {foreign.status_code}, a missing id "
            f"{missing.status_code}: that confirms the row exists"
        )
        own = ask(_related_row(related_model, tenants["a"], tenants["alice"]).pk)
        assert own.status_code == 200, own.content  # the filter still works for one's own rows
        return
    value = getattr(row_b, flt.field_name, None)
    if value is None:
        return
    answer = ask(_as_query(value))
    if flt.field_name.endswith("_id"):
        missing = ask(_missing_pk(model))
        assert (answer.status_code, answer.json()) == (missing.status_code, missing.json())
    if answer.status_code == 200:
        assert row_b.pk not in ids(answer.json())
