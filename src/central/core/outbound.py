"""Where the platform may connect and which secrets it may send there: the one rule.

Tenants are hostile to each other and tenant admins are not platform operators, yet a
tenant configures things that make the platform connect out: its Asterisk servers (host,
port, the environment variable holding the AMI secret) and its AI extensions' speech/reply
providers (base URLs, endpoints, the variable holding the API key). Two rules keep that
from turning the platform against itself:

* **Secrets**: a tenant names only environment variables that start with
  :data:`TENANT_SECRET_PREFIX`. The platform's own variables (``SECRET_KEY``, the voice
  token, database/Redis URLs, provider keys) can therefore never be named, read for a
  tenant destination, or probed for existence. :func:`read_secret` is the only reader
  used for tenant-configured destinations, so the rule holds at connect time as well as at
  the API (defence in depth: a row written before this rule, or by a bug, still cannot
  leak).
* **Destinations** (SSRF): every address a tenant-set host resolves to must be public.
  Loopback, private, link-local (the cloud metadata address 169.254.169.254), CGNAT,
  multicast, reserved and unspecified addresses are refused unless the operator opened a
  network with ``CENTRAL_OUTBOUND_ALLOW``; the database's and Redis' address and port are
  refused even then. :func:`check_destination` runs
  at the API and again right before connecting, because a DNS answer can change in
  between.

The API serializers call :func:`validate_env_name`, :func:`validate_host` and
:func:`validate_url`; :data:`TENANT_FIELDS` declares every API field that names a
destination or a secret, and ``tests/core/test_outbound.py`` walks the API so that a new
field of that kind which is not declared here fails.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from django.utils.translation import gettext as _

#: The only environment variables a tenant may name (Asterisk secret, provider API key).
TENANT_SECRET_PREFIX = "CENTRAL_TENANT_SECRET_"
_TENANT_ENV_RE = re.compile(r"^" + TENANT_SECRET_PREFIX + r"[A-Z0-9_]+$")

#: Operator setting: networks/hosts tenants may target although they are not public.
ALLOW_ENV = "CENTRAL_OUTBOUND_ALLOW"

#: API fields that name a destination or a secret, per model, with their kind. The walker
#: test attacks each of them; a field that looks like one of these but is missing here
#: fails that test. Kinds: ``env`` (name of an environment variable), ``host`` (a host
#: name or address), ``provider_settings`` (a JSON of provider chains, each entry
#: validated against its provider's declared settings), ``dial`` / ``endpoint`` (what the
#: concierge dials), ``trunk`` / ``dialplan`` (what a campaign dials: :func:`validate_trunk`,
#: :func:`validate_dialplan_name`) and ``server`` (a PBX row of the same organization).
TENANT_FIELDS: dict[str, dict[str, str]] = {
    "telephony.asteriskserver": {"secret_env": "env", "host": "host"},
    "voice.aiextension": {"providers": "provider_settings", "concierge_extension": "endpoint"},
    "voice.resident": {"extension": "dial"},
    # What the tenant's campaign makes a PBX dial, and which PBX (a server of the same
    # organization, never another tenant's nor the platform's unless configured for it).
    "dialer.campaign": {"trunk": "trunk", "dial_context": "dialplan", "dial_exten": "dialplan",
                        "asterisk_server": "server"},
    # A WhatsApp number's access token and app secret: names of environment variables.
    # Its Graph API destination is platform configuration, never a tenant field.
    "messaging.whatsappnumber": {"access_token_env": "env", "app_secret_env": "env"},
}

#: Fields whose names look like destinations or secrets but are not outbound, with why.
NOT_OUTBOUND_FIELDS: dict[str, dict[str, str]] = {
    # The address the voice process *listens* on (its own interfaces), not a destination.
    "voice.aiextension": {"bind_ip": "listen address of the voice process"},
    "dialer.campaign": {
        "dial_ratio": "calls per free agent (a number)",
        "max_channels": "how many calls at once (a number)",
        "retry_policy": "per-result retry delays (numbers)",
        "working_hours": "weekday time ranges",
        "dispositions": "the agents' result list (labels and rules), never dialed or fetched",
    },
    "dialer.contact": {"alt_phones": "phone numbers", "custom_fields": "CRM data shown to agents"},
    "messaging.template": {"buttons": "the template's buttons as the customer sees them (quick replies, "
                                      "URLs the customer's phone opens); the platform never fetches them"},
    "scheduling.location": {"address": "the clinic's street address, shown to patients"},
    "scheduling.clinicsettings": {"reminder_offsets": "reminder lead times (minutes before)"},
    "agents.agent": {"extension": "the agent's own extension on the tenant's PBX (validated digits), dialed "
                                  "through that PBX for listen/whisper/barge; never a network address"},
    "agents.agentinterface": {"server": "one of the organization's own PBX servers (agents.identity."
                                   "check_interface_claim), not an address"},
}


class OutboundRefused(ValueError):
    """A tenant-configured destination or secret name breaks the rule (message is pt-BR)."""


# --- secrets -------------------------------------------------------------------------------


def env_name_allowed(name: str | None) -> bool:
    """True only for ``CENTRAL_TENANT_SECRET_<A-Z0-9_>``: never a platform variable."""
    return bool(name) and bool(_TENANT_ENV_RE.match(name))


def validate_env_name(name: str) -> str:
    if not env_name_allowed(name):
        raise OutboundRefused(
            _("Use uma variável de ambiente com o prefixo %(prefix)s (ex.: %(prefix)sPBX1).")
            % {"prefix": TENANT_SECRET_PREFIX}
        )
    return name


def read_secret(name: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """The value of a tenant-named secret, or None (unset, empty, or a name outside the rule).

    The only way tenant-configured destinations get a secret: a name outside the rule
    reads as unset, so it is neither sent nor reported as configured.
    """
    if not env_name_allowed(name):
        return None
    env = os.environ if environ is None else environ
    return env.get(name) or None


# --- destinations ----------------------------------------------------------------------------


def _allowed_networks() -> list[ipaddress._BaseNetwork]:
    from django.conf import settings

    nets = []
    for item in getattr(settings, "OUTBOUND_ALLOW", ()):
        nets.append(ipaddress.ip_network(item, strict=False))
    return nets


def _platform_endpoints() -> set[tuple[str, int]]:
    """(address, port) of the database and Redis: refused for tenants even inside a network
    the operator opened (say, loopback for a local speech server on the database host)."""
    from django.conf import settings

    endpoints: list[tuple[str, int]] = []
    db = settings.DATABASES.get("default", {})
    if db.get("HOST"):
        endpoints.append((db["HOST"], int(db.get("PORT") or 5432)))
    for url in {getattr(settings, "REDIS_URL", ""), getattr(settings, "CELERY_BROKER_URL", "")}:
        parts = urlsplit(url) if url else None
        if parts is not None and parts.hostname:
            endpoints.append((parts.hostname, parts.port or 6379))
    return {(str(addr), port) for host, port in endpoints for addr in _resolve(host)}


def _resolve(host: str) -> list[ipaddress._BaseAddress]:
    host = host.strip().strip("[]")
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError):
        return []
    out = []
    for info in infos:
        try:
            out.append(ipaddress.ip_address(info[4][0].split("%", 1)[0]))
        except ValueError:
            continue
    return out


def address_is_internal(addr: ipaddress._BaseAddress) -> bool:
    """Not a public unicast address (the platform's own side of the network)."""
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return (
        addr.is_loopback or addr.is_private or addr.is_link_local or addr.is_multicast
        or addr.is_reserved or addr.is_unspecified or not addr.is_global
    )


def check_destination(host: str, port: int) -> list[str]:
    """Resolve ``host`` and refuse it unless every address is public (or operator-allowed).

    Returns the addresses (so a caller can connect to exactly what was checked). Raises
    :class:`OutboundRefused` for an internal address, the database/Redis address, or a
    name that does not resolve (nothing to connect to; connecting later would resolve
    again and might land inside).
    """
    host = (host or "").strip()
    if not host:
        raise OutboundRefused(_("Informe um endereço."))
    addrs = _resolve(host)
    if not addrs:
        raise OutboundRefused(_("Não foi possível resolver o endereço %(host)s.") % {"host": host})
    allowed = _allowed_networks()
    platform = _platform_endpoints()
    for addr in addrs:
        if (str(addr), int(port)) in platform:
            raise OutboundRefused(_("Este endereço é um serviço interno da plataforma."))
        if address_is_internal(addr) and not any(addr in net for net in allowed):
            raise OutboundRefused(
                _("Endereço interno não permitido (%(addr)s): use um endereço público.")
                % {"addr": addr}
            )
    return [str(a) for a in addrs]


def validate_host(host: str, port: int) -> str:
    check_destination(host, port)
    return host


def url_destination(url: str) -> tuple[str, int]:
    """(host, port) of an http(s) URL; anything else is refused."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise OutboundRefused(_("URL inválida.")) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutboundRefused(_("Use uma URL http:// ou https:// com um endereço."))
    if parts.username or parts.password:
        raise OutboundRefused(_("A URL não pode conter usuário ou senha."))
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def validate_url(url: str) -> str:
    host, port = url_destination(url)
    check_destination(host, port)
    return url


# --- what the platform's Asterisk dials for a tenant ------------------------------------------

#: A PJSIP endpoint / extension / E.164 number: no technology, host, URI, second target
#: (``&``), option (``,``) or dialplan expression (``${...}``) can ride along.
_ENDPOINT_RE = re.compile(r"^\+?[A-Za-z0-9_.-]{1,64}$")
#: The same, optionally as ``PJSIP/<endpoint>`` (the only technology the voice side dials).
_DIAL_RE = re.compile(r"^(?:PJSIP/)?\+?[A-Za-z0-9_.-]{1,64}$")


def validate_dial_target(value: str, *, technology: bool = True) -> str:
    """A resident's phone or the concierge's extension, dialed by the platform's Asterisk.

    ``SIP/evil.example``, ``PJSIP/1101/sip:x@evil.example`` or ``1000&SIP/...`` would make
    the platform's PBX call wherever the tenant says (toll fraud, SIP to internal hosts).
    """
    if not (_DIAL_RE if technology else _ENDPOINT_RE).match(value or ""):
        raise OutboundRefused(
            _("Use um ramal, um endpoint PJSIP (PJSIP/1101) ou um número E.164 (+5511999990001).")
            if technology else _("Use um ramal ou endpoint (letras, dígitos, _ . -).")
        )
    return value


#: A dialplan context or extension the dialer sends as Originate ``Context`` / ``Exten`` (and
#: the context of ``Local/<number>@<context>``): an identifier, nothing Asterisk would parse.
_DIALPLAN_RE = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
#: The campaign's number placeholders (``central.dialer.core.dial_request`` fills them with
#: the contact's normalized digits).
TRUNK_PLACEHOLDERS = ("{number}", "{e164}")
#: A campaign trunk pattern: ``PJSIP/<resource>[@<endpoint>]`` or
#: ``Local/<resource>@<context>``. One ``/`` (the technology's), at most one ``@``, and no
#: second target (``&``), Dial option (``,``), SIP URI (``:``), expression (``$``) or line
#: break can ride along.
_TRUNK_RE = re.compile(
    r"^(?:PJSIP/(?P<pjsip>[A-Za-z0-9_+.{}-]{1,64})(?:@[A-Za-z0-9_.-]{1,64})?"
    r"|Local/(?P<local>[A-Za-z0-9_+.{}-]{1,64})@[A-Za-z0-9_-]{1,80})$"
)


def validate_dialplan_name(value: str) -> str:
    """A campaign's ``dial_context`` / ``dial_exten``: ``[A-Za-z0-9_-]``, up to 80.

    They go verbatim into the Originate (and ``Local/<number>@<context>``): ``x&SIP/...``,
    ``x/n``, ``x,1`` or a line break would dial a second target or inject AMI headers.
    """
    if not _DIALPLAN_RE.match(value or ""):
        raise OutboundRefused(_("Use um nome do plano de discagem: letras, dígitos, _ e - (ex.: discador-out)."))
    return value


def validate_trunk(value: str) -> str:
    """A campaign's ``trunk`` pattern (empty: ``Local/<number>@<dial_context>``).

    ``PJSIP/{number}@operadora`` or ``Local/{e164}@saida``, with exactly one number
    placeholder: a pattern without one dials a fixed destination for every contact, and
    any other technology, host, URI or second target makes the PBX call where the tenant
    says instead of the contact.
    """
    if not value:
        return value
    m = _TRUNK_RE.match(value)
    resource = (m.group("pjsip") or m.group("local")) if m else None
    if resource is not None:
        bare = resource
        for placeholder in TRUNK_PLACEHOLDERS:
            bare = bare.replace(placeholder, "", 1)
        if sum(resource.count(p) for p in TRUNK_PLACEHOLDERS) == 1 and "{" not in bare and "}" not in bare:
            return value
    raise OutboundRefused(
        _("Use PJSIP/{number}@<endpoint> ou Local/{number}@<contexto>, com um só {number} ou {e164} "
          "e sem outra tecnologia, &, vírgula ou barra extra."))


#: What a campaign makes the PBX dial: field -> validator (the API and the engine both use it).
CAMPAIGN_DIAL_FIELDS = {"trunk": validate_trunk, "dial_context": validate_dialplan_name,
                        "dial_exten": validate_dialplan_name}


def campaign_dial_problems(campaign) -> dict[str, str]:
    """``{field: message}`` for every dial setting of ``campaign`` outside the rule.

    The engine refuses to dial such a campaign (a row written before the rule, or in the
    admin) and the start action reports it."""
    problems: dict[str, str] = {}
    for name, validate in CAMPAIGN_DIAL_FIELDS.items():
        try:
            validate(getattr(campaign, name, "") or "")
        except OutboundRefused as exc:
            problems[name] = str(exc)
    return problems


def parse_allow_list(raw: str) -> tuple[str, ...]:
    """``CENTRAL_OUTBOUND_ALLOW``: comma separated addresses or networks (CIDR)."""
    items: list[str] = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        ipaddress.ip_network(part, strict=False)  # ValueError for the settings to report
        items.append(part)
    return tuple(items)


def field_kind(label: str, name: str) -> str | None:
    """The declared kind of an API field (``model label``, ``field name``), if any."""
    return TENANT_FIELDS.get(label, {}).get(name)


def suspicious(names: Iterable[str]) -> list[str]:
    """Field names that look like destinations or secrets (what the walker must see declared)."""
    pattern = re.compile(r"(env|secret|host|url|uri|endpoint|key|token|password|addr|ip$|"
                         r"server|domain|webhook|provider|credential|region|extension|exten|trunk|dial|context|"
                         r"channel|pbx|asterisk)", re.I)
    return [n for n in names if pattern.search(n)]
