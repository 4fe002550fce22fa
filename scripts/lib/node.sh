# Node.js and npm for the compatibility suites, installed from Debian's packages when missing. Sourced.
ensure_node() {
  if command -v node >/dev/null && command -v npm >/dev/null; then
    echo "node $(node --version), npm $(npm --version)"
    return 0
  fi
  echo "Node.js not found; installing it with apt-get"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nodejs npm >/dev/null
}
