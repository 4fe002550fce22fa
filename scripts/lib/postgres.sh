# Helpers for scripts: find or install PostgreSQL server binaries, and run a private throwaway cluster.
# Sourced, not executed.

# Sets PG_BINDIR to a directory holding `postgres`, `initdb` and `pg_ctl`, installing them if needed.
find_postgres_binaries() {
  local dir
  for dir in "${KITH_PG_BINDIR:-}" "$(pg_config --bindir 2>/dev/null || true)" $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -n "$dir" ] && [ -x "$dir/postgres" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
      PG_BINDIR=$dir
      return 0
    fi
  done
  return 1
}

ensure_postgres_binaries() {
  find_postgres_binaries && return 0
  echo "PostgreSQL server binaries not found; installing them with apt-get"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
  find_postgres_binaries || { echo "PostgreSQL installation failed" >&2; exit 1; }
}

# Postgres refuses to run as root: as root, run it as `postgres` (or `nobody`).
pg_as() {
  if [ "$(id -u)" -eq 0 ]; then
    local user=postgres
    id postgres >/dev/null 2>&1 || user=nobody
    setpriv --reuid="$user" --regid="$(id -g "$user")" --clear-groups -- "$@"
  else
    "$@"
  fi
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Starts a cluster in a temporary directory on a free loopback port (trust auth, no fsync: it is thrown away)
# and exports KITH_TEST_DATABASE_URL.
start_test_cluster() {
  TEST_PG_DIR=$(mktemp -d /tmp/kith-test-pg.XXXXXX)
  chmod 755 "$TEST_PG_DIR"
  if [ "$(id -u)" -eq 0 ]; then
    local user=postgres
    id postgres >/dev/null 2>&1 || user=nobody
    chown "$user" "$TEST_PG_DIR"
  fi
  local port
  port=$(free_port)
  pg_as "$PG_BINDIR/initdb" -D "$TEST_PG_DIR/data" -U postgres --auth=trust --encoding=UTF8 --locale=C >/dev/null
  pg_as "$PG_BINDIR/pg_ctl" -D "$TEST_PG_DIR/data" -l "$TEST_PG_DIR/postgres.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$TEST_PG_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" >/dev/null
  export KITH_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
}

stop_test_cluster() {
  if [ -n "${TEST_PG_DIR:-}" ] && [ -d "$TEST_PG_DIR/data" ]; then
    pg_as "$PG_BINDIR/pg_ctl" -D "$TEST_PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$TEST_PG_DIR"
  fi
}
