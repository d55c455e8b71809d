"""End to end over real HTTP: ``central up`` with the Cloud API simulator it starts.

The customers' phones (the simulator) send signed webhooks to Central's webhook; the
agents use the REST API; the sender sends to the simulator's Graph API, which answers like
Meta (limits, errors) and sends the statuses back. One ``central up --no-simulator`` (no
PBX) per module; every wait below polls an observable condition with a deadline.
"""

from __future__ import annotations

import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from central.messaging.pacer import BACKOFF_MAX
from tests.support import free_port, migrated_env, start_central, until

ORG = "clinica-bem-estar"  # central.core.demo: the demo organization of kind clinic
RECIPIENT_INTERVAL = 0.5  # scaled down from Meta's 6 s so the test takes seconds
RECIPIENT_BURST = 3


@pytest.fixture(scope="module")
def wa(tmp_path_factory):
    base = tmp_path_factory.mktemp("wa-up")
    port, sim_port = free_port(), free_port()
    token = secrets.token_urlsafe(16)
    # The clinic assistant (central.assistant) would answer first: these tests are about the channel.
    env = migrated_env(base / "data", CENTRAL_DEMO_CALLS="0", CENTRAL_DEMO_VISITS="0", CENTRAL_ASSISTANT="off",
                       CENTRAL_WHATSAPP_SIMULATOR_PORT=str(sim_port), CENTRAL_WHATSAPP_SIMULATOR_TOKEN=token,
                       CENTRAL_RATE_API="1000000/min,10000000/hour",
                       CENTRAL_WHATSAPP_RECIPIENT_INTERVAL=str(RECIPIENT_INTERVAL),
                       CENTRAL_WHATSAPP_RECIPIENT_BURST=str(RECIPIENT_BURST))
    proc = start_central(["up", "--no-simulator", "--port", str(port)], env, port, base / "up.log", wait=120)
    try:
        user, password = proc.creds
        access = httpx.post(f"{proc.url}/api/v1/auth/token/", json={"username": user, "password": password},
                            timeout=10).json()["access"]
        api = httpx.Client(base_url=f"{proc.url}/api/v1/messaging",
                           headers={"Authorization": f"Bearer {access}", "X-Organization": ORG}, timeout=30)
        sim = httpx.Client(base_url=f"http://127.0.0.1:{sim_port}", headers={"X-Sim-Token": token}, timeout=30)
        # The simulated platform allows a little more than Central's pacer uses, as Meta does
        # (its pair limit allows bursts of 45; the pacer's burst is 3).
        sim.post("/_sim/config", json={"delay_sent": 0.02, "delay_delivered": 0.05, "delay_read": 0.1,
                                       "pair_burst": RECIPIENT_BURST + 1, "pair_interval": RECIPIENT_INTERVAL})
        yield {"api": api, "sim": sim, "proc": proc}
    finally:
        proc.stop()


def conversation_of(api, wa_id: str):
    rows = api.get("/conversations/", params={"q": wa_id}).json()["results"]
    return next((c for c in rows if c["contact"]["wa_id"] == wa_id), None)


def test_customer_message_reaches_the_inbox_and_the_reply_gets_its_ticks(wa):
    api, sim = wa["api"], wa["sim"]
    wa_id = "5511987650001"
    started = time.monotonic()
    sim.post("/_sim/customer", json={"wa_id": wa_id, "text": "Olá, quero marcar uma consulta", "name": "Maria"})
    conv = until(lambda: conversation_of(api, wa_id), what="the conversation in the inbox")
    latency = time.monotonic() - started
    assert conv["contact"]["name"] == "Maria" and conv["contact"]["phone"] == "+5511987650001"
    assert conv["state"] == "pending" and conv["unread_count"] == 1 and conv["window_open"]
    assert latency < 10
    r = api.post(f"/conversations/{conv['id']}/send/", json={"type": "text", "text": "Olá Maria! Qual dia?"})
    assert r.status_code == 201, r.text
    message_id = r.json()["id"]
    got = until(lambda: sim.get("/_sim/sent", params={"wa_id": wa_id}).json()["sent"], what="the phone")
    assert got[0]["payload"]["text"]["body"] == "Olá Maria! Qual dia?"

    def status():
        msgs = api.get(f"/conversations/{conv['id']}/messages/").json()["results"]
        return next(m for m in msgs if m["id"] == message_id)

    final = until(lambda: (m := status())["status"] == "read" and m, what="the read tick")
    assert final["wamid"] == got[0]["wamid"] and final["delivered_at"] and final["read_at"]
    conv = api.get(f"/conversations/{conv['id']}/").json()
    assert conv["state"] == "open" and conv["first_response_at"]


