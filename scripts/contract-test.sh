#!/usr/bin/env bash
# The contract test: schemathesis fuzzes a real server against the committed OpenAPI document
# (openapi/openapi.json), as anonymous, patient, doctor, receptionist and admin.
#
#   scripts/contract-test.sh            installs the pinned schemathesis if needed, then runs
#                                       itself inside scripts/with-server.sh (a fresh server)
#
# It fails on any 5xx (not_a_server_error), any response whose body does not match its
# documented schema (response_schema_conformance), any status the operation does not document
# (status_code_conformance) and any undocumented Content-Type (content_type_conformance).
#
# Set-up (scripts/contract/fixtures.py, over HTTP): the admin creates a department, a doctor, a
# receptionist, schedules (and so slots); a patient registers, books, is seen, prescribed and
# billed, and uploads a record. Then one schemathesis run per caller, each with its own bearer
# token, the same seed and a bounded number of examples per operation.
#
# The operations that end sessions (POST /auth/logout, POST /auth/logout-all,
# DELETE /auth/sessions/{id}, PUT /me/password) are left out of the role runs: one successful
# call would end that role's session and turn every later request of the run into a 401 (and
# schemathesis does find the current session's id: it reuses ids from earlier responses, here
# GET /auth/sessions). They get a run of their own as a throwaway patient (after its session
# ends, the rest of that run checks the documented 401).
#
# Knobs (environment): CONTRACT_SEED (default 20251127), CONTRACT_MAX_EXAMPLES (examples per
# operation and phase, default 10), CONTRACT_PHASES (default examples,coverage,fuzzing),
# CONTRACT_ROLES (default "anonymous patient doctor receptionist throwaway admin"),
# CONTRACT_EXTRA_ARGS (more schemathesis options, e.g. "--report har --report-dir /tmp/st").
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HERE="$ROOT/scripts/contract"
VENV="$ROOT/.stack/contract-venv"
SEED="${CONTRACT_SEED:-20251127}"
MAX_EXAMPLES="${CONTRACT_MAX_EXAMPLES:-10}"
PHASES="${CONTRACT_PHASES:-examples,coverage,fuzzing}"
ROLES="${CONTRACT_ROLES:-anonymous patient doctor receptionist throwaway admin}"
CHECKS="not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
SESSION_ENDERS=(logout logoutEverywhere endSession changePassword)

# The venv: created once, reinstalled only when the pinned requirements change (their hash is
# kept next to it). Every package is pinned with its hashes (pip --require-hashes).
install_venv() {
  local want
  want="$(sha256sum "$HERE/requirements.txt" | cut -d' ' -f1)"
  venv_current() {
    [ -x "$VENV/bin/schemathesis" ] && [ "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" = "$want" ]
  }
  venv_current && return
  mkdir -p "$ROOT/.stack"
  # Two checkouts or runs at once: one installs, the other waits and then finds it done.
  exec 8>"$ROOT/.stack/.contract-venv.lock"
  flock 8
  if ! venv_current; then
    echo "contract: installing schemathesis into $VENV" >&2
    python3 -c 'import venv, ensurepip' 2>/dev/null \
      || { echo "contract: python3-venv is missing (docker/stack.sh up installs it as root)" >&2; exit 2; }
    rm -rf "$VENV"
    python3 -m venv "$VENV" >&2
    "$VENV/bin/pip" install -q --disable-pip-version-check --require-hashes --no-deps \
      -r "$HERE/requirements.txt" >&2
    echo "$want" >"$VENV/.requirements.sha256"
  fi
  exec 8>&-
}

# One schemathesis run. $1: caller name; $2: token or empty; the rest: extra options.
run_as() {
  local who="$1" token="$2"
  shift 2
  local auth=()
  [ -n "$token" ] && auth=(--header "Authorization: Bearer $token")
  echo "==== contract: as $who ====" >&2
  local start=$SECONDS status=0
  # --request-retries: a request whose connection is refused or reset is sent again (after 1 s,
  # then 2 s) before schemathesis calls the server gone. Once, on the loaded 2-core machine, a
  # run stopped with "server stopped responding" while the server was up and logged nothing;
  # the next run passed. A crashed server still fails the run (it stays down); a 5xx or any other
  # answer is never retried.
  "$VENV/bin/schemathesis" --config-file "$WORK/schemathesis.toml" --no-color run \
    "$ROOT/openapi/openapi.json" --url "$HS_BASE_URL" \
    --checks "$CHECKS" --phases "$PHASES" \
    --seed "$SEED" --max-examples "$MAX_EXAMPLES" --workers 1 \
    --request-timeout 20 --request-retries 2 --max-failures 50 \
    --report junit --report-junit-path "$WORK/junit-$who.xml" \
    "${auth[@]}" "$@" ${CONTRACT_EXTRA_ARGS:-} >"$WORK/$who.log" 2>&1 || status=$?
  # The summary (and, on failure, each failure with a curl line to reproduce it).
  if [ "$status" -eq 0 ]; then
    sed -n '/SUMMARY/,$p' "$WORK/$who.log" >&2
  else
    cat "$WORK/$who.log" >&2
  fi
  echo "==== contract: as $who: exit $status in $((SECONDS - start)) s ====" >&2
  return "$status"
}

inside_server() {
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/hs-contract.XXXX")"
  export WORK
  "$VENV/bin/python" "$HERE/fixtures.py" "$WORK" "$HERE/schemathesis.toml.in"
  set -a
  # shellcheck disable=SC1091
  . "$WORK/tokens.env"
  set +a
  local excluded=() included=() failed=() op
  for op in "${SESSION_ENDERS[@]}"; do
    excluded+=(--exclude-operation-id "$op")
    included+=(--include-operation-id "$op")
  done
  local who
  for who in $ROLES; do
    case "$who" in
      anonymous) run_as anonymous "" || failed+=("$who") ;;
      patient) run_as patient "$TOKEN_PATIENT" "${excluded[@]}" || failed+=("$who") ;;
      doctor) run_as doctor "$TOKEN_DOCTOR" "${excluded[@]}" || failed+=("$who") ;;
      receptionist) run_as receptionist "$TOKEN_RECEPTIONIST" "${excluded[@]}" || failed+=("$who") ;;
      admin) run_as admin "$TOKEN_ADMIN" "${excluded[@]}" || failed+=("$who") ;;
      throwaway) run_as throwaway "$TOKEN_THROWAWAY" "${included[@]}" || failed+=("$who") ;;
      *) echo "contract: unknown role $who" >&2; exit 2 ;;
    esac
  done
  if [ "${#failed[@]}" -gt 0 ]; then
    echo "contract: FAILED as: ${failed[*]} (logs and JUnit reports in $WORK)" >&2
    exit 1
  fi
  rm -rf "$WORK"
  echo "contract: passed as: $ROLES" >&2
}

if [ "${1:-}" = "--inside-server" ]; then
  inside_server
else
  install_venv
  start=$SECONDS
  "$ROOT/scripts/with-server.sh" "$0" --inside-server
  echo "contract: wall time $((SECONDS - start)) s" >&2
fi
