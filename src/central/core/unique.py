"""Installation-unique values: the one rule for what only one tenant can hold.

Some values name a resource of the whole installation, not of one organization: the
AudioSocket ports of the voice process (one process serves every tenant) and the AI
extension numbers of the shared Asterisk dialplan.  Tenant B once created extension 1901,
A's number: the next refresh stopped A's listener and served B's, and B could restart A's.

The rule (docs/security.md, "Installation-unique values"):

* every such field is declared here, in a *namespace* (values of all its fields share one
  space: A's ``port`` can be neither B's ``port`` nor B's ``return_port``);
* the database holds a unique constraint on every declared field across tenants (the
  model's ``Meta.constraints``), so a race between two tenants loses with an error, never
  a duplicate;
* the API answers 400 with one clear message under the field (:class:`UniqueFieldsMixin`)
  and never says which tenant holds the value; a value the platform can pick is allocated
  by it (:func:`allocate`);
* processes that run such resources filter management actions by tenant (the voice
  process's status/refresh/restart take the organization).

``tests/core/test_installation_unique.py`` walks :data:`REGISTRY`: a new declared field
without its API test fails there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.apps import apps
from django.db import IntegrityError, models, transaction
from django.utils.translation import gettext as _
from rest_framework import serializers


@dataclass(frozen=True)
class Namespace:
    name: str
    #: ``("voice.aiextension", "port")`` pairs: every field whose values share the space.
    fields: tuple[tuple[str, str], ...]
    #: Values that mean "not set" and are never unique ("" for an optional number, 0 for
    #: "any free port" in tests).
    unset: tuple = ("", None, 0)

    def model_fields(self, label: str) -> list[str]:
        return [f for lbl, f in self.fields if lbl == label]


REGISTRY: dict[str, Namespace] = {}


def register(name: str, *fields: str, unset: Iterable = ("", None, 0)) -> Namespace:
    """Declare ``fields`` (``"app.model.field"``) as one installation-unique namespace."""
    pairs = tuple((f.rsplit(".", 1)[0], f.rsplit(".", 1)[1]) for f in fields)
    ns = REGISTRY[name] = Namespace(name, pairs, tuple(unset))
    return ns


def namespaces_of(label: str) -> list[Namespace]:
    return [ns for ns in REGISTRY.values() if any(lbl == label for lbl, _f in ns.fields)]


def is_taken(ns: Namespace, value, *, exclude: models.Model | None = None) -> bool:
    """Whether any row of the installation (any tenant) holds ``value`` in the namespace."""
    if value in ns.unset:
        return False
    for label, field in ns.fields:
        qs = apps.get_model(label)._default_manager.filter(**{field: value})
        if exclude is not None and exclude._meta.label_lower == label and exclude.pk is not None:
            qs = qs.exclude(pk=exclude.pk)
        if qs.exists():
            return True
    return False


def conflicts(label: str, values: dict, *, instance: models.Model | None = None) -> dict[str, str]:
    """``{field: message}`` for every declared field of ``label`` whose new value is held
    elsewhere in the installation, or twice in this row."""
    errors: dict[str, str] = {}
    for ns in namespaces_of(label):
        own = ns.model_fields(label)
        current = {f: values.get(f, getattr(instance, f, None)) for f in own}
        for field in own:
            value = current[field]
            if value in ns.unset:
                continue
            if field in values and is_taken(ns, value, exclude=instance):
                errors[field] = message()
            elif field in values and [current[f] for f in own].count(value) > 1:
                errors[field] = _("Este valor não pode repetir outro campo do mesmo registro.")
    return errors


def message() -> str:
    # One message for every field and tenant: it must not tell whose the value is.
    return _("Este valor já está em uso nesta instalação. Escolha outro.")


def allocate(ns: Namespace, start: int, count: int = 1, *, limit: int = 65535) -> list[int]:
    """The ``count`` lowest free integers from ``start`` in the namespace (platform-picked
    ports).  A concurrent request can pick the same ones: the unique constraints make one
    of them fail, and :class:`UniqueFieldsMixin` turns that into the same 400."""
    held: set = set()
    for label, field in ns.fields:
        held.update(apps.get_model(label)._default_manager.filter(**{f"{field}__gte": start})
                    .values_list(field, flat=True))
    out: list[int] = []
    candidate = start
    while len(out) < count and candidate <= limit:
        if candidate not in held:
            out.append(candidate)
        candidate += 1
    if len(out) < count:
        raise serializers.ValidationError(_("Não há portas livres nesta instalação."))
    return out


class UniqueFieldsMixin:
    """ModelSerializer mixin: the registry's check as a 400 under the field, and a lost
    race on the database constraint as the same 400."""

    def validate(self, attrs):
        attrs = super().validate(attrs)  # type: ignore[misc]
        model = self.Meta.model  # type: ignore[attr-defined]
        errors = conflicts(model._meta.label_lower, attrs, instance=getattr(self, "instance", None))
        if errors:
            raise serializers.ValidationError(errors)
        return attrs

    def save(self, **kwargs):
        try:
            with transaction.atomic():  # a savepoint: the request's transaction stays usable
                return super().save(**kwargs)  # type: ignore[misc]
        except IntegrityError:
            model = self.Meta.model  # type: ignore[attr-defined]
            fields = [f for ns in namespaces_of(model._meta.label_lower) for f in ns.model_fields(model._meta.label_lower)]
            raise serializers.ValidationError({f: message() for f in fields if f in self.validated_data} or
                                              {"non_field_errors": message()}) from None
