#!/usr/bin/env bash
# Run the test suite N times in a row on one database and count the runs that failed.
# A CI run that fails does not land, so the suite must pass every time: this is the check.
#
#   scripts/test-repeat.sh N sqlite|postgres|both [pytest arguments...]
#   make test-repeat N=10 DB=sqlite            # the whole suite, 10 times, on SQLite
#   make test-repeat N=30 DB=postgres ARGS=tests/dialer/test_reconcile.py
#
# Prints one line per run (passed/FAILED, pytest's summary, the failed tests) and a
# summary per database; exits 1 if any run failed. Each run's full output is kept in
# a log directory (printed). The test services (scripts/services.sh) are started once for
# all the runs, in their own state directory, so they never stop another suite's servers.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

n=${1:-10}
db=${2:-sqlite}
shift 2 2>/dev/null || shift $#
case "$db" in
  sqlite | postgres) dbs=("$db") ;;
  both) dbs=(sqlite postgres) ;;
  *) echo "usage: $0 N sqlite|postgres|both [pytest args...]" >&2; exit 2 ;;
esac
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "N must be a positive integer, got '$n'" >&2; exit 2; }

logs=$(mktemp -d /tmp/central-test-repeat-XXXX)
chmod 755 "$logs"  # the PostgreSQL server runs as the postgres user
export CENTRAL_DATA_DIR="$logs/data"
export CHROMIUM_PATH=${CHROMIUM_PATH:-$(command -v chromium || true)}

# The same servers as `make test` (scripts/test.sh) for every database, as in CI.
export CENTRAL_SERVICES_DIR=${CENTRAL_SERVICES_DIR:-$logs/services}
trap 'bash scripts/services.sh stop || true' EXIT
env_file=$(bash scripts/services.sh start) || { echo "cannot start the test services" >&2; exit 1; }
# shellcheck disable=SC1090
source "$env_file"
export CENTRAL_TEST_REDIS_URL CENTRAL_TEST_DATABASE_URL CENTRAL_TEST_MARIADB_URL

echo "test-repeat: $n run(s) on ${dbs[*]}; logs in $logs"
status=0
summary=()
for d in "${dbs[@]}"; do
  failed=0
  for i in $(seq 1 "$n"); do
    log="$logs/$d-$i.log"
    start=$(date +%s)
    if [ "$d" = sqlite ]; then
      env -u DATABASE_URL -u REDIS_URL $BIN/pytest -q -p no:cacheprovider "$@" >"$log" 2>&1
    else
      DATABASE_URL="$CENTRAL_TEST_DATABASE_URL" REDIS_URL="$CENTRAL_TEST_REDIS_URL" \
        $BIN/pytest -q -p no:cacheprovider "$@" >"$log" 2>&1
    fi
    rc=$?
    took=$(($(date +%s) - start))
    result=$(grep -E '[0-9]+ (passed|failed|error)' "$log" | tail -1 | tr -d '=' | sed 's/^ *//; s/ *$//')
    if [ $rc -eq 0 ]; then
      echo "run $i/$n $d: passed ($result; ${took}s)"
    else
      failed=$((failed + 1))
      echo "run $i/$n $d: FAILED ($result; ${took}s; exit $rc) log: $log"
      grep -E '^(FAILED|ERROR) ' "$log" | sed 's/^/    /'
    fi
  done
  summary+=("$d: $failed of $n runs failed")
  [ $failed -eq 0 ] || status=1
done
echo "=== test-repeat summary ==="
printf '%s\n' "${summary[@]}"
exit $status
