#!/usr/bin/env bash
# The whole test suite: lint, then pytest on SQLite and on PostgreSQL + Redis.
#
# The two passes run side by side (a machine has two cores or more, and most of a pass is
# waiting on processes it started), each with its own PostgreSQL, Redis and MariaDB on
# free ports and its own data directory, so neither can see the other's rows, channel
# groups or log stream; no test listens on a default port (tests/support.py). Side by side
# is the default (one after the other, about 31 minutes, is over CI's 25-minute budget);
# CENTRAL_TEST_PARALLEL=0 runs them one after the other, e.g. to time one pass alone.
# Each pass's output goes to a log file that is printed whole when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

bash scripts/system-deps.sh
$BIN/ruff check src tests bench agent

work=$(mktemp -d /tmp/central-test-XXXX)
chmod 755 "$work"  # the PostgreSQL servers run as the postgres user
export CHROMIUM_PATH=${CHROMIUM_PATH:-$(command -v chromium)}
SERVICES_SQLITE="$work/services-sqlite"
SERVICES_POSTGRES="$work/services-postgres"
trap 'CENTRAL_SERVICES_DIR=$SERVICES_SQLITE bash scripts/services.sh stop || true;
      CENTRAL_SERVICES_DIR=$SERVICES_POSTGRES bash scripts/services.sh stop || true' EXIT

# pass NAME SERVICES_DIR: run one pass with its own servers and data dir; its exit status
# is the pass's.
pass() {
  local name=$1 services=$2 env_file
  shift 2
  env_file=$(CENTRAL_SERVICES_DIR=$services bash scripts/services.sh start)
  (
    # shellcheck disable=SC1090
    source "$env_file"
    export CENTRAL_TEST_REDIS_URL CENTRAL_TEST_DATABASE_URL CENTRAL_TEST_MARIADB_URL
    export CENTRAL_SERVICES_DIR=$services
    export CENTRAL_DATA_DIR="$work/data-$name"
    # A pass that hangs where pytest-timeout cannot reach (a fixture's teardown) is
    # interrupted after CENTRAL_TEST_PASS_TIMEOUT seconds: SIGINT makes pytest print its
    # summary (which test was running), then SIGKILL 60 s later if even that hangs.
    local limit=(timeout -s INT -k 60 "${CENTRAL_TEST_PASS_TIMEOUT:-2700}")
    if [ "$name" = sqlite ]; then
      env -u DATABASE_URL -u REDIS_URL "${limit[@]}" $BIN/pytest -q -p no:cacheprovider "$@"
    else
      # Tests marked backend_free touch neither the database nor Redis: the SQLite pass runs them.
      DATABASE_URL="$CENTRAL_TEST_DATABASE_URL" REDIS_URL="$CENTRAL_TEST_REDIS_URL" \
        "${limit[@]}" $BIN/pytest -q -p no:cacheprovider -m "not backend_free" "$@"
    fi
  )
}

started=$(date +%s)
status_sqlite=0
status_postgres=0
if [ "${CENTRAL_TEST_PARALLEL:-1}" != 1 ]; then
  echo "=== tests on SQLite (embedded default) ==="
  pass sqlite "$SERVICES_SQLITE" "$@" || status_sqlite=$?
  echo "=== tests on PostgreSQL + Redis ==="
  pass postgres "$SERVICES_POSTGRES" "$@" || status_postgres=$?
else
  echo "=== tests on SQLite (embedded default) and on PostgreSQL + Redis, side by side ==="
  echo "(logs: $work/sqlite.log and $work/postgres.log, printed whole below as each ends)"
  pass sqlite "$SERVICES_SQLITE" "$@" >"$work/sqlite.log" 2>&1 &
  pid_sqlite=$!
  pass postgres "$SERVICES_POSTGRES" "$@" >"$work/postgres.log" 2>&1 &
  pid_postgres=$!
  wait "$pid_sqlite" || status_sqlite=$?
  echo "=== tests on SQLite (embedded default): exit $status_sqlite at +$(( $(date +%s) - started )) s ==="
  cat "$work/sqlite.log"
  wait "$pid_postgres" || status_postgres=$?
  echo "=== tests on PostgreSQL + Redis: exit $status_postgres at +$(( $(date +%s) - started )) s ==="
  cat "$work/postgres.log"
fi
echo "=== SQLite: $( [ $status_sqlite = 0 ] && echo passed || echo FAILED ); PostgreSQL + Redis: $( [ $status_postgres = 0 ] && echo passed || echo FAILED ); $(( $(date +%s) - started )) s ==="
[ "$status_sqlite" = 0 ] && [ "$status_postgres" = 0 ]
