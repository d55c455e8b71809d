"""The agent in-process against a small fake of Central's agent endpoints (real sockets).

The same scenarios run against the real ``central web`` in test_e2e_*.py; these ones pin
the agent's own rules (settling, batching, resume, upload cursor, stale detection) with a
server whose state the test can read directly.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import stat
from dataclasses import replace

import pytest

from central_agent import cli, config
from central_agent import protocol as p
from central_agent.runtime import Agent, AgentStopped

from .fake_central import FakeCentral
from .pdfs import write_pdf

pytestmark = pytest.mark.backend_free


@pytest.fixture
async def central():
    fake = FakeCentral()
    await fake.start()
    yield fake
    await fake.stop()


def make_config(tmp_path, central, record, **kw):
    docs = tmp_path / "docs"
    docs.mkdir(exist_ok=True)
    cfg = config.Config(home=tmp_path / "home", server=central.url, token=record.token,
                        folders=(config.Folder("docs", str(docs)),), heartbeat=0.3, settle=0.2,
                        backoff_cap=0.4, rescan=0)
    return replace(cfg, **kw)


class Running:
    def __init__(self, cfg):
        self.stop = asyncio.Event()
        self.agent = Agent(cfg, stop_event=self.stop)
        self.task = asyncio.create_task(self.agent.run())

    async def close(self):
        self.stop.set()
        await asyncio.wait_for(self.task, 20)


def paths(record):
    return {path for (_, path) in record.entries}


async def test_enroll_stores_token_0600_and_config(central, tmp_path):
    code = central.new_code()
    home = tmp_path / "home"
    docs = tmp_path / "docs"
    docs.mkdir()
    rc = await asyncio.to_thread(cli.main, ["enroll", central.url, "--code", code,
                                            "--folder", f"docs={docs}", "--home", str(home)])
    assert rc == 0
    cfg = config.load(home, env={})
    assert cfg.server == central.url and cfg.folders == (config.Folder("docs", str(docs)),)
    assert cfg.token in {r.token for r in central.agents.values()}
    assert stat.S_IMODE(os.stat(cfg.token_file).st_mode) == 0o600
    assert cfg.token not in cfg.config_file.read_text()
    # A code works once.
    rc = await asyncio.to_thread(cli.main, ["enroll", central.url, "--code", code, "--home", str(home)])
    assert rc == 1
    rc = await asyncio.to_thread(cli.main, ["check", "--home", str(home)])
    assert rc == 0


async def test_index_follows_add_modify_rename_delete_and_bad_files(central, tmp_path):
    record = central.add_agent()
    cfg = make_config(tmp_path, central, record)
    docs = tmp_path / "docs"
    for n in range(5):
        write_pdf(docs / f"r{n}.pdf", title=f"R{n}")
    write_pdf(docs / "Relatório Março.pdf", title="Março")
    (docs / "fake.pdf").write_bytes(b"not a pdf at all")
    (docs / "empty.pdf").write_bytes(b"")
    (docs / "loop.pdf").symlink_to(docs / "loop.pdf")
    running = Running(cfg)
    try:
        await central.wait_for(lambda: len(record.entries) == 8)
        assert record.batches[0].reset
        entries = {path: e for (_, path), e in record.entries.items()}
        assert entries["Relatório Março.pdf"].title == "Março"
        assert entries["fake.pdf"].error == "not_pdf" and entries["empty.pdf"].error == "empty"
        hello = record.hellos[-1]
        assert hello.folders[0].files == 8 or hello.folders[0].files <= 8
        await central.wait_for(lambda: record.heartbeats >= 1 and any(
            isinstance(m, p.Heartbeat) and m.folders[0].skipped.get("symlink_loop") == 1
            for m in record.messages))

        write_pdf(docs / "sub" / "novo.pdf", title="Novo")
        await central.wait_for(lambda: "sub/novo.pdf" in paths(record))
        assert record.entries[("docs", "sub/novo.pdf")].title == "Novo"

        write_pdf(docs / "r1.pdf", title="R1 v2", pages=2)
        await central.wait_for(lambda: record.entries[("docs", "r1.pdf")].pages == 2)

        seen = len(record.batches)
        os.rename(docs / "r2.pdf", docs / "renomeado.pdf")
        await central.wait_for(lambda: "renomeado.pdf" in paths(record))
        assert "r2.pdf" not in paths(record)
        ops = [(c.op, c.path, c.old_path) for b in record.batches[seen:] for c in b.changes]
        assert ("renamed", "renomeado.pdf", "r2.pdf") in ops

        (docs / "r3.pdf").unlink()
        await central.wait_for(lambda: "r3.pdf" not in paths(record))
    finally:
        await running.close()
    status = json.loads(cfg.status_file.read_text())
    assert status["state"] == "stopped" and status["files"] == len(record.entries)


async def test_restart_and_reconnect_send_only_the_difference(central, tmp_path):
    record = central.add_agent()
    cfg = make_config(tmp_path, central, record)
    docs = tmp_path / "docs"
    for n in range(30):
        write_pdf(docs / f"{n}.pdf", title=f"n{n}")
    running = Running(cfg)
    await central.wait_for(lambda: len(record.entries) == 30)
    await running.close()
    before = len(record.batches)

    # Agent restart: only the file added while it was stopped is sent.
    write_pdf(docs / "while-stopped.pdf", title="while stopped")
    running = Running(cfg)
    try:
        await central.wait_for(lambda: "while-stopped.pdf" in paths(record))
        assert len(record.hellos) == 2
        after_restart = record.batches[before:]
        assert [c.path for b in after_restart for c in b.changes] == ["while-stopped.pdf"]
        assert not any(b.reset for b in after_restart)

        # Server-side drop (restart of the web process): reconnect with backoff, resync the diff.
        central.refuse_ws = True
        await central.close(record, p.CLOSE_SERVICE_RESTART)
        await central.wait_for(lambda: central.refused >= 2)  # it keeps trying, with backoff
        (docs / "0.pdf").unlink()
        write_pdf(docs / "offline.pdf", title="offline")
        batches = len(record.batches)
        central.refuse_ws = False
        await central.wait_for(lambda: "offline.pdf" in paths(record) and "0.pdf" not in paths(record))
        assert len(record.hellos) == 3
        sent = sorted((c.op, c.path) for b in record.batches[batches:] for c in b.changes)
        assert sent == [("added", "offline.pdf"), ("deleted", "0.pdf")]
    finally:
        await running.close()


async def test_upload_complete_and_resumed_after_a_cut(central, tmp_path):
    record = central.add_agent()
    cfg = make_config(tmp_path, central, record)
    docs = tmp_path / "docs"
    big = write_pdf(docs / "grande.pdf", padding=2 * p.CHUNK_SIZE)
    small = write_pdf(docs / "pequeno.pdf")
    running = Running(cfg)
    try:
        await central.wait_for(lambda: len(record.entries) == 2)
        transfer = central.request(record, "docs", "pequeno.pdf")
        await central.send(record, p.UploadRequest(transfer_id=transfer.transfer_id, folder="docs",
                                                   path="pequeno.pdf", sha256=transfer.sha256,
                                                   size=transfer.size))
        await central.wait_for(lambda: transfer.state == "complete")
        assert bytes(transfer.data) == small.read_bytes()

        size = big.stat().st_size
        cut = size // 2
        transfer = central.request(record, "docs", "grande.pdf", fail_at=cut)
        await central.send(record, p.UploadRequest(transfer_id=transfer.transfer_id, folder="docs",
                                                   path="grande.pdf", sha256=transfer.sha256,
                                                   size=size))
        await central.wait_for(lambda: transfer.state == "complete")
        assert hashlib.sha256(transfer.data).hexdigest() == hashlib.sha256(big.read_bytes()).hexdigest()
        # One streamed request per attempt; the cut fell inside the second chunk, so the
        # agent asked for the offset and resumed from the last committed chunk, not from 0.
        assert cut > p.CHUNK_SIZE
        assert transfer.requests == [0, p.CHUNK_SIZE]
        assert transfer.chunks == [0, p.CHUNK_SIZE, 2 * p.CHUNK_SIZE]
        await central.wait_for(lambda: any(isinstance(m, p.UploadProgress) and m.offset == size
                                           for m in record.messages))
    finally:
        await running.close()


async def test_file_modified_after_indexing_is_not_sent_stale(central, tmp_path):
    record = central.add_agent()
    # A long settle: the watcher has not re-indexed the file when the request arrives.
    cfg = make_config(tmp_path, central, record, settle=30.0)
    docs = tmp_path / "docs"
    path = write_pdf(docs / "contrato.pdf", title="v1")
    running = Running(cfg)
    try:
        await central.wait_for(lambda: len(record.entries) == 1)
        old = record.entries[("docs", "contrato.pdf")]
        write_pdf(path, title="v2 com outro conteúdo")
        transfer = central.request(record, "docs", "contrato.pdf")
        await central.send(record, p.UploadRequest(transfer_id=transfer.transfer_id, folder="docs",
                                                   path="contrato.pdf", sha256=old.sha256,
                                                   size=old.size))
        stale = await central.wait_for(lambda: next(
            (m for m in record.messages if isinstance(m, p.UploadStale)), None))
        new_sha = hashlib.sha256(path.read_bytes()).hexdigest()
        assert stale.reason == "modified" and stale.sha256 == new_sha
        assert transfer.data == bytearray()  # not one stale byte sent
        await central.wait_for(lambda: record.entries[("docs", "contrato.pdf")].sha256 == new_sha)
        assert record.entries[("docs", "contrato.pdf")].title == "v2 com outro conteúdo"

        # A path outside the index (or outside the folder) is refused, never read.
        await central.send(record, p.UploadRequest(transfer_id="t404", folder="docs",
                                                   path="nao-existe.pdf", sha256="0" * 64, size=1))
        await central.wait_for(lambda: any(isinstance(m, p.UploadError) and m.code == "not_found"
                                           for m in record.messages))
    finally:
        await running.close()


async def test_revoked_token_stops_with_a_clear_message(central, tmp_path, capsys):
    record = central.add_agent()
    cfg = make_config(tmp_path, central, record)
    running = Running(cfg)
    await central.wait_for(lambda: record.hellos)
    record.revoked = True
    await central.close(record, p.CLOSE_TOKEN_INVALID)
    with pytest.raises(AgentStopped, match="invalid or was revoked"):
        await asyncio.wait_for(running.task, 20)
    status = json.loads(cfg.status_file.read_text())
    assert status["state"] == "stopped" and "revoked" in status["stopped_reason"]
    # Starting again with the revoked token stops at once too (no retrying forever).
    config.write_config(cfg)
    config.write_token(cfg, record.token)
    try:
        rc = await asyncio.to_thread(cli.main, ["run", "--home", str(cfg.home), "--quiet"])
    finally:  # `run` set up the agent's own log handlers in this process: undo that
        logging.getLogger("central_agent").handlers.clear()
        logging.getLogger("central_agent").propagate = True
    assert rc == cli.EXIT_STOPPED
    assert "revoked" in capsys.readouterr().err


async def test_polling_watcher_for_network_shares(central, tmp_path):
    """``watch = "polling"`` (what ``auto`` picks on nfs/cifs/smb3): changes are still seen."""
    record = central.add_agent()
    cfg = make_config(tmp_path, central, record, watch="polling", poll_interval=0.2)
    docs = tmp_path / "docs"
    write_pdf(docs / "a.pdf", title="A")
    running = Running(cfg)
    try:
        await central.wait_for(lambda: "a.pdf" in paths(record))
        assert record.hellos[-1].folders[0].watch == "polling"
        write_pdf(docs / "b.pdf", title="B")
        (docs / "a.pdf").unlink()
        await central.wait_for(lambda: paths(record) == {"b.pdf"})
    finally:
        await running.close()
