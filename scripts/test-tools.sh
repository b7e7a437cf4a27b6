#!/usr/bin/env bash
# Installs the Python tools the end-to-end tests run into .stack/test-venv (pinned, with
# hashes, from scripts/test-tools/requirements.txt): an iCalendar parser independent of the
# server's writer, for the calendar feed, and aiosmtpd, for smtp_sink.py (the SMTP server
# that records the emails the service sends). Reinstalled only when the requirements change. The tests find it at .stack/test-venv/bin/python (or HS_TEST_PYTHON).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.stack/test-venv"
REQ="$ROOT/scripts/test-tools/requirements.txt"
want="$(sha256sum "$REQ" | cut -d' ' -f1)"
current() { [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" = "$want" ]; }
current && exit 0
mkdir -p "$ROOT/.stack"
exec 8>"$ROOT/.stack/.test-venv.lock"
flock 8
current && exit 0
echo "test-tools: installing into $VENV" >&2
python3 -c 'import venv, ensurepip' 2>/dev/null \
  || { echo "test-tools: python3-venv is missing (docker/stack.sh up installs it as root)" >&2; exit 2; }
rm -rf "$VENV"
python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check --require-hashes --no-deps -r "$REQ"
echo "$want" > "$VENV/.requirements.sha256"
