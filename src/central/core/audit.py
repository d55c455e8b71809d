"""The audit log: one call records a critical action with who, what, when and from where."""

from __future__ import annotations

from typing import Any

from .clientaddr import client_ip
from .logging import current_request_id
from .models import AuditLog, Organization


def record(
    action: str,
    *,
    request=None,
    actor=None,
    organization: Organization | None = None,
    target: Any = None,
    **details: Any,
) -> AuditLog:
    """Insert an audit row. ``target`` may be a model instance (its type and pk are kept)."""
    if actor is None and request is not None and getattr(request, "user", None) is not None:
        actor = request.user if request.user.is_authenticated else None
    if organization is None and request is not None:
        organization = getattr(request, "organization", None)
    if organization is None and actor is not None:
        # Sign-ins have no tenant in the request; file them under the user's default one.
        from .tenancy import default_membership

        default = default_membership(actor)
        organization = default.organization if default else None
    target_type = target_id = ""
    if target is not None:
        target_type = target._meta.label_lower if hasattr(target, "_meta") else type(target).__name__
        target_id = str(getattr(target, "pk", "") or "")
    entry = AuditLog.objects.create(
        organization=organization,
        actor=actor,
        actor_name=getattr(actor, "username", "") or "",
        action=action,
        target_type=target_type,
        target_id=target_id,
        details=details,
        ip=client_ip(request),
        user_agent=(request.META.get("HTTP_USER_AGENT", "")[:300] if request is not None else ""),
        request_id=current_request_id() or "",
    )
    from .live import publish_org_event

    publish_org_event(
        entry.organization_id,
        {"type": "audit", "action": action, "actor": entry.actor_name, "at": entry.created_at.isoformat()},
    )
    return entry
