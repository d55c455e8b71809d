"""Central's side of the site agent against a real ``central web`` over real sockets:
enrollment, the ``/ws/agent/`` socket, index batches, chunked uploads, requests that wait
for an offline agent, revocation, two agents at once and tenant isolation.

The agent side is the protocol-only client in ``agentclient.py`` (every byte chosen by the
test); the real agent process is driven in tests/agent/.
"""

from __future__ import annotations

import hashlib
import json
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from central_agent import protocol as P
from tests.documents.agentclient import SiteAgent, enroll
from tests.support import until


def api(web, username: str) -> httpx.Client:
    token = httpx.post(web.url + "/api/v1/auth/token/",
                       json={"username": username, "password": "senha-forte-123"}).json()["access"]
    return httpx.Client(base_url=web.url + "/api/v1/documents/", timeout=20,
                        headers={"Authorization": f"Bearer {token}"})


def new_agent(web, user: str, name: str = "Matriz") -> SiteAgent:
    code = api(web, user).post("enrollment-codes/", json={"agent_name": name}).json()["code"]
    enrolled = enroll(web.url, code)
    return SiteAgent(web.url, enrolled.token, index_id=f"idx-{enrolled.agent_id}")


def wait_for(fn, timeout: float = 20.0):
    """Poll a condition read from the server (its API) until it holds."""
    return until(fn, timeout, "the server's state", interval=0.05)


