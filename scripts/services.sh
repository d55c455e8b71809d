#!/usr/bin/env bash
# Start throw-away PostgreSQL 15, Redis and MariaDB servers on free loopback ports for the
# tests. Prints the path of a file of shell `export` lines; `stop` tears them down. Used by
# scripts/test.sh. `mariadb` starts only MariaDB (tests/conftest.py, when run outside test.sh).
# MariaDB is the legacy dialer's database that `central import-legacy` reads.
set -euo pipefail

STATE_DIR=${CENTRAL_SERVICES_DIR:-/tmp/central-test-services}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

pg_bin() {
  for d in /usr/lib/postgresql/15/bin /usr/local/bin; do
    [ -x "$d/$1" ] && { echo "$d/$1"; return; }
  done
  command -v "$1"
}

as_pg_user() {
  # initdb and postgres refuse to run as root.
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start() {
  rm -rf "$STATE_DIR"; mkdir -p "$STATE_DIR"; chmod 755 "$STATE_DIR"
  local pg_port redis_port
  pg_port=$(free_port); redis_port=$(free_port)
  mkdir -p "$STATE_DIR/pg" "$STATE_DIR/pglog"
  if [ "$(id -u)" = "0" ]; then chown postgres: "$STATE_DIR/pg" "$STATE_DIR/pglog"; fi
  as_pg_user "$(pg_bin initdb)" -D "$STATE_DIR/pg" -U postgres -A trust -E UTF8 --no-locale >"$STATE_DIR/initdb.log" 2>&1
  as_pg_user "$(pg_bin pg_ctl)" -D "$STATE_DIR/pg" -l "$STATE_DIR/pglog/pg.log" -w \
    -o "-p $pg_port -k $STATE_DIR/pg -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$STATE_DIR/redis.pid" --logfile "$STATE_DIR/redis.log" >/dev/null
  for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  psql -h 127.0.0.1 -p "$pg_port" -U postgres -c "CREATE DATABASE central" >/dev/null
  cat >"$STATE_DIR/env" <<ENV
export CENTRAL_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$pg_port/central
export CENTRAL_TEST_REDIS_URL=redis://127.0.0.1:$redis_port/0
ENV
  mariadb_start
}

mariadb_start() {
  # A throw-away mariadbd: own datadir, socket and pid under the services dir, TCP on a
  # free loopback port, a passwordless `central` user limited to 127.0.0.1.
  local port dir="$STATE_DIR/mariadb" user=()
  port=$(free_port)
  # Its own tmpdir: two bootstraps sharing /tmp collide on temporary table files
  # ("Unknown table 'mysql.tmp_user_sys'") when two suites start their services at once.
  mkdir -p "$dir/data" "$dir/tmp"
  if [ "$(id -u)" = "0" ]; then user=(--user=root); fi
  mariadb-install-db --no-defaults --datadir="$dir/data" "${user[@]}" --auth-root-authentication-method=normal \
    --skip-test-db --tmpdir="$dir/tmp" >"$dir/install.log" 2>&1
  setsid mariadbd --no-defaults --datadir="$dir/data" --port="$port" --bind-address=127.0.0.1 \
    --socket="$dir/mysqld.sock" --pid-file="$dir/mysqld.pid" --tmpdir="$dir/tmp" "${user[@]}" --skip-log-bin --skip-name-resolve \
    --innodb-flush-log-at-trx-commit=0 --innodb-buffer-pool-size=128M --log-error="$dir/error.log" \
    </dev/null >/dev/null 2>&1 &
  for _ in $(seq 300); do
    mariadb-admin --no-defaults --socket="$dir/mysqld.sock" -uroot ping >/dev/null 2>&1 && break; sleep 0.1
  done
  mariadb --no-defaults --socket="$dir/mysqld.sock" -uroot \
    -e "CREATE USER 'central'@'127.0.0.1'; GRANT ALL ON *.* TO 'central'@'127.0.0.1' WITH GRANT OPTION;"
  echo "export CENTRAL_TEST_MARIADB_URL=mysql://central@127.0.0.1:$port/" >>"$STATE_DIR/env"
}

stop() {
  [ -f "$STATE_DIR/mariadb/mysqld.pid" ] && kill "$(cat "$STATE_DIR/mariadb/mysqld.pid")" 2>/dev/null || true
  [ -d "$STATE_DIR/pg" ] && as_pg_user "$(pg_bin pg_ctl)" -D "$STATE_DIR/pg" -m immediate stop >/dev/null 2>&1 || true
  [ -f "$STATE_DIR/redis.pid" ] && kill "$(cat "$STATE_DIR/redis.pid")" 2>/dev/null || true
}

case "${1:-start}" in
  start) start >&2 ;;
  mariadb) rm -rf "$STATE_DIR"; mkdir -p "$STATE_DIR"; : >"$STATE_DIR/env"; mariadb_start >&2 ;;
  stop) stop ;;
  *) echo "usage: $0 start|mariadb|stop" >&2; exit 2 ;;
esac
if [ "${1:-start}" != stop ]; then echo "$STATE_DIR/env"; fi
exit 0
