"""A campaign is dialed only on a PBX of its own organization, with dial strings that carry
nothing but the contact (docs/security.md, "Dial strings and PBX selection").

Before: ``Campaign.asterisk_server`` was a free-text server *name*, the engine claimed by
name (``asterisk_server__in=("principal", "")``) and names repeat across tenants, so tenant
B's campaign naming "principal", or naming nothing, was dialed on A's or the platform's
Asterisk; ``trunk``/``dial_context``/``dial_exten`` were free text put into the Originate.
"""

from __future__ import annotations

import contextlib

import pytest

from central.dialer.engine import Engine, EngineOptions, served_campaigns
from central.simulator import Simulator, SimulatorConfig
from central.simulator.world import WorldConfig
from central.telephony.ami.client import AMIClient
from tests.dialer.engine_support import (
    BASE_EPOCH,
    OriginateSpy,
    make_campaign,
    make_contacts,
    phones,
)
from tests.dialer.engine_support import sync_to_async as _sync
from tests.telephony.factories import server_for


def _layout(tenants):
    """The platform's Asterisk configured for A (CENTRAL_AMI_ORG), A's own "pbx" and B's
    server also named "pbx"; campaigns of both, B's including rows forged around the API
    (a reference to A's server and to the platform's)."""
    from central.dialer.models import Campaign

    a, b = tenants["a"], tenants["b"]
    servers = {
        "platform": server_for(a, name="principal", secret_env="CENTRAL_AMI_SECRET"),
        "a": server_for(a, name="pbx"),
        "b": server_for(b, name="pbx"),
    }
    camps = {
        "a-default": make_campaign(a, name="A padrão"),
        "a-own": make_campaign(a, name="A própria", asterisk_server=servers["a"]),
        "b-own": make_campaign(b, name="B própria", asterisk_server=servers["b"]),
        "b-default": make_campaign(b, name="B padrão"),
        "b-forged-a": make_campaign(b, name="B forjada A"),
        "b-forged-platform": make_campaign(b, name="B forjada plataforma"),
    }
    # Written around the API (the admin, a bug, an old row): the engine must still refuse.
    Campaign.objects.filter(pk=camps["b-forged-a"].pk).update(asterisk_server=servers["a"])
    Campaign.objects.filter(pk=camps["b-forged-platform"].pk).update(asterisk_server=servers["platform"])
    return servers, camps


#: Which campaigns each PBX may dial: the platform's serves A's campaigns with no server.
EXPECTED = {"platform": {"a-default"}, "a": {"a-own"}, "b": {"b-own"}}


def _options(servers, key, org_a):
    return {"server_id": servers[key].pk,
            "default_organization_ids": (org_a,) if key == "platform" else ()}


@pytest.mark.django_db
def test_claim_rule_selects_by_server_id_and_organization(tenants):
    servers, camps = _layout(tenants)
    names = {c.pk: k for k, c in camps.items()}
    for key, expected in EXPECTED.items():
        got = {names[c.pk] for c in served_campaigns(**_options(servers, key, tenants["a"].pk))}
        assert got == expected, key
    # An engine attached to nothing claims nothing (no "every tenant" default).
    assert not served_campaigns(None, ()).exists()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.usefixtures("give_back_connections")
async def test_real_engines_dial_each_campaign_only_on_its_own_pbx(tenants):
    """Three simulators (the platform's, A's and B's PBX), one real engine on each over TCP:
    every Originate a PBX receives is a number of a campaign it may serve."""
    servers, camps = await _sync(_layout)(tenants)
    numbers = {}
    for i, (key, camp) in enumerate(camps.items()):
        numbers[key] = phones(2, start=100 * (i + 1))
        await _sync(make_contacts)(camp, numbers[key])
    rigs = {}
    try:
        for key in EXPECTED:
            sim = await Simulator(SimulatorConfig(clock="manual", world=WorldConfig(agents=4), seed=7)).start()
            sim.clock._epoch0 = BASE_EPOCH
            spy = OriginateSpy(sim)
            client = AMIClient(sim.host, sim.port, "central", "central-demo", name=f"t-{key}", ping_interval=None)
            await client.start()
            engine = Engine(client, name=f"dialer-{key}", clock=lambda sim=sim: BASE_EPOCH + sim.clock.now(),
                            options=EngineOptions(**_options(servers, key, tenants["a"].pk)))
            await engine.start()
            rigs[key] = (sim, spy, client, engine)
        for _sim, spy, _client, engine in rigs.values():
            await engine.step()  # lease pass + first Originates
            await spy.wait(2)
        for key, (_sim, spy, _client, engine) in rigs.items():
            allowed = {n.lstrip("+") for k in EXPECTED[key] for n in numbers[k]}
            dialed = {n.lstrip("+") for n in spy.numbers()}
            assert dialed == allowed, (key, dialed, allowed)
            assert set(engine.runners) == {camps[k].pk for k in EXPECTED[key]}, key
    finally:
        for sim, _spy, client, engine in rigs.values():
            with contextlib.suppress(Exception):
                await engine.close()
            await client.close()
            await sim.stop()


