"""A recording's file goes with its row, whatever deletes the row.

Retention deletes file then row itself; but a row can also go by cascade (the whole
organization deleted, an admin's delete). Without this the file would stay on disk, with
no row pointing at it and nothing that would ever delete it (LGPD). The file is removed
once the deletion commits, so a rolled-back delete keeps it.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from . import storage
from .models import Recording


@receiver(post_delete, sender=Recording, dispatch_uid="recordings-delete-file")
def delete_file(sender, instance: Recording, **kwargs) -> None:
    path = instance.path
    if path:
        transaction.on_commit(lambda: storage.delete(path))
