//! Deep lists: every list pages by cursor (`nextCursor` → `cursor`) in its documented order,
//! each item once, nothing lost when rows arrive during the walk; totals are exact up to
//! 1,000 and say so past it; bad cursors and page numbers are refused naming the field.

use api_http::seed::{SeedOptions, DEMO_PASSWORD};
use chrono::{DateTime, Utc};
use diesel::sql_types::Text;
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use e2e::TestApp;
use reqwest::Method;
use serde_json::Value;

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = Text)]
    id: String,
}

/// The ids a query returns, in its order.
async fn ids(app: &TestApp, sql: &str) -> Vec<String> {
    let mut conn = app.database().connect().await;
    let rows: Vec<Id> = diesel::sql_query(sql).load(&mut conn).await.unwrap();
    rows.into_iter().map(|r| r.id).collect()
}

/// The patient or doctor id (`table`) of the account with this email.
async fn profile_id(app: &TestApp, table: &str, email: &str) -> String {
    let sql = format!(
        "SELECT t.id::text AS id FROM {table} t JOIN users u ON u.id = t.user_id
         WHERE u.email = '{email}'"
    );
    ids(app, &sql).await.remove(0)
}

async fn token(app: &TestApp, email: &str) -> String {
    let (status, body) = app.login(email, DEMO_PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    body["accessToken"].as_str().unwrap().to_owned()
}

/// Reads a whole list by following `nextCursor` from its first page; returns every item in
/// the order read and the first page. `between` runs after the first page (to change the list
/// during the walk).
async fn walk(
    app: &TestApp,
    token: &str,
    path: &str,
    per_page: u32,
    between: impl AsyncFnOnce(),
) -> (Vec<Value>, Value) {
    let sep = if path.contains('?') { '&' } else { '?' };
    let first_url = format!("{path}{sep}perPage={per_page}");
    let (status, first) = app.json(Method::GET, &first_url, Some(token), None).await;
    assert_eq!(status, 200, "{first_url}: {first}");
    assert_eq!(first["page"], 1);
    let mut items: Vec<Value> = first["items"].as_array().unwrap().clone();
    let mut next = first["nextCursor"].as_str().map(str::to_owned);
    between().await;
    let mut pages = 1;
    while let Some(cursor) = next {
        let url = format!("{first_url}&cursor={cursor}");
        let (status, page) = app.json(Method::GET, &url, Some(token), None).await;
        assert_eq!(status, 200, "{url}: {page}");
        assert!(page["page"].is_null(), "a cursor's page has no number");
        assert_eq!(
            page["total"], first["total"],
            "the total ignores the cursor"
        );
        let got = page["items"].as_array().unwrap();
        assert!(got.len() <= per_page as usize);
        assert!(!got.is_empty(), "a cursor was given for an empty page");
        items.extend(got.iter().cloned());
        next = page["nextCursor"].as_str().map(str::to_owned);
        pages += 1;
        assert!(pages < 2_000, "{path}: the walk does not end");
    }
    (items, first)
}

/// Walks the list at `path` (nothing changing meanwhile) and asserts it reads exactly the ids
/// `sql` gives, in its order. Returns the first page and how many items the list holds.
async fn walk_in_sql_order(
    app: &TestApp,
    token: &str,
    path: &str,
    per_page: u32,
    sql: &str,
) -> (Value, usize) {
    let (items, first) = walk(app, token, path, per_page, async || {}).await;
    let expected = ids(app, sql).await;
    assert_eq!(
        ids_of(&items),
        expected,
        "{path}: not the list in its order"
    );
    (first, expected.len())
}

fn ids_of(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_deep_list_walks_by_cursor_in_its_order_each_item_once() {
    let app = TestApp::spawn().await;
    api_http::seed::run(
        app.config.clone(),
        SeedOptions {
            seed: 5,
            appointments: 10_500,
            reset: false,
        },
    )
    .await
    .unwrap();
    let desk = token(&app, "desk@healthsync.test").await;
    let admin = token(&app, "admin@healthsync.test").await;
    let patient = token(&app, "patient1@healthsync.test").await;

    // The desk's whole list, soonest first: more than 1,000, so the total stops there. A
    // booking made during the walk (a future slot, ahead of the cursor) is read once.
    let slot: String = ids(
        &app,
        "SELECT s.id::text AS id FROM time_slots s WHERE s.is_available AND s.date > current_date + 3
         ORDER BY s.starts_at, s.id LIMIT 1",
    )
    .await
    .remove(0);
    let book = async || {
        let body = serde_json::json!({ "timeSlotId": slot, "type": "CONSULTATION", "reason": "Booked during the walk" });
        let (status, booked) = app
            .json(Method::POST, "/appointments", Some(&patient), Some(body))
            .await;
        assert_eq!(status, 201, "{booked}");
    };
    let (items, first) = walk(&app, &desk, "/appointments?order=soonest", 100, book).await;
    assert_eq!(first["total"], 1_000, "{}", first["total"]);
    assert_eq!(first["totalIsExact"], false);
    let expected = ids(
        &app,
        "SELECT id::text AS id FROM appointments ORDER BY starts_at, id",
    )
    .await;
    assert!(expected.len() > 10_000);
    assert_eq!(ids_of(&items), expected, "soonest first, by cursor");

    // One patient's, as the desk sees it: a short list, so its total is exact.
    let patient_id = profile_id(&app, "patients", "patient1@healthsync.test").await;
    let (first, n) = walk_in_sql_order(
        &app,
        &desk,
        &format!("/appointments?patientId={patient_id}"),
        7,
        &format!(
            "SELECT id::text AS id FROM appointments WHERE patient_id = '{patient_id}'
             ORDER BY starts_at, id"
        ),
    )
    .await;
    assert!(n > 7, "the patient's list spans pages");
    assert_eq!(first["totalIsExact"], true);
    assert_eq!(first["total"], n);

    // Newest first, filtered to one doctor: the reverse order.
    let doctor = profile_id(&app, "doctors", "doctor2@healthsync.test").await;
    let (first, n) = walk_in_sql_order(
        &app,
        &desk,
        &format!("/appointments?order=newest&doctorId={doctor}"),
        97,
        &format!(
            "SELECT id::text AS id FROM appointments WHERE doctor_id = '{doctor}'
             ORDER BY starts_at DESC, id DESC"
        ),
    )
    .await;
    assert_eq!(first["totalIsExact"], n <= 1_000);
    assert_eq!(first["total"], n.min(1_000));

    // The admin's bills, newest first.
    walk_in_sql_order(
        &app,
        &admin,
        "/billings",
        100,
        "SELECT id::text AS id FROM billings ORDER BY created_at DESC, id DESC",
    )
    .await;

    // Patients by name (names repeat: the account id breaks ties).
    let (first, n) = walk_in_sql_order(
        &app,
        &desk,
        "/patients",
        33,
        "SELECT p.id::text AS id FROM patients p JOIN users u ON u.id = p.user_id
         ORDER BY u.name, u.id",
    )
    .await;
    assert_eq!(first["total"], n.min(1_000));

    // The fullest inbox: unread first, then newest first.
    let busiest = ids(
        &app,
        "SELECT u.email AS id FROM notifications n JOIN users u ON u.id = n.user_id
         GROUP BY u.email ORDER BY count(*) DESC, u.email LIMIT 1",
    )
    .await
    .remove(0);
    let inbox_token = token(&app, &busiest).await;
    let (_, n) = walk_in_sql_order(
        &app,
        &inbox_token,
        "/notifications",
        7,
        &format!(
            "SELECT n.id::text AS id FROM notifications n JOIN users u ON u.id = n.user_id
             WHERE u.email = '{busiest}' ORDER BY n.is_read, n.created_at DESC, n.id DESC"
        ),
    )
    .await;
    assert!(n > 7, "the inbox spans pages");

    // The audit log (MongoDB), newest first, every shipped event once.
    app.wait_for_audit_shipped().await;
    let (items, first) = walk(&app, &admin, "/audit-logs", 100, async || {}).await;
    let times: Vec<DateTime<Utc>> = items
        .iter()
        .map(|i| i["timestamp"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(times.len() > 100, "the audit log spans pages");
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
    assert_eq!(first["total"], times.len().min(1_000));
    let shipped = ids(&app, "SELECT count(*)::text AS id FROM audit_outbox").await;
    assert_eq!(
        times.len().to_string(),
        shipped[0],
        "each shipped event once"
    );
}

#[tokio::test]
async fn bad_cursors_and_deep_page_numbers_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let name_cursor = format!("n{}.{}", "416e6e", "0".repeat(32));
    let time_cursor = format!("t1700000000000000.{}", "0".repeat(32));
    for (path, field) in [
        ("/appointments?cursor=zzz".to_owned(), "cursor"),
        ("/appointments?cursor=t12.34".to_owned(), "cursor"),
        (format!("/appointments?cursor={name_cursor}"), "cursor"),
        (format!("/patients?cursor={time_cursor}"), "cursor"),
        (format!("/billings?page=2&cursor={time_cursor}"), "cursor"),
        ("/audit-logs?cursor=s1.x".to_owned(), "cursor"),
        ("/appointments?page=501".to_owned(), "page"),
    ] {
        let (status, body) = app.json(Method::GET, &path, Some(&admin.token), None).await;
        assert_eq!(status, 422, "{path}: {body}");
        assert_eq!(body["field"], field, "{path}: {body}");
    }
    // A well-formed cursor past the end is an empty last page, not an error.
    let (status, body) = app
        .json(
            Method::GET,
            &format!("/appointments?cursor=t9999999999000000.{}", "f".repeat(32)),
            Some(&admin.token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"], serde_json::json!([]));
    assert!(body["nextCursor"].is_null());
}
