//! `make bench`: throughput and p50/p99 latency of
//!   (a) availability reads with a warm cache,
//!   (b) availability reads with the cache off,
//!   (c) booking under contention (many patients, few slots),
//!   (d) 1 MiB medical record uploads and downloads, beside the record's metadata read,
//! against the real app (release build) and real stores, and beside them the ceiling measured
//! in the same run: pgbench running the booking's SQL transaction (docker/bench/booking.sql).
//!
//! Settings: BENCH_REQUESTS (default 4000), BENCH_CONCURRENCY (32), BENCH_SECONDS for pgbench (10).

use std::time::{Duration, Instant};

use e2e::api::day_ahead;
use e2e::TestApp;
use futures::stream::{self, StreamExt};
use reqwest::Method;
use serde_json::json;

struct Stats {
    name: String,
    requests: usize,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
    statuses: String,
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

async fn drive<F, Fut>(name: &str, requests: usize, concurrency: usize, make: F) -> Stats
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = u16>,
{
    let started = Instant::now();
    let results: Vec<(u16, f64)> = stream::iter(0..requests)
        .map(|i| {
            let fut = make(i);
            async move {
                let t = Instant::now();
                let status = fut.await;
                (status, t.elapsed().as_secs_f64() * 1000.0)
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let seconds = started.elapsed().as_secs_f64();
    let mut latencies: Vec<f64> = results.iter().map(|r| r.1).collect();
    latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let mut counts = std::collections::BTreeMap::new();
    for (status, _) in &results {
        *counts.entry(*status).or_insert(0usize) += 1;
    }
    Stats {
        name: name.into(),
        requests,
        seconds,
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
        statuses: counts
            .iter()
            .map(|(s, n)| format!("{s}x{n}"))
            .collect::<Vec<_>>()
            .join(" "),
    }
}

fn pgbench_bin() -> String {
    if let Ok(bin) = std::env::var("PGBENCH") {
        return bin;
    }
    let mut candidates: Vec<_> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.flatten()
                .map(|e| e.path().join("bin/pgbench"))
                .filter(|p| p.exists())
                .collect()
        })
        .unwrap_or_default();
    candidates.sort();
    candidates
        .pop()
        .map_or_else(|| "pgbench".into(), |p| p.to_string_lossy().into_owned())
}

/// Runs pgbench with the booking transaction; returns the same statistics from its per-transaction log.
fn pgbench(url: &str, slots: usize, patients: usize, clients: usize, seconds: usize) -> Stats {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../docker/bench/booking.sql");
    let dir = std::env::temp_dir().join(format!("hs-pgbench-{}", e2e::unique_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let output = std::process::Command::new(pgbench_bin())
        .current_dir(&dir)
        .args([
            "-n",
            "-f",
            script,
            "-c",
            &clients.to_string(),
            "-j",
            "2",
            "-T",
            &seconds.to_string(),
            "-l",
            "-D",
        ])
        .arg(format!("slots={slots}"))
        .arg("-D")
        .arg(format!("patients={patients}"))
        .arg(url)
        .output()
        .expect("pgbench runs (Debian package postgresql)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "pgbench failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut latencies: Vec<f64> = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        for line in std::fs::read_to_string(entry.path())
            .unwrap_or_default()
            .lines()
        {
            // client_id transaction_no time(us) script_no time_epoch time_us
            if let Some(us) = line
                .split_whitespace()
                .nth(2)
                .and_then(|v| v.parse::<f64>().ok())
            {
                latencies.push(us / 1000.0);
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
    Stats {
        name: "pgbench: booking SQL transaction (ceiling)".into(),
        requests: latencies.len(),
        seconds: seconds as f64,
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
        statuses: format!("clients={clients}"),
    }
}

#[tokio::main]
async fn main() {
    let requests = env_or("BENCH_REQUESTS", 4000);
    let concurrency = env_or("BENCH_CONCURRENCY", 32);
    let pg_seconds = env_or("BENCH_SECONDS", 10);
    let budget = |c: &mut api_http::Config| {
        c.database_pool_size = 16;
        c.store_timeout_ms = 10_000;
        c.rate_limit_per_minute = 10_000_000;
    };
    let app = TestApp::spawn_with(budget).await;
    let admin = app.admin().await;
    let receptionist = app.staff(&admin, "RECEPTIONIST").await;
    let doctor = app.staff(&admin, "DOCTOR").await;
    let doctor_id = doctor.profile_id.clone().unwrap();
    let (date, day) = day_ahead(3);
    app.schedule(&admin, &doctor_id, day, "06:00", "22:00", 5)
        .await; // 192 slots that day
    let slots = app.free_slots(&doctor_id, date).await;
    let patients = app.seed_patients(2000).await;
    let path = format!("/doctors/{doctor_id}/slots?date={date}");

    let warm = drive("availability, warm cache", requests, concurrency, |_| {
        let request = app.client.get(app.url(&path));
        async move {
            request
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    })
    .await;

    let cold_app = TestApp::spawn_with(|c| {
        budget(c);
        c.slot_cache_enabled = false;
        c.database_url = app.config.database_url.clone();
    })
    .await;
    let cold = drive("availability, cache off", requests, concurrency, |_| {
        let request = cold_app.client.get(cold_app.url(&path));
        async move {
            request
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    })
    .await;

    // Booking under contention: 2000 patients race for the 96 slots of the afternoon.
    let contended = &slots[slots.len() / 2..];
    let token = receptionist.token.clone();
    let booking = drive("booking, 2000 patients racing for 96 slots", patients.len(), concurrency, |i| {
        let body = json!({ "timeSlotId": contended[i % contended.len()], "patientId": patients[i], "type": "CONSULTATION", "reason": "bench" });
        let request = app.client.request(Method::POST, app.url("/appointments")).bearer_auth(&token).json(&body);
        async move { request.send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
    })
    .await;

    // Medical records: 1 MiB PDFs uploaded (streamed to the local file store) and downloaded
    // (streamed back), beside the metadata read of the same record as the baseline: the
    // difference is the cost of moving the bytes.
    let mib = e2e::clinic::pdf(1024 * 1024);
    let patient_id = patients[0].to_string();
    let file_requests = (requests / 10).max(50);
    let uploads = drive(
        "upload 1 MiB PDF (receptionist)",
        file_requests,
        concurrency.min(8),
        |_| {
            let (app, token, pid, bytes) = (&app, &receptionist.token, &patient_id, &mib);
            async move {
                app.upload(
                    Some(token),
                    pid,
                    "LAB_REPORT",
                    "bench.pdf",
                    "application/pdf",
                    bytes,
                )
                .await
                .0
            }
        },
    )
    .await;
    let (_, listed) = app
        .json(
            Method::GET,
            &format!("/patients/{patient_id}/medical-records?perPage=1"),
            Some(&admin.token),
            None,
        )
        .await;
    let record = listed["items"][0]["id"].as_str().unwrap().to_owned();
    let meta_path = format!("/medical-records/{record}");
    let file_path = format!("/medical-records/{record}/file");
    let metadata = drive(
        "record metadata (baseline)",
        file_requests * 4,
        concurrency,
        |_| {
            let request = app
                .client
                .get(app.url(&meta_path))
                .bearer_auth(&admin.token);
            async move {
                request
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            }
        },
    )
    .await;
    let downloads = drive("download 1 MiB PDF", file_requests * 4, concurrency, |_| {
        let request = app
            .client
            .get(app.url(&file_path))
            .bearer_auth(&admin.token);
        async move {
            match request.send().await {
                Ok(r) => {
                    let status = r.status().as_u16();
                    match r.bytes().await {
                        Ok(b) if b.len() == 1024 * 1024 => status,
                        _ => 0,
                    }
                }
                Err(_) => 0,
            }
        }
    })
    .await;

    // The ceiling, in the same run, on the same database: free slots of the morning.
    {
        use diesel_async::RunQueryDsl;
        let mut conn = app.app.pg.get().await.unwrap();
        diesel::sql_query("CREATE TABLE bench_slots AS SELECT row_number() OVER (ORDER BY starts_at) AS n, id FROM time_slots WHERE is_available")
            .execute(&mut conn)
            .await
            .unwrap();
        diesel::sql_query("CREATE TABLE bench_patients AS SELECT row_number() OVER (ORDER BY p.id) AS n, p.id FROM patients p WHERE NOT EXISTS (SELECT 1 FROM appointments a WHERE a.patient_id = p.id)")
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let free_slots = slots.len() / 2;
    let free_patients = {
        use diesel_async::RunQueryDsl;
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = app.app.pg.get().await.unwrap();
        diesel::sql_query("SELECT count(*) AS n FROM bench_patients")
            .get_result::<N>(&mut conn)
            .await
            .unwrap()
            .n as usize
    };
    let ceiling = pgbench(
        &app.config.database_url,
        free_slots,
        free_patients,
        concurrency.min(16),
        pg_seconds,
    );

    println!("\nHealthSync benchmark ({requests} reads, concurrency {concurrency}; release build; all on this machine)\n");
    println!("| scenario | requests | req/s | p50 ms | p99 ms | answers |");
    println!("|---|---:|---:|---:|---:|---|");
    for s in [
        &warm, &cold, &booking, &ceiling, &uploads, &metadata, &downloads,
    ] {
        println!(
            "| {} | {} | {:.0} | {:.2} | {:.2} | {} |",
            s.name,
            s.requests,
            s.requests as f64 / s.seconds,
            s.p50_ms,
            s.p99_ms,
            s.statuses
        );
    }
    let rate = |s: &Stats| s.requests as f64 / s.seconds;
    println!(
        "\nratios: warm/cold availability = {:.2}x; booking / pgbench ceiling = {:.2}",
        rate(&warm) / rate(&cold),
        rate(&booking) / rate(&ceiling)
    );
    println!(
        "files: upload {:.1} MiB/s, download {:.1} MiB/s; download / metadata rate = {:.2}",
        rate(&uploads),
        rate(&downloads),
        rate(&downloads) / rate(&metadata)
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
}
