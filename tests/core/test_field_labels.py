"""Every label the admin, forms and exports show comes from the pt-BR catalog.

A field without ``verbose_name`` shows its Python name ("created at", "Organization") in
English to a pt-BR user; a model without one shows "Campaign leases". The walker covers
every model of every Central app, so a new field without a label fails here.
"""

from __future__ import annotations

from django.apps import apps
from django.utils import translation
from django.utils.functional import Promise


def _central_models():
    return [m for m in apps.get_models() if m.__module__.startswith("central.")]


def test_every_model_and_field_label_is_translatable():
    missing = []
    for model in _central_models():
        if not isinstance(model._meta.verbose_name, Promise):
            missing.append(f"{model._meta.label} (model)")
        for field in model._meta.get_fields():
            if field.concrete and not field.auto_created and not isinstance(field.verbose_name, Promise):
                missing.append(f"{model._meta.label}.{field.name}")
    assert not missing, f"give these a verbose_name with gettext_lazy: {missing}"


def test_labels_read_in_portuguese_and_in_english():
    from central.dialer.models import CampaignLease, Contact

    with translation.override("pt-br"):
        assert str(Contact._meta.get_field("created_at").verbose_name) == "criado em"
        assert str(Contact._meta.get_field("organization").verbose_name) == "organização"
        assert str(CampaignLease._meta.verbose_name_plural) == "posses das campanhas"
    with translation.override("en"):
        assert str(Contact._meta.get_field("created_at").verbose_name) == "created at"
        assert str(CampaignLease._meta.verbose_name_plural) == "campaign leases"
