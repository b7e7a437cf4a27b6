//! Webhooks from outside: a real receiver on loopback gets every subscribed event, signed, in
//! order, once; retries after 500s and timeouts, a receiver down for a while, two `serve`
//! processes, sustained failure switching an endpoint off, redelivery, and the SSRF guard.

use std::time::Duration;

use chrono::Utc;
use domain::webhooks::signature::{verify, EVENT_ID_HEADER, SIGNATURE_HEADER};
use e2e::api::{day_ahead, Account};
use e2e::receiver::{Received, Receiver, Reply};
use e2e::TestApp;
use reqwest::Method;
use serde_json::{json, Value};

const PATIENCE: Duration = Duration::from_secs(20);

/// Receivers on loopback are allowed (an operator's choice, `WEBHOOK_ALLOWED_NETWORKS`), over
/// plain http; the relay looks for due deliveries every 25 ms and gives up a request after
/// 400 ms.
fn hooks_config(c: &mut api_http::Config) {
    c.webhook_allowed_networks = "127.0.0.1".into();
    c.webhook_require_https = false;
    c.webhook_relay_interval_ms = 25;
    c.webhook_timeout_ms = 400;
}

async fn register(app: &TestApp, admin: &Account, url: &str, types: &[&str]) -> (String, String) {
    let (status, body) = app
        .json(
            Method::POST,
            "/webhooks",
            Some(&admin.token),
            Some(json!({ "url": url, "description": "Clinic ERP", "eventTypes": types })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let secret = body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    (body["id"].as_str().unwrap().to_owned(), secret)
}

async fn deliveries(app: &TestApp, admin: &Account, endpoint: &str) -> Vec<Value> {
    let (status, body) = app
        .json(
            Method::GET,
            &format!("/webhooks/{endpoint}/deliveries?perPage=100"),
            Some(&admin.token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["items"].as_array().unwrap().clone()
}

/// Waits until the endpoint's oldest pending delivery shows `attempts` attempts.
async fn wait_attempts(app: &TestApp, admin: &Account, endpoint: &str, attempts: i64) -> Value {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let log = deliveries(app, admin, endpoint).await;
        if let Some(head) = log
            .iter()
            .rev()
            .find(|d| d["status"] != "DELIVERED" && d["attempts"].as_i64() >= Some(attempts))
        {
            return head.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no delivery reached {attempts} attempts: {log:#?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn check_signature(r: &Received, secret: &str) {
    let header = r.header(SIGNATURE_HEADER);
    assert_eq!(
        verify(secret, header, &r.body, Utc::now().timestamp(), 300),
        Ok(()),
        "{header}"
    );
    assert_eq!(r.header(EVENT_ID_HEADER), r.event_id());
}

/// `n` bookings, each its own slot, by one patient through the desk; their ids in order.
async fn bookings(app: &TestApp, admin: &Account, n: usize) -> Vec<String> {
    let doctor = app.staff(admin, "DOCTOR").await;
    let desk = app.staff(admin, "RECEPTIONIST").await;
    let patient = app.patient().await;
    let doctor_id = doctor.profile_id.clone().unwrap();
    let (date, day) = day_ahead(3);
    app.schedule(admin, &doctor_id, day, "08:00", "18:00", 15)
        .await;
    let slots = app.free_slots(&doctor_id, date).await;
    let mut ids = Vec::new();
    for slot in slots.iter().take(n) {
        let (status, body) = app
            .book(&desk.token, slot, patient.profile_id.as_deref())
            .await;
        assert_eq!(status, 201, "{body}");
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    ids
}

/// A whole visit and its money, with a second visit cancelled and a third moved: the
/// receiver gets each subscribed event once, in the order it happened, signed with the secret,
/// with ids and statuses but none of the clinical text; an endpoint subscribed to one type
/// gets only that type; only admins manage endpoints.
#[tokio::test]
async fn every_event_arrives_signed_in_order_without_clinical_text() {
    let app = TestApp::spawn_with(hooks_config).await;
    let hooks_admin = app.admin().await;
    let all = Receiver::start().await;
    let bills_only = Receiver::start().await;
    let every_type = [
        "appointment.booked",
        "appointment.confirmed",
        "appointment.cancelled",
        "appointment.rescheduled",
        "appointment.completed",
        "appointment.no_show",
        "bill.paid",
        "bill.refunded",
        "bill.overdue",
        "prescription.written",
    ];
    let (all_id, secret) = register(&app, &hooks_admin, &all.url(), &every_type).await;
    let (_, bills_secret) = register(&app, &hooks_admin, &bills_only.url(), &["bill.paid"]).await;

    // Booked by the patient, confirmed by the desk, started by the doctor.
    let v = app.visit("80.00", true).await;
    let (status, body) = app.prescribe(&v.doctor, &v.appointment_id).await;
    assert_eq!(status, 201, "{body}");
    app.step(&v.doctor, &v.appointment_id, "complete", 200)
        .await;
    let bill_id = app.pay_own_bill(&v.patient).await;
    let (status, body) = app
        .json(
            Method::POST,
            &format!("/billings/{bill_id}/refund"),
            Some(&v.admin.token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // A second visit, cancelled; a third, moved to a later slot.
    let (date, _) = day_ahead(2);
    let slots = app.free_slots(&v.doctor_id, date).await;
    let (status, second) = app.book(&v.other_patient.token, &slots[0], None).await;
    assert_eq!(status, 201, "{second}");
    let second_id = second["id"].as_str().unwrap().to_owned();
    let (status, body) = app
        .json(
            Method::POST,
            &format!("/appointments/{second_id}/cancel"),
            Some(&v.desk.token),
            Some(json!({ "reason": "SECRET-CANCEL-REASON" })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, third) = app.book(&v.other_patient.token, &slots[1], None).await;
    assert_eq!(status, 201, "{third}");
    let third_id = third["id"].as_str().unwrap().to_owned();
    let (status, body) = app
        .json(
            Method::POST,
            &format!("/appointments/{third_id}/reschedule"),
            Some(&v.desk.token),
            Some(json!({ "timeSlotId": slots[2] })),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let expected = [
        ("appointment.booked", v.appointment_id.as_str()),
        ("appointment.confirmed", v.appointment_id.as_str()),
        ("prescription.written", v.appointment_id.as_str()),
        ("appointment.completed", v.appointment_id.as_str()),
        ("bill.paid", v.appointment_id.as_str()),
        ("bill.refunded", v.appointment_id.as_str()),
        ("appointment.booked", second_id.as_str()),
        ("appointment.cancelled", second_id.as_str()),
        ("appointment.booked", third_id.as_str()),
        ("appointment.rescheduled", third_id.as_str()),
    ];
    let got = all.wait_accepted(expected.len(), PATIENCE).await;
    let seen: Vec<(String, String)> = got
        .iter()
        .map(|r| {
            (
                r.json["type"].as_str().unwrap().to_owned(),
                r.json["data"]["appointmentId"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want: Vec<(String, String)> = expected
        .iter()
        .map(|(t, a)| ((*t).to_owned(), (*a).to_owned()))
        .collect();
    assert_eq!(seen, want);
    for r in &got {
        check_signature(r, &secret);
        assert_eq!(r.header("content-type"), "application/json");
        assert_eq!(
            r.header("healthsync-event-type"),
            r.json["type"].as_str().unwrap()
        );
        let text = String::from_utf8_lossy(&r.body);
        for clinical in [
            "Ear ache",
            "Otitis",
            "Amoxicillin",
            "SECRET-CANCEL-REASON",
            "with food",
        ] {
            assert!(!text.contains(clinical), "{clinical} in {text}");
        }
    }
    // Ids and statuses, as documented.
    assert_eq!(got[1].json["data"]["status"], "CONFIRMED");
    assert_eq!(got[5].json["data"]["status"], "REFUNDED");
    assert_eq!(got[5].json["data"]["billId"], bill_id.as_str());
    assert_eq!(got[9].json["data"]["timeSlotId"], slots[2].as_str());
    assert_eq!(got[9].json["data"]["previousTimeSlotId"], slots[1].as_str());
    // Each event id once.
    let mut ids: Vec<String> = got.iter().map(Received::event_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), expected.len());

    // The other endpoint got the payment and nothing else.
    let paid = bills_only.wait_accepted(1, PATIENCE).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(bills_only.received().len(), 1);
    assert_eq!(paid[0].json["type"], "bill.paid");
    check_signature(&paid[0], &bills_secret);
    assert_eq!(
        paid[0].event_id(),
        got[4].event_id(),
        "one event, one id, whichever endpoint"
    );

    // The log shows every delivery delivered, with the receiver's status.
    let log = deliveries(&app, &hooks_admin, &all_id).await;
    assert_eq!(log.len(), expected.len());
    assert!(
        log.iter().all(|d| d["status"] == "DELIVERED"
            && d["lastStatusCode"] == 200
            && d["attempts"] == 1),
        "{log:#?}"
    );

    // Only admins; the secret is never read back.
    for who in [&v.patient, &v.doctor, &v.desk] {
        let (status, _) = app
            .json(Method::GET, "/webhooks", Some(&who.token), None)
            .await;
        assert_eq!(status, 403);
        let (status, _) = app
            .json(
                Method::POST,
                "/webhooks",
                Some(&who.token),
                Some(json!({ "url": all.url(), "eventTypes": ["bill.paid"] })),
            )
            .await;
        assert_eq!(status, 403);
    }
    let (_, listed) = app
        .json(Method::GET, "/webhooks", Some(&hooks_admin.token), None)
        .await;
    assert_eq!(listed["total"], 2);
    assert!(!listed.to_string().contains(&secret));
}

/// A 500, then a stall past the timeout: the delivery is retried on the back-off schedule (by
/// the clinic's clock), and the events behind it wait their turn, then arrive in order.
#[tokio::test]
async fn failures_are_retried_with_back_off_and_hold_the_queue() {
    let (app, clock) = TestApp::spawn_with_manual_clock(hooks_config).await;
    let admin = app.admin().await;
    let receiver = Receiver::start().await;
    receiver.script(&[Reply::Status(500), Reply::Stall(Duration::from_secs(3))]);
    let (endpoint, secret) = register(&app, &admin, &receiver.url(), &["appointment.booked"]).await;
    let booked = bookings(&app, &admin, 3).await;

    let head = wait_attempts(&app, &admin, &endpoint, 1).await;
    assert_eq!(head["lastStatusCode"], 500);
    assert_eq!(head["lastError"], "the receiver answered HTTP 500");
    let first_retry: chrono::DateTime<Utc> =
        head["nextAttemptAt"].as_str().unwrap().parse().unwrap();
    let tried_at: chrono::DateTime<Utc> = head["lastAttemptAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        first_retry - tried_at,
        chrono::Duration::seconds(30),
        "WEBHOOK_RETRY_BASE_SECS"
    );
    // Not due yet: nothing more is sent, and nothing behind it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 1);

    clock.advance(chrono::Duration::seconds(31));
    let head = wait_attempts(&app, &admin, &endpoint, 2).await;
    assert!(head["lastStatusCode"].is_null());
    assert_eq!(head["lastError"], "timed out after 400 ms");
    let second_retry: chrono::DateTime<Utc> =
        head["nextAttemptAt"].as_str().unwrap().parse().unwrap();
    let tried_at: chrono::DateTime<Utc> = head["lastAttemptAt"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        second_retry - tried_at,
        chrono::Duration::seconds(60),
        "doubled"
    );

    clock.advance(chrono::Duration::seconds(61));
    let got = receiver.wait_accepted(3, PATIENCE).await;
    let order: Vec<&str> = got
        .iter()
        .map(|r| r.json["data"]["appointmentId"].as_str().unwrap())
        .collect();
    assert_eq!(order, booked.iter().map(String::as_str).collect::<Vec<_>>());
    let all = receiver.received();
    assert_eq!(all.len(), 5, "3 attempts of the first, then one each");
    assert!(
        all[..3].iter().all(|r| r.event_id() == all[0].event_id()),
        "the same event id on every attempt"
    );
    for r in &got {
        check_signature(r, &secret);
    }
    let log = deliveries(&app, &admin, &endpoint).await;
    let first = log
        .iter()
        .find(|d| d["eventId"] == all[0].event_id().as_str())
        .unwrap();
    assert_eq!(
        (first["status"].as_str(), first["attempts"].as_i64()),
        (Some("DELIVERED"), Some(3))
    );
}

/// A receiver down for a while: attempts keep failing (connection refused) while the events
/// queue behind the first; back up, everything arrives in order. Down for longer than
/// `WEBHOOK_GIVE_UP_HOURS`, the delivery is FAILED and the endpoint switched off (audited);
/// an admin switches it back on and redelivers the failed one.
#[tokio::test]
async fn a_receiver_down_for_a_while_catches_up_and_a_dead_one_is_switched_off() {
    let (app, clock) = TestApp::spawn_with_manual_clock(|c| {
        hooks_config(c);
        c.webhook_retry_base_secs = 600;
        c.webhook_retry_max_secs = 4 * 3600;
        // The test walks the clock through more than a day; sessions outlive that.
        c.session_ttl_hours = 720;
    })
    .await;
    let admin = app.admin().await;
    let mut receiver = Receiver::start().await;
    let (endpoint, _) = register(&app, &admin, &receiver.url(), &["appointment.booked"]).await;
    receiver.stop();
    let booked = bookings(&app, &admin, 4).await;
    for attempt in 1..=3 {
        let head = wait_attempts(&app, &admin, &endpoint, attempt).await;
        assert_eq!(head["lastError"], "could not connect", "{head}");
        clock.advance(chrono::Duration::hours(4));
    }
    receiver.restart().await;
    let got = receiver.wait_accepted(4, PATIENCE).await;
    let order: Vec<&str> = got
        .iter()
        .map(|r| r.json["data"]["appointmentId"].as_str().unwrap())
        .collect();
    assert_eq!(order, booked.iter().map(String::as_str).collect::<Vec<_>>());

    // Down for good: a day of failures switches the endpoint off.
    receiver.stop();
    let later = bookings(&app, &admin, 1).await;
    let mut attempts = 0;
    loop {
        let (_, hook) = app
            .json(
                Method::GET,
                &format!("/webhooks/{endpoint}"),
                Some(&admin.token),
                None,
            )
            .await;
        if hook["isActive"] == false {
            assert!(
                hook["disabledReason"]
                    .as_str()
                    .unwrap()
                    .contains("24 hours"),
                "{hook}"
            );
            break;
        }
        attempts += 1;
        assert!(attempts < 40, "never switched off");
        wait_attempts(&app, &admin, &endpoint, attempts).await;
        clock.advance(chrono::Duration::hours(4));
    }
    let log = deliveries(&app, &admin, &endpoint).await;
    let failed = log
        .iter()
        .find(|d| d["status"] == "FAILED")
        .expect("a FAILED delivery");
    assert!(failed["nextAttemptAt"].is_null());
    // Switched off by the relay, it still queues new events (nothing is lost while the
    // receiver is down), but sends nothing.
    let queued = bookings(&app, &admin, 1).await;
    assert_eq!(deliveries(&app, &admin, &endpoint).await.len(), 6);
    clock.advance(chrono::Duration::hours(4));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let sent_while_off = receiver
        .received()
        .iter()
        .filter(|r| r.json["data"]["appointmentId"] == queued[0].as_str())
        .count();
    assert_eq!(sent_while_off, 0);
    app.wait_for_audit_shipped().await;
    let (_, audit) = app
        .json(
            Method::GET,
            &format!("/audit-logs?entity=webhook_endpoint&entityId={endpoint}"),
            Some(&admin.token),
            None,
        )
        .await;
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["userId"].is_null() && e["changes"]["after"]["isActive"] == false),
        "{audit}"
    );

    // Back on, and the failed one redelivered: it arrives (the same event id).
    receiver.restart().await;
    let (status, body) = app
        .json(
            Method::PATCH,
            &format!("/webhooks/{endpoint}"),
            Some(&admin.token),
            Some(json!({ "isActive": true })),
        )
        .await;
    assert_eq!(
        (status, body["disabledReason"].is_null()),
        (200, true),
        "{body}"
    );
    let (status, again) = app
        .json(
            Method::POST,
            &format!("/webhooks/{endpoint}/deliveries/{}/redeliver", failed["id"]),
            Some(&admin.token),
            None,
        )
        .await;
    assert_eq!(status, 202, "{again}");
    assert_eq!(again["eventId"], failed["eventId"]);
    // What was queued while it was off arrives first, then the redelivery, at the end.
    let got = receiver.wait_accepted(6, PATIENCE).await;
    assert_eq!(got[4].json["data"]["appointmentId"], queued[0].as_str());
    assert_eq!(got[5].json["data"]["appointmentId"], later[0].as_str());
    assert_eq!(got[5].event_id(), failed["eventId"].as_str().unwrap());
    // An endpoint an admin pauses queues nothing.
    let (status, _) = app
        .json(
            Method::PATCH,
            &format!("/webhooks/{endpoint}"),
            Some(&admin.token),
            Some(json!({ "isActive": false })),
        )
        .await;
    assert_eq!(status, 200);
    bookings(&app, &admin, 1).await;
    assert_eq!(
        deliveries(&app, &admin, &endpoint).await.len(),
        7,
        "the redelivery is the 7th"
    );
    // A pending or foreign delivery cannot be redelivered.
    let (status, body) = app
        .json(
            Method::POST,
            &format!("/webhooks/{endpoint}/deliveries/999999999/redeliver"),
            Some(&admin.token),
            None,
        )
        .await;
    assert_eq!(status, 404, "{body}");
}

/// Two `serve` processes relaying the same outbox: every event reaches each endpoint exactly
/// once, in order.
#[tokio::test]
async fn two_processes_deliver_each_event_once_in_order() {
    let app = TestApp::spawn_with(hooks_config).await;
    let sibling = app.sibling().await;
    let admin = app.admin().await;
    let receivers = [Receiver::start().await, Receiver::start().await];
    for r in &receivers {
        register(
            &app,
            &admin,
            &r.url(),
            &["appointment.booked", "appointment.cancelled"],
        )
        .await;
    }
    // Bookings through both processes, while both relay.
    let booked = bookings(&app, &admin, 12).await;
    let desk = app.staff(&admin, "RECEPTIONIST").await;
    for (i, id) in booked.iter().enumerate() {
        let target = if i % 2 == 0 { &app } else { &sibling };
        let (status, body) = target
            .json(
                Method::POST,
                &format!("/appointments/{id}/cancel"),
                Some(&desk.token),
                Some(json!({ "reason": "Called" })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    for r in &receivers {
        r.wait_accepted(24, PATIENCE).await;
    }
    // Time for a duplicate to show up, if one were coming.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for r in &receivers {
        let got = r.received();
        assert_eq!(got.len(), 24, "each event once");
        let mut ids: Vec<String> = got.iter().map(Received::event_id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 24);
        // Per appointment, booked before cancelled; bookings in the order they were made.
        let booked_order: Vec<&str> = got
            .iter()
            .filter(|r| r.json["type"] == "appointment.booked")
            .map(|r| r.json["data"]["appointmentId"].as_str().unwrap())
            .collect();
        assert_eq!(
            booked_order,
            booked.iter().map(String::as_str).collect::<Vec<_>>()
        );
        let position = |t: &str, id: &str| {
            got.iter()
                .position(|r| r.json["type"] == t && r.json["data"]["appointmentId"] == id)
                .unwrap()
        };
        for id in &booked {
            assert!(position("appointment.booked", id) < position("appointment.cancelled", id));
        }
    }
}

/// Registration refuses what could reach inside the clinic (without the operator's allowance):
/// loopback, private and metadata addresses, `localhost`, plain http, credentials in the URL.
#[tokio::test]
async fn urls_that_could_reach_internal_services_are_refused() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    for url in [
        "https://127.0.0.1:8080/hook",
        "https://10.0.0.5/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hook",
        "https://[::ffff:192.168.0.1]/hook",
        "https://localhost/hook",
        "http://hooks.example.com/hook",
        "https://user:pw@hooks.example.com/hook",
        "ftp://hooks.example.com/",
    ] {
        let (status, body) = app
            .json(
                Method::POST,
                "/webhooks",
                Some(&admin.token),
                Some(json!({ "url": url, "eventTypes": ["bill.paid"] })),
            )
            .await;
        assert_eq!(
            (status, body["field"].as_str()),
            (422, Some("url")),
            "{url}: {body}"
        );
    }
    let (status, body) = app
        .json(
            Method::POST,
            "/webhooks",
            Some(&admin.token),
            Some(json!({ "url": "https://hooks.example.com/h", "eventTypes": ["bill.lost"] })),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = app
        .json(
            Method::POST,
            "/webhooks",
            Some(&admin.token),
            Some(json!({ "url": "https://hooks.example.com/h", "eventTypes": [] })),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("eventTypes")),
        "{body}"
    );
    // A public name is accepted at registration (its addresses are checked at each delivery).
    let (status, body) = app
        .json(
            Method::POST,
            "/webhooks",
            Some(&admin.token),
            Some(json!({ "url": "https://hooks.example.com/h", "eventTypes": ["bill.paid"] })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap();
    // Rotating gives a new secret, once; deleting removes it.
    let (status, rotated) = app
        .json(
            Method::POST,
            &format!("/webhooks/{id}/rotate-secret"),
            Some(&admin.token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_ne!(rotated["secret"], body["secret"]);
    let (status, _) = app
        .json(
            Method::DELETE,
            &format!("/webhooks/{id}"),
            Some(&admin.token),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = app
        .json(
            Method::GET,
            &format!("/webhooks/{id}"),
            Some(&admin.token),
            None,
        )
        .await;
    assert_eq!(status, 404);
}

/// The lease between two relays, on the real database: while one holds an endpoint the other
/// cannot claim it; once it lapses the other can, and the first one's late result is then
/// refused and writes nothing (so a stalled process cannot overwrite the new owner's record).
#[tokio::test]
async fn a_lapsed_lease_passes_to_another_relay_and_the_first_records_nothing() {
    use adapters_postgres::webhooks::PgWebhookRepository;
    use domain::webhooks::{AttemptRecord, WebhookRepository};
    let app = TestApp::spawn_with(|c| {
        hooks_config(c);
        // The app's own relay stays out of the way (it ran once, before anything existed).
        c.webhook_relay_interval_ms = 60_000;
    })
    .await;
    let admin = app.admin().await;
    let receiver = Receiver::start().await;
    let (endpoint, _) = register(&app, &admin, &receiver.url(), &["appointment.booked"]).await;
    bookings(&app, &admin, 1).await;
    let id: uuid::Uuid = endpoint.parse().unwrap();
    let repo = PgWebhookRepository {
        pool: app.app.pg.clone(),
    };
    let now = Utc::now();
    let (first, second) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let short = chrono::Duration::milliseconds(400);
    let claimed = repo.claim(first, now, short, 10).await.unwrap();
    assert_eq!(claimed.iter().map(|c| c.id).collect::<Vec<_>>(), vec![id]);
    assert!(
        repo.claim(second, now, short, 10).await.unwrap().is_empty(),
        "held"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    let taken = repo
        .claim(second, now, chrono::Duration::minutes(5), 10)
        .await
        .unwrap();
    assert_eq!(taken.len(), 1, "lapsed, so the second relay takes it");
    let due = repo
        .next_due(id, now)
        .await
        .unwrap()
        .expect("a due delivery");
    let delivered = AttemptRecord::Delivered {
        at: now,
        status_code: 200,
    };
    assert!(!repo
        .record(first, id, due.id, delivered.clone(), short)
        .await
        .unwrap());
    let log = deliveries(&app, &admin, &endpoint).await;
    assert_eq!(
        (log[0]["status"].as_str(), log[0]["attempts"].as_i64()),
        (Some("PENDING"), Some(0))
    );
    // The first relay giving back a lease it lost changes nothing.
    repo.release(first, id).await.unwrap();
    assert!(
        repo.claim(first, now, short, 10).await.unwrap().is_empty(),
        "still the second's"
    );
    assert!(repo
        .record(second, id, due.id, delivered, short)
        .await
        .unwrap());
    let log = deliveries(&app, &admin, &endpoint).await;
    assert_eq!(
        (log[0]["status"].as_str(), log[0]["attempts"].as_i64()),
        (Some("DELIVERED"), Some(1))
    );
}

/// The delivery log's retention: finished deliveries older than the cut-off go, with their
/// events once nothing refers to them; a pending delivery stays whatever its age.
#[tokio::test]
async fn old_finished_deliveries_are_pruned_and_pending_ones_kept() {
    use adapters_postgres::webhooks::PgWebhookRepository;
    use domain::webhooks::WebhookRepository;
    let app = TestApp::spawn_with(hooks_config).await;
    let admin = app.admin().await;
    let up = Receiver::start().await;
    let mut down = Receiver::start().await;
    down.stop();
    let (delivered_to, _) = register(&app, &admin, &up.url(), &["appointment.booked"]).await;
    let (pending_at, _) = register(&app, &admin, &down.url(), &["appointment.booked"]).await;
    bookings(&app, &admin, 3).await;
    up.wait_accepted(3, PATIENCE).await;
    wait_attempts(&app, &admin, &pending_at, 1).await;
    let repo = PgWebhookRepository {
        pool: app.app.pg.clone(),
    };
    let events_before = app.count_rows("webhook_events").await;
    assert_eq!(events_before, 3);
    // A cut-off in the future makes every finished delivery "old".
    let pruned = repo
        .prune(Utc::now() + chrono::Duration::days(1), 1000)
        .await
        .unwrap();
    assert_eq!(
        pruned, 3,
        "the three delivered; the events stay, still referred to"
    );
    assert!(deliveries(&app, &admin, &delivered_to).await.is_empty());
    assert_eq!(deliveries(&app, &admin, &pending_at).await.len(), 3);
    // Deleting the dead endpoint drops its deliveries; the next prune takes the events.
    let (status, _) = app
        .json(
            Method::DELETE,
            &format!("/webhooks/{pending_at}"),
            Some(&admin.token),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let pruned = repo
        .prune(Utc::now() + chrono::Duration::days(1), 1000)
        .await
        .unwrap();
    assert_eq!(pruned, 3);
    assert_eq!(app.count_rows("webhook_events").await, 0);
}

/// The events the desk and the clock make: a walk-in's booking, a no-show recorded after the
/// grace period (its fee billed), and that bill going OVERDUE by the job; signed, in order, with
/// no clinical text.
#[tokio::test]
async fn walk_ins_no_shows_and_overdue_bills_are_events_too() {
    let (app, clock) = TestApp::spawn_with_manual_clock(|c| {
        hooks_config(c);
        c.no_show_fee = "25.00".into();
    })
    .await;
    let receiver = Receiver::start().await;
    let mut v = app.visit("80.00", false).await;
    let (_, secret) = register(
        &app,
        &v.admin,
        &receiver.url(),
        &["appointment.booked", "appointment.no_show", "bill.overdue"],
    )
    .await;
    let (status, walk_in) = app
        .json(
            Method::POST,
            "/appointments/walk-ins",
            Some(&v.desk.token),
            Some(
                json!({ "patientId": v.other_patient.profile_id, "doctorId": v.doctor_id,
                "reason": "SECRET-WALK-IN-REASON" }),
            ),
        )
        .await;
    assert_eq!(status, 201, "{walk_in}");
    let got = receiver.wait_accepted(1, PATIENCE).await;
    assert_eq!(got[0].json["type"], "appointment.booked");
    assert_eq!(got[0].json["data"]["appointmentId"], walk_in["id"]);

    let (_, visit) = app
        .json(
            Method::GET,
            &format!("/appointments/{}", v.appointment_id),
            Some(&v.admin.token),
            None,
        )
        .await;
    let starts: chrono::DateTime<Utc> = visit["startsAt"].as_str().unwrap().parse().unwrap();
    clock.set(starts + chrono::Duration::minutes(16));
    app.relogin(&mut v.doctor).await;
    app.step(&v.doctor, &v.appointment_id, "no-show", 200).await;
    let got = receiver.wait_accepted(2, PATIENCE).await;
    assert_eq!(got[1].json["type"], "appointment.no_show");
    assert_eq!(
        (
            got[1].json["data"]["appointmentId"].as_str(),
            got[1].json["data"]["status"].as_str()
        ),
        (Some(v.appointment_id.as_str()), Some("NO_SHOW"))
    );

    clock.advance(chrono::Duration::days(app.config.bill_due_days + 1));
    assert_eq!(
        api_http::jobs::mark_overdue_once(&app.app).await.unwrap(),
        1
    );
    let got = receiver.wait_accepted(3, PATIENCE).await;
    assert_eq!(got[2].json["type"], "bill.overdue");
    assert_eq!(
        (
            got[2].json["data"]["amount"].as_str(),
            got[2].json["data"]["status"].as_str(),
            got[2].json["data"]["patientId"].as_str()
        ),
        (Some("25.00"), Some("OVERDUE"), Some(v.patient_id.as_str()))
    );
    // Time for a duplicate to show up, if one were coming.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let all = receiver.received();
    assert_eq!(all.len(), 3);
    for r in &all {
        check_signature(r, &secret);
        assert!(
            !String::from_utf8_lossy(&r.body).contains("SECRET-WALK-IN-REASON"),
            "{}",
            r.json
        );
    }
}
