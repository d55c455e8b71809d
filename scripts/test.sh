#!/usr/bin/env bash
# The whole test suite: lint, then pytest on SQLite, then again on PostgreSQL + Redis.
# Starts its own PostgreSQL, Redis and MariaDB on free ports and stops them afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

bash scripts/system-deps.sh
$BIN/ruff check src tests bench agent

trap 'bash scripts/services.sh stop || true' EXIT
env_file=$(bash scripts/services.sh start)
# shellcheck disable=SC1090
source "$env_file"
export CENTRAL_TEST_REDIS_URL CENTRAL_TEST_DATABASE_URL CENTRAL_TEST_MARIADB_URL

work=$(mktemp -d /tmp/central-test-XXXX)
export CENTRAL_DATA_DIR="$work/data"
export CHROMIUM_PATH=${CHROMIUM_PATH:-$(command -v chromium)}

echo "=== tests on SQLite (embedded default) ==="
env -u DATABASE_URL -u REDIS_URL $BIN/pytest -q -p no:cacheprovider "$@"

echo "=== tests on PostgreSQL + Redis ==="
# Tests marked backend_free touch neither the database nor Redis: the first pass ran them.
DATABASE_URL="$CENTRAL_TEST_DATABASE_URL" REDIS_URL="$CENTRAL_TEST_REDIS_URL" \
  $BIN/pytest -q -p no:cacheprovider -m "not backend_free" "$@"
