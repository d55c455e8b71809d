"""The container files (issue 16, "Containers"), validated without a Docker engine.

No engine runs here, and the images are built by CI elsewhere: what can be checked is
checked with real tools. ``compose.yaml`` with Debian's ``docker-compose config`` (schema,
interpolation, env file, secrets), its Prometheus configuration with ``promtool``, its
nginx site with Debian's ``nginx -t``, the Dockerfile's rules by reading it, and the
image's health check script against a real endpoint.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys

import pytest
import yaml

from central.core.metrics import METRICS_PORTS, serve_process_metrics
from tests.ops.nginx import nginx_binary, self_signed
from tests.support import ROOT, free_port

pytestmark = pytest.mark.backend_free

COMPOSE = ROOT / "compose.yaml"
DOCKERFILE = ROOT / "Dockerfile"
HEALTHCHECK = ROOT / "deploy" / "docker" / "healthcheck.py"
COMPOSE_SITE = ROOT / "deploy" / "compose" / "nginx-central.conf"
HOST_SITE = ROOT / "deploy" / "nginx" / "central.conf"
PROM_COMPOSE = ROOT / "deploy" / "prometheus" / "prometheus-compose.yml"
CENTRAL_SERVICES = {"web", "worker", "beat", "pbx", "dialer", "voice"}


def compose_config(tmp_path, compose=COMPOSE) -> subprocess.CompletedProcess:
    """``docker-compose config`` with the example env file and secret files in tmp."""
    env_file = tmp_path / "compose.env"
    shutil.copy(ROOT / "deploy" / "compose.env.example", env_file)
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir(exist_ok=True)
    (secrets_dir / "central-metrics-token").write_text(secrets.token_urlsafe(24))
    (secrets_dir / "grafana-admin-password").write_text(secrets.token_urlsafe(12))
    env = {**os.environ, "CENTRAL_ENV_FILE": str(env_file), "CENTRAL_SECRETS_DIR": str(secrets_dir)}
    for name in ("CENTRAL_IMAGE", "CENTRAL_TLS_DIR", "CENTRAL_AUDIOSOCKET_PORTS"):
        env.pop(name, None)
    docker_compose = shutil.which("docker-compose") or "docker-compose"  # scripts/system-deps.sh
    return subprocess.run([docker_compose, "-f", str(compose), "--project-directory", str(ROOT), "config"],
                          env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> dict:
    res = compose_config(tmp_path_factory.mktemp("compose"))
    assert res.returncode == 0, res.stderr
    return yaml.safe_load(res.stdout)


def test_compose_has_every_service_with_volumes_and_secrets(config):
    services = config["services"]
    assert set(services) == CENTRAL_SERVICES | {"postgres", "redis", "migrate", "nginx", "prometheus", "grafana"}
    assert services["web"]["deploy"]["replicas"] == 2
    assert services["beat"]["deploy"]["replicas"] == 1  # exactly one scheduler
    assert set(config["volumes"]) >= {"central-data", "postgres-data", "redis-data", "prometheus-data",
                                      "grafana-data"}
    images = {services[name]["image"] for name in CENTRAL_SERVICES | {"migrate"}}
    assert images == {"central:latest"}  # one image, the command chooses the process
    for name in CENTRAL_SERVICES:
        service = services[name]
        env = service["environment"]
        # Settings and secrets from the env file, never written in compose.yaml itself.
        assert env["SECRET_KEY"] and env["CENTRAL_METRICS_TOKEN"] and env["DATABASE_URL"], name
        assert env["CENTRAL_ENV"] == "production"
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name
        assert any(v.startswith("central-data:/var/lib/central") for v in service["volumes"]), name
    assert "SECRET_KEY" not in COMPOSE.read_text()
    assert set(config["secrets"]) == {"central_metrics_token", "grafana_admin_password"}
    assert services["prometheus"]["secrets"] == [{"source": "central_metrics_token"}]
    assert services["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD__FILE"] == \
        "/run/secrets/grafana_admin_password"


def test_compose_health_ports_are_the_processes_metrics_ports(config):
    """The container health check reads /health on the port each process serves: the web
    port, or the per-process metrics port (one constant, central.core.metrics)."""
    services = config["services"]
    assert services["web"]["environment"]["CENTRAL_HEALTH_PORT"] == "8000"
    for kind in CENTRAL_SERVICES - {"web"}:
        assert services[kind]["environment"]["CENTRAL_HEALTH_PORT"] == str(METRICS_PORTS[kind]), kind
    jobs = {job["job_name"]: job for job in yaml.safe_load(PROM_COMPOSE.read_text())["scrape_configs"]}
    for kind in CENTRAL_SERVICES:
        sd = jobs[f"central-{kind}"]["dns_sd_configs"][0]
        assert sd["names"] == [kind] and sd["port"] == (8000 if kind == "web" else METRICS_PORTS[kind]), kind


def test_compose_mounts_the_provided_monitoring_and_nginx_files(config):
    services = config["services"]

    def sources(name: str) -> set[str]:
        return {v.split(":", 1)[0] for v in services[name]["volumes"]}

    assert {str(ROOT / "deploy/prometheus/prometheus-compose.yml"),
            str(ROOT / "deploy/prometheus/central-rules.yml")} <= sources("prometheus")
    assert {str(ROOT / "deploy/grafana/provisioning"), str(ROOT / "deploy/grafana/dashboards")} <= sources("grafana")
    assert {str(COMPOSE_SITE), str(ROOT / "deploy/nginx/nginx-proxy.conf")} <= sources("nginx")
    trusted = services["web"]["environment"]["CENTRAL_TRUSTED_PROXIES"]
    assert trusted == services["nginx"]["networks"]["central"]["ipv4_address"]  # nginx, and only nginx


def test_docker_compose_refuses_a_broken_file(tmp_path):
    """The validation is real: a replica count that is not a number fails it."""
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE.read_text().replace("replicas: 2", "replicas: two"))
    res = compose_config(tmp_path, broken)
    assert res.returncode != 0 and "replicas" in res.stderr


def test_promtool_checks_the_compose_prometheus_config(tmp_path):
    token = tmp_path / "token"
    token.write_text(secrets.token_urlsafe(24))
    text = PROM_COMPOSE.read_text()
    assert "/run/secrets/central_metrics_token" in text
    (tmp_path / "prometheus.yml").write_text(text.replace("/run/secrets/central_metrics_token", str(token)))
    shutil.copy(ROOT / "deploy" / "prometheus" / "central-rules.yml", tmp_path)
    res = subprocess.run([shutil.which("promtool") or "promtool", "check", "config", str(tmp_path / "prometheus.yml")],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr


def _locations(text: str) -> dict[str, str]:
    """location -> its client_max_body_size ("" when it sets none), in the TLS server."""
    tls = text[text.index("listen 443"):]
    out = {}
    for match in re.finditer(r"location ([^{]+)\{(.*?)\n    \}", tls, re.S):
        size = re.search(r"client_max_body_size (\S+);", match.group(2))
        out[match.group(1).strip()] = size.group(1) if size else ""
    return out


def test_compose_nginx_site_matches_the_host_site_and_passes_nginx_t(tmp_path):
    compose_site, host_site = COMPOSE_SITE.read_text(), HOST_SITE.read_text()
    host = _locations(host_site)
    host.pop("/static/", None)  # compose: whitenoise in the web containers serves them
    ours = _locations(compose_site)
    assert ours.pop("= /metrics") == ""  # scraped per container, never through nginx
    assert ours == host
    for line in ("client_max_body_size 1m;", "proxy_next_upstream error timeout http_502;",
                 "include /etc/central/nginx-proxy.conf;", "default upgrade;"):
        assert line in compose_site and line in host_site, line
    # nginx -t with the compose-only values replaced (each asserted present).
    cert, key = self_signed(tmp_path)
    site = compose_site
    for old, new in [("server web:8000", f"server 127.0.0.1:{free_port()}"),
                     ("/etc/nginx/certs/fullchain.pem", str(cert)), ("/etc/nginx/certs/privkey.pem", str(key)),
                     ("/etc/central/nginx-proxy.conf", str(ROOT / "deploy" / "nginx" / "nginx-proxy.conf")),
                     ("    listen [::]:80;\n", ""), ("    listen [::]:443 ssl http2;\n", ""),
                     ("listen 80;", f"listen 127.0.0.1:{free_port()};"),
                     ("listen 443 ssl http2;", f"listen 127.0.0.1:{free_port()} ssl http2;")]:
        assert old in site, old
        site = site.replace(old, new)
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "logs").mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/logs/error.log;\n"
                    "events { worker_connections 64; }\n"
                    f"http {{ include /etc/nginx/mime.types; access_log off; include {tmp_path}/site.conf; }}\n")
    res = subprocess.run([nginx_binary(), "-t", "-p", str(tmp_path), "-c", str(conf)],
                         capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    assert "syntax is ok" in res.stderr


def test_dockerfile_is_multi_stage_slim_non_root_with_a_health_check():
    text = DOCKERFILE.read_text()
    stages = re.findall(r"^FROM (\S+)(?: AS (\S+))?$", text, re.M)
    assert len(stages) == 2 and all(image.startswith("python:3.11-slim") for image, _ in stages), stages
    assert "COPY --from=build /opt/central/venv /opt/central/venv" in text
    runtime = text[text.rindex("\nFROM "):]
    assert "build-essential" not in runtime  # no compiler in the image that runs
    user = re.findall(r"^USER (\S+)$", runtime, re.M)
    assert user and user[-1].split(":")[0] not in ("root", "0"), user
    assert "useradd --system --uid 10001" in runtime
    assert re.search(r"^HEALTHCHECK .*\n?.*CMD \[\"python\", \"/opt/central/healthcheck.py\"\]", runtime, re.M)
    assert "COPY deploy/docker/healthcheck.py /opt/central/healthcheck.py" in runtime
    assert 'CMD ["central", "web", "--host", "0.0.0.0", "--port", "8000"]' in runtime
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", "data"} <= set(ignored)


def _healthcheck(port: int) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(HEALTHCHECK)], env={**os.environ, "CENTRAL_HEALTH_PORT": str(port)},
                          capture_output=True, text=True, timeout=30)


def test_the_image_health_check_reads_health_of_a_process_endpoint():
    """The script the image runs, against a real per-process endpoint: 0 while it
    answers /health, 1 once nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = serve_process_metrics("worker", port)
    assert server is not None
    try:
        ok = _healthcheck(port)
        assert ok.returncode == 0, ok.stderr
    finally:
        server.shutdown()
        server.server_close()
    down = _healthcheck(port)
    assert down.returncode == 1 and "failed" in down.stderr
