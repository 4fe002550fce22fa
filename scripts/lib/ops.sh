# Operations checks on a running kith: a live /metrics scrape linted by promtool, the series the dashboard and
# alerts query present in it, and `kith audit` on its database. Sourced, not executed; needs promtool.sh
# (ensure_promtool) and postgres.sh (free_port, PG_BINDIR).

# live_ops_checks BIN: starts `BIN serve` on free loopback ports with its own embedded PostgreSQL in /tmp, makes
# a few requests (a 401, a 404, a 200), runs the checks, and stops the server whatever they found.
live_ops_checks() {
  local bin=$1 scratch rc=0
  scratch=$(mktemp -d /tmp/kith-ops.XXXXXX)
  chmod 755 "$scratch" # as root, the embedded PostgreSQL runs as an unprivileged user who must reach it
  local port admin
  port=$(free_port)
  admin=$(free_port)
  (
    export KITH_DATA_DIR="$scratch/data" KITH_BIND="127.0.0.1:$port" KITH_ADMIN_BIND="127.0.0.1:$admin" \
      KITH_JWT_SECRET="ops-check-secret-0123456789-abcdefghijklmnop" KITH_LOG_FORMAT=json KITH_PG_BINDIR="$PG_BINDIR"
    "$bin" serve >"$scratch/kith.log" 2>&1 &
    echo $! >"$scratch/pid"
    _live_ops_run "$bin" "$scratch" "$port" "$admin"
  ) || rc=1
  kill "$(cat "$scratch/pid")" 2>/dev/null || true
  local i
  for i in $(seq 1 100); do kill -0 "$(cat "$scratch/pid")" 2>/dev/null || break; sleep 0.1; done
  [ $rc -eq 0 ] || { echo "--- kith log"; tail -n 30 "$scratch/kith.log"; } >&2
  rm -rf "$scratch"
  return $rc
}

_live_ops_run() {
  local bin=$1 scratch=$2 port=$3 admin=$4 i
  for i in $(seq 1 300); do
    curl -fsS "http://127.0.0.1:$admin/ready" >/dev/null 2>&1 && break
    kill -0 "$(cat "$scratch/pid")" 2>/dev/null || { echo "kith exited during start-up" >&2; return 1; }
    sleep 0.2
  done
  curl -fsS "http://127.0.0.1:$admin/ready" >/dev/null || { echo "kith did not become ready" >&2; return 1; }
  local public
  public=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/metrics")
  [ "$public" = 404 ] || { echo "/metrics answered $public on the public port" >&2; return 1; }
  curl -s -o /dev/null "http://127.0.0.1:$port/api/profile"      # 401 missing_token
  curl -s -o /dev/null "http://127.0.0.1:$port/no/such/route"    # 404, route "unmatched"
  curl -s -o /dev/null "http://127.0.0.1:$port/auth/v1/settings" # 200
  curl -fsS "http://127.0.0.1:$admin/metrics" >"$scratch/metrics.txt" || return 1
  promtool_check_metrics <"$scratch/metrics.txt" || return 1
  python3 - "$scratch/metrics.txt" ops/grafana-dashboard.json ops/alerts.yml <<'PY' || return 1
import re, sys
scrape = open(sys.argv[1]).read()
present = {line.split('{')[0].split(' ')[0] for line in scrape.splitlines() if line and not line.startswith('#')}
# A histogram is present as its _bucket, _sum and _count series.
present |= {name[: -len('_bucket')] for name in present if name.endswith('_bucket')}
wanted = set()
for path in sys.argv[2:]:
    wanted |= set(re.findall(r'\b((?:http_server|db_client|kith)_[a-z_]+)\b', open(path).read()))
missing = sorted(wanted - present)
if missing:
    sys.exit(f"series the dashboard or alerts query but /metrics lacks: {missing}")
print(f"dashboard and alerts: all {len(wanted)} series they query are in the scrape")
PY
  # The audit attaches to the running server's embedded cluster: no ERROR on a freshly migrated database.
  "$bin" audit --format json >"$scratch/audit.json" || { cat "$scratch/audit.json"; return 1; }
  "$bin" audit | tail -n 1
}
