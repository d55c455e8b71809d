"""Who is a platform operator: the one definition (docs/security.md, threat model).

Tenant admins and owners run *their* organization; platform operators (Django superusers)
run the installation: they see process details, every tenant's PBX links and the
readiness report. Every surface that shows platform-wide data asks this function.
"""

from __future__ import annotations


def is_operator(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False)
                and getattr(user, "is_active", False) and getattr(user, "is_superuser", False))