def test_buttons_and_list_replies_and_template_quick_reply_opt_out(wa):
    api, sim = wa["api"], wa["sim"]
    wa_id = "5511987650002"
    sim.post("/_sim/customer", json={"wa_id": wa_id, "text": "Oi"})
    conv = until(lambda: conversation_of(api, wa_id), what="conversation")
    r = api.post(f"/conversations/{conv['id']}/send/", json={
        "type": "buttons", "text": "Confirma a consulta?", "buttons": [{"id": "sim", "title": "Sim"},
                                                                       {"id": "nao", "title": "Não"}]})
    assert r.status_code == 201
    sent = until(lambda: sim.get("/_sim/sent", params={"wa_id": wa_id}).json()["sent"], what="buttons")
    sim.post("/_sim/customer", json={"type": "button", "wa_id": wa_id, "id": "sim", "title": "Sim",
                                     "context": sent[0]["wamid"]})
    sim.post("/_sim/customer", json={"type": "list", "wa_id": wa_id, "id": "h9", "title": "09:00",
                                     "description": "Dra. Ana"})

    def thread():
        return api.get(f"/conversations/{conv['id']}/messages/").json()["results"]

    msgs = until(lambda: (t := thread()) and len([m for m in t if m["direction"] == "in"]) == 3 and t,
                 what="the replies")
    replies = [m for m in msgs if m["direction"] == "in"][1:]
    assert [(m["kind"], m["body"]) for m in replies] == [("interactive", "Sim"), ("interactive", "09:00")]
    assert replies[0]["context_wamid"] == sent[0]["wamid"]
    # Opting out with the words the customer types: recorded, confirmation only, then refused.
    sim.post("/_sim/customer", json={"wa_id": wa_id, "text": "PARAR"})
    until(lambda: api.get(f"/contacts/{conv['contact']['id']}/").json()["opted_out"], what="the opt-out")
    r = api.post(f"/conversations/{conv['id']}/send/", json={"type": "text", "text": "Promoção!"})
    assert r.status_code == 409 and r.json()["error"]["code"] == "opted_out"


def test_image_metadata_stored_and_bytes_fetched_on_demand(wa):
    """The media URL flow through the simulator: GET /<media id> for a URL, then that URL
    with the token; the URL is on the simulator, the one loopback address Central trusts."""
    import base64

    api, sim = wa["api"], wa["sim"]
    wa_id = "5511987650004"
    picture = bytes(range(256)) * 40
    sim.post("/_sim/customer", json={"type": "image", "wa_id": wa_id, "data": base64.b64encode(picture).decode(),
                                     "mime_type": "image/png", "caption": "Pedido médico"})
    conv = until(lambda: conversation_of(api, wa_id), what="conversation")
    msg = api.get(f"/conversations/{conv['id']}/messages/").json()["results"][0]
    assert msg["kind"] == "image" and msg["has_media"] and msg["body"] == "Pedido médico"
    assert msg["media"]["mime_type"] == "image/png" and msg["media"]["sha256"]
    media = api.get(f"/messages/{msg['id']}/media/")
    assert media.status_code == 200 and media.content == picture
    assert media.headers["content-type"] == "image/png"


def test_duplicates_and_out_of_order_through_the_simulator(wa):
    api, sim = wa["api"], wa["sim"]
    sim.post("/_sim/config", json={"duplicate_rate": 1.0, "out_of_order": True})
    try:
        wa_id = "5511987650003"
        for i in range(5):
            sim.post("/_sim/customer", json={"wa_id": wa_id, "text": f"mensagem {i}"})
        conv = until(lambda: (c := conversation_of(api, wa_id)) and c["unread_count"] == 5 and c,
                     what="five messages")
        r = api.post(f"/conversations/{conv['id']}/send/", json={"type": "text", "text": "Recebido!"})
        mid = r.json()["id"]

        def final():
            msgs = api.get(f"/conversations/{conv['id']}/messages/").json()["results"]
            return msgs, next(m for m in msgs if m["id"] == mid)

        msgs, out = until(lambda: (x := final())[1]["status"] == "read" and x, what="read despite the order")
        assert len([m for m in msgs if m["direction"] == "in"]) == 5  # each delivered twice, stored once
        # Every status arrived twice and out of order; it still ends "read" and stays there.
        stats = sim.get("/_sim/stats").json()
        assert stats["delivery_failures"] == 0
    finally:
        sim.post("/_sim/config", json={"duplicate_rate": 0.0, "out_of_order": False})


