//! How the service uses Redis, measured on a private Redis server (so its counters see this
//! test only): one shared connection, no per-request PING, bursts that exhaust nothing.

use std::collections::HashMap;

use deadpool_redis::redis;
use e2e::api::day_ahead;
use e2e::servers::{Kind, ThrowawayServer};
use e2e::TestApp;
use futures::future::join_all;

/// `INFO <section>` of the private server as `field -> value`.
async fn info(url: &str, section: &str) -> HashMap<String, String> {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let text: String = redis::cmd("INFO")
        .arg(section)
        .query_async(&mut conn)
        .await
        .unwrap();
    text.lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// How many times `command` ran since the server started (`INFO commandstats`).
async fn calls(url: &str, command: &str) -> u64 {
    info(url, "commandstats")
        .await
        .get(&format!("cmdstat_{command}"))
        .and_then(|v| v.split(',').find_map(|kv| kv.strip_prefix("calls=")))
        .map_or(0, |n| n.parse().unwrap())
}

/// A new doctor working three days ahead from 09:00 to `until` in `minutes` slots (made by a new
/// admin): its profile id and that date.
async fn doctor_working_in_three_days(
    app: &TestApp,
    until: &str,
    minutes: u32,
) -> (String, chrono::NaiveDate) {
    let admin = app.admin().await;
    let doctor = app.staff(&admin, "DOCTOR").await;
    let doctor_id = doctor.profile_id.clone().unwrap();
    let (date, day) = day_ahead(3);
    app.schedule(&admin, &doctor_id, day, "09:00", until, minutes)
        .await;
    (doctor_id, date)
}

#[tokio::test]
async fn a_burst_of_a_thousand_reads_shares_one_connection_without_pings() {
    let redis = ThrowawayServer::start(Kind::Redis);
    let url = redis.url();
    let app = TestApp::spawn_with(|c| c.redis_url = url.clone()).await;
    let (doctor_id, date) = doctor_working_in_three_days(&app, "12:00", 15).await;
    let warm = app.free_slots(&doctor_id, date).await;
    assert_eq!(warm.len(), 12);

    let gets_before = calls(&url, "get").await;
    let connections_before: u64 = info(&url, "stats").await["total_connections_received"]
        .parse()
        .unwrap();
    let path = format!("/doctors/{doctor_id}/slots?date={date}");
    let statuses =
        join_all((0..1000).map(|_| async { app.get(&path).await.status().as_u16() })).await;
    let served = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!(served, 1000, "every request of the burst is served");

    let connections_after: u64 = info(&url, "stats").await["total_connections_received"]
        .parse()
        .unwrap();
    // Each of the test's own INFO calls opens a connection: the one that reads the count.
    assert_eq!(
        connections_after - connections_before,
        1,
        "the burst opened no Redis connection: the one shared connection carried it"
    );
    assert_eq!(
        calls(&url, "get").await - gets_before,
        1000,
        "one cache read per request"
    );
    assert_eq!(
        calls(&url, "ping").await,
        0,
        "no connection is checked with a PING"
    );
}

#[tokio::test]
async fn with_the_slot_cache_off_availability_is_computed_every_time() {
    let app = TestApp::spawn_with(|c| c.slot_cache_enabled = false).await;
    let (doctor_id, date) = doctor_working_in_three_days(&app, "10:00", 30).await;
    let path = format!("/doctors/{doctor_id}/slots?date={date}");
    let first: serde_json::Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(first.as_array().unwrap().len(), 2);
    let key = format!("slots:{doctor_id}:{date}");
    assert_eq!(
        app.app.redis.get(&key).await.unwrap(),
        None,
        "nothing cached"
    );
    // A slot taken behind the API's back shows at once: nothing stale to wait out.
    let mut conn = app.database().connect().await;
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query(format!(
            "UPDATE time_slots SET is_available = false
              WHERE doctor_id = '{doctor_id}' AND date = '{date}' AND start_time = '09:00'"
        )),
        &mut conn,
    )
    .await
    .unwrap();
    let second: serde_json::Value = app.get(&path).await.json().await.unwrap();
    assert_eq!(second.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_cache_hit_sends_the_stored_json_bytes_as_they_are() {
    let app = TestApp::spawn().await;
    let (doctor_id, date) = doctor_working_in_three_days(&app, "10:00", 30).await;
    let path = format!("/doctors/{doctor_id}/slots?date={date}");
    let cold = app.get(&path).await.text().await.unwrap();

    let key = format!("slots:{doctor_id}:{date}");
    let stored = app.app.redis.get(&key).await.unwrap().expect("warmed");
    let (first_start, json) = stored.split_once('\n').unwrap();
    assert_eq!(json, cold, "the cache holds the body the API sent");
    // Re-spaced (still the same JSON): a parse and serialise would undo the spaces.
    let respaced = json.replace(",\"", ", \"");
    assert_ne!(respaced, json);
    app.app
        .redis
        .set_ex(
            &key,
            &format!("{first_start}\n{respaced}"),
            std::time::Duration::from_secs(60),
        )
        .await
        .unwrap();
    let warm = app.get(&path).await;
    assert_eq!(
        warm.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    assert_eq!(warm.text().await.unwrap(), respaced);

    // A range joins the cached day with the others into one array.
    let (before, _) = day_ahead(2);
    let range = format!("/doctors/{doctor_id}/slots?from={before}&to={date}");
    let joined: serde_json::Value = app.get(&range).await.json().await.unwrap();
    let cold: serde_json::Value = serde_json::from_str(&cold).unwrap();
    assert_eq!(joined, cold);
}

#[tokio::test]
async fn with_redis_hung_the_breaker_stops_requests_waiting_and_closes_once_it_answers() {
    use e2e::proxy::CuttableProxy;
    use std::time::{Duration, Instant};
    let redis = ThrowawayServer::start(Kind::Redis);
    let mut proxy = CuttableProxy::start(([127, 0, 0, 1], redis.port).into()).await;
    let proxied = format!("redis://127.0.0.1:{}", proxy.port);
    let timeout = Duration::from_millis(3000);
    let app = TestApp::spawn_with(|c| {
        c.redis_url = proxied;
        c.store_timeout_ms = 3000;
        c.store_breaker_failures = 3;
        c.store_breaker_probe_ms = 200;
    })
    .await;
    let (doctor_id, date) = doctor_working_in_three_days(&app, "10:00", 30).await;
    let patient = app.patient().await;
    let path = format!("/doctors/{doctor_id}/slots?date={date}");
    let free = app.free_slots(&doctor_id, date).await;
    assert_eq!(free.len(), 2);

    proxy.hang().await;
    // Until the breaker opens, requests wait out the store timeout on each Redis call.
    let mut waited = 0;
    while !app.app.redis.failing() {
        let started = Instant::now();
        assert_eq!(app.get(&path).await.status(), 200, "public reads fall back");
        assert!(started.elapsed() >= timeout, "Redis hangs: the call waited");
        waited += 1;
        assert!(waited <= 3, "three failures open the breaker");
    }
    // Open: nothing waits on Redis any more, and each feature falls back as when it is down.
    for _ in 0..5 {
        let started = Instant::now();
        let response = app.get(&path).await;
        assert_eq!(response.status(), 200);
        let slots: Vec<serde_json::Value> = response.json().await.unwrap();
        assert_eq!(slots.len(), 2, "availability from PostgreSQL");
        let (status, body) = app
            .json(reqwest::Method::GET, "/me", Some(&patient.token), None)
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (503, Some("SERVICE_UNAVAILABLE")),
            "no session check, nobody let in"
        );
        let elapsed = started.elapsed();
        assert!(
            elapsed < timeout / 3,
            "answered in {elapsed:?}, not after the store timeout ({timeout:?})"
        );
    }

    // Healed: a probe sees Redis back and the breaker closes by itself; sessions were kept.
    proxy.restore().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while app.app.redis.failing() {
        assert!(Instant::now() < deadline, "the breaker closed by itself");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, body) = app
        .json(reqwest::Method::GET, "/me", Some(&patient.token), None)
        .await;
    assert_eq!(status, 200, "{body}");
}
