"""Do-not-call lists: organization-wide or per campaign.

A number on a list is never dialed: the engine checks at claim time (``claims.claim``),
and adding a number here also flags the matching contacts that are still waiting
(``pending``) as ``dnc`` so counts and exports say so right away. Contacts already in a
call are left to finish; their next claim sees the list.

Lists are imported from the files the Brazilian opt-out registries give companies (Não
Me Perturbe, Procon-SP's bloqueio de telemarketing). Their layouts are not published as a
stable spec and vary by export date, so the reader is tolerant: a header with a phone-like
column (telefone, numero, celular, fone, phone, msisdn...) or no header at all (the
first cell that parses as a phone), an optional separate DDD column, an optional date
column (data, data_cadastro, data_inclusao, dt_bloqueio...). See docs/dialer-data.md.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Q

from central.core.phones import InvalidPhone, normalize

from .models import Campaign, Contact, DoNotCall

__all__ = ["add_numbers", "blocked_among", "is_blocked", "flag_contacts"]


def _scope(organization_id: int, campaign_id: int | None):
    q = Q(campaign__isnull=True)
    if campaign_id is not None:
        q |= Q(campaign_id=campaign_id)
    return DoNotCall.objects.filter(organization_id=organization_id).filter(q)


def blocked_among(organization_id: int, campaign_id: int | None, phones: Iterable[str]) -> set[str]:
    """Which of ``phones`` (E.164) are on the org-wide list or the campaign's list."""
    from django.db import connection

    phones = list(set(phones))
    out: set[str] = set()
    step = (connection.features.max_query_params or 100_000) - 10  # SQLite: 999 parameters
    for i in range(0, len(phones), step):
        chunk = phones[i:i + step]
        out.update(_scope(organization_id, campaign_id).filter(phone__in=chunk).values_list("phone", flat=True))
    return out


def is_blocked(organization_id: int, campaign_id: int | None, phone: str) -> bool:
    return _scope(organization_id, campaign_id).filter(phone=phone).exists()


def flag_contacts(organization_id: int, campaign_id: int | None, phones: list[str]) -> int:
    """Mark waiting contacts with these numbers as ``dnc``; org-wide when no campaign."""
    if not phones:
        return 0
    qs = Contact.objects.filter(organization_id=organization_id, phone__in=phones,
                                status=Contact.Status.PENDING)
    if campaign_id is not None:
        qs = qs.filter(campaign_id=campaign_id)
    return qs.update(status=Contact.Status.DNC, last_result="dnc")


def add_numbers(organization, phones: Iterable[str], *, campaign: Campaign | None = None,
                source: str = DoNotCall.Source.MANUAL, reason: str = "") -> tuple[int, int]:
    """Add E.164 numbers to a list (existing entries are kept); flag waiting contacts.

    Returns ``(entries_created, contacts_flagged)``. Raw input must go through
    :func:`central.core.phones.normalize` first; this function trusts E.164.
    """
    from django.db import connection

    org_id = organization if isinstance(organization, int) else organization.pk
    campaign_id = campaign.pk if campaign is not None else None
    phones = list(dict.fromkeys(phones))
    created = flagged = 0
    step = (connection.features.max_query_params or 100_000) - 10  # SQLite: 999 parameters
    with transaction.atomic():
        for i in range(0, len(phones), step):
            chunk = phones[i:i + step]
            before = _scope_exact(org_id, campaign_id).filter(phone__in=chunk).count()
            DoNotCall.objects.bulk_create(
                [DoNotCall(organization_id=org_id, campaign_id=campaign_id, phone=p, source=source,
                           reason=reason[:200]) for p in chunk],
                ignore_conflicts=True,  # unique per (org, campaign, phone): re-imports are no-ops
            )
            created += _scope_exact(org_id, campaign_id).filter(phone__in=chunk).count() - before
            flagged += flag_contacts(org_id, campaign_id, chunk)
    return created, flagged


def _scope_exact(org_id: int, campaign_id: int | None):
    qs = DoNotCall.objects.filter(organization_id=org_id)
    return qs.filter(campaign__isnull=True) if campaign_id is None else qs.filter(campaign_id=campaign_id)


def add_raw(organization, raw: str, **kwargs) -> tuple[str, int]:
    """Normalize one typed number and add it; ``(e164, contacts_flagged)``.

    Raises :class:`~central.core.phones.InvalidPhone` with the pt-BR reason.
    """
    phone = normalize(raw)
    _, flagged = add_numbers(organization, [phone.e164], **kwargs)
    return phone.e164, flagged


__all__ += ["add_raw", "InvalidPhone"]
