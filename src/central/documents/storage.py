"""Where cached documents live: the ``documents`` entry of Django's ``STORAGES``.

By default a private folder in the data directory (``<data dir>/documents``, directories
0700, files 0600, like every data file: ``central.core.datafiles``). In production, with
several web processes on several hosts, S3-compatible object storage through
django-storages' ``S3Storage`` (AWS S3, MinIO, Ceph, Wasabi, ...), configured from the
environment by :func:`storage_config`. Central always reads the object itself and streams
it to the user (no pre-signed URLs): authorisation and the download audit stay in one
place.

Imported by ``settings.py``: it must not import Django.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

__all__ = ["STORAGE_ALIAS", "storage_config"]

#: The ``STORAGES`` key every part of the app uses (``django.core.files.storage.storages``).
STORAGE_ALIAS = "documents"

LOCAL_BACKEND = "django.core.files.storage.FileSystemStorage"
S3_BACKEND = "storages.backends.s3.S3Storage"


class StorageConfigError(ValueError):
    """The environment names an unknown backend or lacks a required S3 setting."""


def storage_config(env: Mapping[str, str], data_dir: Path) -> dict:
    """The ``STORAGES["documents"]`` entry for this environment.

    ``CENTRAL_DOCUMENTS_STORAGE``: ``local`` (default) or ``s3``. For ``s3``:
    ``CENTRAL_DOCUMENTS_S3_BUCKET`` (required), ``…_ENDPOINT_URL`` (for anything but AWS),
    ``…_REGION``, ``…_PREFIX`` (key prefix, default ``documents``),
    ``…_ACCESS_KEY_ID`` / ``…_SECRET_ACCESS_KEY`` (else boto3's own chain: instance role,
    ``AWS_*`` variables), ``…_ADDRESSING_STYLE`` (``path`` for MinIO), ``…_SSE``
    (server-side encryption, e.g. ``AES256``; off by default, not every server has it), ``…_VERIFY``
    (``0`` only for a test endpoint with a self-signed certificate).
    """
    kind = (env.get("CENTRAL_DOCUMENTS_STORAGE") or "local").strip().lower()
    if kind == "local":
        location = env.get("CENTRAL_DOCUMENTS_DIR") or str(Path(data_dir) / "documents")
        return {
            "BACKEND": LOCAL_BACKEND,
            "OPTIONS": {
                "location": location,
                "base_url": None,
                "file_permissions_mode": 0o600,
                "directory_permissions_mode": 0o700,
            },
        }
    if kind != "s3":
        raise StorageConfigError(f"CENTRAL_DOCUMENTS_STORAGE must be local or s3, got {kind!r}")

    def get(name: str) -> str:
        return (env.get(f"CENTRAL_DOCUMENTS_S3_{name}") or "").strip()

    bucket = get("BUCKET")
    if not bucket:
        raise StorageConfigError("CENTRAL_DOCUMENTS_STORAGE=s3 needs CENTRAL_DOCUMENTS_S3_BUCKET")
    options: dict = {
        "bucket_name": bucket,
        "location": get("PREFIX") or "documents",
        # Private objects, never a public URL: Central streams every download itself.
        "default_acl": None,
        "querystring_auth": True,
        "file_overwrite": False,
        "object_parameters": {"ServerSideEncryption": get("SSE")} if get("SSE") else {},
    }
    for key, option in (("ENDPOINT_URL", "endpoint_url"), ("REGION", "region_name"),
                        ("ACCESS_KEY_ID", "access_key"), ("SECRET_ACCESS_KEY", "secret_key"),
                        ("ADDRESSING_STYLE", "addressing_style")):
        if get(key):
            options[option] = get(key)
    if get("ADDRESSING_STYLE") and get("ADDRESSING_STYLE") not in {"path", "virtual", "auto"}:
        raise StorageConfigError("CENTRAL_DOCUMENTS_S3_ADDRESSING_STYLE must be path, virtual or auto")
    if get("VERIFY") == "0":
        options["verify"] = False
    return {"BACKEND": S3_BACKEND, "OPTIONS": options}
