//! Each pool really reads and writes its store, and the schema's invariants hold in the
//! database itself (not only in code).

use deadpool_redis::redis::AsyncCommands;
use diesel::sql_types::{Bool, Text};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use e2e::TestApp;
use mongodb::bson::doc;

#[derive(QueryableByName)]
struct Named {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Flag {
    #[diesel(sql_type = Bool)]
    flag: bool,
}

#[tokio::test]
async fn postgres_pool_reads_and_writes_in_its_own_database() {
    let app = TestApp::spawn().await;
    let mut conn = app.app.pg.get().await.expect("a pooled connection");
    diesel::sql_query("INSERT INTO departments (name, description) VALUES ($1, 'heart')")
        .bind::<Text, _>("Cardiology")
        .execute(&mut conn)
        .await
        .unwrap();
    let rows: Vec<Named> = diesel::sql_query("SELECT name FROM departments")
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        rows.len(),
        1,
        "a fresh database per test holds only this test's rows"
    );
    assert_eq!(rows[0].name, "Cardiology");

    // Department names are unique regardless of case.
    let duplicate = diesel::sql_query("INSERT INTO departments (name) VALUES ('CARDIOLOGY')")
        .execute(&mut conn)
        .await;
    assert!(duplicate.is_err());
}

#[tokio::test]
async fn redis_store_reads_and_writes_under_its_prefix() {
    let app = TestApp::spawn().await;
    let redis = &app.app.redis;
    redis
        .set_ex("probe:key", "value", std::time::Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        redis.get("probe:key").await.unwrap().as_deref(),
        Some("value")
    );

    let mut raw = redis.conn().await.unwrap();
    let full_key = format!("{}probe:key", app.config.redis_key_prefix);
    let stored: Option<String> = raw.get(&full_key).await.unwrap();
    assert_eq!(
        stored.as_deref(),
        Some("value"),
        "keys live under the test's prefix"
    );
    let ttl: i64 = raw.ttl(&full_key).await.unwrap();
    assert!((1..=60).contains(&ttl));

    redis.del("probe:key").await.unwrap();
    assert_eq!(redis.get("probe:key").await.unwrap(), None);
}

#[tokio::test]
async fn mongo_client_reads_and_writes_its_own_database() {
    let app = TestApp::spawn().await;
    let collection = app
        .app
        .mongo
        .database()
        .collection::<mongodb::bson::Document>("probe");
    collection
        .insert_one(doc! { "entity": "probe", "n": 1 })
        .await
        .unwrap();
    let found = collection
        .find_one(doc! { "entity": "probe" })
        .await
        .unwrap()
        .expect("found");
    assert_eq!(found.get_i32("n").unwrap(), 1);
    assert_eq!(app.app.mongo.database().name(), app.config.mongodb_database);
}

async fn scalar(app: &TestApp, sql: &str) -> bool {
    let mut conn = app.app.pg.get().await.unwrap();
    diesel::sql_query(sql)
        .get_result::<Flag>(&mut conn)
        .await
        .unwrap()
        .flag
}

async fn exec(app: &TestApp, sql: &str) -> Result<usize, diesel::result::Error> {
    let mut conn = app.app.pg.get().await.unwrap();
    diesel::sql_query(sql).execute(&mut conn).await
}

