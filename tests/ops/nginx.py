"""Debian's nginx running deploy/nginx/central.conf for the tests.

The deployed file is used as written; only the site-specific values are replaced (ports,
certificate, paths), each one asserted present so a change of the file's shape fails here
instead of silently testing something else.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support import ROOT, free_port

DEPLOY = ROOT / "deploy" / "nginx"


def nginx_binary() -> str:
    path = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    assert path, "nginx is required (scripts/system-deps.sh installs it)"
    return path


def self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=central.example.com", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


@dataclass
class Nginx:
    conf: Path
    http_port: int
    https_port: int
    workdir: Path
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def test_config(self) -> subprocess.CompletedProcess:
        return subprocess.run([nginx_binary(), "-t", "-p", str(self.workdir), "-c", str(self.conf)],
                              capture_output=True, text=True, timeout=30)

    def start(self) -> None:
        self.proc = subprocess.Popen([nginx_binary(), "-p", str(self.workdir), "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        import socket

        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.proc.stderr.read().decode()
            try:
                socket.create_connection(("127.0.0.1", self.https_port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not listen")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def render(workdir: Path, upstream_ports: list[int], static_root: Path) -> Nginx:
    """A runnable nginx.conf around deploy/nginx/central.conf (and its nginx-proxy.conf)."""
    workdir.mkdir(parents=True, exist_ok=True)
    for sub in ("logs", "tmp", "acme"):
        (workdir / sub).mkdir(exist_ok=True)
    cert, key = self_signed(workdir)
    http_port, https_port = free_port(), free_port()
    site = (DEPLOY / "central.conf").read_text()
    servers = "".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;\n" for p in upstream_ports)
    replacements = [
        ("    server 127.0.0.1:8001 max_fails=1 fail_timeout=5s;\n"
         "    server 127.0.0.1:8002 max_fails=1 fail_timeout=5s;\n", servers),
        ("    listen [::]:80;\n", ""),
        ("    listen [::]:443 ssl http2;\n", ""),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        ("/etc/letsencrypt/live/central.example.com/fullchain.pem", str(cert)),
        ("/etc/letsencrypt/live/central.example.com/privkey.pem", str(key)),
        ("/etc/central/nginx-proxy.conf", str(DEPLOY / "nginx-proxy.conf")),
        ("/var/www/central/static/", f"{static_root}/"),
        ("/var/www/letsencrypt", str(workdir / "acme")),
    ]
    for old, new in replacements:
        assert old in site, f"deploy/nginx/central.conf no longer contains {old!r}"
        site = site.replace(old, new)
    (workdir / "central.conf").write_text(site)
    # As root, workers would switch to an unprivileged user that cannot read the test's
    # private directories; the deployed setup runs them as www-data.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    tmp = workdir / "tmp"
    conf = workdir / "nginx.conf"
    conf.write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {workdir}/nginx.pid;\nerror_log {workdir}/logs/error.log warn;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        "    include /etc/nginx/mime.types;\n"
        f"    access_log {workdir}/logs/access.log;\n"
        f"    client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy;\n"
        f"    fastcgi_temp_path {tmp}/fcgi; uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;\n"
        f"    include {workdir}/central.conf;\n"
        "}\n"
    )
    return Nginx(conf, http_port, https_port, workdir)
