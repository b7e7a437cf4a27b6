//! Email from outside: a real SMTP server (aiosmtpd, `tests/src/smtp.rs`) receives what
//! patients are sent: each email once, with text, HTML and (for bookings and moves) a
//! calendar file, never clinical text; the patient's choices respected; two `serve` processes
//! sending one outbox; a server down for a while, then back. Then the password reset flow end
//! to end: the link by email, single use, expiry, another account's link, older links closed,
//! the admin's link, rate limits, the same answer (and about the same time) for unknown
//! addresses, and every step in the audit trail.

use std::time::{Duration, Instant};

use chrono::Utc;
use e2e::api::{day_ahead, Account, PASSWORD};
use e2e::smtp::{Mail, SmtpSink};
use e2e::TestApp;
use reqwest::Method;
use serde_json::{json, Value};

const PATIENCE: Duration = Duration::from_secs(20);

/// The app sends through `sink`, looking for due emails every 25 ms.
fn through(sink: &SmtpSink) -> impl FnOnce(&mut api_http::Config) + '_ {
    move |c| {
        c.smtp_url = Some(sink.url());
        c.email_relay_interval_ms = 25;
        c.email_timeout_ms = 2000;
    }
}

fn to(mails: &[Mail], email: &str) -> Vec<Mail> {
    mails
        .iter()
        .filter(|m| m.rcpt_tos.iter().any(|r| r == email))
        .cloned()
        .collect()
}

fn subjects(mails: &[Mail]) -> Vec<String> {
    mails
        .iter()
        .map(|m| m.subject.clone().unwrap_or_default())
        .collect()
}

/// Waits `settle` more and checks nothing else arrived: a duplicate would show up here.
async fn exactly(sink: &SmtpSink, n: usize, settle: Duration) -> Vec<Mail> {
    sink.wait_for(n, PATIENCE).await;
    tokio::time::sleep(settle).await;
    let mails = sink.messages();
    assert_eq!(mails.len(), n, "{:?}", subjects(&mails));
    mails
}

async fn post(app: &TestApp, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    app.json(Method::POST, path, token, Some(body)).await
}

