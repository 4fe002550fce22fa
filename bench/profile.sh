#!/usr/bin/env bash
# bench/profile.sh: GET /api/profile through Kith, against the ceiling pgbench reaches for the identical SQL
# transaction on the same embedded Postgres, in one run.
#
#   bench/profile.sh                       # 10 s per measured pass, 16 connections, pool of 16
#   BENCH_SECONDS=30 bench/profile.sh
#
# Settings (environment):
#   BENCH_SECONDS       length of each measured pass, seconds             [10]
#   BENCH_WARMUP        length of each unmeasured warmup pass, seconds    [3]
#   KITH_POOL_SIZE      Kith's request pool size                          [16]
#   BENCH_CONNECTIONS   wrk connections; pgbench -c is min(this, pool)    [KITH_POOL_SIZE]
#   BENCH_THREADS       wrk -t and pgbench -j                             [2]
#   KITH_BIN            the kith binary                                   [target/release/kith, built if missing]
#   BENCH_BUILD=1       run `cargo build --release -p kith` first even if the binary exists
#   BENCH_KEEP_LOGS     a directory to copy the kith, Postgres, wrk and pgbench outputs into
#   RUST_LOG            passed to kith as usual (default info: one JSON log line per request, as in production)
#
# Everything runs on loopback and a private Unix socket; the script stops what it started and removes its
# temporary directories on exit. Needs: curl, python3, pgbench (14+ for the pipelined pass), psql, wrk (installed
# with apt-get when missing and running as root).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECS=${BENCH_SECONDS:-10}
WARMUP=${BENCH_WARMUP:-3}
POOL=${KITH_POOL_SIZE:-16}
CONNS=${BENCH_CONNECTIONS:-$POOL}
THREADS=${BENCH_THREADS:-2}
BIN=${KITH_BIN:-$ROOT/target/release/kith}
EMAIL=bench@example.com
PASSWORD=benchpass1

for n in SECS WARMUP POOL CONNS THREADS; do
    [[ ${!n} =~ ^[0-9]+$ && ${!n} -gt 0 ]] || { echo "profile.sh: $n must be a positive integer (got '${!n}')" >&2; exit 2; }
done
(( THREADS <= CONNS )) || { echo "profile.sh: BENCH_THREADS must not exceed BENCH_CONNECTIONS" >&2; exit 2; }
PG_CONNS=$(( CONNS < POOL ? CONNS : POOL ))
PG_THREADS=$(( THREADS < PG_CONNS ? THREADS : PG_CONNS ))

