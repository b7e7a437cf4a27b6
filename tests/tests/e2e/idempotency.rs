//! `Idempotency-Key` survives crashes: the booking records its result on the key in its own
//! transaction, an abandoned claim is taken over after its lease, keys expire after a day.

use chrono::{Duration, Utc};
use domain::audit::RequestMeta;
use domain::idempotency::{Begin, Claim, IdempotencyStore, KeyRef};
use domain::identity::Actor;
use e2e::api::{day_ahead, Account};
use e2e::TestApp;
use reqwest::Method;
use serde_json::{json, Value};

async fn actor(app: &TestApp, account: &Account) -> Actor {
    let (user_id, session_id) = app.app.tokens.verify(&account.token).unwrap();
    app.app
        .identity
        .authenticate(user_id, session_id, RequestMeta::default())
        .await
        .unwrap()
}

async fn post_with_key(
    app: &TestApp,
    token: &str,
    key: &str,
    body: &Value,
) -> (u16, Value, Option<String>) {
    let response = app
        .client
        .post(app.url("/appointments"))
        .bearer_auth(token)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        status,
        response.json().await.unwrap_or(Value::Null),
        retry_after,
    )
}

async fn appointments_of(app: &TestApp, token: &str) -> u64 {
    let (_, page) = app
        .json(Method::GET, "/appointments", Some(token), None)
        .await;
    page["total"].as_u64().unwrap()
}