@pytest.mark.django_db
def test_api_refuses_another_tenants_or_the_platforms_server(tenants, api_as):
    servers, _camps = _layout(tenants)
    bob = api_as(tenants["bob"])  # owner of B
    for key in ("platform", "a"):
        response = bob.post("/api/v1/dialer/campaigns/", {"name": "x", "queue": "vendas",
                                                          "asterisk_server": servers[key].pk}, format="json")
        assert response.status_code == 400, response.content
        assert "asterisk_server" in response.json()["error"]["fields"]
    # The same answer for an id that does not exist: no oracle on A's ids.
    missing = bob.post("/api/v1/dialer/campaigns/", {"name": "x", "queue": "vendas",
                                                     "asterisk_server": 999_999_999}, format="json")
    foreign = bob.post("/api/v1/dialer/campaigns/", {"name": "x", "queue": "vendas",
                                                     "asterisk_server": servers["a"].pk}, format="json")
    assert missing.json()["error"]["fields"] == foreign.json()["error"]["fields"]
    ok = bob.post("/api/v1/dialer/campaigns/", {"name": "x", "queue": "vendas", "asterisk_server": servers["b"].pk,
                                                "trunk": "PJSIP/{number}@operadora"}, format="json")
    assert ok.status_code == 201, ok.content
    assert ok.json()["asterisk_server"] == servers["b"].pk and ok.json()["asterisk_server_name"] == "pbx"


@pytest.mark.django_db
def test_api_refuses_a_second_dial_target(tenants, api_as):
    bob = api_as(tenants["bob"])
    for field, value in [("trunk", "PJSIP/{number}@operadora&SIP/evil.example"),
                         ("trunk", "Local/{number}@saida&Local/1@x"),
                         ("dial_context", "discador-out&Local/1@x"), ("dial_exten", "fila,60,U(x)")]:
        response = bob.post("/api/v1/dialer/campaigns/", {"name": "x", "queue": "vendas", field: value},
                            format="json")
        assert response.status_code == 400 and field in response.json()["error"]["fields"], (field, value)


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.usefixtures("give_back_connections")
async def test_engine_refuses_a_campaign_whose_trunk_was_written_around_the_api(org, caplog):
    """A row with an injected trunk (admin, old data) is never dialed: nothing reaches the PBX."""
    from central.dialer.models import Campaign
    from tests.dialer.engine_support import start_rig

    camp = await _sync(make_campaign)(org)
    await _sync(make_contacts)(camp, phones(2))
    await _sync(lambda: Campaign.objects.filter(pk=camp.pk).update(trunk="PJSIP/{number}@op&SIP/evil.example"))()
    rig = await start_rig()
    try:
        await rig.run(3)
    finally:
        await rig.close()
    assert rig.spy.seen == [] and camp.pk not in rig.engine.runners
    assert any("is not dialed" in r.getMessage() for r in caplog.records)


@pytest.mark.django_db
def test_start_reports_dial_settings_and_a_foreign_server(tenants):
    from central.dialer import services
    from central.dialer.models import Campaign

    servers, camps = _layout(tenants)
    camp = Campaign.objects.get(pk=camps["b-forged-a"].pk)
    Campaign.objects.filter(pk=camp.pk).update(dial_exten="fila&x")
    camp.refresh_from_db()
    problems = services.validate_campaign_settings(camp)
    assert any("não pertence" in p for p in problems) and any("plano de discagem" in p for p in problems)


