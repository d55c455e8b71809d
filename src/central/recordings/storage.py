"""Where recordings live on disk: the spool Asterisk writes and Central's own store.

* The **spool** (``CENTRAL_RECORDINGS_SPOOL``) is MixMonitor's directory as this host
  sees it: the Asterisk host's ``/var/spool/asterisk/monitor`` when Central runs there,
  an NFS/SMB mount of it otherwise, the simulator's directory in embedded mode. Central
  only reads names there that :func:`central.recordings.policy.attempt_uid_of` accepts,
  only regular files (never a symlink: a link to ``/etc/shadow`` named like a recording
  must not be served), and moves them out.
* The **store** (``CENTRAL_RECORDINGS_DIR``, default ``<data dir>/recordings``) holds
  the indexed files, ``<organization id>/<yyyy>/<mm>/<attempt id>.wav``, directories 0700
  and files 0600. Rows keep the path relative to it; :func:`resolve` refuses any stored
  path that would leave it.

Object storage is not implemented (docs/recordings.md says how to mount one).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
from datetime import datetime
from pathlib import Path

from django.conf import settings

CHUNK = 256 * 1024


def spool_dir() -> Path:
    return Path(settings.RECORDINGS_SPOOL)


def store_dir() -> Path:
    return Path(settings.RECORDINGS_DIR)


def relative_path(organization_id: int, started_at: datetime, filename: str) -> str:
    """The store path of a recording, from ids and the call's date only."""
    return f"{int(organization_id)}/{started_at:%Y}/{started_at:%m}/{filename}"


def resolve(relative: str) -> Path:
    """The absolute path of a stored recording; ``ValueError`` if it would leave the store."""
    root = store_dir().resolve()
    path = (root / relative).resolve()
    if root not in path.parents:
        raise ValueError(f"recording path outside the store: {relative!r}")
    return path


def _mkdirs(path: Path) -> None:
    root = store_dir()
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    missing = []
    current = path
    while current != root and not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        directory.mkdir(mode=0o700, exist_ok=True)
        directory.chmod(0o700)


def take(source: Path, relative: str) -> int:
    """Move a spool file into the store at ``relative`` (0600), returning its size.

    A rename when spool and store share a file system, else a copy (flushed to disk)
    then the spool file's removal; either way a reader of the store never sees a partial
    file (copied under a temporary name, then renamed)."""
    target = resolve(relative)
    _mkdirs(target.parent)
    try:
        os.rename(source, target)
    except OSError:
        tmp = target.with_name(f".{target.name}.part")
        fd_in = os.open(source, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            fd_out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd_in, "rb", closefd=False) as src, os.fdopen(fd_out, "wb") as dst:
                shutil.copyfileobj(src, dst, CHUNK)
                dst.flush()
                os.fsync(dst.fileno())
        finally:
            os.close(fd_in)
        os.replace(tmp, target)
        source.unlink()
    os.chmod(target, 0o600)
    return target.stat().st_size


def regular_file(path: Path) -> os.stat_result | None:
    """``lstat`` of a regular file (not a link, directory, device...), else None."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return None
    return info if stat.S_ISREG(info.st_mode) else None


def delete(relative: str) -> None:
    """Remove a stored file (already gone is fine: two retention runs at once; a path
    outside the store is never touched)."""
    with contextlib.suppress(FileNotFoundError, ValueError):
        resolve(relative).unlink()
