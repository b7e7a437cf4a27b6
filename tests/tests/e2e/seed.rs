//! `healthsync seed`: a clinic that obeys every rule the API does, reproducible from its seed,
//! usable at once (its logins work), and never mixed into a database that has accounts.

use api_http::seed::{SeedOptions, DEMO_PASSWORD};
use diesel::sql_types::{BigInt, Text};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use e2e::TestApp;
use reqwest::Method;

#[derive(QueryableByName)]
struct One {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Digest {
    #[diesel(sql_type = Text)]
    digest: String,
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let mut conn = app.database().connect().await;
    let one: One = diesel::sql_query(sql).get_result(&mut conn).await.unwrap();
    one.n
}

/// What the seed wrote, as one hash: ids, statuses, patients and amounts.
async fn fingerprint(app: &TestApp) -> String {
    let mut conn = app.database().connect().await;
    let d: Digest = diesel::sql_query(
        "SELECT md5(
             (SELECT string_agg(concat_ws(':', id, status, patient_id, time_slot_id), ',' ORDER BY id) FROM appointments) ||
             (SELECT string_agg(concat_ws(':', id, status, amount), ',' ORDER BY id) FROM billings) ||
             (SELECT string_agg(concat_ws(':', id, is_available), ',' ORDER BY id) FROM time_slots
               WHERE date < current_date)) AS digest",
    )
    .get_result(&mut conn)
    .await
    .unwrap();
    d.digest
}

fn options(seed: u32, reset: bool) -> SeedOptions {
    SeedOptions {
        seed,
        appointments: 2_000,
        reset,
    }
}

#[tokio::test]
async fn a_seeded_clinic_keeps_every_rule_and_its_logins_work() {
    let app = TestApp::spawn().await;
    api_http::seed::run(app.config.clone(), options(7, false))
        .await
        .unwrap();

    // Every status of appointments and bills is there.
    for status in ["SCHEDULED", "CONFIRMED", "COMPLETED", "CANCELLED"] {
        let n = count(
            &app,
            &format!("SELECT count(*) AS n FROM appointments WHERE status = '{status}'"),
        )
        .await;
        assert!(n > 0, "no {status} appointment");
    }
    for status in ["PENDING", "PAID", "OVERDUE", "REFUNDED"] {
        let n = count(
            &app,
            &format!("SELECT count(*) AS n FROM billings WHERE status = '{status}'"),
        )
        .await;
        assert!(n > 0, "no {status} bill");
    }
    let past = count(
        &app,
        "SELECT count(*) AS n FROM appointments WHERE starts_at < now()",
    )
    .await;
    assert!(
        (1_500..4_000).contains(&past),
        "{past} past appointments for 2,000 asked"
    );
    // A slot is free exactly when no active appointment holds it; every completed visit is billed.
    let wrong_slots = count(
        &app,
        "SELECT count(*) AS n FROM time_slots s
         WHERE s.is_available = EXISTS (SELECT 1 FROM appointments a
                                        WHERE a.time_slot_id = s.id AND a.status <> 'CANCELLED')",
    )
    .await;
    assert_eq!(
        wrong_slots, 0,
        "slots whose availability contradicts their appointments"
    );
    let unbilled = count(
        &app,
        "SELECT count(*) AS n FROM appointments a WHERE a.status = 'COMPLETED'
         AND NOT EXISTS (SELECT 1 FROM billings b WHERE b.appointment_id = a.id)",
    )
    .await;
    assert_eq!(unbilled, 0);
    let future_slots = count(
        &app,
        "SELECT count(*) AS n FROM time_slots WHERE date > current_date + 30",
    )
    .await;
    assert!(future_slots > 0, "the horizon's slots were generated");

    // The demo logins work, and what they see is the seeded clinic.
    let (status, body) = app.login("desk@healthsync.test", DEMO_PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    let desk = body["accessToken"].as_str().unwrap().to_owned();
    let (status, page) = app
        .json(Method::GET, "/appointments?perPage=5", Some(&desk), None)
        .await;
    assert_eq!(status, 200, "{page}");
    // More than the 1,000 a total counts to.
    assert_eq!(page["total"], 1_000, "{page}");
    assert_eq!(page["totalIsExact"], false, "{page}");
    let (status, body) = app.login("patient1@healthsync.test", DEMO_PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    let patient = body["accessToken"].as_str().unwrap().to_owned();
    let (status, mine) = app
        .json(
            Method::GET,
            "/appointments?perPage=100",
            Some(&patient),
            None,
        )
        .await;
    assert_eq!(status, 200, "{mine}");
    assert!(
        mine["total"].as_u64().unwrap() > 0,
        "patient1 has a history"
    );
    let (status, records) = app
        .json(Method::GET, "/patients/me", Some(&patient), None)
        .await;
    assert_eq!(status, 200, "{records}");

    // A second seed is refused: demo data never mixes with what is there.
    let refused = api_http::seed::run(app.config.clone(), options(7, false)).await;
    assert!(refused.unwrap_err().to_string().contains("--reset"));
}

#[tokio::test]
async fn the_same_seed_gives_the_same_clinic_and_another_seed_another() {
    let first = TestApp::spawn().await;
    let second = TestApp::spawn().await;
    api_http::seed::run(first.config.clone(), options(11, false))
        .await
        .unwrap();
    api_http::seed::run(second.config.clone(), options(11, false))
        .await
        .unwrap();
    assert_eq!(fingerprint(&first).await, fingerprint(&second).await);
    api_http::seed::run(second.config.clone(), options(12, true))
        .await
        .unwrap();
    assert_ne!(fingerprint(&first).await, fingerprint(&second).await);
}
