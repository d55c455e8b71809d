"""The dialer's side of ``central import-legacy``: campaigns and contacts from the legacy
dialer, written by the dialer app itself (the legacy package maps rows, this module owns
the tables).

Idempotency rests on ``legacy_id`` (unique per organization on both models): a row seen
before is compared field by field and only a real difference is written, so a second run
over the same legacy data changes nothing and says so ("unchanged"). A contact whose
number is already in the campaign without a legacy id (typed in Central, or imported from
a CSV) is adopted: it gets the legacy id and the legacy values. Two legacy rows with the
same number in one campaign become one contact (Central's unique campaign+phone); the
second is reported as skipped with the first one's legacy id.

Every function takes ``dry_run``: the same decisions are made, nothing is written.
"""

from __future__ import annotations

from django.db import connection, transaction

from .importer import insert_contacts
from .models import Campaign, Contact, DoNotCall

__all__ = ["CAMPAIGN_FIELDS", "CONTACT_FIELDS", "upsert_campaign", "upsert_contacts"]

#: Campaign fields the legacy import sets, and compares on later runs. ``status`` is set
#: only when the campaign is created: after that the site runs it from Central.
CAMPAIGN_FIELDS = ("name", "pacing_mode", "dial_ratio", "max_channels", "working_hours")
#: Contact fields the legacy import sets and compares.
CONTACT_FIELDS = ("phone", "name", "alt_phones", "status", "attempts", "max_attempts", "last_attempt_at",
                  "next_attempt_at", "last_result", "timezone")
_INSERT_FIELDS = ("organization", "campaign", "legacy_id", "legal_basis", "origin", "created_at", *CONTACT_FIELDS)
_TIMES = ("last_attempt_at", "next_attempt_at", "created_at")
_FETCH = ("pk", "legacy_id", "campaign_id", *CONTACT_FIELDS)

Outcome = tuple[int, str, str]  # (legacy_id, action, reason)


def upsert_campaign(organization_id: int, legacy_id: int, values: dict, *, queue: str = "",
                    dry_run: bool = True) -> tuple[str, Campaign | None, str]:
    """``(action, campaign, reason)``; ``campaign`` is None only for a dry-run creation."""
    row = Campaign.objects.filter(organization_id=organization_id, legacy_id=legacy_id).first()
    if row is None:
        if dry_run:
            return "created", None, ""
        row = Campaign.objects.create(organization_id=organization_id, legacy_id=legacy_id, queue=queue, **values)
        return "created", row, ""
    changed = [f for f in CAMPAIGN_FIELDS if f in values and getattr(row, f) != values[f]]
    if not changed:
        return "unchanged", row, ""
    if not dry_run:
        for f in changed:
            setattr(row, f, values[f])
        row.save(update_fields=[*changed, "updated_at"])
    return "updated", row, "campos: " + ", ".join(changed)


def _chunks(items: list, size: int | None = None):
    step = size or (connection.features.max_query_params or 100_000) - 10  # SQLite: 999 parameters
    for i in range(0, len(items), step):
        yield items[i:i + step]


