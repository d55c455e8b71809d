"""Read-only lookups of dialer rows for other apps' pages (the calls page, call detail).

The telephony pages show which campaign and attempt a call record belongs to; they ask
here instead of querying the dialer's tables (one app never reaches into another's
tables). Every function is scoped to one organization: ids in a call record come from
channel variables, and tenants are mutually hostile.
"""

from __future__ import annotations

from collections.abc import Iterable

from .models import Attempt, Campaign

__all__ = ["attempt_for_call", "campaign_choices", "campaign_names"]


def _int_ids(ids: Iterable[str | int]) -> list[int]:
    out = []
    for value in ids:
        text = str(value or "").strip()
        if text.isdigit() and len(text) < 19:
            out.append(int(text))
    return out


def campaign_names(organization_id: int, ids: Iterable[str | int]) -> dict[str, str]:
    """``{str(campaign id): name}`` for the given ids of this organization (others absent)."""
    wanted = _int_ids(ids)
    if not wanted:
        return {}
    rows = Campaign.objects.filter(organization_id=organization_id, pk__in=wanted).values_list("pk", "name")
    return {str(pk): name for pk, name in rows}


def campaign_choices(organization_id: int) -> list[tuple[str, str]]:
    """Every campaign of the organization as ``(id, name)``, newest first (filter menus)."""
    rows = Campaign.objects.filter(organization_id=organization_id).order_by("-created_at").values_list("pk", "name")
    return [(str(pk), name) for pk, name in rows]


def attempt_for_call(organization_id: int, attempt_uid: str) -> dict | None:
    """The attempt a call record names (``CENTRAL_ATTEMPT_ID``), as the call detail shows it.

    ``{"uid", "campaign_id", "campaign_name", "contact_name", "phone", "result", "state",
    "created_at", "number"}`` where ``number`` is which attempt at that contact it was
    (1 = the first); None when the organization has no such attempt.
    """
    if not attempt_uid:
        return None
    row = (Attempt.objects.filter(organization_id=organization_id, uid=attempt_uid)
           .select_related("campaign", "contact").first())
    if row is None:
        return None
    number = Attempt.objects.filter(contact_id=row.contact_id, created_at__lte=row.created_at).count()
    return {"uid": row.uid, "campaign_id": row.campaign_id, "campaign_name": row.campaign.name,
            "contact_name": row.contact.name, "phone": row.phone, "result": row.result,
            "result_label": str(Attempt.Result(row.result).label) if row.result in Attempt.Result.values else "",
            "state_label": str(Attempt.State(row.state).label) if row.state in Attempt.State.values else row.state,
            "created_at": row.created_at, "number": number}
