#!/usr/bin/env python3
"""`make bench-analytics`: the dashboard (issue 13) of the release server, from outside, on the
seeded clinics of `make bench-scale` (BENCH_ANALYTICS_SIZES, default 1 and 10 million
appointments; each seeded on first use and reused).

For each size, in one run on one machine:
- roll-up: how long `healthsync migrate` took (the first time, migration 000016 counts the
  roll-up from the existing tables), and whether the maintained roll-up equals the raw
  aggregation (analytics_raw_daily);
- baseline: GET /health under wrk, the server's floor on this machine in this run;
- cached: GET /analytics/dashboard?range=30d and ?range=ytd, answered from Redis, under wrk;
- uncached, one client: BENCH_UNCACHED dashboards of 30 days and of a year to date, one after
  another, each a window no earlier request asked for (so each misses the cache and counts
  both its period and the previous one), timed by this script;
- uncached, under wrk: windows that move back a day on every request (bench/lua/dashboards.lua);
- raw SQL: the statement the dashboard ran before the roll-up (bench/dashboard_raw.sql), timed
  by psql for the same 30-day and year-to-date periods, as the baseline the roll-up replaces;
- the roll-up's cost on writes (first size only): pgbench running the booking transaction
  (docker/bench/booking.sql, as `make bench-scale` does) with the roll-up's triggers enabled
  and disabled, alternately, BENCH_ROUNDS times each.

Results: printed, and appended to bench/results/analytics.json.
"""

import datetime as dt
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scale  # noqa: E402  (the shared harness: seeding, the server, wrk)

