# Headless Chromium for the end-to-end suite: Debian's chromium-headless-shell, installed with apt-get when
# missing (with one font package, so pages render text); exports CHROMIUM_BIN. The suite drives it with npm
# playwright-core, which needs Node.js 20 or newer. Sourced.
ensure_chromium() {
  local major
  major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  if [ "$major" -lt 20 ]; then
    echo "the end-to-end suite needs Node.js 20 or newer; found $(node --version 2>/dev/null || echo 'no node')." >&2
    echo "install a newer Node.js (e.g. from Debian bookworm-backports or NodeSource) and run scripts/test again" >&2
    return 1
  fi
  CHROMIUM_BIN=${CHROMIUM_BIN:-$(command -v chromium-headless-shell || true)}
  if [ -z "$CHROMIUM_BIN" ]; then
    echo "chromium-headless-shell not found; installing it with apt-get"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium-headless-shell fonts-dejavu-core >/dev/null
    CHROMIUM_BIN=$(command -v chromium-headless-shell)
  fi
  export CHROMIUM_BIN
  echo "using $CHROMIUM_BIN ($("$CHROMIUM_BIN" --version 2>/dev/null || echo 'version unknown'))"
}
