#!/usr/bin/env bash
# The local HealthSync stack without Docker: PostgreSQL, Redis, a MongoDB-protocol server and
# an S3-compatible server (moto, for the S3 file store),
# each in a project-local data directory on its own port, so it never touches the machine's own
# services and two checkouts can share one stack.
#
#   docker/stack.sh up      start what is not running (idempotent), then write .stack/env
#   docker/stack.sh down    stop what this script started
#   docker/stack.sh status  say what is up
#   docker/stack.sh env     print the environment (DATABASE_URL, REDIS_URL, MONGODB_URI, ...)
#
# When DATABASE_URL, REDIS_URL or MONGODB_URI is already set, that store is used as given and
# nothing is started for it. MongoDB: `mongod` when on PATH, otherwise SecantusDB (PyPI,
# pre-release) in a project-local venv. On a fresh Debian/Ubuntu host, missing packages are
# installed with apt-get when running as root; otherwise the script says what to install.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK_DIR="${HS_STACK_DIR:-$ROOT/.stack}"
PG_PORT="${HS_PG_PORT:-55432}"
REDIS_PORT="${HS_REDIS_PORT:-56379}"
MONGO_PORT="${HS_MONGO_PORT:-57017}"
S3_PORT="${HS_S3_PORT:-59000}"

log() { printf '[stack] %s\n' "$*" >&2; }
die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() { # port name seconds
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    port_open "$1" && return 0
    sleep 0.1
  done
  die "$2 did not open port $1 within $3 s (see $STACK_DIR/*.log)"
}

