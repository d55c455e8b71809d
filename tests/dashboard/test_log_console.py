"""The live log console (issue 16): lines of every process over ``/ws/logs/`` with
filters, installation admins only, bounded buffers; in-process hub (embedded default)
and Redis stream (production)."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from asgiref.testing import ApplicationCommunicator
from django.contrib.auth import get_user_model

from central.core import logstream
from central.core.logstream import HUB, Hub, LiveLogHandler, LogFilter
from central.dashboard.logconsole import LogConsumer

log = logging.getLogger("central.telephony.link")


@pytest.mark.backend_free
def test_filters_by_level_process_component_tenant_request_and_text():
    entry = {"level": "warning", "process": "up", "component": "telephony", "tenant": "empresa-a",
             "request_id": "r1", "msg": "AMI link lost", "logger": "central.telephony.link"}
    assert LogFilter.from_dict({"level": "warning", "component": "telephony", "text": "ami"}).matches(entry)
    assert not LogFilter(level="error").matches(entry)
    assert not LogFilter(process="web").matches(entry)
    assert not LogFilter(tenant="empresa-b").matches(entry)
    assert not LogFilter(request_id="r2").matches(entry)
    assert LogFilter.from_dict({"level": "nonsense", "text": 5}).level == ""


@pytest.mark.backend_free
def test_buffers_are_bounded_under_a_log_storm():
    hub = Hub(size=100)
    loop = asyncio.new_event_loop()
    try:
        sub = hub.subscribe(loop)
        for i in range(10_000):
            hub.publish({"level": "info", "msg": f"line {i}"})
        loop.run_until_complete(asyncio.sleep(0))  # deliver what call_soon_threadsafe queued
        loop.run_until_complete(asyncio.sleep(0))
        assert len(hub.recent) == 100 and hub.recent[-1]["msg"] == "line 9999"
        assert sub.queue.qsize() == logstream.SUBSCRIBER_QUEUE
        assert sub.dropped == 10_000 - logstream.SUBSCRIBER_QUEUE  # oldest dropped, counted
        assert sub.queue.get_nowait()["msg"] == f"line {10_000 - logstream.SUBSCRIBER_QUEUE}"
    finally:
        loop.close()


@pytest.mark.backend_free
def test_the_handler_tags_lines_and_never_raises():
    handler = LiveLogHandler()
    hub = Hub(size=10)
    record = logging.LogRecord("central.dialer.engine", logging.ERROR, __file__, 1, "boom %s", ("x",), None)
    record.tenant = "empresa-a"
    original = logstream.HUB
    logstream.HUB = hub
    try:
        handler.emit(record)
    finally:
        logstream.HUB = original
    (entry,) = hub.recent
    assert entry["msg"] == "boom x" and entry["component"] == "dialer" and entry["tenant"] == "empresa-a"
    assert entry["level"] == "error" and entry["pid"] and entry["process"]


async def _open(user):
    scope = {"type": "websocket", "path": "/ws/logs/", "headers": [], "subprotocols": [], "user": user,
             "session": {}}
    socket = ApplicationCommunicator(LogConsumer.as_asgi(), scope)
    await socket.send_input({"type": "websocket.connect"})
    return socket


async def _lines_until(socket, predicate, timeout: float = 10.0) -> list[dict]:
    seen: list[dict] = []
    async with asyncio.timeout(timeout):
        while True:
            out = await socket.receive_output(timeout)
            msg = json.loads(out["text"])
            if msg.get("type") == "logs":
                seen += msg["lines"]
                if predicate(seen):
                    return seen


def _root():
    return get_user_model().objects.create_superuser("root", "root@example.com", "senha-forte-123")


@pytest.mark.django_db(transaction=True)
async def test_live_lines_reach_an_admin_with_filters(settings):
    from channels.db import database_sync_to_async

    settings.REDIS_URL = ""
    root = await database_sync_to_async(_root)()
    socket = await _open(root)
    assert (await socket.receive_output(5))["type"] == "websocket.accept"
    try:
        await _lines_until(socket, lambda _lines: True)  # the backlog
        await socket.send_input({"type": "websocket.receive", "text": json.dumps(
            {"type": "filter", "level": "error", "component": "telephony"})})
        await _lines_until(socket, lambda _lines: True)  # backlog for the new filter
        log.warning("a warning the filter hides")
        logging.getLogger("central.dialer.engine").error("another component's error")
        log.error("AMI link down on servidor-1", extra={"tenant": "empresa-a"})
        lines = await _lines_until(socket, lambda ls: any("servidor-1" in e["msg"] for e in ls))
        assert [e["msg"] for e in lines] == ["AMI link down on servidor-1"]
        assert lines[0]["tenant"] == "empresa-a" and lines[0]["component"] == "telephony"
    finally:
        await socket.send_input({"type": "websocket.disconnect", "code": 1000})
        await socket.wait(5)
    assert not HUB.subscribers  # the page's subscription ended with it


@pytest.mark.django_db(transaction=True)
async def test_tenant_owners_get_no_log_line(tenants):
    """Logs cross tenants: an organization's owner is closed before any line is read."""
    socket = await _open(tenants["alice"])
    out = await socket.receive_output(5)
    assert out == {"type": "websocket.close", "code": 4403}
    await socket.send_input({"type": "websocket.disconnect", "code": 4403})
    await socket.wait(5)


