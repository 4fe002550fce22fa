# Helpers for scripts: find or fetch promtool, and lint a /metrics scrape with it. Sourced, not executed.

# Sets PROMTOOL to a promtool binary: one on PATH, else the one unpacked earlier under target/tools, else it is
# taken from Debian's `prometheus` package (`apt-get download` + `dpkg-deb`: only the promtool binary is unpacked;
# nothing is installed and no Prometheus service starts).
ensure_promtool() {
  if command -v promtool >/dev/null 2>&1; then
    PROMTOOL=$(command -v promtool)
    return 0
  fi
  local dir="$PWD/target/tools/prometheus"
  if [ ! -x "$dir/usr/bin/promtool" ]; then
    echo "promtool not found; unpacking it from Debian's prometheus package"
    local scratch
    scratch=$(mktemp -d)
    chmod 755 "$scratch" # apt's download sandbox user must be able to write here
    if ! (cd "$scratch" && apt-get download prometheus >/dev/null 2>&1); then
      local sudo=""
      [ "$(id -u)" -eq 0 ] || sudo="sudo"
      $sudo apt-get update -qq
      (cd "$scratch" && apt-get download prometheus >/dev/null)
    fi
    mkdir -p "$dir"
    dpkg-deb --fsys-tarfile "$scratch"/prometheus_*.deb | tar -x -C "$dir" ./usr/bin/promtool
    rm -rf "$scratch"
  fi
  PROMTOOL="$dir/usr/bin/promtool"
}

# Lints the exposition text on stdin with `promtool check metrics`. One finding is expected and allowed:
# `db_client_connection_count` is OpenTelemetry's name for the pool gauge (db.client.connection.count), and the
# linter reserves the `_count` suffix for histograms. Anything else fails.
promtool_check_metrics() {
  local out rc=0
  out=$("$PROMTOOL" check metrics 2>&1) || rc=$?
  local unexpected
  unexpected=$(printf '%s\n' "$out" | grep -v '^db_client_connection_count non-histogram and non-summary metrics should not have "_count" suffix$' | grep -v '^\s*$' || true)
  if [ -n "$unexpected" ] || { [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; }; then
    printf 'promtool check metrics (rc %s):\n%s\n' "$rc" "$out" >&2
    return 1
  fi
  echo "promtool check metrics: clean (the allowed db_client_connection_count name aside)"
}
