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

# Writes a throwaway certificate authority and a server certificate it signed (for `localhost` only, so a
# connection to 127.0.0.1 with `verify-full` fails on the name), plus a second, unrelated authority, into $1.
# The TLS tests use them to prove each `sslmode` does what libpq's does.
make_test_certificates() {
  local dir=$1
  command -v openssl >/dev/null || { echo "openssl is required for the TLS tests" >&2; exit 1; }
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=kith test CA" \
    -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=an unrelated CA" \
    -keyout "$dir/other-ca.key" -out "$dir/other-ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$dir/server.ext"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 2 \
    -extfile "$dir/server.ext" -out "$dir/server.crt" 2>/dev/null
  chmod 600 "$dir/server.key"
  if [ "$(id -u)" -eq 0 ]; then
    local user=postgres
    id postgres >/dev/null 2>&1 || user=nobody
    chown "$user" "$dir/server.key" "$dir/server.crt"
  fi
}

# Starts a cluster in a temporary directory on a free loopback port (trust auth, no fsync: it is thrown away),
# serving TLS with a throwaway authority, and exports KITH_TEST_DATABASE_URL and KITH_TEST_DB_CA_FILE (that
# authority) / KITH_TEST_DB_OTHER_CA_FILE (one that did not sign the server's certificate).
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
  make_test_certificates "$TEST_PG_DIR"
  pg_as "$PG_BINDIR/pg_ctl" -D "$TEST_PG_DIR/data" -l "$TEST_PG_DIR/postgres.log" -w -t 60 start \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$TEST_PG_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c ssl=on -c ssl_cert_file=$TEST_PG_DIR/server.crt -c ssl_key_file=$TEST_PG_DIR/server.key" >/dev/null
  export KITH_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
  export KITH_TEST_DB_CA_FILE="$TEST_PG_DIR/ca.crt" KITH_TEST_DB_OTHER_CA_FILE="$TEST_PG_DIR/other-ca.crt"
}

stop_test_cluster() {
  if [ -n "${TEST_PG_DIR:-}" ] && [ -d "$TEST_PG_DIR/data" ]; then
    pg_as "$PG_BINDIR/pg_ctl" -D "$TEST_PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$TEST_PG_DIR"
  fi
}
