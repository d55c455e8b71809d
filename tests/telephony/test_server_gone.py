"""Finding 19: live calls of a server that was removed or replaced stayed listed as
up/ringing forever (no link would ever end them). Now every path that makes a server go
away forgets them and tells the tenant's open pages."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from central.core.live import org_group
from central.telephony.link import env_server
from central.telephony.models import LiveCall
from tests.telephony.factories import make_live_call, server_for

pytestmark = pytest.mark.django_db(transaction=True)

BASE = "/api/v1/telephony/servers"


def listen(org):
    """The next ``calls`` message the tenant's pages receive (others, e.g. audit, skipped)."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(org_group(org.pk), channel)

    async def next_calls_message():
        while True:
            payload = (await layer.receive(channel))["payload"]
            if payload["type"] == "calls":
                return payload

    def receive():
        # Published synchronously by the request itself: by now it is in the channel.
        return async_to_sync(asyncio.wait_for)(next_calls_message(), 5)

    return receive


def calls_of(server):
    return LiveCall.objects.filter(server_id=server.pk).count()


@pytest.mark.parametrize("change", [{"enabled": False}, {"port": 5039}, {"host": "200.160.2.4"}])
def test_disabling_or_repointing_a_server_clears_its_live_calls(change, tenants, api_as):
    server = server_for(tenants["a"], host="200.160.2.3")
    other = server_for(tenants["a"], host="200.160.2.3")
    for s in (server, other):
        make_live_call(tenants["a"], server=s, state="up")
    receive = listen(tenants["a"])
    response = api_as(tenants["alice"]).patch(f"{BASE}/{server.pk}/", change, format="json")
    assert response.status_code == 200, response.content
    assert calls_of(server) == 0 and calls_of(other) == 1
    assert receive() == {"type": "calls", "server": server.name, "server_id": server.pk,
                         "records": [], "live": []}


def test_unrelated_edits_keep_the_calls(tenants, api_as):
    server = server_for(tenants["a"], host="200.160.2.3")
    make_live_call(tenants["a"], server=server)
    assert api_as(tenants["alice"]).patch(f"{BASE}/{server.pk}/", {"name": "novo"}, format="json").status_code == 200
    assert calls_of(server) == 1


def test_deleting_a_server_tells_open_pages(tenants, api_as):
    server = server_for(tenants["a"], host="200.160.2.3")
    make_live_call(tenants["a"], server=server)
    receive = listen(tenants["a"])
    assert api_as(tenants["alice"]).delete(f"{BASE}/{server.pk}/").status_code == 204
    assert receive()["live"] == []
    assert not LiveCall.objects.filter(organization=tenants["a"]).exists()


def test_env_server_replaced_by_a_new_url_forgets_the_old_pbx_calls(tenants):
    env = {"CENTRAL_AMI_URL": "ami://central@10.0.0.5:5038", "CENTRAL_AMI_ORG": tenants["a"].slug}
    server = env_server(env)
    make_live_call(tenants["a"], server=server, state="up")
    env_server(env)  # same PBX on the next start: calls stay for its link to resync
    assert calls_of(server) == 1
    env_server({**env, "CENTRAL_AMI_URL": "ami://central@10.0.0.6:5038"})
    assert calls_of(server) == 0
