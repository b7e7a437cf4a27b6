#!/usr/bin/env python3
"""`make bench-scale`: the release server under load from outside (wrk), at several sizes of
history, each size a database of its own seeded once by `healthsync seed --appointments N` and
reused by later runs.

For each size in BENCH_SIZES: seed (or reuse) `healthsync_bench_<N>`, start the release server
on a free port with its own MongoDB database and Redis key prefix, log in the front desk and
BENCH_PATIENTS patients, then run every scenario for BENCH_SECONDS with BENCH_CONNECTIONS
connections (wrk, 2 threads): see SCENARIOS in the README's "Benchmark at scale". The booking
scenario's SQL ceiling is pgbench running docker/bench/booking.sql on the same database right
after it. The server's resident memory is read from /proc at rest, during and after the mixed
load. The bookings the run made are deleted at the end, so a database keeps its size.

Results: appended to bench/results/scale.json (one row per size and scenario), printed as a
table with the targets' ratios, and plotted (p99 against size) to docs/bench-scale.png.

Settings (environment): BENCH_SIZES ("10000 1000000 10000000"), BENCH_SECONDS (10),
BENCH_CONNECTIONS (16), BENCH_PATIENTS (32), BENCH_SEED (42), HS_BIN (target/release/healthsync,
built here unless BENCH_NO_BUILD=1), BENCH_NOTE (a remark stored with every row of the run,
e.g. "machine shared with builds"), BENCH_PERF=1 (perf record of the server during the mixed
load, report in bench/results/perf-<N>.txt).
"""

import datetime as dt
import json
import os
import resource
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LUA = os.path.join(ROOT, "bench", "lua")
RESULTS = os.path.join(ROOT, "bench", "results", "scale.json")
PLOT = os.path.join(ROOT, "docs", "bench-scale.png")

SIZES = [int(s) for s in os.environ.get("BENCH_SIZES", "10000 1000000 10000000").split()]
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "16"))
THREADS = 2
PATIENTS = int(os.environ.get("BENCH_PATIENTS", "32"))
SEED = int(os.environ.get("BENCH_SEED", "42"))
BIN = os.environ.get("HS_BIN", os.path.join(ROOT, "target", "release", "healthsync"))
DEMO_PASSWORD = "healthsync-demo-1"  # crates/api-http/src/seed.rs
# Every request of the bench comes from 127.0.0.1: the per-IP budgets (300 requests and 5
# logins a minute by default) would answer 429 within a second. Raised for the bench only.
BENCH_LIMITS = {"RATE_LIMIT_PER_MINUTE": "100000000", "LOGIN_RATE_LIMIT_PER_MINUTE": "100000"}

# The targets of issue 11, part 4.
TARGET_WARM_OVER_HEALTH = 0.25
TARGET_BOOKING_OVER_PGBENCH = 0.75
TARGET_MIXED_RPS = 3000
TARGET_P99_GROWTH = 2.0