def upsert_contacts(organization_id: int, campaign_id: int | None, items: list[tuple[int, dict]], *,
                    origin: str, dry_run: bool = True, seen: dict[str, int] | None = None) -> list[Outcome]:
    """Merge one batch of mapped legacy contacts of one campaign; one transaction.

    ``campaign_id`` None means a campaign a dry run would create: every row would be new,
    and ``seen`` (phone -> legacy id, kept by the caller across batches) finds the repeats
    the real run would report.
    """
    out: list[Outcome] = []
    if campaign_id is None:
        seen = {} if seen is None else seen
        for lid, v in items:
            first = seen.setdefault(v["phone"], lid)
            out.append((lid, "skipped", f"telefone repetido: mesmo número do contato legado {first}")
                       if first != lid else (lid, "created", ""))
        return out
    with transaction.atomic():
        # Plain dicts, not model instances: a re-run compares 5,000 rows per page and
        # building Contact objects was most of its time.
        ids = [lid for lid, _v in items]
        by_legacy: dict[int, dict] = {}
        for chunk in _chunks(ids):
            by_legacy.update((r["legacy_id"], r) for r in Contact.objects.filter(
                organization_id=organization_id, legacy_id__in=chunk).values(*_FETCH))
        phones = list({v["phone"] for lid, v in items if lid not in by_legacy or by_legacy[lid]["phone"] != v["phone"]})
        by_phone: dict[str, dict] = {}
        for chunk in _chunks(phones):
            by_phone.update((r["phone"], r) for r in Contact.objects.filter(
                campaign_id=campaign_id, phone__in=chunk).values(*_FETCH))
        blocked: set[str] = set()
        if DoNotCall.objects.filter(organization_id=organization_id).exists():
            from .dnc import blocked_among

            blocked = blocked_among(organization_id, campaign_id, [v["phone"] for _lid, v in items])
        # phone -> legacy id: within this batch (earlier batches are in the database), and
        # in a dry run across batches too, since nothing of them was written.
        taken: dict[str, int] = seen if dry_run and seen is not None else {}
        new: list[dict] = []
        changed_rows: list[Contact] = []
        changed_fields: set[str] = set()
        for lid, v in items:
            if v["phone"] in blocked and v["status"] == Contact.Status.PENDING:
                v = {**v, "status": Contact.Status.DNC, "last_result": "dnc", "next_attempt_at": None}
            phone = v["phone"]
            row = by_legacy.get(lid)
            if row is None:
                holder = by_phone.get(phone)
                if phone in taken or (holder is not None and holder["legacy_id"] is not None):
                    first = taken.get(phone) or holder["legacy_id"]
                    out.append((lid, "skipped", f"telefone repetido: mesmo número do contato legado {first}"))
                    continue
                taken[phone] = lid
                if holder is None:
                    new.append({**v, "organization": organization_id, "campaign": campaign_id, "legacy_id": lid,
                                "legal_basis": Contact.LegalBasis.LEGITIMATE_INTEREST, "origin": origin})
                    out.append((lid, "created", ""))
                    continue
                row = holder  # typed in Central or imported from a file: adopt it
                changed_fields.add("legacy_id")
                adopted = True
            else:
                adopted = False
                if row["campaign_id"] != campaign_id:
                    out.append((lid, "skipped", "contato legado já importado em outra campanha"))
                    continue
                if row["status"] == Contact.Status.IN_PROGRESS:
                    out.append((lid, "skipped", "em ligação no Central agora; rode de novo depois"))
                    continue
                holder = by_phone.get(phone)
                if holder is not None and holder["pk"] != row["pk"]:
                    out.append((lid, "skipped", f"o novo telefone {phone} já pertence a outro contato da campanha"))
                    continue
                taken[phone] = lid
            diff = [f for f in CONTACT_FIELDS if row[f] != v[f]]
            if not diff and not adopted:
                out.append((lid, "unchanged", ""))
                continue
            # Every field of the union is written for every row: a full instance.
            changed_rows.append(Contact(id=row["pk"], legacy_id=lid, **{f: v[f] for f in CONTACT_FIELDS}))
            changed_fields.update(diff)
            reason = "contato existente com o mesmo telefone vinculado" if adopted else "campos: " + ", ".join(diff)
            out.append((lid, "updated", reason))
        if not dry_run:
            _insert(new)
            if changed_rows:
                Contact.objects.bulk_update(changed_rows, sorted(changed_fields), batch_size=500)
    return out


def _insert(rows: list[dict]) -> None:
    """The importer's bulk insert (COPY on PostgreSQL) with the legacy columns; times are
    prepared for the database here because that path skips the ORM."""
    if not rows:
        return
    from django.utils import timezone

    adapt = connection.ops.adapt_datetimefield_value  # what DateTimeField would send
    now = timezone.now()
    for r in rows:
        if r.get("created_at") is None:
            r["created_at"] = now
        for name in _TIMES:
            r[name] = adapt(r.get(name))
    insert_contacts(rows, _INSERT_FIELDS)
