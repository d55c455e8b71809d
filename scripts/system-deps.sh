#!/usr/bin/env bash
# Debian packages Central needs. `run`: what the embedded default uses (python3-venv,
# espeak-ng for offline text-to-speech). `test` (default): also Redis, Chromium for the
# browser tests, gettext, MariaDB (legacy import tests), nginx (deploy/nginx), Prometheus
# (promtool and the live scrape test), docker-compose (compose file validation), and checks
# that PostgreSQL 15 server binaries are there.
set -euo pipefail
mode=${1:-test}
need=()
python3.11 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3.11-venv)
command -v espeak-ng >/dev/null || need+=(espeak-ng)
if [ "$mode" = test ]; then
  command -v redis-server >/dev/null || need+=(redis-server)
  command -v chromium >/dev/null || need+=(chromium)
  command -v msgfmt >/dev/null || need+=(gettext)
  [ -x /usr/lib/postgresql/15/bin/initdb ] || command -v initdb >/dev/null || need+=(postgresql-15)
  # The legacy dialer's database, read by `central import-legacy` (tests start their own).
  command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || need+=(mariadb-server)
  # deploy/nginx/central.conf is checked with Debian's nginx (`nginx -t`, the layout test).
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
  command -v openssl >/dev/null || need+=(openssl)
  # deploy/prometheus checked with promtool and scraped by a real Prometheus (tests/ops);
  # the prometheus package ships both binaries.
  { command -v promtool >/dev/null && command -v prometheus >/dev/null; } || need+=(prometheus)
  # compose.yaml validated with `docker-compose config` (no Docker engine needed).
  command -v docker-compose >/dev/null || need+=(docker-compose)
fi
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = "0" ] || SUDO="sudo"
  echo "installing Debian packages: ${need[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
