"""A real ``central-agent`` process against a real ``central web`` (real sockets, real files).

Enroll with a code made in Central's API, index a folder of PDFs generated with pypdf (and
bad files), follow additions/changes/renames/deletions, survive a restart of the web
process (reconnect with backoff, resynchronise only the difference), resume an upload cut
halfway by a TCP proxy, never serve a file modified after indexing, and stop with a clear
message when the token is revoked. Conditions are read from Central's API (the documents
tests' ``wait_for``) or from the agent's own JSON log.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from central_agent import protocol as P
from tests.agent.pdfs import pdf_bytes, write_pdf
from tests.documents.test_agent_web import api, wait_for
from tests.support import free_port, migrated_env, run_central, start_central

AGENT = str(Path(sys.executable).parent / "central-agent")
SETUP = """
from django.contrib.auth import get_user_model
from central.core.models import Membership, Organization
U = get_user_model()
for slug, user in (("filial-a", "ana"), ("filial-b", "beto")):
    org = Organization.objects.create(name=slug.upper(), slug=slug)
    u = U.objects.create_user(user, password="senha-forte-123")
    Membership.objects.create(user=u, organization=org, role="admin")
"""


class Web:
    """The module's ``central web``; ``restart()`` stops it and starts it again on the same
    port (the same database), as a deploy or a crash would."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.env = migrated_env(base / "data", CENTRAL_RATE_AUTH="1000/min",
                                CENTRAL_LOGIN_FAILURES_CLIENT="1000/min",
                                CENTRAL_RATE_API="100000/min,1000000/hour")  # the tests poll the API
        result = run_central(["manage", "shell", "-c", SETUP], self.env)
        assert result.returncode == 0, result.stderr
        self.port = free_port()
        self.runs = 0
        self.start()

    def start(self) -> None:
        self.runs += 1
        self.proc = start_central(["web", "--port", str(self.port)], self.env, self.port,
                                  self.base / f"web-{self.runs}.log")
        self.url = self.proc.url

    def stop(self) -> None:
        self.proc.stop()


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    server = Web(tmp_path_factory.mktemp("agent-e2e"))
    yield server
    server.stop()


class AgentProcess:
    """``central-agent`` commands with one home directory; ``start()`` runs the daemon."""

    def __init__(self, home: Path, **env: str) -> None:
        self.home = home
        self.env = {**os.environ, "CENTRAL_AGENT_HOME": str(home), "CENTRAL_AGENT_SETTLE": "0.3",
                    "CENTRAL_AGENT_HEARTBEAT": "2", "CENTRAL_AGENT_BACKOFF_CAP": "2", **env}
        self.proc: subprocess.Popen | None = None

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([AGENT, *args], env=self.env, capture_output=True, text=True, timeout=60)

    def start(self) -> None:
        self.stderr = open(self.home / "stderr.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([AGENT, "run", "--quiet"], env=self.env, stderr=self.stderr)

    def stop(self) -> int:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)
        self.stderr.close()
        return self.proc.returncode

    def log(self) -> list[dict]:
        path = self.home / "logs" / "agent.log"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def events(self, message: str) -> list[dict]:
        return [e for e in self.log() if e["message"] == message]


def enroll(web: Web, user: str, home: Path, docs: Path, name: str, **env: str) -> AgentProcess:
    code = api(web, user).post("enrollment-codes/", json={"agent_name": name}).json()["code"]
    agent = AgentProcess(home, **env)
    result = agent.cli("enroll", web.url, "--code", code, "--folder", f"docs={docs}")
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE((home / "token").stat().st_mode) == 0o600
    assert "enrolled as" in result.stdout
    return agent


def documents(client: httpx.Client) -> dict[str, dict]:
    rows = client.get("documents/", params={"page_size": 500}).json()["results"]
    return {r["path"]: r for r in rows if not r.get("removed_at")}