def pdf_bytes(n: int, seed: str) -> bytes:
    body = hashlib.sha256(seed.encode()).digest() * (n // 32 + 1)
    return (b"%PDF-1.4\n" + body)[:n]


def doc_id(client: httpx.Client, name: str) -> int:
    rows = client.get("documents/", params={"search": name}).json()["results"]
    assert len(rows) == 1, rows
    return rows[0]["id"]


def test_enroll_index_request_upload_and_download(web):
    ana = api(web, "ana")
    agent = new_agent(web, "ana")
    welcome = agent.connect()
    assert welcome.index_id is None and welcome.last_seq == 0

    data = pdf_bytes(300_000, "relatorio")
    changes = [agent.add("Relatório Março.pdf", data, title="Relatório", pages=3, created="2026-03-01T10:00:00Z"),
               agent.add("sub/vazio.pdf", b"", folder="docs")]
    changes[1] = P.Change(op="added", folder="docs", path="sub/vazio.pdf",
                          entry=P.Entry(size=0, mtime=time.time(), sha256=None, error="empty"))
    assert isinstance(agent.send_batch(changes, reset=True), P.IndexAck)
    # The same batch again (the ack was lost): acknowledged, not applied twice.
    assert isinstance(agent.send_batch(changes, reset=True, seq=agent.seq), P.IndexAck)
    # A gap asks for a full resync.
    resync = agent.send_batch([agent.add("x.pdf", b"%PDF-x")], seq=agent.seq + 5)
    assert isinstance(resync, P.Resync) and resync.reason == "seq_gap"

    rows = {r["path"]: r for r in ana.get("documents/").json()["results"]}
    assert set(rows) == {"Relatório Março.pdf", "sub/vazio.pdf"}
    assert rows["sub/vazio.pdf"]["index_error"] == "empty"
    assert rows["Relatório Março.pdf"]["pages"] == 3
    assert rows["Relatório Março.pdf"]["status"]["state"] == "site"
    assert ana.get("documents/", params={"pages_min": 2}).json()["count"] == 1

    listed = ana.get("agents/").json()["results"][0]
    assert listed["state"] == "online" and listed["public_ip"] == "127.0.0.1"
    assert listed["version"] == "test-1" and listed["local_ips"] == ["192.168.0.10"]

    doc = rows["Relatório Março.pdf"]["id"]
    # An index entry with an error cannot be requested (400, never a 500).
    assert ana.post(f"documents/{rows['sub/vazio.pdf']['id']}/request/").status_code == 400
    created = ana.post(f"documents/{doc}/request/")
    assert created.status_code == 201 and created.json()["state"] == "requested"
    order = agent.expect(P.UploadRequest)
    assert order.sha256 == hashlib.sha256(data).hexdigest() and order.path == "Relatório Março.pdf"

    done = agent.upload(order, chunk_size=100_000)
    assert done.json()["state"] == "complete"
    row = ana.get(f"documents/{doc}/").json()
    assert row["status"]["state"] == "available" and row["status"]["available_until"]

    download = ana.get(f"documents/{doc}/download/")
    assert download.status_code == 200
    assert hashlib.sha256(download.content).hexdigest() == order.sha256
    assert download.headers["content-type"] == "application/pdf"
    audit = ana.get("downloads/").json()["results"]
    assert audit[0]["document"] == doc and audit[0]["username"] == "ana"
    # Asking again is a cache hit: no new order to the agent, available at once.
    again = ana.post(f"documents/{doc}/request/")
    assert again.status_code == 200 and again.json()["from_cache"] is True
    metrics = httpx.get(web.url + "/metrics").text
    assert 'central_documents_agents_online{organization="loja-a"}' in metrics
    assert 'central_documents_requests_total{cache="hit"}' in metrics
    agent.close()


def test_tampered_upload_is_rejected_and_requested_once_more(web):
    ana = api(web, "ana")
    agent = new_agent(web, "ana", "Filial")
    agent.connect()
    data = pdf_bytes(50_000, "contrato")
    agent.send_batch([agent.add("contrato.pdf", data)], reset=True)
    doc = doc_id(ana, "contrato")
    ana.post(f"documents/{doc}/request/")
    order = agent.expect(P.UploadRequest)
    # A chunk whose bytes do not match its own checksum: 422 with Central's offset; the good
    # chunk before it in the same request is kept, the bad one and what follows are not.
    bad = agent.put_chunks(order.transfer_id, 0, [data[:1000], data[1000:2000], data[2000:3000]], len(data),
                           [None, "0" * 64, None])
    assert bad.status_code == P.UPLOAD_CHUNK_CORRUPT and bad.json()["offset"] == 1000
    assert agent.status(order.transfer_id).json()["offset"] == 1000

    tampered = bytearray(data)
    tampered[-10] ^= 0xFF
    first = agent.upload(order, bytes(tampered))
    assert first.json()["state"] == "rejected"
    again = agent.expect(P.UploadRequest, transfer_id=order.transfer_id)
    tr = ana.get(f"requests/{order.transfer_id}/").json()
    assert tr["state"] == "requested" and "SHA-256" in tr["last_failure"] and tr["attempts"] == 1
    second = agent.upload(again, bytes(tampered))
    assert second.json()["state"] == "rejected"
    tr = ana.get(f"requests/{order.transfer_id}/").json()
    assert tr["state"] == "failed" and "SHA-256" in tr["failure"]
    assert ana.get(f"documents/{doc}/").json()["status"]["label"].startswith("falhou: ")
    assert ana.get(f"documents/{doc}/download/").status_code == 404
    # The failed transfer takes no more bytes.
    assert agent.put_chunk(order.transfer_id, 0, data[:10], len(data)).status_code == P.UPLOAD_GONE
    agent.close()


def test_upload_resumes_from_the_offset_after_a_cut(web):
    ana = api(web, "ana")
    agent = new_agent(web, "ana", "Resume")
    agent.connect()
    data = pdf_bytes(400_000, "grande")
    agent.send_batch([agent.add("grande.pdf", data)], reset=True)
    ana.post(f"documents/{doc_id(ana, 'grande')}/request/")
    order = agent.expect(P.UploadRequest)
    # One request announcing the whole file; the connection drops inside the fifth chunk:
    # the four chunks that arrived whole were committed as they came.
    agent.upload(order, chunk_size=50_000, stop_at=200_000)
    status = wait_for(lambda: (s := P.UploadStatus.from_dict(agent.status(order.transfer_id).json())).offset
                      == 200_000 and s)
    assert status.state == "receiving"
    tr = ana.get(f"requests/{order.transfer_id}/").json()
    assert tr["state"] == "uploading" and tr["percent"] == 50
    # A chunk from the wrong place: 409 with Central's offset.
    wrong = agent.put_chunk(order.transfer_id, 0, data[:1000], len(data))
    assert wrong.status_code == P.UPLOAD_OFFSET_MISMATCH and wrong.json()["offset"] == 200_000
    # The last chunk again (its answer was lost): acknowledged without being written twice.
    repeat = agent.put_chunk(order.transfer_id, 150_000, data[150_000:200_000], len(data))
    assert repeat.status_code == P.UPLOAD_OFFSET_MISMATCH and repeat.json()["offset"] == 200_000
    done = agent.upload(order, chunk_size=50_000)
    assert done.json()["state"] == "complete"
    got = ana.get(f"documents/{doc_id(ana, 'grande')}/download/").content
    assert got == data
    agent.close()


def test_request_while_offline_waits_and_completes_after_reconnect(web):
    ana = api(web, "ana")
    agent = new_agent(web, "ana", "Noturno")
    agent.connect()
    data = pdf_bytes(20_000, "noite")
    agent.send_batch([agent.add("noite.pdf", data)], reset=True)
    agent_id = int(agent.welcome.agent_id)
    agent.close()
    wait_for(lambda: ana.get(f"agents/{agent_id}/").json()["state"] == "offline")
    doc = doc_id(ana, "noite")
    waiting = ana.post(f"documents/{doc}/request/").json()
    assert waiting["state"] == "waiting"
    assert ana.get(f"documents/{doc}/").json()["status"]["label"] == "aguardando o agente"

    welcome = agent.connect()  # reconnects: Central holds its index and asks for the file
    assert welcome.index_id == agent.index_id and welcome.last_seq == agent.seq
    order = agent.expect(P.UploadRequest)
    assert order.transfer_id == str(waiting["id"])
    assert agent.upload(order).json()["state"] == "complete"
    assert ana.get(f"requests/{waiting['id']}/").json()["state"] == "available"
    agent.close()


def test_two_agents_of_one_tenant_and_no_agent_reaches_another_tenant(web):
    ana, beto = api(web, "ana"), api(web, "beto")
    one, two = new_agent(web, "ana", "Um"), new_agent(web, "ana", "Dois")
    foreign = new_agent(web, "beto", "Outra empresa")
    for a in (one, two, foreign):
        a.connect()
    d1, d2 = pdf_bytes(10_000, "um"), pdf_bytes(10_000, "dois")
    one.send_batch([one.add("um.pdf", d1)], reset=True)
    two.send_batch([two.add("dois.pdf", d2)], reset=True)
    foreign.send_batch([foreign.add("alheio.pdf", pdf_bytes(100, "b"))], reset=True)
    states = {r["name"]: r["state"] for r in ana.get("agents/").json()["results"]}
    assert states["Um"] == states["Dois"] == "online"

    ana.post(f"documents/{doc_id(ana, 'um.pdf')}/request/")
    ana.post(f"documents/{doc_id(ana, 'dois.pdf')}/request/")
    o1, o2 = one.expect(P.UploadRequest), two.expect(P.UploadRequest)
    assert (o1.path, o2.path) == ("um.pdf", "dois.pdf")
    # Another agent, of the same tenant or not, cannot read or upload into a transfer.
    for intruder in (two, foreign):
        assert intruder.status(o1.transfer_id).status_code == P.UPLOAD_GONE
        assert intruder.put_chunk(o1.transfer_id, 0, d1, len(d1)).status_code == P.UPLOAD_GONE
    assert one.upload(o1).json()["state"] == "complete"
    assert two.upload(o2).json()["state"] == "complete"

    # B's user sees none of A's agents or documents; naming them is a 404.
    assert {r["name"] for r in beto.get("agents/").json()["results"]} == {"Outra empresa"}
    assert [r["name"] for r in beto.get("documents/").json()["results"]] == ["alheio.pdf"]
    a_doc = doc_id(ana, "um.pdf")
    assert beto.get(f"documents/{a_doc}/").status_code == 404
    assert beto.post(f"documents/{a_doc}/request/").status_code == 404
    assert beto.get(f"documents/{a_doc}/download/").status_code == 404
    # B's agent indexing a path A has changes nothing of A's.
    foreign.send_batch([foreign.add("um.pdf", b"%PDF-outro")])
    assert ana.get(f"documents/{a_doc}/").json()["sha256"] == hashlib.sha256(d1).hexdigest()
    for a in (one, two, foreign):
        a.close()


def test_revoked_token_closes_the_socket_and_a_second_socket_replaces_the_first(web):
    ana = api(web, "ana")
    agent = new_agent(web, "ana", "Revogar")
    agent.connect()
    agent_id = agent.welcome.agent_id
    twin = SiteAgent(web.url, agent.token, index_id=agent.index_id)
    twin.connect()
    assert agent.closed_code() == P.CLOSE_REPLACED
    assert ana.get(f"agents/{agent_id}/").json()["state"] == "online"  # the new socket speaks

    assert httpx.get(web.url + P.WHOAMI_PATH, headers=twin.headers).json()["agent_id"] == agent_id
    assert ana.post(f"agents/{agent_id}/revoke/").status_code == 200
    assert twin.closed_code() == P.CLOSE_TOKEN_INVALID
    wait_for(lambda: ana.get(f"agents/{agent_id}/").json()["state"] == "offline")
    assert httpx.get(web.url + P.WHOAMI_PATH, headers=twin.headers).status_code == 401
    twin.ws = connect(web.url.replace("http", "ws") + P.WS_PATH, additional_headers=twin.headers)
    assert twin.closed_code() == P.CLOSE_TOKEN_INVALID  # no Welcome, and the agent knows to stop


def test_bad_input_is_bounded(web):
    agent = new_agent(web, "ana", "Ruim")
    # An enrollment code works once.
    code = api(web, "ana").post("enrollment-codes/", json={"agent_name": "x"}).json()["code"]
    enroll(web.url, code)
    again = httpx.post(web.url + P.ENROLL_PATH, json=P.EnrollRequest(code=code, hostname="h", os="o",
                                                                        version="v").to_dict())
    assert again.status_code == 400 and again.json()["error"] == "invalid_code"
    assert httpx.post(web.url + P.ENROLL_PATH, json={"code": ["x"]}).status_code == 400
    # No token, a bad token: the socket closes with the token code, before any hello.
    ws = connect(web.url.replace("http", "ws") + P.WS_PATH, additional_headers={P.AUTH_HEADER: "Agent nope"})
    with pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=10)
    assert closed.value.rcvd.code == P.CLOSE_TOKEN_INVALID
    # A browser-style socket without the token is refused the same way.
    ws = connect(web.url.replace("http", "ws") + P.WS_PATH)
    with pytest.raises(ConnectionClosed) as closed:
        ws.recv(timeout=10)
    assert closed.value.rcvd.code == P.CLOSE_TOKEN_INVALID
    # Garbage and JSON nested 100,000 deep: protocol error, the server lives on.
    for frame in ("not json", "[" * 100_000, json.dumps({"type": "hello", "protocol": "x"})):
        agent.ws = connect(web.url.replace("http", "ws") + P.WS_PATH, additional_headers=agent.headers)
        agent.ws.send(frame)
        assert agent.closed_code() == P.CLOSE_PROTOCOL_ERROR
    agent.connect()
    # A path escaping its folder is a protocol error too.
    agent.ws.send(json.dumps({"type": "index_batch", "index_id": "i", "seq": 1, "reset": True, "changes": [
        {"op": "deleted", "folder": "docs", "path": "../../etc/passwd"}]}))
    assert agent.closed_code() == P.CLOSE_PROTOCOL_ERROR
    # Upload bodies: missing headers 400; a frame announcing more than MAX_CHUNK_SIZE 413
    # before its data is kept; a body ending inside a frame 400.
    assert httpx.patch(web.url + P.upload_path("1"), headers=agent.headers, content=b"x").status_code in {400, 410}
    ana = api(web, "ana")
    agent.connect()
    data = pdf_bytes(10_000, "limites")
    agent.send_batch([agent.add("limites.pdf", data)], reset=True)
    ana.post(f"documents/{doc_id(ana, 'limites')}/request/")
    order = agent.expect(P.UploadRequest)
    big = httpx.patch(agent.upload_url(order.transfer_id),
                      content=(P.MAX_CHUNK_SIZE + 1).to_bytes(8, "big") + bytes(32) + b"x" * 1000,
                      headers=agent._upload_headers(0, len(data)))
    assert big.status_code == P.UPLOAD_TOO_LARGE
    torn = httpx.patch(agent.upload_url(order.transfer_id), content=agent.frames([data[:100]])[:-1],
                       headers=agent._upload_headers(0, len(data)))
    assert torn.status_code == P.UPLOAD_BAD_FRAME and torn.json()["offset"] == 0
    assert httpx.patch(web.url + P.upload_path("1"), content=b"x").status_code == 401
    assert httpx.get(web.url + "/health").status_code == 200
    with pytest.raises(InvalidStatus):  # the browser socket still needs its session
        connect(web.url.replace("http", "ws") + "/ws/live/", additional_headers={"Origin": web.url}).recv(5)


def test_a_silent_agent_is_closed_and_marked_offline(web):
    """Three missed heartbeats (the interval the agent announced, here 1 s) close the socket
    and mark the agent offline; the agent reconnects as after any drop."""
    ana = api(web, "ana")
    agent = new_agent(web, "ana", "Silencioso")
    agent.connect(heartbeat=1.0)
    agent_id = agent.welcome.agent_id
    started = time.monotonic()
    assert agent.closed_code(timeout=15) == P.CLOSE_GOING_AWAY  # not fatal: the agent reconnects
    # Three intervals of 1 s, not the hello deadline first (that cost 10 s more before).
    assert 2.5 <= time.monotonic() - started < P.HELLO_TIMEOUT
    assert not P.close_is_fatal(P.CLOSE_GOING_AWAY)
    wait_for(lambda: ana.get(f"agents/{agent_id}/").json()["state"] == "offline")
    assert ana.get(f"agents/{agent_id}/").json()["offline_since"]
