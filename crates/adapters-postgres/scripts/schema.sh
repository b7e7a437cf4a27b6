#!/usr/bin/env bash
# Regenerates (`schema.sh write`) or checks (`schema.sh check`) src/schema.rs: migrates a
# scratch database on the server of DATABASE_URL, runs `diesel print-schema` on it, drops it.
set -euo pipefail
mode="${1:-check}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
root="$(cd "$here/../.." && pwd)"
diesel="$root/.tools/bin/diesel"
[ -x "$diesel" ] || { echo "diesel CLI missing: run make tools" >&2; exit 1; }
: "${DATABASE_URL:?DATABASE_URL must be set (make sources .stack/env)}"

# Same server, another database name.
scratch="hs_schema_$$"
base="${DATABASE_URL%%\?*}"
server="${base%/*}"
admin_url="$server/postgres"
scratch_url="$server/$scratch"

psql -q "$admin_url" -c "CREATE DATABASE $scratch" >/dev/null
trap 'psql -q "$admin_url" -c "DROP DATABASE IF EXISTS $scratch WITH (FORCE)" >/dev/null' EXIT
DATABASE_URL="$scratch_url" LOG_FORMAT=pretty RUST_LOG=warn "$root/target/debug/healthsync" migrate
generated="$(mktemp)"
(cd "$here" && "$diesel" print-schema --database-url "$scratch_url" --config-file diesel.toml) >"$generated"

if [ "$mode" = write ]; then
  cp "$generated" "$here/src/schema.rs"
  echo "wrote crates/adapters-postgres/src/schema.rs"
elif ! diff -u "$here/src/schema.rs" "$generated"; then
  echo "schema.rs is stale: run make schema and commit the result" >&2
  exit 1
fi
rm -f "$generated"