def wait_rows(client: httpx.Client, predicate, timeout: float = 60) -> dict[str, dict]:
    """Central's index (path -> row) once ``predicate(rows)`` holds."""
    found: dict = {}

    def check():
        found["rows"] = documents(client)
        return predicate(found["rows"])

    wait_for(check, timeout=timeout)
    return found["rows"]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_enroll_index_follow_changes_restart_and_revoke(web, tmp_path):
    ana = api(web, "ana")
    docs = tmp_path / "docs"
    for n in range(12):
        write_pdf(docs / f"relatorio-{n:02d}.pdf", title=f"Relatório {n}", author="Filial A", pages=1 + n % 3)
    write_pdf(docs / "Relatório Março.pdf", title="Março")
    write_pdf(docs / "sub" / "contrato.pdf", title="Contrato")
    (docs / "falso.pdf").write_bytes(b"PK\x03\x04 a zip named .pdf")
    (docs / "vazio.pdf").write_bytes(b"")
    (docs / "cifrado.pdf").write_bytes(pdf_bytes(password="segredo"))
    (docs / "laco.pdf").symlink_to(docs / "laco.pdf")
    agent = enroll(web, "ana", tmp_path / "home", docs, "Filial A")
    check = agent.cli("check")
    assert check.returncode == 0 and "[ok] token valid" in check.stdout, check.stdout
    agent.start()
    try:
        rows = wait_rows(ana, lambda r: len(r) == 17)
        assert rows["Relatório Março.pdf"]["title"] == "Março"
        assert rows["relatorio-05.pdf"]["pages"] == 3 and rows["relatorio-05.pdf"]["author"] == "Filial A"
        assert rows["relatorio-05.pdf"]["sha256"] == sha((docs / "relatorio-05.pdf").read_bytes())
        assert rows["falso.pdf"]["index_error"].startswith("not_pdf")
        assert rows["vazio.pdf"]["index_error"].startswith("empty")
        assert rows["cifrado.pdf"]["index_error"].startswith("encrypted")
        assert "laco.pdf" not in rows  # skipped with a reason (counted, logged)
        (listed,) = ana.get("agents/").json()["results"]
        assert listed["state"] == "online" and listed["version"] == "0.1.0" and listed["hostname"]
        assert listed["public_ip"] == "127.0.0.1" and listed["local_ips"]
        assert any(e.get("reason") == "symlink_loop" for e in agent.events("skipped"))

        # The index follows the folder.
        write_pdf(docs / "novo.pdf", title="Novo")
        write_pdf(docs / "relatorio-01.pdf", title="Relatório 1 revisto", pages=5)
        os.rename(docs / "relatorio-02.pdf", docs / "sub" / "renomeado.pdf")
        (docs / "relatorio-03.pdf").unlink()

        rows = wait_rows(ana, lambda r: "novo.pdf" in r and r.get("relatorio-01.pdf", {}).get("pages") == 5
                         and "sub/renomeado.pdf" in r and "relatorio-02.pdf" not in r
                         and "relatorio-03.pdf" not in r)
        assert rows["sub/renomeado.pdf"]["title"] == "Relatório 2"

        # The web process goes away (deploy, crash); the agent retries with backoff.
        sent_before = len(agent.events("batch sent"))
        connects_before = len(agent.events("connected"))
        web.stop()
        wait_for(lambda: any(e.get("error") for e in agent.events("disconnected, reconnecting")), timeout=30)
        write_pdf(docs / "durante-a-queda.pdf", title="Offline")
        (docs / "relatorio-04.pdf").unlink()
        web.start()
        ana = api(web, "ana")
        rows = wait_rows(ana, lambda r: "durante-a-queda.pdf" in r and "relatorio-04.pdf" not in r)
        reconnects = agent.events("connected")[connects_before:]
        assert reconnects and all(e["mode"] == "resume" for e in reconnects)
        # Only the difference went over the new connection: two changes, no reset.
        after = agent.events("batch sent")[sent_before:]
        assert sum(e["changes"] for e in after) == 2 and not any(e["reset"] for e in after)
        assert len(rows) == 17  # 17 + novo - relatorio-03 + durante-a-queda - relatorio-04

        # Revoked in Central: the agent stops with a clear message and does not retry.
        agent_id = listed["id"]
        assert ana.post(f"agents/{agent_id}/revoke/").status_code == 200
        assert agent.proc.wait(30) == 3
    finally:
        code = agent.stop()
    assert code == 3
    assert "revoked" in (agent.home / "stderr.log").read_text()
    status = agent.cli("status")
    assert status.returncode == 1 and "stopped" in status.stdout and "revoked" in status.stdout
    check = agent.cli("check")
    assert check.returncode == 1 and "[FAIL] token valid" in check.stdout


