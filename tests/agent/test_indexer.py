"""Reading files: every bad input is indexed with a reason or skipped with a reason."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from central_agent import protocol as p
from central_agent.indexer import Found, Skipped, index_file, local_path, matches, sha256_file, walk

from .pdfs import pdf_bytes, write_pdf

pytestmark = pytest.mark.backend_free


def test_good_pdf_metadata_and_streamed_digest(tmp_path):
    path = write_pdf(tmp_path / "Relatório Março.pdf", title="Relatório de março", author="Ana",
                     pages=3, padding=3 * 1024 * 1024)
    entry, signature, skip = index_file(str(path))
    assert skip is None and entry.error is None
    assert entry.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    out = subprocess.run(["sha256sum", str(path)], capture_output=True, text=True, check=True)
    assert out.stdout.split()[0] == entry.sha256
    assert (entry.title, entry.author, entry.pages) == ("Relatório de março", "Ana", 3)
    assert entry.created == "2024-03-15T10:30:00+00:00"
    assert signature == (path.stat().st_size, path.stat().st_mtime_ns)
    assert entry.size == path.stat().st_size


@pytest.mark.parametrize("content,error", [
    (b"", "empty"),
    (b"PK\x03\x04 this is a zip named .pdf", "not_pdf"),
    (b"%PDF-1.7\n garbage without xref or trailer", "broken_pdf"),
    (pdf_bytes(password="segredo"), "encrypted"),
    (pdf_bytes()[:300], "broken_pdf"),  # truncated copy
])
def test_bad_files_are_indexed_with_a_reason(tmp_path, content, error):
    path = tmp_path / "x.pdf"
    path.write_bytes(content)
    entry, _, skip = index_file(str(path))
    assert skip is None
    assert entry.error == error and entry.sha256 == hashlib.sha256(content).hexdigest()
    p.Entry.from_dict(entry.to_dict())  # valid on the wire


def test_pdf_readable_with_empty_password_is_not_an_error(tmp_path):
    path = tmp_path / "x.pdf"
    path.write_bytes(pdf_bytes(password=""))
    entry, _, _ = index_file(str(path))
    assert entry.error is None and entry.pages == 1


def _as_unprivileged(func) -> object:
    """Run ``func()`` in a forked child that cannot bypass file permissions (it becomes
    nobody when we are root; no exec, so no interpreter path has to be reachable)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.close(read)
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
            os.write(write, json.dumps(func()).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    return json.loads(data)


def test_unreadable_file_and_directory_are_skipped_with_a_reason():
    root = Path(tempfile.mkdtemp(prefix="agent-unreadable-"))
    try:
        root.chmod(0o755)
        write_pdf(root / "ok.pdf").chmod(0o644)
        write_pdf(root / "locked.pdf").chmod(0)
        (root / "private").mkdir(mode=0o700)
        write_pdf(root / "private" / "x.pdf")
        (root / "private").chmod(0)

        def probe():
            items = list(walk(str(root), ["*.pdf"]))
            entry, _, skip = index_file(str(root / "locked.pdf"))
            return {"found": sorted(i.rel for i in items if isinstance(i, Found)),
                    "skipped": sorted([i.rel, i.reason] for i in items if isinstance(i, Skipped)),
                    "locked": [entry, skip.reason if skip else None]}

        result = _as_unprivileged(probe)
    finally:
        (root / "private").chmod(0o700)
        shutil.rmtree(root)
    assert result["found"] == ["locked.pdf", "ok.pdf"]  # listed; reading it is what fails
    assert result["skipped"] == [["private", "unreadable"]]
    assert result["locked"] == [None, "unreadable"]


def test_fifo_named_pdf_is_skipped_as_not_regular(tmp_path):
    fifo = tmp_path / "pipe.pdf"
    os.mkfifo(fifo)
    items = list(walk(str(tmp_path), ["*.pdf"]))
    assert items == [Skipped("pipe.pdf", "not_regular", "not a regular file")]
    entry, _, skip = index_file(str(fifo))
    assert entry is None and skip.reason == "not_regular"


def test_walk_survives_symlink_loops_and_dangling_links(tmp_path):
    root = tmp_path / "docs"
    write_pdf(root / "sub" / "a.pdf")
    (root / "sub" / "loop").symlink_to(root, target_is_directory=True)  # directory cycle
    (root / "self.pdf").symlink_to(root / "self.pdf")  # ELOOP
    (root / "dangling.pdf").symlink_to(root / "nowhere.pdf")
    (root / "link.pdf").symlink_to(root / "sub" / "a.pdf")  # a good link is followed
    (root / "notes.txt").write_text("ignored by the include pattern")
    items = sorted(walk(str(root), ["*.pdf"]), key=lambda i: i.rel)
    found = [i.rel for i in items if isinstance(i, Found)]
    skipped = {(i.rel, i.reason) for i in items if isinstance(i, Skipped)}
    assert found == ["link.pdf", "sub/a.pdf"]
    assert skipped == {("self.pdf", "symlink_loop"), ("dangling.pdf", "vanished"),
                       ("sub/loop", "symlink_loop")}


def test_directories_named_pdf_and_missing_roots(tmp_path):
    root = tmp_path / "docs"
    write_pdf(root / "ok.pdf")
    (root / "notadir.pdf").mkdir()  # a directory named like a PDF is walked, not indexed
    found = [i.rel for i in walk(str(root), ["*.pdf"]) if isinstance(i, Found)]
    assert found == ["ok.pdf"]
    assert list(walk(str(tmp_path / "missing"), ["*.pdf"])) == []


def test_decomposed_names_are_sent_in_nfc(tmp_path):
    write_pdf(tmp_path / "Relato\u0301rio.pdf")
    (item,) = list(walk(str(tmp_path), ["*.pdf"]))
    assert item.rel == "Relatório.pdf"


def test_include_patterns():
    assert matches("a/B.PDF", ["*.pdf"])
    assert not matches("a/b.pdf.txt", ["*.pdf"])
    assert matches("contratos/2024/x.pdf", ["contratos/*"])
    assert not matches("outros/x.pdf", ["contratos/*"])


def test_local_path_refuses_escapes(tmp_path):
    assert local_path(str(tmp_path), "a/b.pdf") == str(tmp_path / "a" / "b.pdf")
    for bad in ("../x.pdf", "/etc/passwd", "a/../../x"):
        with pytest.raises(p.ProtocolError):
            local_path(str(tmp_path), bad)


def test_digest_never_reads_the_whole_file_at_once(tmp_path, monkeypatch):
    path = tmp_path / "big.pdf"
    path.write_bytes(b"%PDF-" + os.urandom(5 * 1024 * 1024))
    reads = []
    real_open = open

    def spy_open(*args, **kwargs):
        fh = real_open(*args, **kwargs)
        original = fh.readinto

        def readinto(buf):
            reads.append(len(buf))
            return original(buf)

        fh.readinto = readinto
        return fh

    monkeypatch.setattr("builtins.open", spy_open)
    digest, head = sha256_file(str(path))
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest() and head.startswith(b"%PDF-")
    assert reads and max(reads) <= 1024 * 1024
