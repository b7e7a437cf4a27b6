# HealthSync. `make run` serves the API on :8080; `make test` runs every test. Both start the
# local stack first (docker/stack.sh: PostgreSQL, Redis, a MongoDB-protocol server in .stack/).
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
STACK := docker/stack.sh
# Exports DATABASE_URL, REDIS_URL, MONGODB_URI (honouring ones already set).
ENV := set -a; . .stack/env; set +a; export MALLOC_MMAP_THRESHOLD_=$${MALLOC_MMAP_THRESHOLD_:-1048576};
BIN := target/debug/healthsync

.PHONY: run test lint fmt fmt-check clippy purity openapi openapi-check schema schema-check \
        tools stack-up stack-down stack-status build migrate bench bench-chat bench-scale bench-analytics clean-stack \
        sdk sdk-deps sdk-check sdk-test demo contract test-tools fhir-deps

run: stack-up build secret
	$(ENV) $(BIN) migrate
	$(ENV) JWT_SECRET="$${JWT_SECRET:-$$(cat .stack/jwt_secret)}" LOG_FORMAT=$${LOG_FORMAT:-pretty} \
	  CORS_ALLOWED_ORIGINS="$${CORS_ALLOWED_ORIGINS-http://localhost:3000,http://localhost:5173,http://127.0.0.1:5173}" \
	  HTTP_ADDR=$${HTTP_ADDR:-0.0.0.0:8080} $(BIN) serve

# `make run` on a demo clinic of its own (database healthsync_demo, seeded afresh each time by
# `healthsync seed --reset`; the logins are printed before the server starts). `make run`'s
# database is never touched. SEED and APPOINTMENTS change the clinic.
DEMO_ENV := DATABASE_URL="$${DATABASE_URL%/*}/healthsync_demo" MONGODB_DATABASE=healthsync_demo \
  FILE_STORE_DIR=.stack/demo-files EMAIL_DIR=.stack/demo-mail
demo: stack-up build secret
	$(ENV) psql -q "$$DATABASE_URL" -tc "SELECT 1 FROM pg_database WHERE datname = 'healthsync_demo'" \
	  | grep -q 1 || { $(ENV) psql -q "$$DATABASE_URL" -c "CREATE DATABASE healthsync_demo"; }
	$(ENV) $(DEMO_ENV) $(BIN) seed --reset --seed $${SEED:-42} --appointments $${APPOINTMENTS:-5000}
	$(ENV) $(DEMO_ENV) JWT_SECRET="$${JWT_SECRET:-$$(cat .stack/jwt_secret)}" LOG_FORMAT=$${LOG_FORMAT:-pretty} \
	  CORS_ALLOWED_ORIGINS="$${CORS_ALLOWED_ORIGINS-http://localhost:3000,http://localhost:5173,http://127.0.0.1:5173}" \
	  HTTP_ADDR=$${HTTP_ADDR:-0.0.0.0:8080} $(BIN) serve

# The cargo tests, then the TypeScript SDK's tests against a real server (scripts/sdk-test.sh),
# then the contract test; all three run, and any failing fails the target.
test: stack-up test-tools fhir-deps
	status=0; $(ENV) cargo test --workspace --no-fail-fast || status=$$?; \
	$(MAKE) --no-print-directory sdk-test || status=$$?; \
	$(MAKE) --no-print-directory contract || status=$$?; exit $$status

# The FHIR R4 validator the e2e test `fhir` runs on every resource it reads: ajv (pinned by
# scripts/fhir/package-lock.json) and HL7's R4 4.0.1 fhir.schema.json (SHA-256 checked), into
# .stack/fhir. The test fails, not skips, without it. Idempotent.
fhir-deps:
	scripts/fhir-deps.sh

# The contract test: schemathesis (pinned, in .stack/contract-venv) fuzzes a server of its own
# against openapi/openapi.json as anonymous, patient, doctor, receptionist and admin; fails on a
# 5xx, a body or Content-Type not as documented, or an undocumented status. About 3 minutes.
contract: stack-up build
	scripts/contract-test.sh

# The Python tools the end-to-end tests run (an iCalendar parser).
test-tools:
	@scripts/test-tools.sh

lint: fmt-check clippy purity openapi-check schema-check sdk-check

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
# pgbench ceiling of the booking transaction, all in one run (release build); then bench-chat.
bench: stack-up
	$(ENV) RUST_LOG=error cargo run --release -p e2e --bin bench
	$(MAKE) --no-print-directory bench-chat
	$(MAKE) --no-print-directory bench-analytics

# The chat (issue 12) under load: the release server as a process of its own on the seeded
# clinic healthsync_bench_1000000 (seeded on first use, shared with bench-scale); REST sends
# alone, then with BENCH_SOCKETS (1000) sockets open, REST and socket sends (send-to-delivery
# p50/p99, lost and duplicated deliveries), memory per socket, MongoDB's raw insert rate and
# history reads; appended to bench/results/chat.json. See the README's "Chat benchmark".
bench-chat: stack-up
	cargo build --release -p api-http --bin healthsync
	$(ENV) cargo run --release -p e2e --bin chat_bench

# The release server under wrk at several sizes of history (BENCH_SIZES, default 10 thousand,
# 1 million and 10 million appointments; each size a database healthsync_bench_<N> seeded once
# and reused): throughput, p50/p99 and errors per scenario, the targets' ratios, the server's
# memory; appended to bench/results/scale.json, plotted to docs/bench-scale.png. See the README.
bench-scale: stack-up
	$(ENV) python3 bench/scale.py

# The dashboard (issue 13) on the seeded clinics of bench-scale (BENCH_ANALYTICS_SIZES, default
# 1 and 10 million appointments): cached and uncached p50/p99 beside GET /health and the
# pre-roll-up SQL in the same run; appended to bench/results/analytics.json. See the README's
# "Analytics".
bench-analytics: stack-up
	$(ENV) python3 bench/analytics.py

# The TypeScript SDK (openapi/typescript, `@healthsync/sdk`). `make sdk` regenerates its types
# from openapi/openapi.json (after `make openapi`); `sdk-check` (in `make lint`) fails when the
# committed types drift from the document, type-checks the package under `tsc --strict` and
# refuses `any`, casts and `!` in its test code.
SDK := openapi/typescript

sdk-deps:
	@[ -d $(SDK)/node_modules ] || (cd $(SDK) && npm ci --no-audit --no-fund)

sdk: sdk-deps
	cd $(SDK) && npm run --silent generate

sdk-check: sdk-deps
	cd $(SDK) && npm run --silent check:generated
	cd $(SDK) && npx --no-install tsc -p tsconfig.json --noEmit && echo "SDK type-checks (tsc --strict)"
	cd $(SDK) && node scripts/no-casts.mjs test

sdk-test: stack-up build sdk-deps
	scripts/sdk-test.sh
