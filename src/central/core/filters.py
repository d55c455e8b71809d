"""List filters that name related rows resolve them inside the request's organization only.

django-filter builds a ``ModelChoiceFilter`` for every foreign key in ``filterset_fields``
with the related model's *whole* table as choices. ``?campaign=<B's id>`` was then a valid
choice answering 200 with nothing, while ``?campaign=<no such id>`` answered 400 "not one of
the available choices": the difference confirmed that B's row exists. This backend (the
API's only filter backend for django-filter, set in ``REST_FRAMEWORK``) narrows every such
choice list to the organization, so another tenant's id and a missing id get the same 400.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.http import Http404
from django_filters import rest_framework as filters

from .models import Organization
from .tenancy import membership_for_request


def scope_to_organization(queryset, organization):
    """``queryset`` narrowed to what ``organization`` may name (fail closed: empty)."""
    model = queryset.model
    if model is Organization:
        return queryset.filter(pk=organization.pk)
    if model is get_user_model():
        return queryset.filter(memberships__organization=organization).distinct()
    if any(f.name == "organization" for f in model._meta.get_fields()):
        return queryset.filter(organization=organization)
    return queryset.none()


class TenantFilterBackend(filters.DjangoFilterBackend):
    def get_filterset(self, request, queryset, view):
        filterset = super().get_filterset(request, queryset, view)
        if filterset is None:
            return None
        related = [f for f in filterset.filters.values() if hasattr(f, "get_queryset") and f.queryset is not None]
        if not related:
            return filterset
        try:
            organization = membership_for_request(request).organization
        except Http404:
            organization = None
        for f in related:
            qs = f.get_queryset(request)  # the declared queryset, or the callable's answer
            f.queryset = qs.none() if organization is None else scope_to_organization(qs, organization)
        return filterset