def test_dialer_server_option_never_picks_a_repeated_name(tenants):
    """``central dialer --server pbx`` used the first row named pbx, whichever tenant's."""
    import typer

    from central.dialer.commands import find_server

    servers, _camps = _layout(tenants)
    with pytest.raises(typer.BadParameter, match="several organizations"):
        find_server("pbx")
    assert find_server(f"{tenants['b'].slug}/pbx").pk == servers["b"].pk
    assert find_server(str(servers["a"].pk)).pk == servers["a"].pk


@pytest.fixture
def blank_database(tmp_path, django_db_blocker):
    """A second, empty database on the server the suite runs on (a SQLite file, or a new
    PostgreSQL database), as the connection alias it yields; dropped afterwards.

    Why not the test database: it is migrated to the end, and migrating it back to before
    a migration and forward again re-renders every later migration's state twice (72 s of
    a CI pass). A blank database takes only the migrations the one under test depends on,
    then that one: the same real executor on a real database, as an installation of that
    version upgrading."""
    import dj_database_url
    from django.db import connections

    from tests.support import drop_database_url, fresh_database_url

    alias = "blank"
    url = fresh_database_url()
    if url:
        settings_dict = dj_database_url.parse(url)
    else:
        settings_dict = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "blank.sqlite3")}
    # configure_settings fills the keys Django's own settings get (TIME_ZONE, TEST, ...).
    connections.settings[alias] = connections.configure_settings({"default": {}, alias: settings_dict})[alias]

    def default_refused(execute, sql, params, many, context):
        raise AssertionError(f"a migration queried the default database, not the one it migrates: {sql}")

    try:
        with django_db_blocker.unblock(), connections["default"].execute_wrapper(default_refused):
            yield alias
    finally:
        connections[alias].close()
        del connections[alias]
        del connections.settings[alias]
        if url:
            drop_database_url(url)


def test_migration_resolves_names_inside_the_organization(blank_database):
    """Existing data: a name becomes the reference to the same organization's server; a
    name only another tenant holds leaves no reference and pauses the campaign (alarm)."""
    from django.db import connections
    from django.db.migrations.executor import MigrationExecutor

    db = blank_database
    before = [("dialer", "0006_legacy_id"), ("telephony", "0006_legacy_id")]
    after = [("dialer", "0007_campaign_server_reference")]
    executor = MigrationExecutor(connections[db])
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    Org, Server, Campaign = (old.get_model("core", "Organization"), old.get_model("telephony", "AsteriskServer"),
                             old.get_model("dialer", "Campaign"))
    a, b = Org.objects.using(db).create(name="A", slug="a"), Org.objects.using(db).create(name="B", slug="b")
    server = Server.objects.using(db).create(organization=a, name="principal", host="200.160.2.3", username="u",
                                             secret_env="CENTRAL_TENANT_SECRET_X")
    ids = {key: Campaign.objects.using(db).create(organization=org, name=key, queue="q", asterisk_server=name,
                                                  status="active").pk
           for key, org, name in [("a-named", a, "principal"), ("b-named", b, "principal"), ("a-empty", a, "")]}
    executor = MigrationExecutor(connections[db])
    assert [m.name for m, _backwards in executor.migration_plan(after)] == ["0007_campaign_server_reference"]
    executor.migrate(after)
    new = executor.loader.project_state(after).apps.get_model("dialer", "Campaign")
    rows = {key: new.objects.using(db).get(pk=pk) for key, pk in ids.items()}
    assert rows["a-named"].asterisk_server_id == server.pk and rows["a-named"].status == "active"
    assert rows["b-named"].asterisk_server_id is None
    assert (rows["b-named"].status, rows["b-named"].alarm, rows["b-named"].alarm_message) == (
        "paused", "server_missing", "principal")
    assert rows["a-empty"].asterisk_server_id is None and rows["a-empty"].status == "active"


def test_admin_form_applies_the_same_rules(tenants):
    """The Django admin saves through the model's ``clean``: the same refusals as the API."""
    from django.core.exceptions import ValidationError

    from central.dialer.models import Campaign

    servers, camps = _layout(tenants)
    camp = Campaign.objects.get(pk=camps["b-own"].pk)
    camp.full_clean()  # B's own server, default dial settings: fine
    camp.asterisk_server = servers["a"]
    camp.trunk = "PJSIP/{number}@op&SIP/evil.example"
    with pytest.raises(ValidationError) as refused:
        camp.full_clean()
    assert {"asterisk_server", "trunk"} <= set(refused.value.message_dict)
