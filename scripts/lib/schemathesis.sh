# Schemathesis (PyPI) against the live /api/openapi.json of a throwaway Kith: every check, the stateful phase
# (driven by the document's links) included. Installs schemathesis into a pinned venv under target/ when missing
# (a venv avoids Debian's PEP 668 refusal of system-wide pip installs). Sourced; call run_schemathesis.
SCHEMATHESIS_VERSION="4.32.5"
SCHEMATHESIS_VENV="${SCHEMATHESIS_VENV:-target/schemathesis-venv}"

ensure_schemathesis() {
  local st="$SCHEMATHESIS_VENV/bin/schemathesis"
  if [ -x "$st" ] && [ "$("$st" --version 2>/dev/null)" = "schemathesis, version $SCHEMATHESIS_VERSION" ]; then
    echo "schemathesis $SCHEMATHESIS_VERSION"
    return 0
  fi
  if ! command -v python3 >/dev/null || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    echo "python3 with venv not found; installing it with apt-get"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3 python3-venv >/dev/null
  fi
  rm -rf "$SCHEMATHESIS_VENV"
  python3 -m venv "$SCHEMATHESIS_VENV"
  "$SCHEMATHESIS_VENV/bin/pip" install -q --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
  "$st" --version
}

# run_schemathesis KITH_BIN [extra schemathesis args...]
run_schemathesis() {
  local kith="$1"
  shift
  local py="$SCHEMATHESIS_VENV/bin/python"
  local scratch port url token pid status=0
  # Under /tmp and world-readable: as root, the embedded PostgreSQL runs as an unprivileged user.
  scratch="$(mktemp -d /tmp/kith-schemathesis-XXXXXX)"
  chmod 755 "$scratch"
  port="$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  url="http://127.0.0.1:$port"
  KITH_DATA_DIR="$scratch/data" KITH_BIND="127.0.0.1:$port" KITH_LOG_FORMAT=json \
    KITH_AUTH_RATE_LIMIT_IP=100000 KITH_AUTH_RATE_LIMIT_EMAIL=100000 RUST_LOG="${RUST_LOG:-info}" \
    "$kith" serve >"$scratch/kith.log" 2>&1 &
  pid=$!
  # A user of its own, signed up through Supabase Auth's endpoint; the access token is the fuzzer's bearer.
  if ! token="$("$py" - "$url" <<'PY'
import json, sys, time, urllib.request
url = sys.argv[1]
deadline = time.time() + 90
while True:
    try:
        if urllib.request.urlopen(url + "/ready", timeout=2).status == 200:
            break
    except OSError:
        pass
    if time.time() > deadline:
        sys.exit("kith did not become ready in 90 s")
    time.sleep(0.2)
body = json.dumps({"email": "fuzzer@example.com", "password": "fuzzer-password-1"}).encode()
req = urllib.request.Request(url + "/auth/v1/signup", data=body, headers={"Content-Type": "application/json"})
print(json.load(urllib.request.urlopen(req, timeout=10))["access_token"])
PY
)"; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    cat "$scratch/kith.log" >&2
    rm -rf "$scratch"
    return 1
  fi
  # Every check but ensure_resource_availability, a stateful heuristic that reads any 404 right after a create as
  # "created resource not found": Kith answers 404 by design when a request names a workspace_id other than the
  # item's (an item outside the named workspace is "not found", never "someone else's") or when another step
  # deleted the item's workspace or organization, and the stateful phase does both. use_after_free and every other
  # check run in every phase.
  # One worker: with two, hypothesis' ast.parse in concurrent threads trips a CPython 3.11 bug ("AST constructor
  # recursion depth mismatch", a runtime error of the run), and Debian 12 ships Python 3.11.
  # Run from the scratch folder: schemathesis keeps a crash cache (.schemathesis/) in its working directory.
  local st config
  st="$(cd "$SCHEMATHESIS_VENV" && pwd)/bin/schemathesis"
  config="$(pwd)/scripts/lib/schemathesis.toml"
  # A deadline, so a hung run cannot stall the test command.
  (cd "$scratch" && timeout 300 "$st" --config-file "$config" \
    run "$url/api/openapi.json" --checks all --exclude-checks ensure_resource_availability \
    -H "Authorization: Bearer $token" --no-color --seed 1 --max-examples 20 --workers 1 --generation-database none \
    "$@") || status=$?
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "kith exited during the run" >&2
    status=1
  fi
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  if [ "$status" -ne 0 ]; then
    echo "last lines of kith's log:" >&2
    tail -40 "$scratch/kith.log" | cut -c1-400 >&2 || true
  fi
  rm -rf "$scratch"
  return "$status"
}