def test_rate_limits_200_to_one_number_and_10_to_one_recipient(wa):
    api, sim = wa["api"], wa["sim"]
    # No "read" status for these 210 messages: each would be one more webhook for the one
    # Central process to take while it paces (reads are not this test's subject; the
    # ticks test covers them). The sent/delivered statuses still come.
    sim.post("/_sim/config", json={"auto_read": False})
    try:
        _rate_limits(api, sim)
    finally:
        sim.post("/_sim/config", json={"auto_read": True})


def _rate_limits(api, sim) -> None:
    before = len(sim.get("/_sim/sent").json()["sent"])
    customers = [f"55119876{60000 + i:05d}" for i in range(200)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda w: sim.post("/_sim/customer", json={"wa_id": w, "text": "oi"}), customers))
    convs = {}

    def all_there():
        rows = api.get("/conversations/", params={"q": "551198766", "page_size": 500}).json()["results"]
        convs.update({c["contact"]["wa_id"]: c["id"] for c in rows})
        return all(w in convs for w in customers)

    until(all_there, deadline=60, what="200 conversations")
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda w: api.post(f"/conversations/{convs[w]}/send/",
                                                 json={"text": f"Olá {w}"}).status_code, customers))
    assert codes == [201] * 200
    one = customers[0]
    for i in range(10):
        assert api.post(f"/conversations/{convs[one]}/send/", json={"text": f"parte {i}"}).status_code == 201
    sent = until(lambda: (s := sim.get("/_sim/sent").json()["sent"][before:]) and len(s) >= 210 and s,
                 deadline=90, what="210 messages at the simulator")
    assert len(sent) == 210 and len({s["wamid"] for s in sent}) == 210  # none lost, none twice
    times = sorted(s["at"] for s in sent)
    window_max, j = 0, 0
    for i, t in enumerate(times):
        while t - times[j] >= 1.0:
            j += 1
        window_max = max(window_max, i - j + 1)
    assert window_max <= 80
    mine = [s for s in sent if s["to"] == one]
    assert sorted(s["payload"]["text"]["body"] for s in mine) == sorted([f"Olá {one}"] + [f"parte {i}" for i in range(10)])
    assert [s["payload"]["text"]["body"] for s in mine if "parte" in s["payload"]["text"]["body"]] == [
        f"parte {i}" for i in range(10)]  # one customer's messages keep their order
    at = [s["at"] for s in mine]
    for a in range(len(at)):
        for b in range(a, len(at)):
            assert b - a + 1 <= RECIPIENT_BURST + (at[b] - at[a]) / RECIPIENT_INTERVAL + 1  # +1: network jitter
    stats = sim.get("/_sim/stats").json()
    assert not stats["rejected"].get("130429") and not stats["rejected"].get("131056"), stats


def test_platform_stricter_than_the_pacer_backs_off_and_loses_nothing(wa):
    """The simulated platform answers 130429 / 131056 (limits below the pacer's): the sender
    backs off and retries; every message arrives once, each customer's in order."""
    api, sim = wa["api"], wa["sim"]
    sim.post("/_sim/config", json={"number_rate": 15, "pair_burst": 1})
    try:
        before = len(sim.get("/_sim/sent").json()["sent"])
        customers = [f"55119877{70000 + i:05d}" for i in range(30)]
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda w: sim.post("/_sim/customer", json={"wa_id": w, "text": "oi"}), customers))
        convs = {}

        def all_there():
            rows = api.get("/conversations/", params={"q": "551198777", "page_size": 500}).json()["results"]
            convs.update({c["contact"]["wa_id"]: c["id"] for c in rows})
            return all(w in convs for w in customers)

        until(all_there, deadline=60, what="30 conversations")
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda w: api.post(f"/conversations/{convs[w]}/send/", json={"text": "a"}), customers))
        for i in range(3):
            api.post(f"/conversations/{convs[customers[0]]}/send/", json={"text": f"b{i}"})
        # Each 130429 doubles the number's pause up to BACKOFF_MAX (60 s): a few in a row
        # under a loaded CI legitimately take the last message past 60 s.
        sent = until(lambda: (s := sim.get("/_sim/sent").json()["sent"][before:]) and len(s) >= 33 and s,
                     deadline=2 * BACKOFF_MAX + 30, what="33 messages")
        assert len(sent) == 33
        stats = sim.get("/_sim/stats").json()["rejected"]
        assert stats.get("130429", 0) + stats.get("131056", 0) > 0  # the platform did push back
        first = [s["payload"]["text"]["body"] for s in sent if s["to"] == customers[0]]
        assert first == ["a", "b0", "b1", "b2"]
        failed = api.get("/messages/", params={"status": "failed", "page_size": 500}).json()["results"]
        assert not failed
    finally:
        sim.post("/_sim/config", json={"number_rate": 80, "pair_burst": RECIPIENT_BURST + 1})