class CuttingProxy:
    """A TCP proxy on loopback that cuts (resets) the first upload connection after
    ``cut_after`` bytes of request; WebSocket and other traffic pass untouched."""

    def __init__(self, target_port: int, cut_after: int) -> None:
        self.target_port = target_port
        self.cut_after = cut_after
        self.armed = True
        self.cut_done = threading.Event()
        self.upload_bytes = 0
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()

    async def _handle(self, reader, writer) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return

        async def client_to_server():
            # httpx keeps connections alive: a GET for the offset may come first on the same
            # connection, so the PATCH is looked for in the stream (WebSocket frames from a
            # client are masked and never show it).
            is_upload, seen = False, 0
            marker = P.UPLOAD_METHOD.encode() + b" /"
            while data := await reader.read(65536):
                is_upload = is_upload or marker in data
                if is_upload:
                    self.upload_bytes += len(data)
                    seen += len(data)
                    if self.armed and seen > self.cut_after:
                        # Central gets exactly ``cut_after`` bytes, whatever the size of
                        # this read (up to 64 KiB: under load, cutting at the read's start
                        # left Central short of the first chunk's end, so nothing was
                        # committed to resume from), all of them delivered before the reset.
                        self.armed = False
                        up_writer.write(data[: len(data) - (seen - self.cut_after)])
                        await up_writer.drain()
                        while up_writer.transport.get_write_buffer_size():
                            await asyncio.sleep(0.001)
                        writer.transport.abort()
                        up_writer.transport.abort()
                        self.cut_done.set()
                        return
                up_writer.write(data)
                await up_writer.drain()
            up_writer.close()

        async def server_to_client():
            while data := await up_reader.read(65536):
                writer.write(data)
                await writer.drain()
            writer.close()

        await asyncio.gather(client_to_server(), server_to_client(), return_exceptions=True)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def test_upload_cut_halfway_resumes_and_modified_file_is_not_served_stale(web, tmp_path):
    beto = api(web, "beto")
    docs = tmp_path / "docs"
    big = write_pdf(docs / "grande.pdf", title="Grande", padding=2 * P.CHUNK_SIZE + 123_457)
    contract = write_pdf(docs / "contrato.pdf", title="Contrato v1")
    size = big.stat().st_size
    proxy = CuttingProxy(web.port, cut_after=size // 2)  # halfway: inside the 2nd of 3 framed chunks
    # A long settle: the watcher does not re-index a change before the request arrives.
    agent = enroll(web, "beto", tmp_path / "home", docs, "Filial B", CENTRAL_AGENT_SETTLE="120")
    agent.env["CENTRAL_AGENT_SERVER"] = f"http://127.0.0.1:{proxy.port}"
    agent.start()
    try:
        rows = wait_rows(beto, lambda r: len(r) == 2)
        doc = rows["grande.pdf"]["id"]
        assert beto.post(f"documents/{doc}/request/").status_code == 201
        assert proxy.cut_done.wait(60), json.dumps(agent.log()[-8:], indent=0)
        row = wait_for(lambda: (r := beto.get(f"documents/{doc}/").json())["status"]["state"] == "available"
                       and r, timeout=90)
        got = beto.get(f"documents/{doc}/download/").content
        assert sha(got) == sha(big.read_bytes()) == row["sha256"]
        (resumed,) = agent.events("upload resumed")
        assert 0 < resumed["offset"] < size  # from Central's offset, not from 0
        assert resumed["offset"] % P.CHUNK_SIZE == 0
        # Bytes through the proxy: the file once, plus at most the chunk that was cut (the
        # chunks before it in the same request were committed as they arrived).
        assert proxy.upload_bytes < size + P.CHUNK_SIZE + 64 * 1024

        # Modified after indexing (not yet re-indexed): never served stale.
        old = rows["contrato.pdf"]
        new_bytes = pdf_bytes(title="Contrato v2, assinado", pages=2)
        contract.write_bytes(new_bytes)
        assert beto.post(f"documents/{old['id']}/request/").status_code == 201
        row = wait_for(lambda: (r := beto.get(f"documents/{old['id']}/").json())["status"]["state"]
                       == "available" and r, timeout=60)
        got = beto.get(f"documents/{old['id']}/download/").content
        assert got == new_bytes and sha(got) != old["sha256"]
        stale = agent.events("upload refused: file changed since indexing")
        assert stale and stale[0]["reason"] == "modified"
        wait_for(lambda: documents(beto)["contrato.pdf"]["sha256"] == sha(new_bytes))
        # Tenant A sees none of it.
        assert "contrato.pdf" not in documents(api(web, "ana"))
    finally:
        agent.stop()
        proxy.close()
