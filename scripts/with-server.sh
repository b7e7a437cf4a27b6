#!/usr/bin/env bash
# Runs a command against a real HealthSync server of its own, for the tests that drive the API
# from outside the Rust process (the TypeScript SDK's tests, the browser test, the contract test).
#
#   scripts/with-server.sh CMD [ARGS...]
#
# The server gets a fresh PostgreSQL database, MongoDB database, Redis key prefix and file
# directory on the local stack (`docker/stack.sh up` must have run: it writes .stack/env), is
# migrated, and has one admin account. The command runs with these in its environment:
#
#   HS_BASE_URL        e.g. http://127.0.0.1:41234
#   HS_ADMIN_EMAIL     the admin's email
#   HS_ADMIN_PASSWORD  the admin's password
#
# Afterwards, whatever the command's outcome, the server is stopped and its database dropped; the
# command's exit status is this script's. On failure the server log's tail is printed.
# Server settings may be passed in the environment (CORS_ALLOWED_ORIGINS, RATE_LIMIT_PER_MINUTE,
# ...); HS_BIN picks the binary (default target/debug/healthsync, which `make build` makes).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
[ -s "$ROOT/.stack/env" ] || { echo "with-server: no .stack/env; run make stack-up" >&2; exit 2; }
[ "$#" -gt 0 ] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }
set -a
# shellcheck disable=SC1091
. "$ROOT/.stack/env"
set +a
BIN="${HS_BIN:-$ROOT/target/debug/healthsync}"
[ -x "$BIN" ] || { echo "with-server: $BIN missing; run make build" >&2; exit 2; }

id="ext_$$_$(date +%s)"
work="$(mktemp -d "${TMPDIR:-/tmp}/hs-$id.XXXX")"
log="$work/server.log"
admin_db_url="$DATABASE_URL"
base_db_url="${DATABASE_URL%%\?*}"
DATABASE_URL="${base_db_url%/*}/hs_$id"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
server_pid=""

cleanup() {
  local status=$?
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ] && [ -s "$log" ]; then
    echo "---- with-server: last lines of the server log ($log) ----" >&2
    tail -n 40 "$log" >&2
  fi
  psql -q "$admin_db_url" -c "DROP DATABASE IF EXISTS \"hs_$id\" WITH (FORCE)" >/dev/null 2>&1 || true
  [ "$status" -eq 0 ] && rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

psql -q "$admin_db_url" -c "CREATE DATABASE \"hs_$id\"" >/dev/null

export DATABASE_URL
export MONGODB_DATABASE="hs_$id"
export REDIS_KEY_PREFIX="$id:"
export FILE_STORE=local FILE_STORE_DIR="$work/files" EMAIL_DIR="$work/mail"
export HTTP_ADDR="127.0.0.1:$port"
export JWT_SECRET="${JWT_SECRET:-$(head -c 48 /dev/urandom | base64 -w0)}"
export LOG_FORMAT="${LOG_FORMAT:-json}"
export RUST_LOG="${RUST_LOG:-warn}"
# One client from 127.0.0.1 makes every request here: budgets that a test run cannot exhaust.
export RATE_LIMIT_PER_MINUTE="${RATE_LIMIT_PER_MINUTE:-1000000}"
export LOGIN_RATE_LIMIT_PER_MINUTE="${LOGIN_RATE_LIMIT_PER_MINUTE:-100000}"
# The SDK's whole-visit test walks a visit booked days ahead through its day at once: the time
# guards on confirming and starting (tested in the e2e suite) are opened here.
export START_EARLY_MINUTES="${START_EARLY_MINUTES:-525600}"
export CONFIRM_ON_THE_DAY="${CONFIRM_ON_THE_DAY:-false}"

export HS_ADMIN_EMAIL="admin@$id.example"
# Random, plus the letter and digit the password policy asks for whatever the random part holds.
export HS_ADMIN_PASSWORD="admin-$(head -c 12 /dev/urandom | base64 -w0 | tr -d '/+=')-7"
"$BIN" migrate >>"$log" 2>&1
HEALTHSYNC_ADMIN_PASSWORD="$HS_ADMIN_PASSWORD" "$BIN" create-admin --email "$HS_ADMIN_EMAIL" \
  --name "Admin" >>"$log" 2>&1

"$BIN" serve >>"$log" 2>&1 &
server_pid=$!
export HS_BASE_URL="http://127.0.0.1:$port"
for _ in $(seq 1 300); do
  if curl -fsS "$HS_BASE_URL/health" >/dev/null 2>&1; then break; fi
  kill -0 "$server_pid" 2>/dev/null || { echo "with-server: the server exited" >&2; exit 1; }
  sleep 0.1
done
curl -fsS "$HS_BASE_URL/ready" >/dev/null || { echo "with-server: the server is not ready" >&2; exit 1; }

"$@"
