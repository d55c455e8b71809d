"""Rule 1 of docs/security.md: a tenant never names a platform secret and never points the
platform at its own internal services (``central.core.outbound``).

Walks the API like the tenant-isolation test: every writable field of every endpoint that
accepts writes and *looks like* a destination or a secret (its name, or a JSON settings
field) must be declared in ``outbound.TENANT_FIELDS`` (or explained in
``NOT_OUTBOUND_FIELDS``), and each declared field is attacked as a tenant admin with the
platform's secrets and internal addresses. A field added later that is neither declared
nor refusing these values fails here.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework import mixins, serializers

from central.core import outbound
from central.voice.providers import registry
from tests.core.test_tenant_isolation import api_viewsets
from tests.factories import ROW_FACTORIES

pytestmark = pytest.mark.django_db

PLATFORM_ENV_NAMES = ["SECRET_KEY", "CENTRAL_VOICE_TOKEN", "DATABASE_URL", "REDIS_URL",
                      "CENTRAL_AMI_SECRET", "OPENAI_API_KEY", "CENTRAL_METRICS_TOKEN"]
INTERNAL_HOSTS = ["127.0.0.1", "localhost", "169.254.169.254", "::1", "0.0.0.0", "10.0.0.5",
                  "192.168.1.10", "100.64.0.1", "::ffff:127.0.0.1", "[::1]"]
#: Stands in for the Redis host in every run (SQLite has no database host): a public
#: address that is refused on Redis' port only because the platform's own service is there.
FAKE_REDIS = "200.160.2.9"
FAKE_REDIS_PORT = 6379
PUBLIC_HOST = "200.160.2.3"


def writable_viewsets():
    """(basename, viewset, model label, {field name: field}) for every endpoint that writes."""
    out = []
    for basename, (cls, _name) in sorted(api_viewsets().items()):
        if not issubclass(cls, (mixins.CreateModelMixin, mixins.UpdateModelMixin)):
            continue
        serializer_class = getattr(cls, "serializer_class", None)
        model = getattr(getattr(serializer_class, "Meta", None), "model", None)
        assert model is not None, f"{basename}: a writing endpoint without a model serializer"
        fields = {n: f for n, f in serializer_class().fields.items() if not f.read_only}
        out.append((basename, cls, model._meta.label_lower, fields))
    return out


def looks_outbound(fields: dict) -> list[str]:
    names = set(outbound.suspicious(fields))
    names |= {n for n, f in fields.items()
              if isinstance(f, (serializers.JSONField, serializers.DictField))}
    return sorted(names)


def declared_fields():
    return [(basename, label, name, kind)
            for basename, _cls, label, _fields in writable_viewsets()
            for name, kind in outbound.TENANT_FIELDS.get(label, {}).items()]


def fields_of(basename: str) -> dict:
    return next(f for b, _c, _l, f in writable_viewsets() if b == basename)


def test_every_outbound_looking_field_is_declared():
    undeclared = []
    for basename, _cls, label, fields in writable_viewsets():
        known = {**outbound.TENANT_FIELDS.get(label, {}), **outbound.NOT_OUTBOUND_FIELDS.get(label, {})}
        undeclared += [f"{basename}.{n}" for n in looks_outbound(fields) if n not in known]
    assert not undeclared, (
        f"declare these in central.core.outbound.TENANT_FIELDS (validated) or NOT_OUTBOUND_FIELDS "
        f"(with why): {undeclared}")


def test_declared_fields_exist_and_walker_sees_them():
    seen = {(label, name) for _b, label, name, _k in declared_fields()}
    declared = {(label, name) for label, fs in outbound.TENANT_FIELDS.items() for name in fs}
    assert seen == declared, f"declared but not writable through the API: {declared - seen}"


#: Campaign trunk patterns that would make a PBX dial something else than the contact:
#: another technology, a SIP URI or host, a second target, Dial options, an expression, a
#: second "/" or "@", AMI header injection, or a fixed destination without the number.
BAD_TRUNKS = ["SIP/evil.example/{number}", "IAX2/evil.example/{number}", "DAHDI/g1/{number}",
              "PJSIP/{number}@operadora&SIP/evil.example", "PJSIP/operadora/sip:{number}@evil.example",
              "PJSIP/{number}@operadora,60,U(x)", "PJSIP/{number}@op@evil", "Local/{number}@saida/n",
              "Local/{number}@saida&Local/1@x", "Local/{number}", "PJSIP/${SHELL(id)}{number}",
              "PJSIP/{number}@op\r\nApplication: System", "PJSIP/1101", "PJSIP/{number}{e164}@op",
              "PJSIP/{numero}@op", "sip:{number}@127.0.0.1"]
#: Dialplan names (context, exten) that would carry a second target or a header.
BAD_DIALPLAN = ["discador-out&Local/1@x", "fila,1", "fila@outro", "a/b", "${SHELL(id)}", "fila\r\nAction: X",
                "fila x", "", "a" * 81]


def server_attacks(tenants) -> list[int | str | None]:
    """PBX rows tenant A must not attach a campaign to: B's server, the platform's
    CENTRAL_AMI_URL row and the simulator row (configured for B), a missing id, and a name
    (names repeat across tenants: only ids of the organization's own servers count)."""
    from tests.telephony.factories import server_for

    b_server = server_for(tenants["b"], name="pbx-b")
    platform = server_for(tenants["b"], name="principal", secret_env="CENTRAL_AMI_SECRET")
    simulator = server_for(tenants["b"], name="simulador", secret_env="CENTRAL_SIM_AMI_SECRET",
                           use_simulator=True)
    server_for(tenants["a"], name="principal-a")
    return [b_server.pk, platform.pk, simulator.pk, 999_999_999, "pbx-b", "principal-a", str(b_server.pk)]


def bad_values(kind: str, fields: dict, tenants=None) -> list[tuple[object, dict]]:
    """(value, other fields sent along) pairs that must all be refused."""
    if kind == "trunk":
        return [(v, {}) for v in BAD_TRUNKS]
    if kind == "dialplan":
        return [(v, {}) for v in BAD_DIALPLAN]
    if kind == "server":
        return [(v, {}) for v in server_attacks(tenants)]
    if kind == "env":
        return [(v, {}) for v in PLATFORM_ENV_NAMES]
    if kind == "host":
        # The Redis host is public here: only its port makes it the platform's service.
        assert "port" in fields, "a host field without a port field: say how to attack it"
        return [(v, {}) for v in INTERNAL_HOSTS] + [(FAKE_REDIS, {"port": FAKE_REDIS_PORT})]
    if kind == "provider_settings":
        return [(v, {}) for v in provider_attacks()]
    if kind in ("dial", "endpoint"):
        targets = ["SIP/evil.example", "PJSIP/1101/sip:x@evil.example", "1101&SIP/evil.example",
                   "Local/1@default", "IAX2/evil.example/1", "PJSIP/1101@evil", "${SHELL(id)}",
                   "1101,60,U(x)", "1101\r\nApplication: System", "sip:1101@127.0.0.1"]
        if kind == "endpoint":
            targets.append("PJSIP/1101")  # the dialplan adds the technology itself
        return [(v, {}) for v in targets]
    raise AssertionError(f"no attack values for kind {kind!r}: add them here")


def provider_attacks() -> list[dict]:
    """Every URL/env/region setting of every provider type, with each bad value."""
    attacks = []
    urls = [f"http://{h}/v1" for h in ("127.0.0.1", "localhost", "169.254.169.254", "[::1]", "10.0.0.5")]
    urls += [f"http://{FAKE_REDIS}:{FAKE_REDIS_PORT}/v1"]
    urls += ["file:///etc/passwd", "http://user:pw@200.160.2.3/v1", "gopher://200.160.2.3/"]
    for (chain, ptype), schema in registry.PROVIDER_SETTINGS.items():
        for key, kind in schema.items():
            values = {"env": PLATFORM_ENV_NAMES, "url": urls,
                      "region": ["evil.example/x", "127.0.0.1#", "a" * 80]}.get(kind, [])
            attacks += [{chain: [{"type": ptype, key: v}]} for v in values]
        attacks.append({chain: [{"type": ptype, "undeclared_setting": "x"}]})
    attacks.append({"tts": [{"type": "espeak", "binary": "/bin/sh"}]})
    attacks.append({"webhook": "http://200.160.2.3/"})
    return attacks


@pytest.fixture
def platform_redis(settings):
    """Redis "lives" at FAKE_REDIS; nothing is opened by the operator."""
    settings.REDIS_URL = f"redis://{FAKE_REDIS}:{FAKE_REDIS_PORT}/0"
    settings.OUTBOUND_ALLOW = ()
    return settings


@pytest.mark.parametrize("basename,label,name,kind", declared_fields())
def test_tenant_admin_cannot_aim_a_declared_field_inside(basename, label, name, kind, tenants, api_as,
                                                          platform_redis):
    row = ROW_FACTORIES[label](tenants["a"])
    alice = api_as(tenants["alice"])  # owner of A: the highest tenant role
    url = reverse(f"{basename}-detail", args=[row.pk])
    accepted = []
    for value, along in bad_values(kind, fields_of(basename), tenants):
        response = alice.patch(url, {name: value, **along}, format="json")
        if response.status_code != 400 or name not in response.json()["error"]["fields"]:
            accepted.append((value, response.status_code))
    assert not accepted, f"{basename}.{name} accepted: {accepted}"


def test_database_and_redis_stay_refused_inside_an_allowed_network(platform_redis):
    platform_redis.OUTBOUND_ALLOW = ("0.0.0.0/0", "::/0")
    with pytest.raises(outbound.OutboundRefused, match="interno da plataforma"):
        outbound.check_destination(FAKE_REDIS, FAKE_REDIS_PORT)
    outbound.check_destination("10.0.0.5", 5038)  # allowed by the operator: accepted
    db = platform_redis.DATABASES["default"]
    if db.get("HOST"):  # PostgreSQL runs: its real address and port
        with pytest.raises(outbound.OutboundRefused):
            outbound.check_destination(db["HOST"], int(db.get("PORT") or 5432))


def test_tenant_values_within_the_rule_are_accepted(tenants, api_as, monkeypatch):
    """The control: the walker's refusals are the rule, not a broken endpoint."""
    from tests.telephony.factories import server_for
    from tests.voice.factories import make_ai_extension

    monkeypatch.setenv("CENTRAL_TENANT_SECRET_PBX", "x")
    alice = api_as(tenants["alice"])
    server = server_for(tenants["a"])
    ok = alice.patch(f"/api/v1/telephony/servers/{server.pk}/",
                     {"host": PUBLIC_HOST, "secret_env": "CENTRAL_TENANT_SECRET_PBX"}, format="json")
    assert ok.status_code == 200, ok.content
    assert ok.json()["secret_configured"] is True
    ext = make_ai_extension(tenants["a"])
    providers = {"stt": [{"type": "openai", "base_url": f"https://{PUBLIC_HOST}/v1",
                          "api_key_env": "CENTRAL_TENANT_SECRET_OPENAI"}],
                 "tts": [{"type": "azure", "region": "brazilsouth"}, {"type": "espeak", "speed": 170}]}
    from tests.dialer.factories import campaign

    camp = campaign(tenants["a"])
    for change in ({"trunk": "PJSIP/{number}@operadora"}, {"trunk": "Local/{e164}@saida"}, {"trunk": ""},
                   {"dial_context": "discador-out", "dial_exten": "fila_2"}, {"asterisk_server": server.pk},
                   {"asterisk_server": None}):
        ok = alice.patch(f"/api/v1/dialer/campaigns/{camp.pk}/", change, format="json")
        assert ok.status_code == 200, (change, ok.content)
    ok = alice.patch(f"/api/v1/voice/extensions/{ext.pk}/", {"providers": providers,
                                                             "concierge_extension": "1000"}, format="json")
    assert ok.status_code == 200, ok.content
    from tests.voice.factories import make_resident

    resident = make_resident(tenants["a"])
    for target in ("1101", "PJSIP/1101", "+5511999990001", "PJSIP/portaria-01"):
        ok = alice.patch(f"/api/v1/voice/residents/{resident.pk}/", {"extension": target}, format="json")
        assert ok.status_code == 200, (target, ok.content)


def test_secret_configured_is_no_oracle_for_platform_variables(tenants, api_as, monkeypatch):
    """Before: a row naming SECRET_KEY answered secret_configured=true (the variable exists)."""
    from tests.telephony.factories import server_for

    monkeypatch.setenv("SECRET_KEY", "exists")
    exists = server_for(tenants["a"], name="exists", secret_env="SECRET_KEY")
    missing = server_for(tenants["a"], name="missing", secret_env="NO_SUCH_VARIABLE_AT_ALL")
    alice = api_as(tenants["alice"])
    for row in (exists, missing):
        body = alice.get(f"/api/v1/telephony/servers/{row.pk}/").json()
        assert body["secret_configured"] is False


def test_platform_rows_connection_fields_are_operator_only(tenants, api_as):
    """The CENTRAL_AMI_URL row (and the simulator's) name a platform variable: a tenant may
    switch them off but not point them elsewhere."""
    from tests.telephony.factories import server_for

    row = server_for(tenants["a"], name="principal", secret_env="CENTRAL_AMI_SECRET")
    alice = api_as(tenants["alice"])
    url = f"/api/v1/telephony/servers/{row.pk}/"
    for change in ({"host": PUBLIC_HOST}, {"port": 5039}, {"secret_env": "CENTRAL_TENANT_SECRET_X"}):
        response = alice.patch(url, change, format="json")
        assert response.status_code == 400, (change, response.content)
    assert alice.patch(url, {"enabled": False}, format="json").status_code == 200
    assert alice.patch(url, {"use_simulator": True}, format="json").json()["use_simulator"] is False


class Recorder(dict):
    """A settings dict that remembers every key a provider reads."""

    def __init__(self, *args):
        super().__init__(*args)
        self.read: set[str] = set()

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.read.add(key)
        return super().__contains__(key)


def test_every_provider_declares_every_setting_it_reads():
    types = {("stt", t): f for t, f in registry.STT_TYPES.items()}
    types |= {("tts", t): f for t, f in registry.TTS_TYPES.items()}
    types |= {("reply", t): f for t, f in registry.REPLY_TYPES.items()}
    assert set(types) == set(registry.PROVIDER_SETTINGS), "a provider type without a settings schema"
    undeclared = {}
    for key, factory in types.items():
        settings = Recorder({"type": key[1]})
        factory(settings)
        extra = settings.read - set(registry.PROVIDER_SETTINGS[key])
        if extra:
            undeclared[key] = sorted(extra)
    assert not undeclared, f"declare these in registry.PROVIDER_SETTINGS with their kind: {undeclared}"


def test_platform_row_reports_its_real_secret(tenants, api_as, monkeypatch):
    """The CENTRAL_AMI_URL row says configured when the link would really log in."""
    from central.telephony.link import env_server

    monkeypatch.setenv("CENTRAL_AMI_URL", "ami://central@10.0.0.5:5038")
    monkeypatch.setenv("CENTRAL_AMI_ORG", tenants["a"].slug)
    monkeypatch.setenv("CENTRAL_AMI_SECRET", "plat")
    row = env_server()
    body = api_as(tenants["alice"]).get(f"/api/v1/telephony/servers/{row.pk}/").json()
    assert body["secret_configured"] is True


async def test_voice_refuses_foreign_dial_targets_at_dial_time():
    """A resident row written before the API rule (or in the admin) still cannot make the
    platform's Asterisk dial another technology, a SIP URI or a second target."""
    from central.voice.calls import OriginateFailed
    from central.voice.config import ExtensionConfig, ResidentConfig
    from central.voice.telephony import AMIOriginator

    assert AMIOriginator.dial_string(ResidentConfig("Ana", "1101")) == "PJSIP/1101"
    for bad in ("SIP/evil.example", "PJSIP/1101/sip:x@evil.example", "1101&SIP/evil.example"):
        with pytest.raises(OriginateFailed, match="refused dial target"):
            AMIOriginator.dial_string(ResidentConfig("Ana", bad))

    class NoAMI:  # the transfer must be refused before any action is sent
        async def send_action(self, *args, **kwargs):
            raise AssertionError("sent")

    await AMIOriginator(NoAMI()).transfer(call_uuid="u", to_extension="1000&SIP/evil.example",
                                          extension=ExtensionConfig("1003"))
