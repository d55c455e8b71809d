"""Bench: the agent's chunked, resumable upload vs one plain HTTP PUT of the same file.

A 200 MB file goes over loopback to a server process (uvicorn, as Central's web runs)
that stores the bytes in a file and hashes them, for both paths alike:

* ``PUT /plain/<name>``: the body streamed to disk in one request (the reference);
* the agent's protocol endpoints (``GET``/``PATCH protocol.upload_path(id)``): one streamed
  request of framed chunks of ``protocol.CHUNK_SIZE`` (``protocol.ChunkReader``), each
  chunk's SHA-256 checked and its offset committed as it arrives, the offset enforced and the
  whole file's SHA-256 verified at the end, sent by ``central_agent.uploader.upload``.

Runs are interleaved (plain, agent, plain, agent...) and the median is reported. Then one
upload is cut at 50 % (the server keeps the bytes up to the cut and answers 503, what a
proxy timeout leaves) and the time from the cut to the first byte accepted after it is
reported, with the whole upload's time.

With ``--central`` the agent side is measured end to end against a real ``central web``
(SQLite, the documents app's upload endpoint: per-chunk SHA-256, the partial file, the
whole-file verification, the cache copy): a real ``central-agent`` process indexes the file,
the document is requested through the API, and the time from the request to "available"
is taken; the plain PUT reference is the same minimal server as above, in the same run.
The cut at 50 % is then made by a TCP proxy that resets the upload connection, and the
time from the cut to the agent's "upload resumed" is read from its log.

    .venv/bin/python bench/agent_upload.py [--mb 200] [--runs 3] [--central]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


# --- server (runs in its own process) ------------------------------------------------------


class BenchServer:
    def __init__(self, store: Path) -> None:
        from central_agent import protocol as p

        self.p = p
        self.store = store
        self.transfers: dict[str, dict] = {}

    async def __call__(self, scope, receive, send):
        p = self.p
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        path, method = scope["path"], scope["method"]
        status, answer = 404, {}
        if path.startswith("/plain/") and method == "PUT":
            digest = hashlib.sha256()
            with open(self.store / "plain.bin", "wb") as fh:
                while True:
                    event = await receive()
                    body = event.get("body", b"")
                    fh.write(body)
                    digest.update(body)
                    if not event.get("more_body"):
                        break
            status, answer = 200, {"sha256": digest.hexdigest()}
        elif path.startswith(p.API_ROOT + "agent/uploads/") and method == p.UPLOAD_METHOD:
            tr = self.transfers[path.rstrip("/").rsplit("/", 1)[-1]]
            status, answer = await self._chunk(tr, headers, receive)
        else:
            body = bytearray()
            while True:
                event = await receive()
                body += event.get("body", b"")
                if not event.get("more_body"):
                    break
            if path == "/bench/transfer":
                spec = json.loads(body)
                tid = secrets.token_hex(6)
                self.transfers[tid] = {**spec, "offset": 0, "digest": hashlib.sha256(), "state": "receiving",
                                       "accepted": [], "id_file": tid}
                (self.store / tid).write_bytes(b"")
                status, answer = 200, {"transfer_id": tid}
            elif path.startswith("/bench/log/"):
                status, answer = 200, self.transfers[path.rsplit("/", 1)[-1]]["accepted"]
            elif path.startswith(p.API_ROOT + "agent/uploads/"):
                tr = self.transfers[path.rstrip("/").rsplit("/", 1)[-1]]
                status, answer = 200, self._status(tr)
        payload = json.dumps(answer).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": payload})

    def _status(self, tr):
        return {"offset": tr["offset"], "size": tr["size"], "state": tr["state"]}

    async def _chunk(self, tr, headers, receive):
        """Read the framed chunks as they stream in (``protocol.ChunkReader``), check each
        one's SHA-256, append it and commit the offset, keeping a running whole-file digest,
        as Central's endpoint does; at the cut the connection "drops" and what arrived of
        the chunk in flight is discarded (committed chunks stay)."""
        p = self.p
        offset = int(headers[p.HEADER_OFFSET.lower()])
        if offset != tr["offset"]:
            return p.UPLOAD_OFFSET_MISMATCH, self._status(tr)
        reader = p.ChunkReader()
        arrived, cut = 0, tr.get("cut")
        with open(self.store / tr["id_file"], "ab") as fh:
            while True:
                event = await receive()
                piece = event.get("body", b"")
                arrived += len(piece)
                if cut is not None and offset + arrived > cut:
                    tr["cut"] = None
                    tr["accepted"].append([time.time(), tr["offset"], 0, True])
                    return 503, {}
                for digest, data in reader.feed(piece):
                    if hashlib.sha256(data).hexdigest() != digest:
                        return p.UPLOAD_CHUNK_CORRUPT, self._status(tr)
                    fh.write(data)
                    tr["digest"].update(data)
                    tr["accepted"].append([time.time(), tr["offset"], len(data), False])
                    tr["offset"] += len(data)
                if not event.get("more_body"):
                    break
        if tr["offset"] == tr["size"]:
            tr["state"] = "complete" if tr["digest"].hexdigest() == tr["sha256"] else "rejected"
        return p.UPLOAD_OK, self._status(tr)


def serve(fd: int, store: str) -> None:
    """Serve on the listening socket inherited from the bench (no start-up race)."""
    import uvicorn

    uvicorn.run(BenchServer(Path(store)), fd=fd, log_level="warning", lifespan="off")


# --- client --------------------------------------------------------------------------------


async def plain_put(client, url: str, path: Path) -> float:
    async def chunks():
        with open(path, "rb") as fh:
            while data := await asyncio.to_thread(fh.read, 1 << 20):
                yield data

    t0 = time.perf_counter()
    response = await client.put(url, content=chunks())
    response.raise_for_status()
    return time.perf_counter() - t0


async def agent_upload(client, base: str, path: Path, sha: str, cut: int | None = None):
    from central_agent.indexer import stat_signature
    from central_agent.uploader import upload

    size = path.stat().st_size
    r = await client.post(base + "/bench/transfer", json={"sha256": sha, "size": size, "cut": cut})
    tid = r.json()["transfer_id"]
    t0 = time.perf_counter()
    result = await upload(client, base, "bench-token", tid, str(path), size, stat_signature(str(path)))
    elapsed = time.perf_counter() - t0
    assert result.state == "complete", result
    log = (await client.get(base + f"/bench/log/{tid}")).json()
    return elapsed, log


async def run(args) -> None:
    import httpx

    work = Path(tempfile.mkdtemp(prefix="bench-agent-upload-"))
    (work / "srv").mkdir()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(listener.fileno()), str(work / "srv")],
                              pass_fds=[listener.fileno()])
    listener.close()
    try:
        path = work / "grande.pdf"
        digest = hashlib.sha256()
        with open(path, "wb") as fh:
            head = b"%PDF-1.7\n"
            fh.write(head)
            digest.update(head)
            for _ in range(args.mb):
                block = os.urandom(1 << 20)
                fh.write(block)
                digest.update(block)
        sha = digest.hexdigest()
        size = path.stat().st_size
        base = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(timeout=120) as client:
            plain, chunked = [], []
            for _ in range(args.runs):
                plain.append(await plain_put(client, base + "/plain/x", path))
                chunked.append((await agent_upload(client, base, path, sha))[0])
            mb = size / 1e6
            p_med, c_med = statistics.median(plain), statistics.median(chunked)
            print(f"file {mb:.0f} MB over loopback, {args.runs} interleaved runs each, load average "
                  f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
            print(f"plain PUT:       median {p_med:.2f} s = {mb / p_med:.0f} MB/s  (runs: "
                  f"{', '.join(f'{x:.2f}' for x in plain)})")
            print(f"agent upload:    median {c_med:.2f} s = {mb / c_med:.0f} MB/s  (runs: "
                  f"{', '.join(f'{x:.2f}' for x in chunked)})  = {100 * p_med / c_med:.0f} % of plain PUT")
            cut = size // 2
            resumed: list[logging.LogRecord] = []
            handler = logging.Handler()
            handler.emit = lambda r: resumed.append(r) if r.getMessage() == "upload resumed" else None
            logging.getLogger("central_agent.upload").addHandler(handler)
            logging.getLogger("central_agent.upload").setLevel(logging.INFO)
            t_start = time.time()
            elapsed, log = await agent_upload(client, base, path, sha, cut=cut)
            cut_at = next(t for t, _off, _n, failed in log if failed)
            (record,) = resumed
            print(f"cut at 50 % (the chunk in flight is lost, as in Central): the agent resumed from "
                  f"Central's offset {record.offset} ({100 * record.offset / size:.0f} %) "
                  f"{record.created - cut_at:.2f} s after the cut (backoff, then GET offset); whole upload "
                  f"{elapsed:.2f} s ({t_start + elapsed - cut_at:.2f} s of it after the cut)")
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(work, ignore_errors=True)


def make_file(path: Path, mb: int) -> str:
    digest = hashlib.sha256()
    with open(path, "wb") as fh:
        for block in [b"%PDF-1.7\n"] + [os.urandom(1 << 20) for _ in range(mb)]:
            fh.write(block)
            digest.update(block)
    return digest.hexdigest()


def start_plain_server(store: Path) -> tuple[subprocess.Popen, int]:
    store.mkdir(parents=True, exist_ok=True)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(listener.fileno()), str(store)],
                            pass_fds=[listener.fileno()])
    listener.close()
    return proc, port


def run_central_mode(args) -> None:
    import httpx
    from tests.agent.test_e2e_agent import (
        AgentProcess,
        CuttingProxy,
        Web,
        api,
        documents,
        enroll,
        wait_for,
    )

    work = Path(tempfile.mkdtemp(prefix="bench-agent-central-"))
    web = Web(work / "central")
    plain_proc, plain_port = start_plain_server(work / "plain")
    agents = []
    try:
        docs = work / "docs"
        docs.mkdir()
        path = docs / "grande.pdf"
        from tests.agent.pdfs import pdf_bytes  # a valid PDF: Central does not serve broken ones

        data = pdf_bytes(title="Grande", padding=args.mb * 1024 * 1024)
        path.write_bytes(data)
        sha = hashlib.sha256(data).hexdigest()
        del data
        size = path.stat().st_size
        ana = api(web, "ana")

        def fresh_agent(name: str, server: str | None = None) -> tuple[AgentProcess, int]:
            """A new agent (nothing cached) on its own folder: the file hard-linked as <name>.pdf."""
            folder = work / f"docs-{name}"
            folder.mkdir()
            os.link(path, folder / f"{name}.pdf")
            agent = enroll(web, "ana", work / f"home-{name}", folder, name)
            if server:
                agent.env["CENTRAL_AGENT_SERVER"] = server
            agent.start()
            agents.append(agent)
            row = wait_for(lambda: documents(ana).get(f"{name}.pdf"), timeout=300)
            assert row["sha256"] == sha
            return agent, row["id"]

        def request_and_wait(doc: int) -> float:
            t0 = time.perf_counter()
            answer = ana.post(f"documents/{doc}/request/")
            assert answer.status_code == 201, answer.text
            wait_for(lambda: ana.get(f"documents/{doc}/").json()["status"]["state"] == "available", timeout=600)
            return time.perf_counter() - t0

        plain, central = [], []
        for n in range(args.runs):
            with httpx.Client(timeout=300) as client, open(path, "rb") as fh:
                t0 = time.perf_counter()
                client.put(f"http://127.0.0.1:{plain_port}/plain/x",
                           content=iter(lambda fh=fh: fh.read(1 << 20), b""))
                plain.append(time.perf_counter() - t0)
            agent, doc = fresh_agent(f"run{n}")  # a new agent each run: nothing cached
            central.append(request_and_wait(doc))
            agent.stop()
        mb = size / 1e6
        p_med, c_med = statistics.median(plain), statistics.median(central)
        print(f"file {mb:.0f} MB over loopback, {args.runs} interleaved runs, load average "
              f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        print(f"plain PUT (minimal server): median {p_med:.2f} s = {mb / p_med:.0f} MB/s")
        print(f"central-agent -> central web, request to available: median {c_med:.2f} s = "
              f"{mb / c_med:.0f} MB/s = {100 * p_med / c_med:.0f} % of plain PUT  (runs: "
              f"{', '.join(f'{x:.2f}' for x in central)})")

        proxy = CuttingProxy(web.port, cut_after=size // 2)
        agent, doc = fresh_agent("cut", server=f"http://127.0.0.1:{proxy.port}")
        t0 = time.perf_counter()
        assert ana.post(f"documents/{doc}/request/").status_code == 201
        assert proxy.cut_done.wait(600)
        cut_at = time.time()
        wait_for(lambda: ana.get(f"documents/{doc}/").json()["status"]["state"] == "available", timeout=600)
        total = time.perf_counter() - t0
        (resumed,) = agent.events("upload resumed")
        from datetime import datetime

        resumed_at = datetime.fromisoformat(resumed["time"].replace("Z", "+00:00")).timestamp()
        print(f"cut at 50 % by a TCP reset: resumed at offset {resumed['offset']} "
              f"({100 * resumed['offset'] / size:.0f} %) {resumed_at - cut_at:.2f} s after the cut; "
              f"request to available {total:.2f} s; bytes through the proxy {proxy.upload_bytes / size:.2f}x the file")
        proxy.close()
    finally:
        for agent in agents:
            agent.stop()
        web.stop()
        plain_proc.terminate()
        plain_proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), sys.argv[3])
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--central", action="store_true", help="against a real central web")
    args = parser.parse_args()
    if args.central:
        run_central_mode(args)
    else:
        asyncio.run(run(args))


if __name__ == "__main__":
    main()