ROOT = scale.ROOT
RESULTS = os.path.join(ROOT, "bench", "results", "analytics.json")
SIZES = [int(s) for s in os.environ.get("BENCH_ANALYTICS_SIZES", "1000000 10000000").split()]
UNCACHED = int(os.environ.get("BENCH_UNCACHED", "15"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
TRIGGERS = [("appointments", "analytics_appointments_added_or_removed"),
            ("appointments", "analytics_appointments_changed"),
            ("billings", "analytics_billings_added_or_removed"),
            ("billings", "analytics_billings_changed"),
            ("time_slots", "analytics_time_slots_changed"),
            ("time_slots", "analytics_time_slots_added"),
            ("time_slots", "analytics_time_slots_removed")]
SECONDS = scale.SECONDS
# Targets of issue 13, part 4 (uncached, on this machine, at 10 million appointments).
TARGET_30D_MS = 1000
TARGET_YTD_MS = 3000


def timed_get(server, path, token):
    request = urllib.request.Request(server.url + path)
    request.add_header("Authorization", "Bearer " + token)
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as answer:
        body = json.loads(answer.read())
    return (time.perf_counter() - started) * 1000, body


def summary(latencies):
    ordered = sorted(latencies)
    return {"requests": len(ordered), "p50_ms": scale.percentile(ordered, 50),
            "p99_ms": scale.percentile(ordered, 99), "max_ms": ordered[-1],
            "rps": len(ordered) / (sum(ordered) / 1000)}


def uncached(server, token, today, ytd):
    """One client, one dashboard at a time, every window new: `ytd` windows run from 1 January
    of the year before to a day of that year (as long as a year to date in late November)."""
    latencies = []
    for k in range(UNCACHED):
        if ytd:
            last = today.replace(year=today.year - 1) - dt.timedelta(days=k)
            first = last.replace(month=1, day=1)
        else:
            last = today - dt.timedelta(days=400 + k)
            first = last - dt.timedelta(days=29)
        ms, body = timed_get(server, f"/analytics/dashboard?from={first}&to={last}", token)
        assert body["appointments"] > 0, body
        latencies.append(ms)
    return summary(latencies)


def raw_sql(size, first, last):
    """The pre-roll-up statement for one period and its previous one, run one after the
    other by psql (the server ran the two at once, on two connections): milliseconds."""
    sql = open(os.path.join(ROOT, "bench", "dashboard_raw.sql")).read()

    def one(a, b):
        q = (sql.replace("$1", f"'{a}'::timestamptz").replace("$2", f"('{b}'::date + 1)::timestamptz")
             .replace("$3", "NULL").replace("$4", "'UTC'").replace("$5", f"'{a}'::date")
             .replace("$6", f"'{b}'::date"))
        started = time.perf_counter()
        scale.psql(scale.db_url(size), q)
        return (time.perf_counter() - started) * 1000

    days = (last - first).days + 1
    return max(one(first, last), one(first - dt.timedelta(days=days), first - dt.timedelta(days=1)))


def set_triggers(size, enabled):
    verb = "ENABLE" if enabled else "DISABLE"
    scale.psql(scale.db_url(size), ";".join(f"ALTER TABLE {t} {verb} TRIGGER {name}"
                                            for t, name in TRIGGERS))


def rollup_cost(size, env):
    """pgbench's booking transaction with the roll-up's triggers on and off, alternately."""
    _, slots = scale.prepare_bookings(size, env)
    rows = []
    try:
        for _ in range(ROUNDS):
            for enabled in (True, False):
                set_triggers(size, enabled)
                r = scale.pgbench(scale.db_url(size), slots, scale.PATIENTS)
                rows.append(dict(scenario=f"pgbench booking, roll-up triggers {'on' if enabled else 'off'}", **r))
    finally:
        set_triggers(size, True)
    return rows


def run_size(size):
    env = dict(os.environ, DATABASE_URL=scale.db_url(size),
               MONGODB_DATABASE=f"healthsync_bench_{size}", FILE_STORE="local",
               FILE_STORE_DIR=os.path.join(ROOT, ".stack", "bench-files"))
    scale.ensure_seeded(size, env)
    started = time.time()
    subprocess.run([scale.BIN, "migrate"], env=dict(env, JWT_SECRET=secrets.token_urlsafe(48)),
                   check=True, stdout=subprocess.DEVNULL)
    migrate_s = time.time() - started
    scale.log(f"size {size}: migrations (incl. a first roll-up) in {migrate_s:.1f} s")
    rows = []
    server = scale.Server(dict(env, REDIS_KEY_PREFIX=f"bench-analytics:{secrets.token_hex(4)}:",
                               JWT_SECRET=secrets.token_urlsafe(48), RUST_LOG="error",
                               **scale.BENCH_LIMITS))
    try:
        token = scale.login(server, "admin@healthsync.test")
        today = dt.date.today()
        rows.append(dict(scenario="baseline GET /health", **scale.wrk(server.url, "/health", "get.lua")))
        for preset in ("30d", "ytd"):
            timed_get(server, f"/analytics/dashboard?range={preset}", token)  # fills the cache
            rows.append(dict(scenario=f"cached {preset}",
                             **scale.wrk(server.url, f"/analytics/dashboard?range={preset}",
                                         "get.lua", BENCH_TOKEN=token)))
        rows.append(dict(scenario="uncached 30d, one client", **uncached(server, token, today, False)))
        rows.append(dict(scenario="uncached ytd, one client", **uncached(server, token, today, True)))
        for days in (30, 330):
            rows.append(dict(scenario=f"uncached {days} days, wrk",
                             **scale.wrk(server.url, "/", "dashboards.lua", BENCH_TOKEN=token,
                                         BENCH_DAYS=str(days))))
        doctor = scale.login(server, "doctor1@healthsync.test")
        rows.append(dict(scenario="uncached ytd of a doctor, one client",
                         **uncached(server, doctor, today, True)))
    finally:
        server.stop()
    last = today.replace(year=today.year - 1)
    raw = {"30d": raw_sql(size, last - dt.timedelta(days=29), last),
           "ytd": raw_sql(size, last.replace(month=1, day=1), last)}
    equal = scale.psql(scale.db_url(size), """
        WITH kept AS (
            SELECT day, doctor_id, sum(scheduled) s, sum(confirmed) c, sum(in_progress) i,
                   sum(completed) d, sum(cancelled) x, sum(slots) sl, sum(slots_taken) st,
                   sum(paid) pa, sum(pending) pe, sum(overdue) ov, sum(refunded) re, sum(no_show) ns
            FROM (SELECT * FROM analytics_daily UNION ALL SELECT * FROM analytics_daily_changes) u
            GROUP BY 1, 2)
        SELECT NOT EXISTS (SELECT * FROM kept EXCEPT SELECT * FROM analytics_raw_daily((SELECT zone FROM analytics_settings)))
           AND NOT EXISTS (SELECT * FROM analytics_raw_daily((SELECT zone FROM analytics_settings)) EXCEPT SELECT * FROM kept)""")[0][0] == "t"
    return rows, dict(migrate_s=round(migrate_s, 1), raw_30d_ms=round(raw["30d"]),
                      raw_ytd_ms=round(raw["ytd"]), rollup_equals_raw=equal)


def main():
    if not shutil.which("wrk"):
        scale.log("installing wrk (apt-get install -y wrk)")
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, stdout=subprocess.DEVNULL)
    if os.environ.get("BENCH_NO_BUILD") != "1":
        scale.log("building the release server")
        subprocess.run(["flock", "/tmp/cargo-build.lock", "cargo", "build", "--release", "-p",
                        "api-http", "--bin", "healthsync"], cwd=ROOT, check=True)
    date = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    history = []
    if os.path.exists(RESULTS):
        with open(RESULTS) as f:
            history = json.load(f)
    for n, size in enumerate(SIZES):
        rows, facts = run_size(size)
        if n == 0 and ROUNDS > 0:
            env = dict(os.environ, DATABASE_URL=scale.db_url(size), JWT_SECRET=secrets.token_urlsafe(48),
                       MONGODB_DATABASE=f"healthsync_bench_{size}")
            cost = rollup_cost(size, env)
            on = [r for r in cost if r["scenario"].endswith("on")]
            off = [r for r in cost if r["scenario"].endswith("off")]
            rows += cost
            facts["booking_tps_on_over_off"] = round(
                sum(r["rps"] for r in on) / sum(r["rps"] for r in off), 3)
        base = rows[0]["rps"]
        print(f"\nsize {size}: migrate {facts['migrate_s']} s; roll-up equals raw: "
              f"{facts['rollup_equals_raw']}; raw SQL (pre-roll-up) 30d {facts['raw_30d_ms']} ms, "
              f"ytd {facts['raw_ytd_ms']} ms")
        print(f"{'scenario':42} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'/base':>7} {'errors':>6}")
        for r in rows:
            print(f"{r['scenario']:42} {r['rps']:9.1f} {r['p50_ms']:9.1f} {r['p99_ms']:9.1f} "
                  f"{r['rps'] / base:7.3f} {r.get('errors', 0):6}")
        by = {r["scenario"]: r for r in rows}
        p99_30, p99_ytd = by["uncached 30d, one client"]["p99_ms"], by["uncached ytd, one client"]["p99_ms"]
        if "booking_tps_on_over_off" in facts:
            print(f"booking transaction with the roll-up's triggers / without: "
                  f"{facts['booking_tps_on_over_off']} (tps, pgbench, {ROUNDS} rounds alternated)")
        print(f"targets at this size: uncached 30d p99 {p99_30:.0f} ms (< {TARGET_30D_MS}), "
              f"ytd p99 {p99_ytd:.0f} ms (< {TARGET_YTD_MS}); roll-up vs raw SQL: 30d "
              f"{facts['raw_30d_ms'] / by['uncached 30d, one client']['p50_ms']:.0f}x, ytd "
              f"{facts['raw_ytd_ms'] / by['uncached ytd, one client']['p50_ms']:.0f}x faster (p50)")
        for r in rows:
            history.append(dict(date=date, commit=scale.git_commit(), size=size,
                                run_note=os.environ.get("BENCH_NOTE", ""),
                                **{k: (round(v, 3) if isinstance(v, float) else v)
                                   for k, v in r.items() if k not in ("used", "booked", "cancels")}))
        history.append(dict(date=date, commit=scale.git_commit(), size=size, kind="facts", **facts))
    os.makedirs(os.path.dirname(RESULTS), exist_ok=True)
    with open(RESULTS, "w") as f:
        json.dump(history, f, indent=1)
        f.write("\n")
    scale.log(f"results appended to {os.path.relpath(RESULTS, ROOT)}")


if __name__ == "__main__":
    main()
