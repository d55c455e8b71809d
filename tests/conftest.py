"""Shared fixtures: two tenants with users of each role, JWT API clients, a clean cache."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _clear_cache():
    """Rate-limit counters live in the cache; each test starts with none."""
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture(scope="session", autouse=True)
def _no_stray_voice_process():
    """Views that ask the voice process (central.voice.api.voice_api) go to
    CENTRAL_VOICE_API_URL, by default 127.0.0.1:8090: on a shared host that is whichever
    Central listens there, e.g. the other test pass's `central up`, so a page would show
    its extensions, or not, depending on what else runs. Point it at a port that refuses
    every connection (bound, never listening, held for the whole session); a test that
    wants a voice process starts one and sets the variable (monkeypatch)."""
    import os
    import socket

    with socket.socket() as refusing:
        refusing.bind(("127.0.0.1", 0))
        saved = os.environ.get("CENTRAL_VOICE_API_URL")
        os.environ["CENTRAL_VOICE_API_URL"] = f"http://127.0.0.1:{refusing.getsockname()[1]}"
        yield
        if saved is None:
            os.environ.pop("CENTRAL_VOICE_API_URL", None)
        else:
            os.environ["CENTRAL_VOICE_API_URL"] = saved


@pytest.fixture
def tenants(db):
    """Organizations A and B, each with an owner; A also has a viewer and an agent."""
    from django.contrib.auth import get_user_model

    from central.core.models import Membership, Organization

    User = get_user_model()
    a = Organization.objects.create(name="Empresa A", slug="empresa-a")
    b = Organization.objects.create(name="Empresa B", slug="empresa-b")
    users = {}
    for name, org, role in [
        ("alice", a, "owner"),
        ("bob", b, "owner"),
        ("vera", a, "viewer"),
        ("artur", a, "agent"),
    ]:
        user = User.objects.create_user(name, f"{name}@example.com", "senha-forte-123")
        Membership.objects.create(user=user, organization=org, role=role)
        users[name] = user
    return {"a": a, "b": b, **users}


def _api_client(user):
    from rest_framework.test import APIClient
    from rest_framework_simplejwt.tokens import RefreshToken

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@pytest.fixture
def api_as():
    """``api_as(user)`` -> an APIClient authenticated with a real JWT for that user."""
    return _api_client


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """PBKDF2 at full strength costs ~0.3 s per user; tests only need a working hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A real Redis: the one scripts/test.sh started, or one started here."""
    import os
    import shutil
    import subprocess
    import time

    from tests.support import free_port

    url = os.environ.get("CENTRAL_TEST_REDIS_URL") or os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    server = shutil.which("redis-server")
    assert server, "redis-server is required (scripts/system-deps.sh installs it)"
    port = free_port()
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        cwd=tmp_path_factory.mktemp("redis"),
    )
    import redis

    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(5)


@pytest.fixture(scope="session")
def central_up(tmp_path_factory):
    """`central up` on a fresh data directory, as a new user would start it, with one pace
    scaled down: WhatsApp messages to one customer 0.5 s apart instead of Meta's 6 s
    (tests/messaging/test_e2e_simulator.py tests that pace; here a booking conversation on
    the test phone is six messages to one patient, 15 s of waiting at 6 s)."""
    from tests.support import central_env, free_port, start_central

    base = tmp_path_factory.mktemp("central-up")
    port = free_port()
    env = central_env(base / "data", CENTRAL_WHATSAPP_RECIPIENT_INTERVAL="0.5")
    proc = start_central(["up", "--port", str(port)], env, port, base / "up.log", wait=180)  # ~10 s when quiet; 90 s ran out at load 12
    yield proc
    proc.stop()


CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture
def browser():
    """Debian's Chromium driven by Playwright through its executable path (no browser download).

    Function-scoped on purpose: Playwright's sync API keeps an event loop running in the
    main thread while it is open, which would break every asyncio test after it.
    """
    import os
    import shutil

    from playwright.sync_api import sync_playwright

    path = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium")
    assert path, "chromium is required (scripts/system-deps.sh installs it)"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        watched = CspWatchingBrowser(browser)
        yield watched
        browser.close()
    assert not watched.violations, f"Content-Security-Policy violations: {watched.violations}"


class CspWatchingBrowser:
    """The browser, with every page it opens reporting CSP violations (docs/security.md,
    rule 4): a page that needs inline code without a nonce fails its browser test."""

    def __init__(self, browser) -> None:
        self._browser = browser
        self.violations: list[str] = []

    def _watch(self, target) -> None:
        def on_console(message) -> None:
            if "Content Security Policy" in message.text:
                self.violations.append(message.text)

        target.on("console", on_console)

    def new_page(self, *args, **kwargs):
        page = self._browser.new_page(*args, **kwargs)
        self._watch(page)
        return page

    def new_context(self, *args, **kwargs):
        context = self._browser.new_context(*args, **kwargs)
        self._watch(context)
        return context

    def __getattr__(self, name):
        return getattr(self._browser, name)


def _services(tmp_path_factory, what: str) -> dict[str, str]:
    """Start ``scripts/services.sh <what>`` in a private state dir (stopped at session end):
    the same throw-away servers scripts/test.sh starts, for a run of pytest outside it."""
    import atexit
    import os
    import subprocess
    import tempfile
    from pathlib import Path

    # Directly under /tmp: PostgreSQL runs as the postgres user, which cannot enter
    # pytest's private (0700) temporary directories.
    state = Path(tempfile.mkdtemp(prefix=f"central-services-{what}-"))
    state.chmod(0o755)
    script = Path(__file__).resolve().parent.parent / "scripts" / "services.sh"
    env = {**os.environ, "CENTRAL_SERVICES_DIR": str(state)}
    out = subprocess.run(["bash", str(script), what], env=env, capture_output=True, text=True, check=True)
    atexit.register(subprocess.run, ["bash", str(script), "stop"], env=env, capture_output=True)
    values = {}
    for line in Path(out.stdout.strip()).read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        values[key] = value
    return values


@pytest.fixture(scope="session")
def mariadb_server_url(tmp_path_factory):
    """A real MariaDB (the legacy dialer's database): the one scripts/test.sh started, or
    one started here. Never skipped: scripts/system-deps.sh installs mariadb-server."""
    import os
    import shutil

    url = os.environ.get("CENTRAL_TEST_MARIADB_URL")
    if url:
        return url
    assert shutil.which("mariadbd") or os.path.exists("/usr/sbin/mariadbd"), (
        "mariadb-server is required (scripts/system-deps.sh installs it)")
    return _services(tmp_path_factory, "mariadb")["CENTRAL_TEST_MARIADB_URL"]


@pytest.fixture(scope="session")
def postgres_server_url(tmp_path_factory):
    """A real PostgreSQL server URL, whatever database the suite runs on: the one
    scripts/test.sh started (also exported on the SQLite run), or one started here."""
    import os

    for key in ("CENTRAL_TEST_DATABASE_URL", "DATABASE_URL"):
        url = os.environ.get(key, "")
        if url.startswith(("postgres://", "postgresql://")):
            return url
    return _services(tmp_path_factory, "start")["CENTRAL_TEST_DATABASE_URL"]