def log(message):
    print(f"[bench-scale {time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---------------------------------------------------------------- the stores

def base_url_of(database_url):
    """The server part of DATABASE_URL (without database name and query)."""
    return database_url.split("?", 1)[0].rsplit("/", 1)[0]


ADMIN_DB = os.environ["DATABASE_URL"]


def db_url(size):
    return f"{base_url_of(ADMIN_DB)}/healthsync_bench_{size}"


def psql(url, sql, check=True):
    """Runs SQL with psql; returns the rows as lists of fields (unaligned, tab-separated)."""
    out = subprocess.run(["psql", "-qAtX", "-F", "\t", "-v", "ON_ERROR_STOP=1", url, "-c", sql],
                         capture_output=True, text=True)
    if check and out.returncode != 0:
        raise RuntimeError(f"psql failed: {out.stderr.strip()}\n{sql}")
    return [line.split("\t") for line in out.stdout.splitlines() if line]


def ensure_database(size):
    """Creates `healthsync_bench_<size>` when it does not exist yet."""
    if not psql(ADMIN_DB, f"SELECT 1 FROM pg_database WHERE datname = 'healthsync_bench_{size}'"):
        psql(ADMIN_DB, f"CREATE DATABASE healthsync_bench_{size}")


def seeded_size(size):
    """The size recorded by a finished seed of this (existing) database, or None."""
    rows = psql(db_url(size), "SELECT appointments FROM bench_scale_seed", check=False)
    return int(rows[0][0]) if rows else None


def ensure_seeded(size, env):
    """Seeds `healthsync_bench_<size>` unless a finished seed of that size is recorded in its
    `bench_scale_seed` table (the seed itself is one transaction: an interrupted one leaves
    nothing, and the next run starts it again)."""
    if seeded_size(size) == size:
        log(f"healthsync_bench_{size}: seeded earlier, reused")
        return
    log(f"healthsync_bench_{size}: seeding {size} appointments (10M takes about 8 minutes)")
    started = time.time()
    subprocess.run([BIN, "seed", "--reset", "--seed", str(SEED), "--appointments", str(size)],
                   env=env, check=True, stdout=subprocess.DEVNULL)
    seconds = time.time() - started
    psql(db_url(size), f"""
        DROP TABLE IF EXISTS bench_scale_seed;
        CREATE TABLE bench_scale_seed AS
        SELECT {size}::bigint AS appointments, {SEED} AS seed, now() AS seeded_at,
               {seconds:.1f}::real AS seconds""")
    log(f"healthsync_bench_{size}: seeded in {seconds:.0f} s")


def cleanup_bookings(size):
    """Removes what the bench booked (reason 'bench-scale') and frees its slots again."""
    psql(db_url(size), """
        CREATE TEMP TABLE gone AS
          SELECT a.id, a.time_slot_id FROM appointments a
          JOIN bench_pairs b ON b.id = a.time_slot_id WHERE a.reason = 'bench-scale';
        DELETE FROM notifications WHERE appointment_id IN (SELECT id FROM gone);
        DELETE FROM audit_outbox WHERE entity_id IN (SELECT id FROM gone);
        DELETE FROM appointments WHERE id IN (SELECT id FROM gone);
        UPDATE time_slots SET is_available = true
         WHERE id IN (SELECT time_slot_id FROM gone) AND NOT is_available;""",
         check=False)


# ---------------------------------------------------------------- the server

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The release server on a free port, its log in a temporary file."""

    def __init__(self, env, **overrides):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="bench-scale-server-", suffix=".log",
                                               delete=False)
        env = dict(env, HTTP_ADDR=f"127.0.0.1:{self.port}", **overrides)
        self.process = subprocess.Popen([BIN, "serve"], env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT)
        for _ in range(600):
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited; see {self.log.name}")
            try:
                urllib.request.urlopen(self.url + "/ready", timeout=2).read()
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.1)
        raise RuntimeError(f"the server is not ready; see {self.log.name}")

    def status(self, field):
        """A field of /proc/<pid>/status in MiB (VmRSS: resident now; VmHWM: resident peak)."""
        with open(f"/proc/{self.process.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.unlink(self.log.name)


def call(server, method, path, token=None, body=None):
    request = urllib.request.Request(server.url + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read() or b"null")


def login(server, email):
    return call(server, "POST", "/auth/login", body={"email": email, "password": DEMO_PASSWORD})[
        "accessToken"]


# ---------------------------------------------------------------- where the CPU went

TICKS = os.sysconf("SC_CLK_TCK")
# Process names (comm) of the components, the server's by its pid.
COMPONENTS = {"postgres": "postgres", "redis": "redis-server", "mongo": "secantusd-py"}


POSTGRES_SHARED = {"walwriter", "checkpointer", "background", "autovacuum", "logical",
                   "archiver", "startup", "walsender"}


def postgres_part(pid, database):
    """'postgres' for a backend of the bench's database or a shared background process (WAL
    writer, checkpointer, ...), 'other' for a backend of another database (other engineers'
    tests on the same cluster): its process title names its database."""
    try:
        with open(f"/proc/{pid}/cmdline") as f:
            title = f.read().replace("\0", " ").split()
    except OSError:
        return "other"
    if database in title or (len(title) > 1 and title[1].rstrip(":") in POSTGRES_SHARED):
        return "postgres"
    return "other"


def process_times(database):
    """CPU seconds so far of every process, by pid: (name, seconds); PostgreSQL's processes
    are named 'postgres' or 'other' by postgres_part."""
    times = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        if name == "postgres":
            name = postgres_part(pid, database)
        times[int(pid)] = (name, (int(fields[11]) + int(fields[12])) / TICKS)  # utime + stime
    return times


def machine_busy():
    with open("/proc/stat") as f:
        cpu = [int(v) for v in f.readline().split()[1:]]
    return (sum(cpu) - cpu[3] - cpu[4]) / TICKS  # all but idle and iowait


class CpuMeter:
    """Cores each component kept busy while a scenario ran: the server (by pid), each store
    (every process of its name; PostgreSQL's: the bench database's backends and the shared
    background processes), the load generator (this script's children: wrk or pgbench) and the
    rest of the machine ('other': e.g. other engineers' builds and tests). Processes are
    sampled every 0.2 s, so a PostgreSQL backend that exits with pgbench keeps its last
    sample."""

    def __init__(self, server_pid, database):
        self.server_pid, self.database = server_pid, database
        self.first, self.last = process_times(database), {}
        self.busy, self.children = machine_busy(), self._children()
        self.started = time.monotonic()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._sample)
        self.thread.start()

    @staticmethod
    def _children():
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    def _sample(self):
        while True:
            self.last.update(process_times(self.database))
            if self.stopping.wait(0.2):
                return

    def stop(self):
        self.stopping.set()
        self.thread.join()
        self.last.update(process_times(self.database))
        wall = time.monotonic() - self.started
        used = dict.fromkeys(["server", *COMPONENTS], 0.0)
        for pid, (name, seconds) in self.last.items():
            delta = seconds - self.first.get(pid, (name, 0.0))[1]
            if pid == self.server_pid:
                used["server"] += delta
            for component, process in COMPONENTS.items():
                if name == process:
                    used[component] += delta
        used["load generator"] = self._children() - self.children
        machine = machine_busy() - self.busy
        used["other"] = max(0.0, machine - sum(used.values()))
        return {k: round(v / wall, 2) for k, v in used.items()}


# ---------------------------------------------------------------- load generators

def wrk(server_url, path, script, seconds=SECONDS, **env):
    """Runs wrk from its own process; returns its report (see bench/lua/report.lua)."""
    env = dict(os.environ, BENCH_LUA_DIR=LUA, BENCH_THREADS=str(THREADS), **env)
    out = subprocess.run(["wrk", "-t", str(THREADS), "-c", str(CONNECTIONS), "-d", f"{seconds}s",
                          "--timeout", "10s", "-s", os.path.join(LUA, script), server_url + path],
                         env=env, capture_output=True, text=True, check=True)
    line = next((l for l in out.stdout.splitlines() if l.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no report:\n{out.stdout}\n{out.stderr}")
    report = json.loads(line[len("WRKJSON "):])
    seconds_run = report["duration_us"] / 1e6
    return {
        "requests": report["requests"],
        "rps": report["requests"] / seconds_run,
        "p50_ms": report["p50_us"] / 1000,
        "p99_ms": report["p99_us"] / 1000,
        "errors": report["non2xx"] + report["socket_errors"] + report["timeouts"],
        "used": report["used"], "booked": report["booked"], "cancels": report["cancels"],
    }


def pgbench_bin():
    found = sorted(p for p in (os.path.join("/usr/lib/postgresql", v, "bin", "pgbench")
                               for v in os.listdir("/usr/lib/postgresql")) if os.path.exists(p))
    return os.environ.get("PGBENCH", found[-1] if found else "pgbench")


def pgbench(url, slots, patients):
    """docker/bench/booking.sql (ends in ROLLBACK) with as many clients as wrk's connections."""
    with tempfile.TemporaryDirectory(prefix="bench-scale-pgbench-") as work:
        out = subprocess.run([pgbench_bin(), "-n", "-f", os.path.join(ROOT, "docker/bench/booking.sql"),
                              "-c", str(CONNECTIONS), "-j", str(THREADS), "-T", str(SECONDS), "-l",
                              "-D", f"slots={slots}", "-D", f"patients={patients}", url],
                             cwd=work, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"pgbench failed:\n{out.stdout}\n{out.stderr}")
        latencies = []
        for name in os.listdir(work):
            with open(os.path.join(work, name)) as f:
                # client_id transaction_no time(us) script_no time_epoch time_us
                latencies += [int(l.split()[2]) / 1000 for l in f if l.strip()]
    latencies.sort()
    tps = next(float(l.split("=")[1].split()[0]) for l in out.stdout.splitlines()
               if l.startswith("tps ="))
    failed = next((int(l.split(":")[1].split()[0]) for l in out.stdout.splitlines()
                   if l.startswith("number of failed transactions")), 0)
    return {"requests": len(latencies), "rps": tps, "p50_ms": percentile(latencies, 50),
            "p99_ms": percentile(latencies, 99), "errors": failed}


def percentile(sorted_values, p):
    if not sorted_values:
        return 0.0
    return sorted_values[min(len(sorted_values) - 1, round(p / 100 * (len(sorted_values) - 1)))]


# ---------------------------------------------------------------- one size

def prepare_bookings(size, env):
    """The pairs (patient, free slot) the booking scenarios take, as table bench_pairs: the
    BENCH_PATIENTS patients patient1..K (table bench_patients), and the free slots from the day
    after tomorrow on (so a patient can still cancel) of the doctors taking appointments (the
    seed makes a few unavailable: 409 DOCTOR_UNAVAILABLE) whose instant the paired patient has
    no appointment at. The j-th slot of an instant (by doctor) goes to patient j: no patient gets
    two slots at one instant. Shuffled, so the bookings spread over doctors and days as real
    ones do. When the 60 days of slots the seed made hold too few for BENCH_SECONDS of booking
    at 3,000 a second, the slots are generated a year ahead first (`healthsync
    generate-slots` with SLOT_HORIZON_DAYS=366; idempotent, no appointment is added).

    For pgbench (docker/bench/booking.sql, which picks a slot and a patient at random
    independently), table bench_slots holds the pairs' slots at instants where none of the
    patients has an appointment: its inserts can then only wait on each other, never fail."""
    def build():
        psql(db_url(size), f"""
            DROP TABLE IF EXISTS bench_pairs, bench_slots, bench_patients;
            CREATE TABLE bench_patients AS
              SELECT n, p.id, u.email FROM generate_series(1, {PATIENTS}) n
              JOIN users u ON u.email = 'patient' || n || '@healthsync.test'
              JOIN patients p ON p.user_id = u.id;
            CREATE UNIQUE INDEX ON bench_patients (n);
            CREATE TABLE bench_pairs AS
              SELECT row_number() OVER (ORDER BY md5(f.id::text)) AS n, f.id, f.j AS patient_n,
                     f.starts_at, f.ends_at
                FROM (SELECT s.id, s.starts_at, s.ends_at,
                             row_number() OVER (PARTITION BY s.starts_at ORDER BY s.doctor_id) AS j
                        FROM time_slots s
                        JOIN doctors d ON d.id = s.doctor_id AND d.is_available
                        JOIN users u ON u.id = d.user_id AND u.is_active
                       WHERE s.is_available AND s.date >= current_date + 2) f
                JOIN bench_patients bp ON bp.n = f.j
               WHERE NOT EXISTS (SELECT 1 FROM appointments a
                                  WHERE a.patient_id = bp.id AND a.status <> 'CANCELLED'
                                    AND a.starts_at < f.ends_at AND a.ends_at > f.starts_at);
            CREATE UNIQUE INDEX ON bench_pairs (id);
            CREATE TABLE bench_slots AS
              SELECT row_number() OVER (ORDER BY p.n) AS n, p.id FROM bench_pairs p
               WHERE NOT EXISTS (SELECT 1 FROM appointments a JOIN bench_patients bp ON bp.id = a.patient_id
                                  WHERE a.status <> 'CANCELLED'
                                    AND a.starts_at < p.ends_at AND a.ends_at > p.starts_at);
            CREATE UNIQUE INDEX ON bench_slots (n);
            ANALYZE bench_pairs, bench_slots, bench_patients;""")
        return psql(db_url(size), "SELECT patient_n, id FROM bench_pairs ORDER BY n")

    pairs = build()
    if len(pairs) < 3000 * SECONDS:
        log(f"size {size}: {len(pairs)} free pairs; generating slots a year ahead")
        subprocess.run([BIN, "generate-slots"], env=dict(env, SLOT_HORIZON_DAYS="366", JWT_SECRET=secrets.token_urlsafe(48)),
                       check=True, stdout=subprocess.DEVNULL)
        pairs = build()
    pgbench_slots = int(psql(db_url(size), "SELECT count(*) FROM bench_slots")[0][0])
    return pairs, pgbench_slots


def lua_string(value):
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def wait_for_audit_relay(url, limit_s=1800):
    """Waits until the server's audit relay has shipped the seed's outbox events to MongoDB:
    measuring while it ships would measure the relay too (it keeps the MongoDB-protocol server
    busy). Gives up after `limit_s` and says so."""
    started = time.time()
    while True:
        pending = int(psql(url, "SELECT count(*) FROM audit_outbox WHERE shipped_at IS NULL")[0][0])
        if pending == 0:
            if time.time() - started > 1:
                log(f"audit relay: the outbox shipped in {time.time() - started:.0f} s")
            return
        if time.time() - started > limit_s:
            log(f"audit relay: {pending} events still pending after {limit_s} s; measuring anyway")
            return
        time.sleep(5)


def run_size(size, env, perf):
    ensure_database(size)
    subprocess.run([BIN, "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
    ensure_seeded(size, env)
    url = db_url(size)
    cleanup_bookings(size)  # what an interrupted earlier run may have left
    prepare, pgbench_slots = prepare_bookings(size, env)
    redis_prefix = f"bench_{size}_{os.getpid()}:"
    if perf and os.path.exists(os.path.join(ROOT, "bench", "results", f"perf-{size}.txt")):
        os.unlink(os.path.join(ROOT, "bench", "results", f"perf-{size}.txt"))
    server_env = dict(env, REDIS_KEY_PREFIX=redis_prefix, JWT_SECRET=secrets.token_urlsafe(48),
                      LOG_FORMAT="json", RUST_LOG="error", **BENCH_LIMITS)
    server = Server(server_env)
    rows, memory = [], {}
    try:
        wait_for_audit_relay(url)
        memory["rss_at_rest_mib"] = server.status("VmRSS")
        desk = login(server, "desk@healthsync.test")
        admin = login(server, "admin@healthsync.test")
        tokens = {int(n): login(server, email) for n, _, email in
                  psql(url, "SELECT n, id, email FROM bench_patients ORDER BY n")}
        patient = tokens[1]
        # Logins hash with Argon2id on blocking threads: what that leaves resident, apart.
        memory["rss_after_logins_mib"] = server.status("VmRSS")
        today = dt.date.today()
        doctor, day = psql(url, f"""
            SELECT d.id, min(s.date) FROM doctors d JOIN users u ON u.id = d.user_id
              JOIN time_slots s ON s.doctor_id = d.id AND s.date > current_date
             WHERE u.email = 'doctor1@healthsync.test' GROUP BY d.id""")[0]
        doctors = [r[0] for r in psql(url, "SELECT id FROM doctors ORDER BY id LIMIT 8")]
        worked = psql(url, f"""SELECT max(date) FROM time_slots
                               WHERE doctor_id = '{doctor}' AND date < current_date""")[0][0]
        history_days = int(psql(url, "SELECT current_date - min(date) FROM time_slots")[0][0])
        middle = (today - dt.timedelta(days=history_days // 2)).isoformat()
        slots_path = f"/doctors/{doctor}/slots?date={day}"
        day_path = (f"/appointments?doctorId={doctor}&from={worked}T00:00:00Z"
                    f"&to={worked}T23:59:59Z&perPage=50")
        deep_path, deep_label = deep_page(server, desk, middle)
        pairs_file = tempfile.NamedTemporaryFile("w", prefix="bench-scale-pairs-", delete=False)
        pairs_file.write("".join(f"{tokens[int(n)]} {slot}\n" for n, slot in prepare))
        pairs_file.close()
        log(f"size {size}: {len(prepare)} free slots paired with {len(tokens)} patients; "
            f"doctor {doctor}, slots of {day}, desk's day {worked}, middle {middle}")

        def scenario(name, path, script="get.lua", token=None, target=server, note="", **env):
            meter = CpuMeter(target.process.pid, f"healthsync_bench_{size}")
            profiler = perf_start(target, size, name) if perf else None
            result = wrk(target.url, path, script, BENCH_TOKEN=token or "", **env)
            perf_stop(profiler)
            row = dict(scenario=name, note=note, cores=meter.stop(), **result)
            row["rss_mib"] = server.status("VmRSS")  # the main server's, after the scenario
            rows.append(row)
            log(f"size {size}: {name}: {row['rps']:.0f} req/s, p50 {row['p50_ms']:.2f} ms, "
                f"p99 {row['p99_ms']:.2f} ms, errors {row['errors']}, server RSS {row['rss_mib']:.0f} MiB")
            return row

        scenario("health", "/health")
        urllib.request.urlopen(server.url + slots_path).read()  # warms the cache
        scenario("availability warm", slots_path)
        cold = Server(server_env, SLOT_CACHE_ENABLED="false")
        try:
            scenario("availability cold", slots_path, target=cold,
                     note="second server, SLOT_CACHE_ENABLED=false")
        finally:
            cold.stop()
        scenario("/me", "/me", token=patient)
        scenario("patient: own appointments", "/appointments", token=patient)
        scenario("desk: a doctor's day", day_path, token=desk)
        scenario(deep_label, deep_path, token=desk,
                 note="cursor" if "cursor=" in deep_path else "OFFSET fallback (no cursor yet)")
        scenario("desk: appointments page 1", "/appointments?perPage=20", token=desk)
        scenario("desk: patients page 1", "/patients?perPage=20", token=desk)
        scenario("admin: bills page 1", "/billings?perPage=20", token=admin)
        scenario("unread notification count", "/notifications/unread-count", token=patient)
        booking = scenario("booking, free slots", "/", script="book.lua",
                           BENCH_PAIRS=pairs_file.name, note=f"{len(prepare)} pairs")
        if booking["used"] > len(prepare):
            log(f"WARNING: {booking['used']} bookings asked for {len(prepare)} free pairs")
        cleanup_bookings(size)
        meter = CpuMeter(server.process.pid, f"healthsync_bench_{size}")
        ceiling = pgbench(url, pgbench_slots, len(tokens))
        rows.append(dict(scenario="pgbench: booking SQL", note="docker/bench/booking.sql",
                         used=0, booked=0, cancels=0, rss_mib=server.status("VmRSS"),
                         cores=meter.stop(), **ceiling))
        log(f"size {size}: pgbench: {ceiling['rps']:.0f} tps, p99 {ceiling['p99_ms']:.2f} ms")

        data = os.path.join(tempfile.gettempdir(), f"bench-scale-mix-{os.getpid()}.lua")
        reads = [(20, f"/doctors/{d}/slots?date={day}", "patient") for d in doctors[:4]]
        reads = [(20 / len(reads), p, w) for _, p, w in reads] + [
            (10, "/me", "patient"), (15, "/appointments", "patient"),
            (15, "/notifications/unread-count", "patient"), (15, day_path, "desk"),
            (10, "/appointments?perPage=20", "desk")]
        with open(data, "w") as f:
            f.write("return { desk = %s, patients = { %s }, book_weight = 10, cancel_weight = 5,"
                    " reads = { %s } }\n" % (
                        lua_string(desk), ", ".join(lua_string(t) for t in tokens.values()),
                        ", ".join("{ %g, %s, %s }" % (w, lua_string(p), lua_string(who))
                                  for w, p, who in reads)))
        peak = [0.0]
        stop = threading.Event()

        def sample():
            while not stop.wait(0.1):
                peak[0] = max(peak[0], server.status("VmRSS"))

        sampler = threading.Thread(target=sample)
        sampler.start()
        try:
            mixed = scenario("mixed (85% reads, 10% book, 5% cancel)", "/", script="mixed.lua",
                             BENCH_PAIRS=pairs_file.name, BENCH_DATA=data)
        finally:
            stop.set()
            sampler.join()
        mixed["note"] = f"{mixed['booked']} booked, {mixed['cancels']} cancelled"
        # Last: on the MongoDB-protocol server used here (SecantusDB, in Python) a page of the
        # log takes about a second, and the queries wrk gave up on keep it busy afterwards.
        scenario("admin: audit log page 1", "/audit-logs?perPage=20", token=admin,
                 note="MongoDB-protocol server bound")
        time.sleep(1)
        memory["rss_peak_mixed_mib"] = peak[0]
        memory["rss_after_mixed_mib"] = server.status("VmRSS")
        memory["rss_high_water_mib"] = server.status("VmHWM")
        os.unlink(data)
        os.unlink(pairs_file.name)
    finally:
        server.stop()
        cleanup_bookings(size)
        subprocess.run(["sh", "-c", f"redis-cli -u \"$REDIS_URL\" --scan --pattern '{redis_prefix}*'"
                                    f" | xargs -r redis-cli -u \"$REDIS_URL\" DEL"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return rows, memory


def perf_start(server, size, scenario):
    """`perf record` of the server while one scenario runs (BENCH_PERF=1)."""
    data = f"/tmp/bench-scale-{size}-{len(scenario)}-{os.getpid()}.perf"
    process = subprocess.Popen(["perf", "record", "-F", "999", "-o", data, "-p",
                                str(server.process.pid), "--", "sleep", str(SECONDS)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return process, data, size, scenario


def perf_stop(profiler):
    """Appends the scenario's flat profile (kernel/user split, then the hottest symbols) to
    bench/results/perf-<N>.txt."""
    if profiler is None:
        return
    process, data, size, scenario = profiler
    process.wait()
    reports = [subprocess.run(["perf", "report", "-i", data, "--stdio", "--sort", sort,
                               "--percent-limit", limit], capture_output=True, text=True).stdout
               for sort, limit in (("dso", "1"), ("dso,sym", "0.7"))]
    with open(os.path.join(ROOT, "bench", "results", f"perf-{size}.txt"), "a") as f:
        f.write(f"\n==== {scenario} (size {size}) ====\n")
        for text in reports:
            f.write("".join(l[:160] + "\n" for l in text.splitlines() if l and not l.startswith("#")))
    os.unlink(data)


def deep_page(server, desk, middle):
    """The desk's list deep in the history: the page after the first from the middle of the
    history by keyset cursor when the API has one (`nextCursor`), else page 400 by OFFSET."""
    first = f"/appointments?from={middle}T00:00:00Z&perPage=20"
    answer = call(server, "GET", first, desk)
    cursor = answer.get("nextCursor") if isinstance(answer, dict) else None
    if cursor:
        return f"{first}&cursor={urllib.parse.quote(cursor, safe='')}", "desk: deep page (cursor)"
    return "/appointments?perPage=20&page=400", "desk: page 400 (OFFSET)"


# ---------------------------------------------------------------- report

def git_commit():
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                         text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                           capture_output=True, text=True).stdout.strip()
    return out.stdout.strip() + ("-dirty" if dirty else "")


def verdict(value, target, at_least=True):
    ok = value >= target if at_least else value <= target
    return "ok" if ok else "MISSED"


def report(run_rows, memories):
    print()
    print(f"HealthSync at scale: release build, wrk {THREADS} threads x {CONNECTIONS} connections, "
          f"{SECONDS} s per scenario, rate limits raised for the bench ({', '.join(BENCH_LIMITS)})")
    print()
    print(f"| {'appointments':>12} | {'scenario':<42} | {'req/s':>9} | {'p50 ms':>8} | "
          f"{'p99 ms':>8} | {'errors':>6} | note")
    print(f"|{'-' * 14}|{'-' * 44}|{'-' * 11}|{'-' * 10}|{'-' * 10}|{'-' * 8}|------")
    for r in run_rows:
        print(f"| {r['size']:>12,} | {r['scenario']:<42} | {r['rps']:>9,.0f} | {r['p50_ms']:>8.2f} "
              f"| {r['p99_ms']:>8.2f} | {r['errors']:>6} | {r['note']}")
    print()
    print("where the CPU went (cores busy during each scenario; the machine has "
          f"{os.cpu_count()}; 'load generator' is wrk or pgbench, 'other' the rest of the machine):")
    names = ["server", "postgres", "redis", "mongo", "load generator", "other"]
    print(f"| {'appointments':>12} | {'scenario':<42} | " + " | ".join(f"{n:>8}" for n in names))
    for r in run_rows:
        print(f"| {r['size']:>12,} | {r['scenario']:<42} | "
              + " | ".join(f"{r['cores'][n]:>8.2f}" for n in names))
    print()
    for size, m in memories.items():
        print(f"memory at {size:,}: RSS at rest {m['rss_at_rest_mib']:.1f} MiB, after the "
              f"{PATIENTS + 1} logins {m['rss_after_logins_mib']:.1f} MiB, peak during the "
              f"mixed load {m['rss_peak_mixed_mib']:.1f} MiB, after it "
              f"{m['rss_after_mixed_mib']:.1f} MiB (high-water mark {m['rss_high_water_mib']:.1f})")
    print()
    print("targets (issue 11, measured in this run):")
    ratios = []
    by = {(r["size"], r["scenario"]): r for r in run_rows}
    for size in sorted({r["size"] for r in run_rows}):
        def rate(name):
            return next((r["rps"] for (s, n), r in by.items() if s == size and n.startswith(name)), 0)
        warm = rate("availability warm") / max(rate("health"), 1e-9)
        book = rate("booking") / max(rate("pgbench"), 1e-9)
        mixed = rate("mixed")
        for name, value, target, text in [
                ("warm availability / health", warm, TARGET_WARM_OVER_HEALTH, f"{warm:.1%} (>= 25%)"),
                ("HTTP booking / pgbench", book, TARGET_BOOKING_OVER_PGBENCH, f"{book:.1%} (>= 75%)"),
                ("mixed req/s", mixed, TARGET_MIXED_RPS, f"{mixed:,.0f} (>= 3,000)")]:
            ratios.append(dict(size=size, ratio=name, value=value, target=target))
            print(f"  {size:>12,}  {name:<30} {text:<22} {verdict(value, target)}")
    sizes = sorted({r["size"] for r in run_rows})
    if len(sizes) > 1:
        small, big = sizes[0], sizes[-1]
        for (s, name), r in sorted(by.items()):
            if s == big and (small, name) in by and by[(small, name)]["p99_ms"] > 0:
                growth = r["p99_ms"] / by[(small, name)]["p99_ms"]
                ratios.append(dict(size=big, ratio=f"p99 {big} / p99 {small}: {name}",
                                   value=growth, target=TARGET_P99_GROWTH))
                print(f"  p99 at {big:,} / at {small:,}: {name:<42} {growth:5.2f}x (<= 2x) "
                      f"{verdict(growth, TARGET_P99_GROWTH, at_least=False)}")
    else:
        print("  (p99 growth with size: run two sizes or more in one run)")
    return ratios


def plot():
    """p99 against size per scenario, the latest row of each, with the project venv's
    matplotlib (made under .stack/bench-venv on first use)."""
    venv = os.path.join(ROOT, ".stack", "bench-venv")
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python) or subprocess.run([python, "-c", "import matplotlib"],
                                                    capture_output=True).returncode != 0:
        log("installing matplotlib into .stack/bench-venv")
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([python, "-m", "pip", "install", "-q", "matplotlib==3.11.2"], check=True)
    subprocess.run([python, os.path.join(ROOT, "bench", "plot.py"), RESULTS, PLOT], check=True)


def main():
    if not shutil.which("wrk"):
        log("installing wrk (apt-get install -y wrk)")
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, stdout=subprocess.DEVNULL)
    if os.environ.get("BENCH_NO_BUILD") != "1":
        log("building the release server")
        subprocess.run(["flock", "/tmp/cargo-build.lock", "cargo", "build", "--release", "-p",
                        "api-http", "--bin", "healthsync"], cwd=ROOT, check=True)
    perf = os.environ.get("BENCH_PERF") == "1"
    commit, date = git_commit(), dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    run_rows, memories = [], {}
    for size in SIZES:
        env = dict(os.environ, DATABASE_URL=db_url(size), MONGODB_DATABASE=f"healthsync_bench_{size}",
                   FILE_STORE="local", FILE_STORE_DIR=os.path.join(ROOT, ".stack", "bench-files"),
                   EMAIL_DIR=os.path.join(ROOT, ".stack", "bench-mail"))
        rows, memory = run_size(size, env, perf)
        run_rows += [dict(size=size, **r) for r in rows]
        memories[size] = memory
    ratios = report(run_rows, memories)
    history = []
    if os.path.exists(RESULTS):
        with open(RESULTS) as f:
            history = json.load(f)
    common = dict(date=date, commit=commit, seconds=SECONDS, connections=CONNECTIONS,
                  run_note=os.environ.get("BENCH_NOTE", ""))
    for r in run_rows:
        history.append(dict(common, kind="scenario", size=r["size"], scenario=r["scenario"],
                            rps=round(r["rps"], 1), p50_ms=round(r["p50_ms"], 3),
                            p99_ms=round(r["p99_ms"], 3), requests=r["requests"],
                            errors=r["errors"], server_rss_mib=round(r["rss_mib"], 1),
                            cores=r["cores"],
                            note=r["note"]))
    for size, m in memories.items():
        history.append(dict(common, kind="memory", size=size, **{k: round(v, 1) for k, v in m.items()}))
    for r in ratios:
        history.append(dict(common, kind="ratio", **r))
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w") as f:
        json.dump(history, f, indent=1)
        f.write("\n")
    plot()
    log(f"results appended to {os.path.relpath(RESULTS, ROOT)}; plot {os.path.relpath(PLOT, ROOT)}")


if __name__ == "__main__":
    main()