apt_install() { # packages...
  if [ "$(id -u)" -ne 0 ]; then
    die "missing packages: $*. Install them (e.g. sudo apt-get install -y $*) and run again."
  fi
  command -v apt-get >/dev/null || die "missing packages: $*, and no apt-get to install them."
  log "installing $* with apt-get"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

pg_bindir() {
  local d
  if command -v pg_config >/dev/null && [ -x "$(pg_config --bindir)/pg_ctl" ]; then
    pg_config --bindir
    return
  fi
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$d" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return; }
  command -v pg_ctl >/dev/null && { dirname "$(command -v pg_ctl)"; return; }
  return 1
}

# Runs a PostgreSQL server command as an unprivileged user: initdb and postgres refuse root.
as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --home "$STACK_DIR" postgres
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

ensure_packages() {
  local need=()
  if [ -z "${DATABASE_URL:-}" ] && ! pg_bindir >/dev/null; then need+=(postgresql); fi
  if [ -z "${REDIS_URL:-}" ] && ! command -v redis-server >/dev/null; then need+=(redis-server); fi
  # SecantusDB (without mongod) and the S3 test server (without S3_TEST_ENDPOINT) run in venvs.
  if { [ -z "${MONGODB_URI:-}" ] && ! command -v mongod >/dev/null; } || [ -z "${S3_TEST_ENDPOINT:-}" ]; then
    python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
  fi
  if ! command -v psql >/dev/null; then need+=(postgresql-client); fi
  if [ ${#need[@]} -gt 0 ]; then apt_install "${need[@]}"; fi
}

start_postgres() {
  [ -n "${DATABASE_URL:-}" ] && { log "PostgreSQL: using DATABASE_URL"; return; }
  local bin data="$STACK_DIR/pg/data"
  bin=$(pg_bindir) || die "PostgreSQL server binaries not found"
  if port_open "$PG_PORT"; then log "PostgreSQL: already up on $PG_PORT"; return; fi
  mkdir -p "$STACK_DIR/pg"
  [ "$(id -u)" -eq 0 ] && chown -R postgres "$STACK_DIR/pg"
  if [ ! -f "$data/PG_VERSION" ]; then
    log "PostgreSQL: initdb in $data"
    as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$STACK_DIR/pg/initdb.log" 2>&1 \
      || as_pg "$bin/initdb" -D "$data" -U postgres --auth=trust -E UTF8 >"$STACK_DIR/pg/initdb.log" 2>&1
  fi
  log "PostgreSQL: starting on $PG_PORT"
  as_pg "$bin/pg_ctl" -D "$data" -l "$STACK_DIR/pg/server.log" -w -t 60 \
    -o "-p $PG_PORT -k $STACK_DIR/pg -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=1GB -c max_wal_size=8GB -c maintenance_work_mem=512MB" \
    start >/dev/null 9>&-
}

start_redis() {
  [ -n "${REDIS_URL:-}" ] && { log "Redis: using REDIS_URL"; return; }
  if port_open "$REDIS_PORT"; then log "Redis: already up on $REDIS_PORT"; return; fi
  mkdir -p "$STACK_DIR/redis"
  log "Redis: starting on $REDIS_PORT"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --daemonize yes --save "" --appendonly no \
    --dir "$STACK_DIR/redis" --pidfile "$STACK_DIR/redis/redis.pid" --logfile "$STACK_DIR/redis/redis.log" 9>&-
  wait_port "$REDIS_PORT" Redis 20
}

# Prints the command that runs the MongoDB-protocol server (installing SecantusDB when needed).
mongo_server_cmd() {
  if command -v mongod >/dev/null; then
    echo "mongod --port $MONGO_PORT --bind_ip 127.0.0.1 --dbpath $STACK_DIR/mongo/data"
    return
  fi
  local venv="$STACK_DIR/venv"
  if [ ! -x "$venv/bin/secantusd-py" ]; then
    log "MongoDB: no mongod on PATH; installing SecantusDB into $venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q --disable-pip-version-check --pre secantusdb >&2
  fi
  echo "$venv/bin/secantusd-py --port $MONGO_PORT --storage-path $STACK_DIR/mongo/data"
}

start_mongo() {
  [ -n "${MONGODB_URI:-}" ] && { log "MongoDB: using MONGODB_URI"; return; }
  local cmd
  cmd=$(mongo_server_cmd)
  if port_open "$MONGO_PORT"; then log "MongoDB: already up on $MONGO_PORT"; return; fi
  mkdir -p "$STACK_DIR/mongo/data"
  log "MongoDB: starting on $MONGO_PORT ($(basename "${cmd%% *}"))"
  # shellcheck disable=SC2086
  nohup $cmd >"$STACK_DIR/mongo/server.log" 2>&1 9>&- &
  echo $! >"$STACK_DIR/mongo/server.pid"
  wait_port "$MONGO_PORT" MongoDB 60
}

# An S3-compatible server (moto, PyPI) for the S3 file store's tests and for trying
# FILE_STORE=s3 locally. S3_TEST_ENDPOINT, when set, is used instead.
start_s3() {
  [ -n "${S3_TEST_ENDPOINT:-}" ] && { log "S3: using S3_TEST_ENDPOINT"; return; }
  if port_open "$S3_PORT"; then log "S3: already up on $S3_PORT"; return; fi
  local venv="$STACK_DIR/s3venv"
  if [ ! -x "$venv/bin/moto_server" ]; then
    log "S3: installing the moto S3 server into $venv"
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q --disable-pip-version-check "moto[server]>=5,<6" >&2
  fi
  mkdir -p "$STACK_DIR/s3"
  log "S3: starting on $S3_PORT (moto)"
  nohup "$venv/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" >"$STACK_DIR/s3/server.log" 2>&1 9>&- &
  echo $! >"$STACK_DIR/s3/server.pid"
  wait_port "$S3_PORT" S3 60
}

print_env() {
  echo "DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:$PG_PORT/healthsync}"
  echo "REDIS_URL=${REDIS_URL:-redis://127.0.0.1:$REDIS_PORT}"
  echo "MONGODB_URI=${MONGODB_URI:-mongodb://127.0.0.1:$MONGO_PORT/?directConnection=true}"
  # Where the tests find server binaries to start throwaway instances (outage tests).
  echo "HS_MONGO_SERVER_CMD=$(mongo_server_cmd 2>/dev/null | awk '{print $1}')"
  # The S3-compatible server the S3 file store's tests write to.
  echo "S3_TEST_ENDPOINT=${S3_TEST_ENDPOINT:-http://127.0.0.1:$S3_PORT}"
}

create_database() {
  [ -n "${DATABASE_URL:-}" ] && return
  local exists
  exists=$(psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname = 'healthsync'")
  [ "$exists" = 1 ] || psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -qc 'CREATE DATABASE healthsync' >/dev/null
}

stop_pidfile() { # name pidfile
  [ -f "$2" ] || return 0
  local pid
  pid=$(cat "$2")
  if kill -0 "$pid" 2>/dev/null; then
    log "$1: stopping ($pid)"
    kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$2"
}

up() {
  mkdir -p "$STACK_DIR"
  # Two `make test` at once must not race to initdb or install the venv. The servers started
  # below must not inherit this descriptor (9>&-), or they would hold the lock forever.
  exec 9>"$STACK_DIR/.lock"
  flock 9
  ensure_packages
  start_postgres
  start_redis
  start_mongo
  start_s3
  create_database
  print_env >"$STACK_DIR/env"
  log "up; environment in $STACK_DIR/env"
}

down() {
  local bin
  if [ -f "$STACK_DIR/pg/data/postmaster.pid" ] && bin=$(pg_bindir); then
    log "PostgreSQL: stopping"
    as_pg "$bin/pg_ctl" -D "$STACK_DIR/pg/data" -m fast -w stop >/dev/null || true
  fi
  stop_pidfile Redis "$STACK_DIR/redis/redis.pid"
  stop_pidfile MongoDB "$STACK_DIR/mongo/server.pid"
  stop_pidfile S3 "$STACK_DIR/s3/server.pid"
}

status() {
  local name port
  for pair in "PostgreSQL:$PG_PORT" "Redis:$REDIS_PORT" "MongoDB:$MONGO_PORT" "S3:$S3_PORT"; do
    name=${pair%%:*}; port=${pair##*:}
    if port_open "$port"; then echo "$name up on $port"; else echo "$name down ($port)"; fi
  done
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  env) print_env ;;
  *) echo "usage: $0 up|down|status|env" >&2; exit 2 ;;
esac
