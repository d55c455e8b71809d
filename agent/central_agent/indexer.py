"""Reading files: walking a folder, streaming SHA-256, PDF metadata with pypdf.

Blocking code, run in a worker thread by the runtime. Every failure of one file becomes a
reason (an ``EntryError`` on an indexed entry, or a ``SkipReason``), never an exception
that stops the scan: a customer's folder holds whatever people put there.
"""

from __future__ import annotations

import errno
import fnmatch
import hashlib
import logging
import os
import stat as statmod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from . import protocol as p

READ_SIZE = 1024 * 1024
PDF_MAGIC = b"%PDF-"
MAGIC_WINDOW = 1024  # the PDF spec tolerates junk before the header; readers look this far

logging.getLogger("pypdf").setLevel(logging.ERROR)  # broken PDFs are reported per file
log = logging.getLogger("central_agent.indexer")


@dataclass(frozen=True)
class Found:
    """A candidate file met during a walk."""

    rel: str  # wire path
    abs: str
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Skipped:
    rel: str
    reason: str  # a SkipReason
    detail: str


def matches(rel: str, include: list[str]) -> bool:
    """Include patterns: case-insensitive; a pattern with ``/`` matches the whole relative
    path, otherwise the file name (``*.pdf`` finds ``a/B.PDF``)."""
    name = rel.rsplit("/", 1)[-1].lower()
    low = rel.lower()
    for pattern in include:
        pat = pattern.lower()
        if fnmatch.fnmatchcase(low if "/" in pat else name, pat):
            return True
    return False


def wire_path(root: str, path: str) -> str:
    return p.normalize_path(os.path.relpath(path, root))


def walk(root: str, include: list[str]) -> Iterator[Found | Skipped]:
    """Every matching file under ``root``; symlinks followed, loops detected, never raises."""
    seen_dirs: set[tuple[int, int]] = set()
    try:
        st = os.stat(root)
        seen_dirs.add((st.st_dev, st.st_ino))
    except OSError:
        return
    stack = [root]
    while stack:
        directory = stack.pop()
        try:
            with os.scandir(directory) as it:
                items = list(it)
        except OSError as exc:
            yield Skipped(wire_path(root, directory) if directory != root else ".", "unreadable", str(exc))
            continue
        for item in items:
            try:
                rel = wire_path(root, item.path)
                p.check_path(rel)
            except p.ProtocolError as exc:
                yield Skipped(item.name, "bad_name", str(exc))
                continue
            try:
                st = item.stat(follow_symlinks=True)
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    yield Skipped(rel, "symlink_loop", str(exc))
                elif exc.errno == errno.ENOENT and item.is_symlink():
                    yield Skipped(rel, "vanished", "dangling symlink")
                elif exc.errno == errno.ENOENT:
                    continue  # removed during the walk: the watcher reports it
                else:
                    yield Skipped(rel, "unreadable", str(exc))
                continue
            if statmod.S_ISDIR(st.st_mode):
                ident = (st.st_dev, st.st_ino)
                if ident in seen_dirs:
                    yield Skipped(rel, "symlink_loop", "directory already visited")
                    continue
                seen_dirs.add(ident)
                stack.append(item.path)
                continue
            if not matches(rel, include):
                continue
            if not statmod.S_ISREG(st.st_mode):
                yield Skipped(rel, "not_regular", "not a regular file")
                continue
            yield Found(rel, item.path, st.st_size, st.st_mtime_ns)