/// The constraints that make double booking and overlapping schedules impossible are in the
/// database itself.
#[tokio::test]
async fn schema_invariants_are_enforced_by_postgres() {
    let app = TestApp::spawn().await;
    exec(
        &app,
        "INSERT INTO users (id, email, password_hash, name, role) VALUES
        ('00000000-0000-0000-0000-000000000001', 'doc@x.org', 'h', 'Doc', 'DOCTOR'),
        ('00000000-0000-0000-0000-000000000002', 'pat@x.org', 'h', 'Pat', 'PATIENT'),
        ('00000000-0000-0000-0000-000000000003', 'pat2@x.org', 'h', 'Pat2', 'PATIENT')",
    )
    .await
    .unwrap();
    assert!(exec(&app, "INSERT INTO users (email, password_hash, name, role) VALUES ('Doc@X.org', 'h', 'D', 'ADMIN')").await.is_err(), "emails are stored lower-case");
    exec(&app, "INSERT INTO doctors (id, user_id, specialization, qualification, license_number, consultation_fee)
        VALUES ('00000000-0000-0000-0000-0000000000d1', '00000000-0000-0000-0000-000000000001', 'GP', 'MD', 'L-1', 50.25)").await.unwrap();
    exec(
        &app,
        "INSERT INTO patients (id, user_id) VALUES
        ('00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-000000000002'),
        ('00000000-0000-0000-0000-0000000000a2', '00000000-0000-0000-0000-000000000003')",
    )
    .await
    .unwrap();
    assert!(
        exec(&app, "UPDATE doctors SET consultation_fee = -1")
            .await
            .is_err(),
        "fee >= 0"
    );

    exec(&app, "INSERT INTO schedules (id, doctor_id, day_of_week, start_time, end_time, slot_duration_minutes)
        VALUES ('00000000-0000-0000-0000-00000000005a', '00000000-0000-0000-0000-0000000000d1', 'MON', '09:00', '12:00', 30)").await.unwrap();
    assert!(exec(&app, "INSERT INTO schedules (doctor_id, day_of_week, start_time, end_time, slot_duration_minutes)
        VALUES ('00000000-0000-0000-0000-0000000000d1', 'MON', '11:00', '13:00', 30)").await.is_err(), "no overlapping schedules");
    assert!(exec(&app, "INSERT INTO schedules (doctor_id, day_of_week, start_time, end_time, slot_duration_minutes)
        VALUES ('00000000-0000-0000-0000-0000000000d1', 'TUE', '12:00', '11:00', 30)").await.is_err(), "end > start");
    assert!(exec(&app, "INSERT INTO schedules (doctor_id, day_of_week, start_time, end_time, slot_duration_minutes)
        VALUES ('00000000-0000-0000-0000-0000000000d1', 'TUE', '09:00', '09:20', 30)").await.is_err(), "slot fits the window");

    let slot = "INSERT INTO time_slots (id, schedule_id, doctor_id, date, start_time, end_time, starts_at, ends_at)
        VALUES ('00000000-0000-0000-0000-0000000005a1', '00000000-0000-0000-0000-00000000005a', '00000000-0000-0000-0000-0000000000d1',
                '2030-01-07', '09:00', '09:30', '2030-01-07 09:00Z', '2030-01-07 09:30Z')";
    exec(&app, slot).await.unwrap();
    assert!(
        exec(&app, &slot.replace("5a1'", "5a2'")).await.is_err(),
        "slot generation is idempotent"
    );

    let book = |patient: &str| {
        format!("INSERT INTO appointments (patient_id, doctor_id, time_slot_id, type, reason, consultation_fee, starts_at, ends_at)
        VALUES ('{patient}', '00000000-0000-0000-0000-0000000000d1', '00000000-0000-0000-0000-0000000005a1', 'CONSULTATION', 'checkup', 50.25,
                '2030-01-07 09:00Z', '2030-01-07 09:30Z')")
    };
    exec(&app, &book("00000000-0000-0000-0000-0000000000a1"))
        .await
        .unwrap();
    assert!(
        exec(&app, &book("00000000-0000-0000-0000-0000000000a2"))
            .await
            .is_err(),
        "one active appointment per slot"
    );
    assert!(
        exec(&app, "UPDATE appointments SET status = 'CANCELLED'")
            .await
            .is_err(),
        "cancelling needs a reason"
    );
    exec(
        &app,
        "UPDATE appointments SET status = 'CANCELLED', cancel_reason = 'ill'",
    )
    .await
    .unwrap();
    exec(&app, &book("00000000-0000-0000-0000-0000000000a2"))
        .await
        .expect("a cancelled appointment frees the slot");
    assert!(scalar(&app, "SELECT count(*) = 2 AS flag FROM appointments").await);
}
