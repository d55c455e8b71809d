"""``central diagnose`` follows the outbound rule for tenant-configured Asterisk hosts.

Before: it opened a TCP connection to every enabled server row, including hosts the
outbound rule refuses (loopback, the metadata address, private networks), and printed what
answered (``asterisk:<name> OK 127.0.0.1:<port> Asterisk Call Manager/...``): a tenant could
make the operator's diagnose probe an internal port and read its banner.
"""

from __future__ import annotations

import contextlib
import socket
import threading

import pytest

from tests.support import migrated_env, run_central

BANNER = b"Asterisk Call Manager/9.9.9 internal-service-banner\r\n"


class Listener:
    """A loopback TCP service that counts who connects (the "internal service")."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.sendall(BANNER)

    def close(self) -> None:
        # shutdown() wakes the thread blocked in accept() (close() alone does not, on
        # Linux: the join then waited its whole 5 s every time).
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self._thread.join(5)
        assert not self._thread.is_alive()


SEED = """
from central.core.models import Organization
from central.telephony.models import AsteriskServer
org = Organization.objects.create(name="T", slug="t")
for name, host, port in [("interno", "127.0.0.1", {port}), ("metadados", "169.254.169.254", 5038),
                         ("privado", "10.0.0.5", 5038)]:
    AsteriskServer.objects.create(organization=org, name=name, host=host, port=port, username="u",
                                  secret_env="CENTRAL_TENANT_SECRET_X")
"""


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """One seeded installation and one internal listener for both tests (each diagnose run
    gets its own outbound rule through its environment); a seed costs a Python and Django
    start, seconds under load."""
    internal = Listener()
    try:
        env = migrated_env(tmp_path_factory.mktemp("diagnose") / "data")
        env.pop("CENTRAL_OUTBOUND_ALLOW", None)
        result = run_central(["manage", "shell", "-c", SEED.format(port=internal.port)], env)
        assert result.returncode == 0, result.stderr
        yield env, internal
    finally:
        internal.close()


def test_diagnose_skips_and_reports_refused_tenant_hosts(seeded):
    env, internal = seeded
    before = internal.connections
    result = run_central(["diagnose"], env)
    assert internal.connections == before, result.stdout
    assert "internal-service-banner" not in result.stdout
    lines = {name: next((ln for ln in result.stdout.splitlines() if f"asterisk:{name}" in ln), "")
             for name in ("interno", "metadados", "privado")}
    for name, line in lines.items():
        assert "WARN" in line and "not contacted" in line, (name, result.stdout)


def test_diagnose_still_checks_allowed_tenant_hosts(seeded):
    """The control: a network the operator opened is checked, at the address checked."""
    env, internal = seeded
    before = internal.connections
    result = run_central(["diagnose"], {**env, "CENTRAL_OUTBOUND_ALLOW": "127.0.0.1/32"})
    assert internal.connections == before + 1, result.stdout
    line = next(ln for ln in result.stdout.splitlines() if "asterisk:interno" in ln)
    assert "OK" in line, result.stdout