#[tokio::test]
async fn a_crash_between_the_booking_commit_and_storing_the_answer_still_answers_the_retry() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let doctor = app.staff(&admin, "DOCTOR").await;
    let doctor_id = doctor.profile_id.clone().unwrap();
    let patient = app.patient().await;
    let (date, day) = day_ahead(4);
    app.schedule(&admin, &doctor_id, day, "09:00", "10:00", 30)
        .await;
    let slot = app.free_slots(&doctor_id, date).await[0].clone();
    let body = json!({ "timeSlotId": slot, "type": "CONSULTATION", "reason": "check-up" });

    // The first attempt, run step by step as the handler would, killed after the commit:
    // the key is claimed, the booking commits (recording its id on the key), and the answer
    // is never stored.
    let actor = actor(&app, &patient).await;
    let fingerprint = domain::idempotency::fingerprint("POST /appointments", &body);
    let Begin::Proceed(key) = app
        .app
        .idempotency
        .begin(actor.user_id, "crash-1", &fingerprint)
        .await
        .unwrap()
    else {
        panic!("a fresh key is claimed");
    };
    let request = domain::appointments::BookingRequest {
        slot_id: slot.parse().unwrap(),
        patient_id: None,
        kind: domain::appointments::AppointmentType::Consultation,
        reason: "check-up".into(),
    };
    let booked = app
        .app
        .appointments
        .book(&actor, request, Some(key))
        .await
        .unwrap();

    // The client retries: the original answer, not 409 for ever, not a second booking.
    let (status, answer, _) = post_with_key(&app, &patient.token, "crash-1", &body).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["id"], booked.id.to_string());
    let (status, again, _) = post_with_key(&app, &patient.token, "crash-1", &body).await;
    assert_eq!(
        (status, &again),
        (201, &answer),
        "stored now: replayed as is"
    );
    assert_eq!(appointments_of(&app, &patient.token).await, 1);

    // The same body written differently is the same request (canonical JSON).
    let reordered: Value = serde_json::from_str(&format!(
        r#"{{ "reason": "check-up", "type": "CONSULTATION", "timeSlotId": "{slot}" }}"#
    ))
    .unwrap();
    let (status, _, _) = post_with_key(&app, &patient.token, "crash-1", &reordered).await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn a_claim_whose_worker_died_blocks_retries_only_for_its_lease() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let doctor = app.staff(&admin, "DOCTOR").await;
    let doctor_id = doctor.profile_id.clone().unwrap();
    let patient = app.patient().await;
    let (date, day) = day_ahead(5);
    app.schedule(&admin, &doctor_id, day, "09:00", "10:00", 30)
        .await;
    let slot = app.free_slots(&doctor_id, date).await[0].clone();
    let body = json!({ "timeSlotId": slot, "type": "CONSULTATION", "reason": "check-up" });
    let store = adapters_postgres::PgIdempotencyStore {
        pool: app.app.pg.clone(),
    };
    let user_id: uuid::Uuid = patient.user_id.parse().unwrap();
    let key = KeyRef {
        user_id,
        key: "died-1".into(),
    };
    let fingerprint = domain::idempotency::fingerprint("POST /appointments", &body);
    let now = Utc::now();

    // A worker claimed the key with a 30 s lease and died before booking anything.
    let claim = |at: chrono::DateTime<Utc>, fp: &str| {
        let (store, key, fp) = (store.clone(), key.clone(), fp.to_owned());
        async move {
            store
                .claim(
                    &key,
                    &fp,
                    at,
                    at + Duration::seconds(30),
                    at - Duration::hours(24),
                )
                .await
                .unwrap()
        }
    };
    assert_eq!(claim(now, &fingerprint).await, Claim::New);

    // Within the lease a retry is told to wait, with a hint.
    let (status, answer, retry_after) = post_with_key(&app, &patient.token, "died-1", &body).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (409, Some("IDEMPOTENCY_IN_FLIGHT"))
    );
    assert_eq!(retry_after.as_deref(), Some("1"));

    // Store level: the same request takes the claim over once the lease ran out, another
    // request with the key is refused, and a racing second takeover sees the new lease.
    assert_eq!(
        claim(now + Duration::seconds(10), &fingerprint).await,
        Claim::InFlight
    );
    assert_eq!(
        claim(now + Duration::seconds(31), "other").await,
        Claim::Mismatch
    );
    assert_eq!(
        claim(now + Duration::seconds(31), &fingerprint).await,
        Claim::New
    );
    assert_eq!(
        claim(now + Duration::seconds(32), &fingerprint).await,
        Claim::InFlight
    );

    // After the lease the HTTP retry books, once.
    let later = claim(now + Duration::hours(25), "anything").await;
    assert_eq!(
        later,
        Claim::New,
        "a key older than a day is claimed afresh"
    );
    store.release(&key).await.unwrap();
    let (status, first, _) = post_with_key(&app, &patient.token, "died-1", &body).await;
    assert_eq!(status, 201, "{first}");
    let (status, second, _) = post_with_key(&app, &patient.token, "died-1", &body).await;
    assert_eq!((status, second["id"].clone()), (201, first["id"].clone()));

    // The clean-up job forgets keys older than a day, and only those.
    assert_eq!(
        store.purge(Utc::now() - Duration::hours(24)).await.unwrap(),
        0
    );
    assert_eq!(
        store
            .purge(Utc::now() + Duration::seconds(1))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        api_http::jobs::purge_idempotency_keys_once(&app.app)
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn over_http_an_abandoned_claim_is_taken_over_after_its_lease_and_keys_expire_after_a_day() {
    let (app, clock) = TestApp::spawn_with_manual_clock(|_| {}).await;
    let admin = app.admin().await;
    let doctor = app.staff(&admin, "DOCTOR").await;
    let doctor_id = doctor.profile_id.clone().unwrap();
    let patient = app.patient().await;
    let (date, day) = day_ahead(6);
    app.schedule(&admin, &doctor_id, day, "09:00", "10:00", 30)
        .await;
    let slots = app.free_slots(&doctor_id, date).await;
    let body = json!({ "timeSlotId": slots[0], "type": "CONSULTATION", "reason": "check-up" });

    // A worker claimed the key and died before booking anything.
    let me = actor(&app, &patient).await;
    let fingerprint = domain::idempotency::fingerprint("POST /appointments", &body);
    let begun = app
        .app
        .idempotency
        .begin(me.user_id, "lease-1", &fingerprint)
        .await;
    assert!(matches!(begun, Ok(Begin::Proceed(_))));
    let (status, _, _) = post_with_key(&app, &patient.token, "lease-1", &body).await;
    assert_eq!(status, 409, "within the lease");

    // Two minutes later (past any lease) the retry takes the claim over and books, once.
    clock.advance(Duration::minutes(2));
    let (status, first, _) = post_with_key(&app, &patient.token, "lease-1", &body).await;
    assert_eq!(status, 201, "{first}");
    let (status, again, _) = post_with_key(&app, &patient.token, "lease-1", &body).await;
    assert_eq!((status, &again), (201, &first));

    // A day later the key is forgotten: reused for another request it acts anew instead of
    // answering 422. (Sessions last a day too: log in again.)
    clock.advance(Duration::hours(25));
    let (_, login) = app.login(&patient.email, e2e::api::PASSWORD).await;
    let token = login["accessToken"].as_str().unwrap().to_owned();
    let other = json!({ "timeSlotId": slots[1], "type": "FOLLOW_UP", "reason": "results" });
    let (status, second, _) = post_with_key(&app, &token, "lease-1", &other).await;
    assert_eq!(status, 201, "{second}");
    assert_ne!(second["id"], first["id"]);
    assert_eq!(
        api_http::jobs::purge_idempotency_keys_once(&app.app)
            .await
            .unwrap(),
        0
    );
    clock.advance(Duration::hours(25));
    assert_eq!(
        api_http::jobs::purge_idempotency_keys_once(&app.app)
            .await
            .unwrap(),
        1,
        "the job removes the expired key"
    );
}
