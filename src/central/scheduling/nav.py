"""Menu entries of the agenda pages (clinics only)."""

from __future__ import annotations

from django.utils.translation import gettext as _


def items(membership) -> list[dict]:
    if membership is None or membership.organization.kind != "clinic":
        return []
    return [
        {"url": "/scheduling/", "label": _("Agenda")},
        {"url": "/scheduling/patients/", "label": _("Pacientes")},
        {"url": "/scheduling/reports/", "label": _("Relatórios da agenda")},
    ]
