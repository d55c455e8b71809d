"""Private data files: the data directory is 0700 and everything Central writes is 0600.

The data directory holds the SQLite database (sessions, password hashes, refresh tokens),
backups of it, the generated secret key and uploaded contact lists (personal data under
LGPD). Other local users have no business reading any of it, so every Central process sets
its umask to 077 when settings load (files 0600, directories 0700, whoever creates them:
SQLite, the backup API, pg_dump, upload handlers, the log file) and creates the data
directory 0700. An installation made before this keeps its modes; ``central diagnose``
names what is still readable by others (:func:`loose_paths`).

This module is imported by ``settings.py``: it must not import Django.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

__all__ = ["PRIVATE_UMASK", "loose_paths", "secure_data_dir"]

#: Nothing for group or others.
PRIVATE_UMASK = 0o077
#: How many entries :func:`loose_paths` looks at (a data dir with a million uploads must
#: not make ``central diagnose`` crawl).
SCAN_LIMIT = 20_000


def secure_data_dir(path: Path) -> Path:
    """Set the process umask to 077 and create ``path`` 0700 if it does not exist yet."""
    os.umask(PRIVATE_UMASK)
    if not path.exists():
        path.mkdir(parents=True, mode=0o700)
        path.chmod(0o700)  # mkdir's mode is masked by the umask of whoever ran us before
    return path


def loose_paths(root: Path, limit: int = SCAN_LIMIT) -> list[tuple[Path, int]]:
    """``(path, mode)`` of the data directory and entries under it that group/others can use."""
    found: list[tuple[Path, int]] = []
    seen = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != "static"]  # public assets, served as-is
        for name in [None, *filenames]:
            seen += 1
            if seen > limit:
                return found
            path = Path(dirpath) if name is None else Path(dirpath) / name
            try:
                mode = stat.S_IMODE(path.lstat().st_mode)
            except FileNotFoundError:
                continue
            if mode & 0o077 and not path.is_symlink():
                found.append((path, mode))
    return found