say() { printf '==> %s\n' "$*"; }
die() { printf 'profile.sh: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- tools
for tool in curl python3 pgbench psql; do
    command -v "$tool" >/dev/null || die "$tool is required"
done
if ! command -v wrk >/dev/null; then
    [[ $(id -u) == 0 ]] || die "wrk is required (apt-get install -y wrk)"
    say "installing wrk"
    apt-get install -y wrk >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
fi
PGBENCH_MAJOR=$(pgbench --version | sed -E 's/^[^0-9]*([0-9]+).*/\1/')
PIPELINE=$(( PGBENCH_MAJOR >= 14 ? 1 : 0 ))

if [[ ! -x $BIN || ${BENCH_BUILD:-} == 1 ]]; then
    say "building $BIN"
    (cd "$ROOT" && cargo build --release -p kith)
fi

# ---------------------------------------------------------------- temp dirs, cleanup
DATA=$(mktemp -d /tmp/kith-bench-data.XXXXXX)   # the embedded Postgres runs as `postgres`: keep it under /tmp
WORK=$(mktemp -d /tmp/kith-bench-work.XXXXXX)
chmod 755 "$DATA"
KITH_PID=

cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [[ -n $KITH_PID ]] && kill -0 "$KITH_PID" 2>/dev/null; then
        kill -TERM "$KITH_PID" 2>/dev/null || true
        for _ in $(seq 1 400); do kill -0 "$KITH_PID" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$KITH_PID" 2>/dev/null; then
            echo "profile.sh: kith did not stop within 40 s; killing it" >&2
            kill -KILL "$KITH_PID" 2>/dev/null || true
        fi
        wait "$KITH_PID" 2>/dev/null || true
    fi
    # Kith stops its Postgres itself; if it could not, stop that one server (and only it) by its pid.
    local pm="$DATA/postgres/postmaster.pid"
    if [[ -f $pm ]]; then
        local pg_pid
        pg_pid=$(head -n1 "$pm" 2>/dev/null || true)
        if [[ $pg_pid =~ ^[0-9]+$ ]] && kill -0 "$pg_pid" 2>/dev/null; then
            kill -TERM "$pg_pid" 2>/dev/null || true
            for _ in $(seq 1 100); do kill -0 "$pg_pid" 2>/dev/null || break; sleep 0.1; done
        fi
    fi
    if [[ -n ${BENCH_KEEP_LOGS:-} ]]; then
        mkdir -p "$BENCH_KEEP_LOGS"
        cp -r "$WORK"/. "$BENCH_KEEP_LOGS"/ 2>/dev/null || true
        cp "$DATA/postgres.log" "$BENCH_KEEP_LOGS"/ 2>/dev/null || true
    fi
    rm -rf "$DATA" "$WORK"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- machine
cpu_model=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
mem_total=$(awk '/^MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)
say "machine"
printf '    nproc:       %s\n' "$(nproc)"
printf '    cpu:         %s\n' "${cpu_model:-unknown}"
printf '    memory:      %s\n' "$mem_total"
printf '    kernel:      %s\n' "$(uname -sr)"
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)
printf '    load (1/5/15 min) before start: %s\n' "$LOAD_AT_START"
printf '    pgbench:     %s\n' "$(pgbench --version)"
printf '    wrk:         %s\n' "$(wrk --version 2>&1 | head -n1 | awk '{print $1, $2}')"
printf '    kith:        %s (binary built %s; repository HEAD now %s%s)\n' "$BIN" \
    "$(date -u -r "$BIN" '+%Y-%m-%d %H:%M UTC')" \
    "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    "$( [[ -n $(git -C "$ROOT" status --porcelain --untracked-files=no 2>/dev/null) ]] && echo ', work tree modified' )"
printf '    settings:    %s s measured, %s s warmup, KITH_POOL_SIZE=%s, wrk -c %s -t %s, pgbench -c %s -j %s\n' \
    "$SECS" "$WARMUP" "$POOL" "$CONNS" "$THREADS" "$PG_CONNS" "$PG_THREADS"

# ---------------------------------------------------------------- start kith
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
SECRET=$(python3 -c 'import secrets; print(secrets.token_hex(32))')
BASE="http://127.0.0.1:$PORT"
export KITH_DATA_DIR=$DATA KITH_JWT_SECRET=$SECRET KITH_BIND=127.0.0.1:$PORT KITH_POOL_SIZE=$POOL KITH_LOG_FORMAT=json
unset DATABASE_URL KITH_POOL_URL KITH_CONFIG

say "starting kith on $BASE (data dir $DATA)"
"$BIN" serve >"$WORK/kith.log" 2>&1 &
KITH_PID=$!
for i in $(seq 1 600); do
    if curl -fsS -o /dev/null "$BASE/ready" 2>/dev/null; then break; fi
    kill -0 "$KITH_PID" 2>/dev/null || { tail -n 20 "$WORK/kith.log" >&2; die "kith exited during start-up"; }
    (( i < 600 )) || { tail -n 20 "$WORK/kith.log" >&2; die "kith was not ready after 60 s"; }
    sleep 0.1
done
SOCK=$DATA/run
PG_PID=$(head -n1 "$DATA/postgres/postmaster.pid")
PG_VERSION=$(psql -h "$SOCK" -p 5432 -U postgres -d kith -Atc 'show server_version')
printf '    postgres:    %s (embedded, Unix socket, pool role kith_authenticator)\n' "$PG_VERSION"

# ---------------------------------------------------------------- user and token
USER_ID=$("$BIN" user create --email "$EMAIL" --password "$PASSWORD" 2>"$WORK/user-create.log" \
    | awk '/^created user/ {print $3}' || true)
[[ $USER_ID =~ ^[0-9a-f-]{36}$ ]] || { cat "$WORK/user-create.log" >&2; die "could not create the bench user"; }

# A real access token from Kith's own sign-in; then its claims exactly as Kith puts them in request.jwt.claims
# (serde_json: sorted keys, no spaces).
curl -sS -o "$WORK/session.json" -H 'content-type: application/json' \
    -d "{\"email\":\"$EMAIL\",\"password\":\"$PASSWORD\"}" "$BASE/auth/v1/token?grant_type=password"
mapfile -t signed < <(python3 - "$WORK/session.json" <<'PY'
import base64, json, sys
token = json.load(open(sys.argv[1]))["access_token"]
payload = token.split(".")[1]
claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
print(token)
print(json.dumps(claims, separators=(",", ":"), sort_keys=True))
PY
)
TOKEN=${signed[0]}
CLAIMS=${signed[1]}

# ---------------------------------------------------------------- sanity: the measured request really succeeds
code=$(curl -sS -o "$WORK/profile.json" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE/api/profile")
[[ $code == 200 ]] || { cat "$WORK/profile.json" >&2; die "GET /api/profile answered $code, not 200"; }
grep -q "\"id\":\"$USER_ID\"" "$WORK/profile.json" || { cat "$WORK/profile.json" >&2; die "the profile is not the bench user's"; }
code=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${TOKEN%?}x" "$BASE/api/profile")
[[ $code == 401 ]] || die "a tampered token answered $code, not 401: the check above proves nothing"
say "GET /api/profile -> 200 with the bench user's profile ($(wc -c <"$WORK/profile.json") bytes); tampered token -> 401"

# The same transaction through psql, as the pool's login: it must return exactly the user's row.
rows=$(psql -h "$SOCK" -p 5432 -U kith_authenticator -d kith -X -q -At -v ON_ERROR_STOP=1 \
    -v claims="$CLAIMS" -v uid="$USER_ID" <<'SQL'
BEGIN READ ONLY;
select set_config('role', 'authenticated', true), set_config('request.jwt.claims', :'claims', true), set_config('request.method', 'GET', true), set_config('request.path', '/api/profile', true) \g /dev/null
select id, email, full_name, avatar_url, timezone, created_at, updated_at from public.profiles where id = :'uid';
COMMIT;
SQL
)
[[ $(grep -c "^$USER_ID|" <<<"$rows") == 1 ]] || { echo "$rows" >&2; die "the SQL transaction did not return the user's row"; }
say "the pgbench transaction returns the same row as kith_authenticator -> authenticated"

# ---------------------------------------------------------------- pgbench scripts (parameters bound, as Kith does)
cat >"$WORK/profile.sql" <<'SQL'
BEGIN READ ONLY;
select set_config('role', :role, true), set_config('request.jwt.claims', :claims, true), set_config('request.method', :method, true), set_config('request.path', :path, true);
select id, email, full_name, avatar_url, timezone, created_at, updated_at from public.profiles where id = :uid;
COMMIT;
SQL
{ echo '\startpipeline'; cat "$WORK/profile.sql"; echo '\endpipeline'; } >"$WORK/profile-pipelined.sql"

# ---------------------------------------------------------------- helpers
# wrk_run SECONDS OUTFILE
wrk_run() {
    wrk -t "$THREADS" -c "$CONNS" -d "${1}s" --latency -H "Authorization: Bearer $TOKEN" "$BASE/api/profile" >"$2"
}
# wrk_fields OUTFILE -> "rps p50_ms p99_ms non2xx socket_errors avg_ms"
wrk_fields() {
    awk '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        /^Requests\/sec:/ { rps = $2 }
        $1 == "Latency" && NF >= 5 { avg = ms($2) }
        $1 == "50%" { p50 = ms($2) }
        $1 == "99%" { p99 = ms($2) }
        /Non-2xx or 3xx responses:/ { bad = $NF }
        /Socket errors:/ { gsub(/,/, ""); errs = $4 + $6 + $8 + $10 }
        END { printf "%s %.3f %.3f %d %d %.3f\n", rps, p50, p99, bad, errs, avg }' "$1"
}
# pgbench_run SCRIPT SECONDS OUTDIR [log]
pgbench_run() {
    local script=$1 secs=$2 out=$3 log=${4:-}
    mkdir -p "$out"
    local args=(-h "$SOCK" -p 5432 -U kith_authenticator -d kith -n -M prepared -c "$PG_CONNS" -j "$PG_THREADS"
        -T "$secs" -f "$script" -D role=authenticated -D "claims=$CLAIMS" -D method=GET -D path=/api/profile
        -D "uid=$USER_ID")
    [[ -n $log ]] && args+=(-l --log-prefix="$out/pgbench_log")
    pgbench "${args[@]}" >"$out/stdout.txt" 2>"$out/stderr.txt" || { cat "$out/stderr.txt" "$out/stdout.txt" >&2; die "pgbench failed"; }
    if grep -q 'number of failed transactions: [1-9]' "$out/stdout.txt"; then
        cat "$out/stdout.txt" >&2; die "pgbench had failed transactions"
    fi
}
# pgbench_fields OUTDIR -> "tps p50_ms p99_ms avg_ms transactions" (percentiles from the per-transaction logs)
pgbench_fields() {
    python3 - "$1" <<'PY'
import glob, re, sys
out = sys.argv[1]
text = open(f"{out}/stdout.txt").read()
tps = float(re.search(r"^tps = ([0-9.]+)", text, re.M).group(1))
avg = float(re.search(r"^latency average = ([0-9.]+) ms", text, re.M).group(1))
lat = []
for path in glob.glob(f"{out}/pgbench_log*"):
    with open(path) as f:
        lat.extend(int(line.split()[2]) for line in f if line.strip())
lat.sort()
def pct(p):
    if not lat: return float("nan")
    return lat[min(len(lat) - 1, max(0, -(-len(lat) * p // 100) - 1))] / 1000.0
print(f"{tps:.1f} {pct(50):.3f} {pct(99):.3f} {avg:.3f} {len(lat)}")
PY
}

# CPU accounting, so a reader can see where the two cores went during each pass and whether anything else on the
# machine was competing. cpu.py prints: machine busy ticks, machine total ticks, kith's ticks, and the embedded
# Postgres's ticks (postmaster, its live children, and children it has already reaped).
cat >"$WORK/cpu.py" <<'PY'
import os, sys
def ticks(pid, reaped=False):
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    n = int(fields[11]) + int(fields[12])            # utime + stime
    return n + (int(fields[13]) + int(fields[14]) if reaped else 0)   # + cutime + cstime
cpu = [int(v) for v in open("/proc/stat").readline().split()[1:]]
idle = cpu[3] + cpu[4]
kith, postmaster = int(sys.argv[1]), int(sys.argv[2])
pg = ticks(postmaster, reaped=True)
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        if int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1]) == postmaster:
            pg += ticks(pid)
    except OSError:
        pass
print(sum(cpu[:8]) - idle, sum(cpu[:8]), ticks(kith), pg)
PY
# CPU seconds (user + sys) of this shell's reaped children, from the `times` builtin run in this shell (not in a
# subshell, whose children are its own): the load generators' CPU, as they are this shell's children.
children_cpu() {
    times >"$WORK/times.txt"
    tail -n1 "$WORK/times.txt" | awk '{ t = 0; for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] } printf "%.2f\n", t }'
}
# measure OUTNAME COMMAND...: runs the load command and prints where the CPU went while it ran.
measure() {
    local name=$1; shift
    local c0 c1 s0 s1
    children_cpu >"$WORK/c0.txt"; c0=$(<"$WORK/c0.txt")
    s0=$(python3 "$WORK/cpu.py" "$KITH_PID" "$PG_PID")
    local t0=$EPOCHREALTIME
    "$@"
    local t1=$EPOCHREALTIME
    s1=$(python3 "$WORK/cpu.py" "$KITH_PID" "$PG_PID")
    children_cpu >"$WORK/c1.txt"; c1=$(<"$WORK/c1.txt")
    python3 - "$s0" "$s1" "$c0" "$c1" "$t0" "$t1" "$(getconf CLK_TCK)" "$(nproc)" >"$WORK/$name.cpu" <<'PY'
import sys
s0, s1 = ([int(v) for v in a.split()] for a in sys.argv[1:3])
gen = float(sys.argv[4]) - float(sys.argv[3])
wall, hz, cores = float(sys.argv[6]) - float(sys.argv[5]), int(sys.argv[7]), int(sys.argv[8])
busy_frac = (s1[0] - s0[0]) / max(1, s1[1] - s0[1])
busy = busy_frac * cores
kith, pg = (s1[2] - s0[2]) / hz / wall, (s1[3] - s0[3]) / hz / wall
gen /= wall
other = max(0.0, busy - kith - pg - gen)
print(f"cores busy {busy:.2f} of {cores}: kith {kith:.2f}, postgres {pg:.2f}, load generator {gen:.2f}, everything else {other:.2f}"
      + ("  <- other work on the machine competed: this pass is perturbed" if other > 0.25 else ""))
PY
    sed 's/^/    CPU: /' "$WORK/$name.cpu"
}

# ---------------------------------------------------------------- load
say "warmup: kith, wrk ${WARMUP} s (not measured)"
wrk_run "$WARMUP" "$WORK/wrk-warmup.txt"
read -r w_rps w_p50 w_p99 w_bad w_err w_avg < <(wrk_fields "$WORK/wrk-warmup.txt")
printf '    %s req/s, p50 %s ms, p99 %s ms\n' "$w_rps" "$w_p50" "$w_p99"

say "measuring: kith GET /api/profile, wrk ${SECS} s"
measure kith wrk_run "$SECS" "$WORK/wrk.txt"
sed 's/^/    /' "$WORK/wrk.txt"
read -r k_rps k_p50 k_p99 k_bad k_err k_avg < <(wrk_fields "$WORK/wrk.txt")

say "warmup: pgbench ${WARMUP} s (not measured)"
pgbench_run "$WORK/profile.sql" "$WARMUP" "$WORK/pgbench-warmup"
grep -E '^(tps|latency average)' "$WORK/pgbench-warmup/stdout.txt" | sed 's/^/    /'

say "measuring: pgbench, same SQL, one statement per round trip, ${SECS} s"
measure pgbench pgbench_run "$WORK/profile.sql" "$SECS" "$WORK/pgbench" log
grep -E '^(number of transactions actually processed|number of failed|latency average|tps)' "$WORK/pgbench/stdout.txt" | sed 's/^/    /'
read -r p_tps p_p50 p_p99 p_avg p_n < <(pgbench_fields "$WORK/pgbench")

if (( PIPELINE )); then
    say "measuring: pgbench, same SQL pipelined in one round trip (\\startpipeline), ${SECS} s"
    measure pipelined pgbench_run "$WORK/profile-pipelined.sql" "$SECS" "$WORK/pgbench-pipelined" log
    grep -E '^(number of transactions actually processed|number of failed|latency average|tps)' "$WORK/pgbench-pipelined/stdout.txt" | sed 's/^/    /'
    read -r q_tps q_p50 q_p99 q_avg q_n < <(pgbench_fields "$WORK/pgbench-pipelined")
else
    say "pgbench $PGBENCH_MAJOR has no \\startpipeline: skipping the pipelined pass"
fi

# ---------------------------------------------------------------- what the server and Postgres logged
say "kith log and postgres log during the run"
python3 - "$WORK/kith.log" "$DATA/postgres.log" "$WORK/log-problems.txt" <<'PY'
import collections, json, sys
statuses, levels, notable = collections.Counter(), collections.Counter(), []
for line in open(sys.argv[1], errors="replace"):
    try:
        event = json.loads(line)
    except ValueError:
        notable.append(line.rstrip()); continue
    levels[event.get("level", "?")] += 1
    if event.get("message") == "request finished":
        statuses[event.get("status")] += 1
    elif event.get("level") in ("WARN", "ERROR"):
        notable.append(line.rstrip())
print(f"    kith: request lines by status {dict(sorted(statuses.items()))} (one 401 is the tampered-token check);"
      f" log lines by level {dict(levels)}")
for line in notable[:10]:
    print(f"    kith: {line[:300]}")
bad = []
try:
    for line in open(sys.argv[2], errors="replace"):
        if any(tag in line for tag in ("ERROR:", "FATAL:", "PANIC:", "WARNING:")):
            bad.append(line.rstrip())
except OSError as err:
    print(f"    postgres: cannot read its log ({err})")
print(f"    postgres: {len(bad)} ERROR/FATAL/PANIC/WARNING lines")
for line in bad[:10]:
    print(f"    postgres: {line[:300]}")
problems = sum(n for status, n in statuses.items() if status != 200) - statuses.get(401, 0) \
    + max(0, statuses.get(401, 0) - 1) + len(notable) + len(bad)
open(sys.argv[3], "w").write(f"{problems}\n")
PY

# ---------------------------------------------------------------- table
ratio() { python3 -c "import sys; a, b = map(float, sys.argv[1:]); print(f'{a / b:.2f}' if b else 'n/a')" "$1" "$2"; }
row() { printf '%-24s %9.0f %8.2f %8.2f %8.2f\n' "$@"; }
echo
printf '%-24s %9s %8s %8s %8s\n' "" "req/s" "p50 ms" "p99 ms" "avg ms"
row "kith GET /api/profile" "$k_rps" "$k_p50" "$k_p99" "$k_avg"
row "pgbench (same SQL)" "$p_tps" "$p_p50" "$p_p99" "$p_avg"
if (( PIPELINE )); then
    row "pgbench (pipelined)" "$q_tps" "$q_p50" "$q_p99" "$q_avg"
    printf '%-24s %9s   (kith/pipelined %s)\n' "ratio kith/pgbench" "$(ratio "$k_rps" "$p_tps")" "$(ratio "$k_rps" "$q_tps")"
else
    printf '%-24s %9s\n' "ratio kith/pgbench" "$(ratio "$k_rps" "$p_tps")"
fi
echo "(wrk -c $CONNS -t $THREADS; pgbench -c $PG_CONNS -j $PG_THREADS -M prepared; KITH_POOL_SIZE=$POOL; ${SECS} s each;" \
    "pgbench p50/p99 from its per-transaction logs; load at start $LOAD_AT_START)"
echo "CPU during each measured pass:"
for n in kith pgbench pipelined; do
    [[ -f $WORK/$n.cpu ]] && printf '  %-10s %s\n' "$n" "$(cat "$WORK/$n.cpu")"
done

if (( k_bad > 0 || k_err > 0 )); then
    die "wrk saw $k_bad non-2xx responses and $k_err socket errors: the kith figure is not valid"
fi
if (( $(<"$WORK/log-problems.txt") > 0 )); then
    die "the kith or Postgres log shows unexpected statuses, warnings or errors (listed above)"
fi
