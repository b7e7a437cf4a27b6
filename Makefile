# HealthSync. `make run` serves the API on :8080; `make test` runs every test. Both start the
# local stack first (docker/stack.sh: PostgreSQL, Redis, a MongoDB-protocol server in .stack/).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
STACK := docker/stack.sh
# Exports DATABASE_URL, REDIS_URL, MONGODB_URI (honouring ones already set).
ENV := set -a; . .stack/env; set +a;
BIN := target/debug/healthsync

.PHONY: run test lint fmt fmt-check clippy purity openapi openapi-check schema schema-check \
        tools stack-up stack-down stack-status build migrate bench clean-stack contract

run: stack-up build secret
	$(ENV) $(BIN) migrate
	$(ENV) JWT_SECRET="$${JWT_SECRET:-$$(cat .stack/jwt_secret)}" LOG_FORMAT=$${LOG_FORMAT:-pretty} \
	  CORS_ALLOWED_ORIGINS="$${CORS_ALLOWED_ORIGINS-http://localhost:3000,http://localhost:5173,http://127.0.0.1:5173}" \
	  HTTP_ADDR=$${HTTP_ADDR:-0.0.0.0:8080} $(BIN) serve

test: stack-up
	$(ENV) cargo test --workspace --no-fail-fast
	$(MAKE) contract

# The contract test: schemathesis (pinned, in .stack/contract-venv) fuzzes a server of its own
# against openapi/openapi.json as anonymous, patient, doctor, receptionist and admin; fails on a
# 5xx, a body or Content-Type not as documented, or an undocumented status. About 3 minutes.
contract: stack-up build
	scripts/contract-test.sh

lint: fmt-check clippy purity openapi-check schema-check

build:
	cargo build -p api-http --bin healthsync

migrate: stack-up build
	$(ENV) $(BIN) migrate

# A local signing key for `make run`, never committed; production sets JWT_SECRET.
secret:
	@mkdir -p .stack; [ -s .stack/jwt_secret ] || head -c 48 /dev/urandom | base64 -w0 > .stack/jwt_secret

fmt:
	cargo fmt --all

fmt-check:
	cargo fmt --all -- --check

clippy:
	cargo clippy --workspace --all-targets -- -D warnings

# The domain crate must not depend on any database, web or runtime crate.
purity:
	@bad=$$(cargo tree -p domain -e normal --prefix none | grep -oE '^(diesel|diesel-async|diesel_migrations|mongodb|bson|redis|deadpool[a-z-]*|actix[a-z-]*|sqlx|tokio|tokio-postgres|hyper|reqwest) v' | sort -u || true); \
	if [ -n "$$bad" ]; then echo "domain depends on infrastructure: $$bad"; exit 1; fi; \
	echo "domain is pure"

openapi: build
	$(BIN) openapi > openapi/openapi.json

openapi-check: build
	@$(BIN) openapi | diff -u openapi/openapi.json - \
	  || { echo "openapi/openapi.json is stale: run make openapi"; exit 1; }
	@python3 -c 'import json,sys,collections; d=json.load(open("openapi/openapi.json")); \
	  ids=[o.get("operationId","") for p in d["paths"].values() for o in p.values()]; \
	  bad=[i for i,n in collections.Counter(ids).items() if n>1 or not i]; \
	  sys.exit("operationIds missing or repeated: %s" % bad) if bad else print("operationIds unique")'

tools:
	@[ -x .tools/bin/diesel ] || cargo install diesel_cli --version '^2.3' --no-default-features \
	  --features postgres --root .tools --locked

schema: stack-up build tools
	$(ENV) crates/adapters-postgres/scripts/schema.sh write

schema-check: stack-up build tools
	$(ENV) crates/adapters-postgres/scripts/schema.sh check

stack-up:
	@$(STACK) up

stack-down:
	@$(STACK) down

stack-status:
	@$(STACK) status

clean-stack: stack-down
	rm -rf .stack

# Throughput and p50/p99 of availability (warm / cache off) and contended booking, beside the
# pgbench ceiling of the booking transaction, all in one run (release build).
bench: stack-up
	$(ENV) RUST_LOG=error cargo run --release -p e2e --bin bench