def stat_signature(path: str) -> tuple[int, int] | None:
    """(size, mtime_ns) of a regular file, or ``None`` when it is not there (or not a file)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not statmod.S_ISREG(st.st_mode):
        return None
    return st.st_size, st.st_mtime_ns


def sha256_file(path: str, size_hint: int | None = None) -> tuple[str, bytes]:
    """Streamed SHA-256 (1 MiB reads, never the whole file in memory) and the first bytes."""
    digest = hashlib.sha256()
    head = b""
    with open(path, "rb", buffering=0) as fh:
        buf = bytearray(READ_SIZE)
        view = memoryview(buf)
        while True:
            n = fh.readinto(buf)
            if not n:
                break
            if len(head) < MAGIC_WINDOW:
                head += bytes(view[: MAGIC_WINDOW - len(head)][:n])
            digest.update(view[:n])
    return digest.hexdigest(), head


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).replace("\x00", "").strip()
    return text[: p.MAX_TEXT_CHARS] or None


def pdf_metadata(path: str) -> tuple[dict, str | None, str | None]:
    """(metadata fields, EntryError or None, detail) read with pypdf."""
    import pypdf

    try:
        reader = pypdf.PdfReader(path)
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except Exception as exc:  # noqa: BLE001 - pypdf raises many kinds; all mean "locked"
                return {}, "encrypted", _text(exc)
            if not opened:
                return {}, "encrypted", "password required"
        info = reader.metadata
        fields: dict = {"pages": len(reader.pages)}
        if info is not None:
            fields["title"] = _text(info.title)
            fields["author"] = _text(info.author)
            try:
                created = info.creation_date
            except Exception:  # noqa: BLE001 - a malformed date is not a broken PDF
                created = None
            fields["created"] = created.isoformat() if created else None
        return fields, None, None
    except Exception as exc:  # noqa: BLE001 - whatever pypdf trips on, the file is "broken"
        return {}, "broken_pdf", _text(f"{type(exc).__name__}: {exc}")


def index_file(path: str) -> tuple[p.Entry | None, tuple[int, int] | None, Skipped | None]:
    """Index one file: (entry, its (size, mtime_ns) signature, or why it was skipped).

    The signature is taken before reading and checked after: a file that changed meanwhile
    is reported as not settled (``None, None, None``) and will be indexed when quiet."""
    try:
        before = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None, None, Skipped(path, "symlink_loop", str(exc))
        if exc.errno == errno.ENOENT:
            return None, None, Skipped(path, "vanished", str(exc))
        return None, None, Skipped(path, "unreadable", str(exc))
    if not statmod.S_ISREG(before.st_mode):
        return None, None, Skipped(path, "not_regular", "not a regular file")
    signature = (before.st_size, before.st_mtime_ns)
    try:
        sha, head = sha256_file(path)
    except FileNotFoundError as exc:
        return None, None, Skipped(path, "vanished", str(exc))
    except OSError as exc:
        return None, None, Skipped(path, "unreadable", str(exc))
    mtime = before.st_mtime_ns / 1e9
    if before.st_size == 0:
        entry = p.Entry(size=0, mtime=mtime, sha256=sha, error="empty", detail="0 bytes")
    elif PDF_MAGIC not in head:
        entry = p.Entry(size=before.st_size, mtime=mtime, sha256=sha, error="not_pdf",
                        detail="no %PDF- header")
    else:
        fields, error, detail = pdf_metadata(path)
        entry = p.Entry(size=before.st_size, mtime=mtime, sha256=sha, error=error, detail=detail,
                        **fields)
    if stat_signature(path) != signature:
        return None, None, None
    return entry, signature, None


def local_path(root: str, rel: str) -> str:
    """The local path of a wire path, refusing anything that would leave ``root``."""
    p.check_path(rel)
    full = os.path.normpath(os.path.join(root, *rel.split("/")))
    base = os.path.normpath(root)
    if os.path.commonpath([full, base]) != base:
        raise p.ProtocolError(f"path leaves the folder: {rel!r}")
    return full


def folder_readable(root: str) -> bool:
    return os.path.isdir(root) and os.access(root, os.R_OK | os.X_OK)


def filesystem_type(path: str) -> str | None:
    """The file system type of ``path`` on Linux (from /proc/mounts), else ``None``."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    real = os.path.realpath(path)
    best, kind = "", None
    for line in mounts:
        parts = line.split()
        if len(parts) < 3:
            continue
        mount = parts[1].replace("\\040", " ")
        if (real == mount or real.startswith(mount.rstrip("/") + "/")) and len(mount) > len(best):
            best, kind = mount, parts[2]
    return kind


NETWORK_FILESYSTEMS = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "9p", "afs", "ceph"}
