#!/usr/bin/env bash
# The TypeScript SDK's tests (openapi/typescript), run by `make test` after the cargo tests:
# compiles the package and its tests with `tsc --strict`, refuses `any`/casts/`!` in the test
# code, installs Debian's chromium when it is missing (as root, with apt-get), then runs the
# tests (node's built-in test runner on the compiled JS) against a server of their own
# (scripts/with-server.sh) that allows CORS from the browser test's page origin only.
#
#   scripts/sdk-test.sh [TEST_FILE_GLOB]     default: every dist/test/*.test.js
#
# Needs: node and npm (20+), the local stack up (`make stack-up`) and target/debug/healthsync
# (`make build`). CHROMIUM_PATH overrides /usr/bin/chromium.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SDK="$ROOT/openapi/typescript"
log() { echo "sdk-test: $*" >&2; }
die() { log "$*"; exit 1; }

command -v node >/dev/null && command -v npm >/dev/null \
  || die "node and npm (20 or newer) are needed: apt-get install -y nodejs npm"

# Debian's chromium for the browser test (playwright-core drives it; it downloads no browser).
export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM_PATH" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    die "no Chromium at $CHROMIUM_PATH: install Debian's (sudo apt-get install -y chromium) or set CHROMIUM_PATH, and run again."
  fi
  command -v apt-get >/dev/null || die "no Chromium at $CHROMIUM_PATH, and no apt-get to install it."
  log "installing chromium with apt-get"
  started=$SECONDS
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
  log "chromium installed in $((SECONDS - started)) s"
  [ -x "$CHROMIUM_PATH" ] || die "apt-get installed chromium, but $CHROMIUM_PATH is still missing"
fi

cd "$SDK"
[ -d node_modules ] || { log "npm ci"; npm ci --no-audit --no-fund; }
rm -rf dist
npx --no-install tsc -p tsconfig.json
node scripts/no-casts.mjs test

# Two ports on 127.0.0.1 for the page: one origin the server allows, one it does not.
read -r page_port other_port < <(python3 -c '
import socket
a, b = socket.socket(), socket.socket()
a.bind(("127.0.0.1", 0)); b.bind(("127.0.0.1", 0))
print(a.getsockname()[1], b.getsockname()[1])')
export HS_PAGE_PORT="$page_port" HS_OTHER_PORT="$other_port"

tests=("${@:-dist/test/*.test.js}")
# shellcheck disable=SC2068
CORS_ALLOWED_ORIGINS="http://127.0.0.1:$page_port" LIVE_KEEPALIVE_SECS=1 \
  "$ROOT/scripts/with-server.sh" node --experimental-websocket --test --test-reporter=spec --test-timeout=180000 --test-force-exit ${tests[@]}