def test_the_pages_are_for_installation_admins_only(client, tenants):
    client.force_login(tenants["alice"])  # an owner of her organization
    assert client.get("/system/").status_code == 404
    assert client.get("/system/logs/").status_code == 404
    assert b"/system/" not in client.get("/").content
    root = _root()
    from central.core.models import AuditLog, Membership

    Membership.objects.create(user=root, organization=tenants["a"], role="owner")
    AuditLog.objects.create(organization=tenants["a"], action="login.failed", request_id="req-77")
    client.force_login(root)
    page = client.get("/system/logs/?request_id=req-77&level=error")
    assert page.status_code == 200 and b'value="req-77"' in page.content
    home = client.get("/").content.decode()
    assert "/system/logs/?request_id=req-77" in home  # the activity feed links to its log lines
    system = client.get("/system/")
    assert system.status_code == 200 and b'data-testid="last-backup"' in system.content


@pytest.mark.django_db(transaction=True)
async def test_lines_of_other_processes_arrive_through_redis(settings, redis_url):
    """Production: each process ships its lines to the Redis stream; the console of any web
    process reads them there."""
    import redis as redis_lib
    from channels.db import database_sync_to_async

    settings.REDIS_URL = redis_url
    redis_lib.Redis.from_url(redis_url).delete(logstream.STREAM)
    logstream._shipper = None
    try:
        root = await database_sync_to_async(_root)()
        socket = await _open(root)
        assert (await socket.receive_output(5))["type"] == "websocket.accept"
        await socket.send_input({"type": "websocket.receive", "text": json.dumps(
            {"type": "filter", "text": "via redis"})})
        # As another process would: an entry written straight to the stream.
        other = {"level": "info", "process": "worker", "component": "dialer", "msg": "import done via redis",
                 "host": "worker-1", "pid": 4242}
        redis_lib.Redis.from_url(redis_url).xadd(logstream.STREAM, {"e": json.dumps(other)})
        log.info("this process's line via redis")
        try:
            lines = await _lines_until(socket, lambda ls: len(ls) >= 2)
        finally:  # a failed assertion must not leave the consumer reading (teardown would wait on it)
            await socket.send_input({"type": "websocket.disconnect", "code": 1000})
            await socket.wait(5)
        assert [e["msg"] for e in lines] == ["import done via redis", "this process's line via redis"]
        length = redis_lib.Redis.from_url(redis_url).xlen(logstream.STREAM)
        assert length <= logstream.STREAM_MAXLEN
    finally:
        logstream._shipper = None


def test_a_forked_child_ships_through_its_own_thread(settings, redis_url):
    """Celery's prefork children inherit the parent's shipper object but not its thread:
    their lines would pile up in a queue nobody reads. Before: the child's line never
    reached the stream."""
    import os

    import redis as redis_lib

    settings.REDIS_URL = redis_url
    client = redis_lib.Redis.from_url(redis_url)
    client.delete(logstream.STREAM)
    logstream._shipper = None
    try:
        log.info("parent line")
        pid = os.fork()
        if pid == 0:  # the child: log, wait until its shipper sent it, leave
            code = 1
            try:
                log.info("child line %s", os.getpid())
                code = 0 if logstream._shipper.flush(10) else 2
            finally:
                os._exit(code)
        assert os.waitpid(pid, 0)[1] == 0
        assert logstream._shipper.flush(10)
        msgs = [json.loads(f[b"e"])["msg"] for _id, f in client.xrange(logstream.STREAM)]
        assert "parent line" in msgs and f"child line {pid}" in msgs
    finally:
        logstream._shipper = None


@pytest.mark.backend_free
async def test_a_replaced_pump_sends_nothing_more():
    """A pump replaced by a new filter is cancelled, but a blocking XREAD did not always let
    the cancellation through: under load the old pump went on and sent each line twice (the
    test above saw the other process's line twice and not its own), and kept the event loop
    from closing. Every send now checks that its pump is still the current one."""
    sent: list[dict] = []
    consumer = LogConsumer()

    async def send_json(content, close=False):
        sent.append(content)

    consumer.send_json = send_json
    consumer.pump = asyncio.current_task()
    await consumer._send([{"msg": "current"}])
    old = asyncio.ensure_future(consumer._send([{"msg": "stale"}]))  # not the socket's pump
    with pytest.raises(asyncio.CancelledError):
        await old
    consumer.closed = True
    with pytest.raises(asyncio.CancelledError):
        await consumer._send([{"msg": "after close"}])
    assert [c["lines"][0]["msg"] for c in sent] == ["current"]