/// A visit with money, a second visit cancelled and a third moved, reminders: each patient
/// gets its emails once, in the clinic's words, with the calendar file on bookings and moves,
/// and no clinical text; a patient who switched reminders off gets none; staff get nothing.
#[tokio::test]
async fn patients_get_each_email_once_without_clinical_text() {
    let sink = SmtpSink::start().await;
    let app = TestApp::spawn_with(|c| {
        through(&sink)(c);
        // Visits two days ahead are inside the reminder's lead time.
        c.reminder_lead_minutes = 4 * 24 * 60;
        c.clinic_name = "Riverside Clinic".into();
    })
    .await;
    let v = app.visit("80.00", true).await;
    // The second patient wants no reminders.
    let (status, body) = app
        .json(
            Method::PATCH,
            "/me/email-preferences",
            Some(&v.other_patient.token),
            Some(json!({ "reminders": false })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["reminders"], &body["bookingConfirmations"]),
        (&json!(false), &json!(true))
    );
    let (status, body) = app
        .json(
            Method::GET,
            "/me/email-preferences",
            Some(&v.patient.token),
            None,
        )
        .await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({ "bookingConfirmations": true, "reminders": true, "cancellations": true,
                "reschedules": true, "bills": true, "paymentReceipts": true,
                "waitlistOffers": true })
        )
    );
    let (status, _) = app
        .json(
            Method::GET,
            "/me/email-preferences",
            Some(&v.doctor.token),
            None,
        )
        .await;
    assert_eq!(status, 403, "only patients choose");

    let (status, body) = app.prescribe(&v.doctor, &v.appointment_id).await;
    assert_eq!(status, 201, "{body}");
    app.step(&v.doctor, &v.appointment_id, "complete", 200)
        .await;
    app.pay_own_bill(&v.patient).await;
    let (date, _) = day_ahead(2);
    let slots = app.free_slots(&v.doctor_id, date).await;
    let (status, second) = app.book(&v.other_patient.token, &slots[0], None).await;
    assert_eq!(status, 201, "{second}");
    let second_id = second["id"].as_str().unwrap().to_owned();
    let (status, body) = post(
        &app,
        &format!("/appointments/{second_id}/cancel"),
        Some(&v.desk.token),
        json!({ "reason": "SECRET-CANCEL-REASON" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, third) = app.book(&v.other_patient.token, &slots[1], None).await;
    assert_eq!(status, 201, "{third}");
    let third_id = third["id"].as_str().unwrap().to_owned();
    let (status, moved) = post(
        &app,
        &format!("/appointments/{third_id}/reschedule"),
        Some(&v.desk.token),
        json!({ "timeSlotId": slots[2] }),
    )
    .await;
    assert_eq!(status, 200, "{moved}");
    // A third patient, with the default choices, books the next slot.
    let carol = app.patient().await;
    let (status, body) = app.book(&carol.token, &slots[3], None).await;
    assert_eq!(status, 201, "{body}");
    // Two runs of the reminder job: Carol's visit is reminded once; the first visit is done,
    // the second cancelled, and the third's patient wants no reminders.
    api_http::jobs::send_reminders_once(&app.app).await.unwrap();
    api_http::jobs::send_reminders_once(&app.app).await.unwrap();

    // The patient: booked, billed, paid. The other: two bookings, a cancellation, a move.
    // Carol: booked, reminded.
    let mails = exactly(&sink, 9, Duration::from_millis(600)).await;
    let kinds = |m: &[Mail]| {
        let mut s: Vec<&str> = subjects(m)
            .iter()
            .map(|s| {
                [
                    "Appointment booked",
                    "Appointment cancelled",
                    "Appointment moved",
                    "Reminder",
                    "Your bill",
                    "Payment received",
                ]
                .into_iter()
                .find(|k| s.starts_with(k))
                .unwrap_or("?")
            })
            .collect();
        s.sort();
        s
    };
    assert_eq!(
        kinds(&to(&mails, &v.patient.email)),
        ["Appointment booked", "Payment received", "Your bill"]
    );
    let other = to(&mails, &v.other_patient.email);
    assert_eq!(
        kinds(&other),
        [
            "Appointment booked",
            "Appointment booked",
            "Appointment cancelled",
            "Appointment moved"
        ]
    );
    assert_eq!(
        kinds(&to(&mails, &carol.email)),
        ["Appointment booked", "Reminder"]
    );
    assert!(to(&mails, &v.doctor.email).is_empty() && to(&mails, &v.desk.email).is_empty());

    for mail in &mails {
        assert!(
            mail.text.is_some() && mail.html.is_some(),
            "{:?}",
            mail.subject
        );
        assert!(mail.text.as_ref().unwrap().contains("Riverside Clinic"));
        assert!(mail
            .message_id
            .as_deref()
            .is_some_and(|id| id.ends_with("@healthsync>")));
        for secret in [
            "Ear ache",
            "Check-up",
            "SECRET-CANCEL-REASON",
            "Otitis",
            "Amoxicillin",
            "Ibuprofen",
        ] {
            // Searched in the decoded parts: the raw message is quoted-printable or base64.
            let decoded = [
                mail.subject.as_deref().unwrap_or_default(),
                mail.text.as_deref().unwrap_or_default(),
                mail.html.as_deref().unwrap_or_default(),
            ]
            .into_iter()
            .chain(mail.attachments.iter().map(|a| a.content.as_str()));
            for part in decoded {
                assert!(!part.contains(secret), "{secret} in {:?}", mail.subject);
            }
        }
        // Nor the visit's type ("Consultation" in a shared calendar is the least of it).
        assert!(!mail.text.as_deref().unwrap().contains("Consultation"));
        let subject = mail.subject.clone().unwrap();
        let with_calendar = [
            "Appointment booked",
            "Appointment moved",
            "Appointment cancelled",
        ]
        .iter()
        .any(|k| subject.starts_with(k));
        assert_eq!(
            mail.attachments.len(),
            usize::from(with_calendar),
            "{subject}"
        );
    }
    // The move's calendar file replaces the booked time: same UID, the new start.
    let move_mail = other
        .iter()
        .find(|m| {
            m.subject
                .as_deref()
                .unwrap()
                .starts_with("Appointment moved")
        })
        .unwrap();
    let ics = &move_mail.attachments[0];
    assert!(ics.content_type.starts_with("text/calendar"));
    assert!(ics.content.contains(&format!("UID:{third_id}@healthsync")));
    let starts_at: chrono::DateTime<Utc> = moved["startsAt"].as_str().unwrap().parse().unwrap();
    assert!(
        ics.content.contains(&format!(
            "DTSTART;TZID=UTC:{}",
            starts_at.format("%Y%m%dT%H%M%S")
        )),
        "{}",
        ics.content
    );
    assert!(move_mail
        .text
        .as_ref()
        .unwrap()
        .contains(&starts_at.format("%H:%M").to_string()));
    // The cancellation's calendar file cancels the booked event.
    let cancel_mail = other
        .iter()
        .find(|m| {
            m.subject
                .as_deref()
                .unwrap()
                .starts_with("Appointment cancelled")
        })
        .unwrap();
    let ics = &cancel_mail.attachments[0].content;
    assert!(ics.contains(&format!("UID:{second_id}@healthsync")));
    assert!(ics.contains("STATUS:CANCELLED"));
    // Every email is recorded as sent.
    assert_eq!(
        app.count_rows("email_outbox WHERE status = 'SENT'").await,
        9
    );
}

/// Two `serve` processes relaying one outbox: each email reaches the server exactly once.
#[tokio::test]
async fn two_processes_send_each_email_once() {
    let sink = SmtpSink::start().await;
    let app = TestApp::spawn_with(through(&sink)).await;
    let sibling = app.sibling().await;
    let admin = app.admin().await;
    let doctor = app.staff(&admin, "DOCTOR").await;
    let desk = app.staff(&admin, "RECEPTIONIST").await;
    let doctor_id = doctor.profile_id.clone().unwrap();
    let (date, day) = day_ahead(3);
    app.schedule(&admin, &doctor_id, day, "08:00", "18:00", 15)
        .await;
    let slots = app.free_slots(&doctor_id, date).await;
    let mut patients = Vec::new();
    for (i, slot) in slots.iter().take(12).enumerate() {
        let patient = app.patient().await;
        let target = if i % 2 == 0 { &app } else { &sibling };
        let (status, booked) = target
            .book(&desk.token, slot, patient.profile_id.as_deref())
            .await;
        assert_eq!(status, 201, "{booked}");
        let id = booked["id"].as_str().unwrap().to_owned();
        let (status, body) = post(
            if i % 2 == 0 { &sibling } else { &app },
            &format!("/appointments/{id}/cancel"),
            Some(&desk.token),
            json!({ "reason": "Called" }),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        patients.push(patient);
    }
    let mails = exactly(&sink, 24, Duration::from_millis(800)).await;
    let mut ids: Vec<String> = mails.iter().filter_map(|m| m.message_id.clone()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 24, "no email twice");
    for p in &patients {
        assert_eq!(
            to(&mails, &p.email).len(),
            2,
            "a booking and a cancellation"
        );
    }
}

/// The SMTP server down across two attempts (connection refused), then back: the email waits
/// in the outbox with back-off (30 s, then 60 s by the clinic's clock) and is sent once when
/// the server is back; a server's temporary refusal (451) is retried the same way.
#[tokio::test]
async fn a_server_down_for_a_while_then_back() {
    let mut sink = SmtpSink::start().await;
    let (app, clock) = TestApp::spawn_with_manual_clock(|c| {
        c.smtp_url = Some(sink.url());
        // The test runs the relay's step itself.
        c.email_relay_interval_ms = 60_000;
        c.email_timeout_ms = 2000;
    })
    .await;
    sink.stop().await;
    let patient = app.patient().await;
    let (status, body) = post(
        &app,
        "/auth/forgot-password",
        None,
        json!({ "email": patient.email }),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let pass = || api_http::jobs::send_emails_once(&app.app);
    let attempts = || async {
        app.count_rows("email_outbox WHERE status = 'PENDING'")
            .await
    };
    assert_eq!(pass().await.unwrap().retrying, 1, "refused: retry later");
    // Not due again before the back-off.
    clock.advance(chrono::Duration::seconds(29));
    assert_eq!(pass().await.unwrap(), Default::default());
    clock.advance(chrono::Duration::seconds(2));
    assert_eq!(pass().await.unwrap().retrying, 1, "still down");
    clock.advance(chrono::Duration::seconds(59));
    assert_eq!(pass().await.unwrap(), Default::default(), "60 s this time");
    assert_eq!(attempts().await, 1);
    sink.restart().await;
    clock.advance(chrono::Duration::seconds(2));
    assert_eq!(pass().await.unwrap().sent, 1);
    assert_eq!(pass().await.unwrap(), Default::default());
    let mails = exactly(&sink, 1, Duration::from_millis(200)).await;
    assert!(mails[0]
        .subject
        .as_deref()
        .unwrap()
        .starts_with("Reset your"));

    // A temporary refusal by the server is retried the same way.
    let refusing = SmtpSink::start_failing_first(1).await;
    let (other, clock) = TestApp::spawn_with_manual_clock(|c| {
        c.smtp_url = Some(refusing.url());
        c.email_relay_interval_ms = 60_000;
    })
    .await;
    let patient = other.patient().await;
    post(
        &other,
        "/auth/forgot-password",
        None,
        json!({ "email": patient.email }),
    )
    .await;
    let pass = || api_http::jobs::send_emails_once(&other.app);
    assert_eq!(pass().await.unwrap().retrying, 1, "451: retry later");
    clock.advance(chrono::Duration::seconds(31));
    assert_eq!(pass().await.unwrap().sent, 1);
    exactly(&refusing, 1, Duration::from_millis(200)).await;
}

/// The reset link from an email: `hsrst_` and 64 hex digits after `#token=`.
fn token_in(mail: &Mail) -> String {
    let text = mail.text.as_deref().unwrap();
    let at = text.find("#token=").expect("a reset link") + "#token=".len();
    text[at..at + 70].to_owned()
}

async fn reset(app: &TestApp, token: &str, password: &str) -> (u16, Value) {
    post(
        app,
        "/auth/reset-password",
        None,
        json!({ "token": token, "newPassword": password }),
    )
    .await
}

async fn forgot(app: &TestApp, email: &str) -> (u16, Value) {
    post(
        app,
        "/auth/forgot-password",
        None,
        json!({ "email": email }),
    )
    .await
}

async fn me(app: &TestApp, account: &Account) -> u16 {
    app.json(Method::GET, "/me", Some(&account.token), None)
        .await
        .0
}

/// The whole flow: a link by email (the same answer for an unknown address, which gets no
/// email), a weak password refused without spending the link, the new password set once with
/// every session ended, the link dead after use, another account's link untouched, an older
/// link closed by a newer one, expiry after 30 minutes, the admin's link, and the audit trail.
#[tokio::test]
async fn password_reset_end_to_end() {
    let sink = SmtpSink::start().await;
    let (app, clock) = TestApp::spawn_with_manual_clock(through(&sink)).await;
    let admin = app.admin().await;
    let ann = app.patient().await;
    let bob = app.patient().await;
    let second_device = {
        let (status, body) = app.login(&ann.email, PASSWORD).await;
        assert_eq!(status, 200, "{body}");
        body["accessToken"].as_str().unwrap().to_owned()
    };

    let (status, known) = forgot(&app, &ann.email.to_uppercase()).await;
    assert_eq!(status, 202, "{known}");
    let (status, unknown) = forgot(&app, "nobody-here@mail.test").await;
    assert_eq!((status, &unknown), (202, &known), "one answer for both");
    let (status, _) = forgot(&app, &bob.email).await;
    assert_eq!(status, 202);
    let mails = exactly(&sink, 2, Duration::from_millis(300)).await;
    let ann_token = token_in(&to(&mails, &ann.email)[0]);
    let bob_token = token_in(&to(&mails, &bob.email)[0]);
    assert!(to(&mails, &ann.email)[0]
        .text
        .as_deref()
        .unwrap()
        .contains("/reset-password#token=hsrst_"));

    // The password policy applies, and a refusal does not spend the link.
    let (status, body) = reset(&app, &ann_token, "short").await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("newPassword")),
        "{body}"
    );
    let (status, body) = reset(&app, &ann_token, "a-new-password-7").await;
    assert_eq!(status, 204, "{body}");
    // Every session of Ann ended; the old password is gone, the new one works.
    assert_eq!(me(&app, &ann).await, 401);
    let (status, _) = app
        .json(Method::GET, "/me", Some(&second_device), None)
        .await;
    assert_eq!(status, 401);
    assert_eq!(app.login(&ann.email, PASSWORD).await.0, 401);
    assert_eq!(app.login(&ann.email, "a-new-password-7").await.0, 200);
    // Used once: the same link again is refused, with the one answer.
    let (status, used) = reset(&app, &ann_token, "another-password-8").await;
    assert_eq!(
        (status, used["field"].as_str()),
        (422, Some("token")),
        "{used}"
    );
    // Ann's link reset Ann only: Bob's password and session stand, and his own link works.
    assert_eq!(me(&app, &bob).await, 200);
    assert_eq!(app.login(&bob.email, PASSWORD).await.0, 200);
    let (status, body) = reset(&app, &bob_token, "bobs-new-password-1").await;
    assert_eq!(status, 204, "{body}");
    // Junk and made-up tokens get the same answer as a used one.
    for junk in ["nope", &format!("hsrst_{}", "0".repeat(64))] {
        let (status, body) = reset(&app, junk, "another-password-8").await;
        assert_eq!(
            (status, &body["message"]),
            (422, &used["message"]),
            "{body}"
        );
    }

    // A newer link closes the older one; a link expires after 30 minutes.
    forgot(&app, &ann.email).await;
    forgot(&app, &ann.email).await;
    let mails = exactly(&sink, 4, Duration::from_millis(300)).await;
    let ann_mails = to(&mails, &ann.email);
    let (older, newer) = (token_in(&ann_mails[1]), token_in(&ann_mails[2]));
    assert_eq!(reset(&app, &older, "another-password-8").await.0, 422);
    clock.advance(chrono::Duration::minutes(31));
    assert_eq!(
        reset(&app, &newer, "another-password-8").await.0,
        422,
        "expired"
    );
    assert_eq!(app.login(&ann.email, "a-new-password-7").await.0, 200);

    // An admin sends the doctor a link; a patient may not; an unknown user is 404.
    let doctor = app.staff(&admin, "DOCTOR").await;
    let path = format!("/users/{}/password-reset", doctor.user_id);
    assert_eq!(
        app.json(Method::POST, &path, Some(&ann.token), None)
            .await
            .0,
        401,
        "Ann's session ended"
    );
    let fresh_ann = app.login(&ann.email, "a-new-password-7").await.1["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.json(Method::POST, &path, Some(&fresh_ann), None)
            .await
            .0,
        403
    );
    let (status, body) = app
        .json(
            Method::POST,
            &format!("/users/{}/password-reset", uuid::Uuid::new_v4()),
            Some(&admin.token),
            None,
        )
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = app
        .json(Method::POST, &path, Some(&admin.token), None)
        .await;
    assert_eq!(status, 202, "{body}");
    let mails = exactly(&sink, 5, Duration::from_millis(300)).await;
    let doctor_token = token_in(&to(&mails, &doctor.email)[0]);
    assert_eq!(
        reset(&app, &doctor_token, "doctors-password-9").await.0,
        204
    );
    assert_eq!(app.login(&doctor.email, "doctors-password-9").await.0, 200);

    // Every step is in the audit trail: requests (the unknown address too), uses, refusals.
    let app = &app;
    let count = |what: &str| {
        let query = format!("audit_outbox WHERE entity = 'password_reset' AND {what}");
        async move { app.count_rows(&query).await }
    };
    assert_eq!(
        count("action = 'CREATE' AND entity_id IS NOT NULL").await,
        5
    );
    assert_eq!(count("action = 'CREATE' AND entity_id IS NULL").await, 1);
    assert_eq!(count("changes->'after' ? 'usedAt'").await, 3);
    assert!(count("changes->'after' ? 'refused'").await >= 5);
    assert_eq!(
        app.count_rows("audit_outbox WHERE entity = 'user' AND changes->'after'->>'password' = 'reset by link'")
            .await,
        3
    );
    // Only hashes are stored: no token appears in the database.
    let stored_as_is = format!("password_resets WHERE token_hash = '{}'", &ann_token[6..]);
    assert_eq!(app.count_rows(&stored_as_is).await, 0);
    assert_eq!(app.count_rows("password_resets").await, 5);
}

/// Per address and per IP budgets: a 429 comes at the same count whether or not an account
/// uses the address.
#[tokio::test]
async fn reset_requests_are_rate_limited_per_address_and_per_ip() {
    let app = TestApp::spawn_with(|c| {
        c.password_reset_per_email_per_hour = 2;
        c.password_reset_per_ip_per_hour = 6;
    })
    .await;
    let patient = app.patient().await;
    for email in [patient.email.as_str(), "nobody-here@mail.test"] {
        assert_eq!(forgot(&app, email).await.0, 202);
        assert_eq!(forgot(&app, email).await.0, 202);
        let response = app
            .call(
                Method::POST,
                "/auth/forgot-password",
                None,
                Some(json!({ "email": email })),
            )
            .await;
        assert_eq!(response.status().as_u16(), 429, "{email}");
        assert!(response.headers().contains_key("retry-after"));
    }
    // Six requests from this IP so far (two refused ones count too): the budget is spent.
    let (status, body) = forgot(&app, "someone-else@mail.test").await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(reset(&app, "hsrst_x", "a-new-password-7").await.0, 429);
}

/// An address with an account and one without are answered alike, at the same moment: both
/// wait out `PASSWORD_RESET_RESPONSE_MS` (250 ms), far longer than either path's work.
#[tokio::test]
async fn reset_requests_take_as_long_for_unknown_addresses() {
    let app = TestApp::spawn_with(|c| {
        c.password_reset_per_email_per_hour = 1000;
        c.password_reset_per_ip_per_hour = 100_000;
    })
    .await;
    let patient = app.patient().await;
    let mut known = Vec::new();
    let mut unknown = Vec::new();
    for i in 0..15 {
        for (email, times) in [
            (patient.email.clone(), &mut known),
            (format!("nobody-{i}@mail.test"), &mut unknown),
        ] {
            let started = Instant::now();
            let (status, _) = forgot(&app, &email).await;
            times.push(started.elapsed());
            assert_eq!(status, 202);
        }
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (k, u) = (median(&mut known), median(&mut unknown));
    let floor = Duration::from_millis(250);
    assert!(
        known.iter().chain(&unknown).all(|t| *t >= floor),
        "every answer waits out the floor"
    );
    assert!(
        k.abs_diff(u) < Duration::from_millis(15),
        "median {k:?} with an account, {u:?} without"
    );
}

/// A recurring series sends one confirmation listing every visit, with one calendar event per
/// visit; cancelling "this and following" sends one cancellation for them all; an emergency
/// walk-in, booked with the patient at the desk, sends nothing.
#[tokio::test]
async fn a_series_is_one_email_and_a_walk_in_none() {
    let sink = SmtpSink::start().await;
    let app = TestApp::spawn_with(through(&sink)).await;
    let admin = app.admin().await;
    let desk = app.staff(&admin, "RECEPTIONIST").await;
    let doctor = app.staff(&admin, "DOCTOR").await;
    let patient = app.patient().await;
    let doctor_id = doctor.profile_id.clone().unwrap();
    let (first, day) = day_ahead(2);
    app.schedule(&admin, &doctor_id, day, "09:00", "10:00", 30)
        .await;
    let (status, series) = post(
        &app,
        "/appointment-series",
        Some(&desk.token),
        json!({ "patientId": patient.profile_id, "doctorId": doctor_id, "firstDate": first,
            "startTime": "09:00", "everyWeeks": 1, "occurrences": 3, "type": "FOLLOW_UP",
            "reason": "Physiotherapy" }),
    )
    .await;
    assert_eq!(status, 201, "{series}");
    let mails = exactly(&sink, 1, Duration::from_millis(500)).await;
    assert_eq!(
        mails[0].subject.as_deref(),
        Some("3 appointments booked at HealthSync Clinic")
    );
    let text = mails[0].text.as_deref().unwrap();
    assert!(text.contains("When 3"), "{text}");
    assert!(!text.contains("Physiotherapy") && !text.contains("Follow"));
    assert_eq!(
        mails[0].attachments[0]
            .content
            .matches("BEGIN:VEVENT")
            .count(),
        3
    );

    let second = series["booked"][1]["appointment"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{series}"))
        .to_owned();
    let (status, body) = post(
        &app,
        &format!("/appointments/{second}/cancel-following"),
        Some(&desk.token),
        json!({ "reason": "Moving away" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let mails = exactly(&sink, 2, Duration::from_millis(500)).await;
    assert_eq!(
        mails[1].subject.as_deref(),
        Some("2 appointments cancelled")
    );

    let (status, body) = post(
        &app,
        "/appointments/walk-ins",
        Some(&desk.token),
        json!({ "patientId": patient.profile_id, "doctorId": doctor_id, "reason": "Chest pain" }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    exactly(&sink, 2, Duration::from_millis(800)).await;
}

/// A slot freed by a cancellation is held for the patient waiting for it, and the patient is
/// told by email (the hold is short; a patient not in the app would miss it), with the time,
/// the doctor, when the hold ends and where to accept it.
#[tokio::test]
async fn a_waiting_patient_is_emailed_the_held_slot() {
    let sink = SmtpSink::start().await;
    let app = TestApp::spawn_with(through(&sink)).await;
    let admin = app.admin().await;
    let desk = app.staff(&admin, "RECEPTIONIST").await;
    let doctor = app.staff(&admin, "DOCTOR").await;
    let (booker, waiting) = (app.patient().await, app.patient().await);
    let doctor_id = doctor.profile_id.clone().unwrap();
    let (date, day) = day_ahead(2);
    app.schedule(&admin, &doctor_id, day, "09:00", "09:30", 30)
        .await;
    let slot = app.free_slots(&doctor_id, date).await.remove(0);
    let (status, booked) = app.book(&booker.token, &slot, None).await;
    assert_eq!(status, 201, "{booked}");
    let (status, body) = post(
        &app,
        "/waitlist",
        Some(&waiting.token),
        json!({ "doctorId": doctor_id, "from": date, "to": date }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = booked["id"].as_str().unwrap();
    let (status, body) = post(
        &app,
        &format!("/appointments/{id}/cancel"),
        Some(&desk.token),
        json!({ "reason": "Called" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // The booker: its confirmation and cancellation. The waiting patient: the offer.
    let mails = exactly(&sink, 3, Duration::from_millis(500)).await;
    let offer = to(&mails, &waiting.email);
    assert_eq!(offer.len(), 1, "{:?}", subjects(&mails));
    let subject = offer[0].subject.as_deref().unwrap();
    assert!(
        subject.starts_with("A time with DOCTOR One is held for you until"),
        "{subject}"
    );
    let text = offer[0].text.as_deref().unwrap();
    assert!(text.contains("/waitlist/offers/"), "{text}");
    assert!(text.contains("Held until"), "{text}");
}
