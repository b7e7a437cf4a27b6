//! Booking against real PostgreSQL and Redis: no double booking under contention, the cache
//! never shows a taken slot, the lifecycle and its role rules.

use std::collections::HashMap;

use diesel::sql_types::{BigInt, Bool};
use diesel::QueryableByName;
use diesel_async::RunQueryDsl;
use e2e::api::{day_ahead, Account};
use e2e::TestApp;
use futures::future::join_all;
use reqwest::Method;
use serde_json::json;

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Flag {
    #[diesel(sql_type = Bool)]
    flag: bool,
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    let mut conn = app.app.pg.get().await.unwrap();
    diesel::sql_query(sql)
        .get_result::<Count>(&mut conn)
        .await
        .unwrap()
        .n
}

struct Clinic {
    admin: Account,
    receptionist: Account,
    doctor: Account,
    doctor_id: String,
}

async fn clinic(app: &TestApp) -> Clinic {
    let admin = app.admin().await;
    let receptionist = app.staff(&admin, "RECEPTIONIST").await;
    let doctor = app.staff(&admin, "DOCTOR").await;
    let doctor_id = doctor.profile_id.clone().unwrap();
    Clinic {
        admin,
        receptionist,
        doctor,
        doctor_id,
    }
}

async fn book_for(
    app: &TestApp,
    token: &str,
    slot: &str,
    patient: Option<String>,
) -> (u16, serde_json::Value) {
    let mut body = json!({ "timeSlotId": slot, "type": "CONSULTATION", "reason": "check-up" });
    if let Some(p) = patient {
        body["patientId"] = json!(p);
    }
    app.json(Method::POST, "/appointments", Some(token), Some(body))
        .await
}

#[tokio::test]
async fn two_hundred_racing_bookings_of_one_slot_make_exactly_one_appointment() {
    let app = TestApp::spawn_with(|c| {
        c.database_pool_size = 16;
        c.store_timeout_ms = 10_000;
    })
    .await;
    let c = clinic(&app).await;
    let (date, day) = day_ahead(3);
    app.schedule(&c.admin, &c.doctor_id, day, "09:00", "10:00", 30)
        .await;
    let slot = app.free_slots(&c.doctor_id, date).await.remove(0);
    let patients = app.seed_patients(200).await;

    let attempts = patients
        .iter()
        .map(|p| book_for(&app, &c.receptionist.token, &slot, Some(p.to_string())));
    let results = join_all(attempts).await;
    let created = results.iter().filter(|(s, _)| *s == 201).count();
    let taken = results
        .iter()
        .filter(|(s, b)| *s == 409 && b["code"] == "SLOT_TAKEN")
        .count();
    assert_eq!(
        (created, taken),
        (1, 199),
        "{:?}",
        results
            .iter()
            .filter(|(s, _)| *s != 201 && *s != 409)
            .collect::<Vec<_>>()
    );
    let active = count(&app, &format!("SELECT count(*) AS n FROM appointments WHERE time_slot_id = '{slot}' AND status <> 'CANCELLED'")).await;
    assert_eq!(active, 1, "one active appointment in the table");
}

#[tokio::test]
async fn five_hundred_patients_racing_for_fifty_slots_fill_each_once_without_overlaps() {
    // 1000 requests at once: Redis multiplexes them on one connection, but PostgreSQL's pool
    // needs room (with the default 8 and 1 s, callers get 503).
    let app = TestApp::spawn_with(|c| {
        c.database_pool_size = 16;
        c.store_timeout_ms = 10_000;
    })
    .await;
    let c = clinic(&app).await;
    let second = app.staff(&c.admin, "DOCTOR").await;
    let second_id = second.profile_id.clone().unwrap();
    let (date, day) = day_ahead(4);
    // Two doctors with the same hours: 25 slots each, pairwise at the same times.
    app.schedule(&c.admin, &c.doctor_id, day, "08:00", "10:05", 5)
        .await;
    app.schedule(&c.admin, &second_id, day, "08:00", "10:05", 5)
        .await;
    let first_slots = app.free_slots(&c.doctor_id, date).await;
    let second_slots = app.free_slots(&second_id, date).await;
    assert_eq!((first_slots.len(), second_slots.len()), (25, 25));
    let patients = app.seed_patients(500).await;

    // Patient i wants time k = i % 25 and asks both doctors at once: it may get only one.
    let (first_slots, second_slots) = (&first_slots, &second_slots);
    let token = c.receptionist.token.as_str();
    let app_ref = &app;
    let attempts = patients.iter().enumerate().flat_map(|(i, p)| {
        let k = i % 25;
        [&first_slots[k], &second_slots[k]]
            .map(move |slot| book_for(app_ref, token, slot, Some(p.to_string())))
    });
    let results = join_all(attempts).await;
    let mut by_status: HashMap<u16, usize> = HashMap::new();
    for (status, body) in &results {
        *by_status.entry(*status).or_default() += 1;
        assert!(
            *status == 201
                || (*status == 409
                    && (body["code"] == "SLOT_TAKEN" || body["code"] == "PATIENT_OVERLAP")),
            "{status} {body}"
        );
    }
    assert_eq!(
        by_status.get(&201),
        Some(&50),
        "every slot booked exactly once: {by_status:?}"
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) AS n FROM appointments WHERE status <> 'CANCELLED'"
        )
        .await,
        50
    );
    let double = count(&app, "SELECT count(*) AS n FROM (SELECT time_slot_id FROM appointments WHERE status <> 'CANCELLED' GROUP BY 1 HAVING count(*) > 1) d").await;
    assert_eq!(double, 0, "no slot twice");
    let overlapping = count(
        &app,
        "SELECT count(*) AS n FROM appointments a JOIN appointments b ON a.patient_id = b.patient_id AND a.id < b.id
          AND a.status IN ('SCHEDULED','CONFIRMED','IN_PROGRESS') AND b.status IN ('SCHEDULED','CONFIRMED','IN_PROGRESS')
          AND tstzrange(a.starts_at, a.ends_at) && tstzrange(b.starts_at, b.ends_at)",
    )
    .await;
    assert_eq!(overlapping, 0, "no patient overlaps itself");
    let taken_flags = count(
        &app,
        "SELECT count(*) AS n FROM time_slots WHERE NOT is_available",
    )
    .await;
    assert_eq!(taken_flags, 50);
}

#[tokio::test]
async fn a_booked_slot_disappears_from_a_warm_cache_at_once_and_returns_when_cancelled() {
    let app = TestApp::spawn().await;
    let c = clinic(&app).await;
    let patient = app.patient().await;
    let (date, day) = day_ahead(3);
    app.schedule(&c.admin, &c.doctor_id, day, "14:00", "16:00", 30)
        .await;

    let before = app.free_slots(&c.doctor_id, date).await;
    assert_eq!(before.len(), 4);
    let key = format!("slots:{}:{date}", c.doctor_id);
    assert!(
        app.app.redis.get(&key).await.unwrap().is_some(),
        "the first read warmed {key}"
    );
    assert_eq!(
        app.free_slots(&c.doctor_id, date).await,
        before,
        "served warm"
    );

    let (status, booked) = book_for(&app, &patient.token, &before[1], None).await;
    assert_eq!(status, 201, "{booked}");
    let after = app.free_slots(&c.doctor_id, date).await;
    assert_eq!(after.len(), 3);
    assert!(!after.contains(&before[1]), "nobody is shown a taken slot");

    let path = format!("/appointments/{}/cancel", booked["id"].as_str().unwrap());
    let (status, cancelled) = app
        .json(
            Method::POST,
            &path,
            Some(&patient.token),
            Some(json!({ "reason": "feeling better" })),
        )
        .await;
    assert_eq!(
        (status, cancelled["status"].as_str()),
        (200, Some("CANCELLED")),
        "{cancelled}"
    );
    assert_eq!(
        app.free_slots(&c.doctor_id, date).await,
        before,
        "the slot is free again"
    );
}

#[tokio::test]
async fn a_visit_runs_through_the_status_machine_with_each_role_doing_its_step() {
    let app = TestApp::spawn().await;
    let c = clinic(&app).await;
    let patient = app.patient().await;
    let other = app.patient().await;
    let (date, day) = day_ahead(2);
    app.schedule(&c.admin, &c.doctor_id, day, "10:00", "11:00", 30)
        .await;
    let slots = app.free_slots(&c.doctor_id, date).await;
    let (status, a) = book_for(&app, &patient.token, &slots[0], None).await;
    assert_eq!(status, 201);
    assert_eq!(a["status"], "SCHEDULED");
    assert_eq!(a["consultationFee"], "80.50", "the fee quoted at booking");
    let id = a["id"].as_str().unwrap();

    // The doctor's fee changes later; the appointment keeps the quoted one.
    let (status, _) = app
        .json(
            Method::PATCH,
            &format!("/doctors/{}", c.doctor_id),
            Some(&c.admin.token),
            Some(json!({ "consultationFee": "120.00" })),
        )
        .await;
    assert_eq!(status, 200);

    let step = |who: &Account, action: &str| {
        let (app, token, path) = (
            &app,
            who.token.clone(),
            format!("/appointments/{id}/{action}"),
        );
        async move { app.json(Method::POST, &path, Some(&token), None).await }
    };
    assert_eq!(
        app.json(
            Method::GET,
            &format!("/appointments/{id}"),
            Some(&other.token),
            None
        )
        .await
        .0,
        404,
        "not yours: 404"
    );
    assert_eq!(
        step(&patient, "start").await.0,
        403,
        "only its doctor starts it"
    );
    let (status, body) = step(&c.doctor, "complete").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("INVALID_TRANSITION"))
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("CONFIRMED, CANCELLED"),
        "names the allowed moves: {body}"
    );
    assert_eq!(step(&patient, "confirm").await.1["status"], "CONFIRMED");
    assert_eq!(step(&c.doctor, "start").await.1["status"], "IN_PROGRESS");
    let (status, body) = app
        .json(
            Method::POST,
            &format!("/appointments/{id}/cancel"),
            Some(&c.receptionist.token),
            Some(json!({ "reason": "x" })),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("INVALID_TRANSITION")),
        "no cancelling once in progress"
    );
    let (status, done) = step(&c.doctor, "complete").await;
    assert_eq!(
        (
            status,
            done["status"].as_str(),
            done["consultationFee"].as_str()
        ),
        (200, Some("COMPLETED"), Some("80.50"))
    );

    // Listing by role: the patient sees its own, the doctor its day, the desk everything.
    let (_, mine) = app
        .json(Method::GET, "/appointments", Some(&patient.token), None)
        .await;
    assert_eq!(mine["total"], 1);
    let (_, theirs) = app
        .json(Method::GET, "/appointments", Some(&other.token), None)
        .await;
    assert_eq!(theirs["total"], 0);
    let (_, day_list) = app
        .json(
            Method::GET,
            "/appointments?status=COMPLETED",
            Some(&c.doctor.token),
            None,
        )
        .await;
    assert_eq!(day_list["total"], 1);

    let notifications = count(&app, &format!("SELECT count(*) AS n FROM notifications WHERE appointment_id = '{id}' AND type = 'BOOKING_CONFIRMATION'")).await;
    assert_eq!(notifications, 2, "patient and doctor were notified");
}

#[tokio::test]
async fn booking_rules_patients_cancel_notice_and_schedule_changes_keep_booked_slots() {
    let app = TestApp::spawn().await;
    let c = clinic(&app).await;
    let patient = app.patient().await;
    let (tomorrowish, day) = day_ahead(1);
    app.schedule(&c.admin, &c.doctor_id, day, "23:00", "23:30", 30)
        .await;
    let (later, later_day) = day_ahead(5);
    let schedule = app
        .schedule(&c.admin, &c.doctor_id, later_day, "09:00", "11:00", 30)
        .await;

    // Overlapping schedule, bad rules.
    let (status, body) = app
        .json(Method::POST, &format!("/doctors/{}/schedules", c.doctor_id), Some(&c.admin.token),
              Some(json!({ "dayOfWeek": later_day, "startTime": "10:00", "endTime": "12:00", "slotDurationMinutes": 30 })))
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("SCHEDULE_OVERLAP"))
    );
    let (status, body) = app
        .json(Method::POST, &format!("/doctors/{}/schedules", c.doctor_id), Some(&patient.token),
              Some(json!({ "dayOfWeek": "MON", "startTime": "10:00", "endTime": "12:00", "slotDurationMinutes": 30 })))
        .await;
    assert_eq!(status, 403, "{body}");

    // A patient cannot cancel inside the 24-hour notice period (the slot starts within ~48 h
    // of now; pick the one that is closest).
    let soon = app.free_slots(&c.doctor_id, tomorrowish).await;
    if let Some(slot) = <[String]>::first(&soon) {
        let (_, booked) = book_for(&app, &patient.token, slot, None).await;
        let starts =
            chrono::DateTime::parse_from_rfc3339(booked["startsAt"].as_str().unwrap()).unwrap();
        let (status, body) = app
            .json(
                Method::POST,
                &format!("/appointments/{}/cancel", booked["id"].as_str().unwrap()),
                Some(&patient.token),
                Some(json!({ "reason": "r" })),
            )
            .await;
        if starts.with_timezone(&chrono::Utc) - chrono::Utc::now() < chrono::Duration::hours(24) {
            assert_eq!(
                (status, body["field"].as_str()),
                (422, Some("status")),
                "{body}"
            );
        } else {
            assert_eq!(status, 200, "{body}");
        }
    }

    // Book one later slot, then change the schedule: the booked slot survives, the unbooked
    // ones are regenerated from the new rule.
    let slots = app.free_slots(&c.doctor_id, later).await;
    assert_eq!(slots.len(), 4);
    let (status, _) = book_for(&app, &patient.token, &slots[0], None).await;
    assert_eq!(status, 201);
    let (status, body) = app
        .json(Method::PUT, &format!("/schedules/{schedule}"), Some(&c.doctor.token),
              Some(json!({ "dayOfWeek": later_day, "startTime": "13:00", "endTime": "14:00", "slotDurationMinutes": 20 })))
        .await;
    assert_eq!(status, 200, "the doctor manages its own schedule: {body}");
    let (_, free) = app
        .json(
            Method::GET,
            &format!("/doctors/{}/slots?date={later}", c.doctor_id),
            None,
            None,
        )
        .await;
    let starts: Vec<&str> = free
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["startTime"].as_str().unwrap())
        .collect();
    assert_eq!(starts, ["13:00:00", "13:20:00", "13:40:00"]);
    let kept = count(
        &app,
        &format!(
            "SELECT count(*) AS n FROM time_slots WHERE id = '{}'",
            slots[0]
        ),
    )
    .await;
    assert_eq!(kept, 1, "the booked slot is never touched");

    // Deactivating withdraws the rest.
    let (status, _) = app
        .json(Method::PUT, &format!("/schedules/{schedule}"), Some(&c.admin.token),
              Some(json!({ "dayOfWeek": later_day, "startTime": "13:00", "endTime": "14:00", "slotDurationMinutes": 20, "isActive": false })))
        .await;
    assert_eq!(status, 200);
    assert!(app.free_slots(&c.doctor_id, later).await.is_empty());

    // A slot id that does not exist; a taken slot; staff must name the patient.
    let (status, _) = book_for(
        &app,
        &patient.token,
        &uuid::Uuid::new_v4().to_string(),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, body) = book_for(&app, &c.receptionist.token, &slots[0], None).await;
    assert_eq!((status, body["field"].as_str()), (422, Some("patientId")));
    let (status, body) = book_for(
        &app,
        &c.receptionist.token,
        &slots[0],
        patient.profile_id.clone(),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (409, Some("SLOT_TAKEN")));
    let (status, _) = book_for(&app, &c.doctor.token, &slots[1], patient.profile_id.clone()).await;
    assert_eq!(status, 403, "doctors do not book");
}

#[tokio::test]
async fn generating_slots_twice_creates_nothing_new() {
    let app = TestApp::spawn().await;
    let c = clinic(&app).await;
    let (_, day) = day_ahead(3);
    app.schedule(&c.admin, &c.doctor_id, day, "09:00", "12:00", 30)
        .await;
    let before = count(&app, "SELECT count(*) AS n FROM time_slots").await;
    assert!(
        before >= 6 * 8,
        "about nine weeks of Mondays-or-whichever: {before}"
    );
    assert_eq!(app.app.scheduling.generate_all().await.unwrap(), 0);
    assert_eq!(
        count(&app, "SELECT count(*) AS n FROM time_slots").await,
        before
    );
    let mut conn = app.app.pg.get().await.unwrap();
    let all_future: Flag =
        diesel::sql_query("SELECT bool_and(starts_at > now()) AS flag FROM time_slots")
            .get_result(&mut conn)
            .await
            .unwrap();
    assert!(all_future.flag);
}

#[tokio::test]
async fn reschedule_moves_in_one_transaction_and_walk_ins_take_no_slot() {
    let app = TestApp::spawn().await;
    let c = clinic(&app).await;
    let patient = app.patient().await;
    let (date, day) = day_ahead(4);
    app.schedule(&c.admin, &c.doctor_id, day, "09:00", "10:30", 30)
        .await;
    let slots = app.free_slots(&c.doctor_id, date).await;
    let (_, a) = book_for(&app, &patient.token, &slots[0], None).await;
    let id = a["id"].as_str().unwrap().to_owned();
    let other = app.patient().await;
    let (status, _) = book_for(&app, &other.token, &slots[1], None).await;
    assert_eq!(status, 201);

    let move_to = |slot: &str| {
        let (app, token, path, body) = (
            &app,
            patient.token.clone(),
            format!("/appointments/{id}/reschedule"),
            json!({ "timeSlotId": slot }),
        );
        async move {
            app.json(Method::POST, &path, Some(&token), Some(body))
                .await
        }
    };
    let (status, body) = move_to(&slots[1]).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("SLOT_TAKEN")),
        "nothing changes"
    );
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT count(*) AS n FROM appointments WHERE id = '{id}' AND time_slot_id = '{}'",
                slots[0]
            )
        )
        .await,
        1
    );

    let (status, moved) = move_to(&slots[2]).await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["timeSlotId"], slots[2].as_str());
    let free = app.free_slots(&c.doctor_id, date).await;
    assert!(
        free.contains(&slots[0]) && !free.contains(&slots[2]),
        "old slot freed, new slot taken, cache dropped"
    );

    // Walk-ins: staff only, no slot, EMERGENCY.
    let walk_in =
        json!({ "patientId": other.profile_id, "doctorId": c.doctor_id, "reason": "chest pain" });
    let (status, _) = app
        .json(
            Method::POST,
            "/appointments/walk-ins",
            Some(&patient.token),
            Some(walk_in.clone()),
        )
        .await;
    assert_eq!(status, 403);
    let (status, w) = app
        .json(
            Method::POST,
            "/appointments/walk-ins",
            Some(&c.receptionist.token),
            Some(walk_in.clone()),
        )
        .await;
    assert_eq!(status, 201, "{w}");
    assert_eq!(
        (w["type"].as_str(), w["timeSlotId"].is_null()),
        (Some("EMERGENCY"), true)
    );
    let (status, body) = app
        .json(
            Method::POST,
            "/appointments/walk-ins",
            Some(&c.receptionist.token),
            Some(walk_in),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("PATIENT_OVERLAP")),
        "already being seen"
    );
    assert_eq!(
        app.free_slots(&c.doctor_id, date).await,
        free,
        "walk-ins take no slot"
    );
}

#[tokio::test]
async fn a_retried_booking_with_the_same_idempotency_key_returns_the_first_result() {
    let app = TestApp::spawn().await;
    let c = clinic(&app).await;
    let patient = app.patient().await;
    let (date, day) = day_ahead(3);
    app.schedule(&c.admin, &c.doctor_id, day, "09:00", "10:00", 30)
        .await;
    let slots = app.free_slots(&c.doctor_id, date).await;
    let send = |slot: &str, key: &str| {
        let request = app
            .client
            .post(app.url("/appointments"))
            .bearer_auth(&patient.token)
            .header("idempotency-key", key)
            .json(&json!({ "timeSlotId": slot, "type": "CONSULTATION", "reason": "check-up" }));
        async move {
            let response = request.send().await.unwrap();
            (
                response.status().as_u16(),
                response.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    let (first_status, first) = send(&slots[0], "retry-1").await;
    let (second_status, second) = send(&slots[0], "retry-1").await;
    assert_eq!((first_status, second_status), (201, 201));
    assert_eq!(
        first, second,
        "the same answer, not a second booking (nor a 409)"
    );
    assert_eq!(
        count(&app, "SELECT count(*) AS n FROM appointments").await,
        1
    );

    let (status, body) = send(&slots[1], "retry-1").await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("Idempotency-Key")),
        "same key, other request"
    );
    let (status, _) = send(&slots[1], "retry-2").await;
    assert_eq!(
        status, 201,
        "a new key books anew (09:30 touches 09:00-09:30 without overlapping)"
    );
    assert_eq!(
        count(&app, "SELECT count(*) AS n FROM appointments").await,
        2
    );
}

#[tokio::test]
async fn reminders_are_written_once_per_appointment_even_by_two_processes() {
    // The reminder job's step runs when the test says, at the manual clock's now.
    let (app, clock) = TestApp::spawn_with_manual_clock(|_| {}).await;
    let c = clinic(&app).await;
    let patient = app.patient().await;
    let (date, day) = day_ahead(3);
    app.schedule(&c.admin, &c.doctor_id, day, "09:00", "10:00", 30)
        .await;
    let slots = app.free_slots(&c.doctor_id, date).await;
    let (status, body) = book_for(&app, &patient.token, &slots[0], None).await;
    assert_eq!(status, 201, "{body}");
    let starts_at: chrono::DateTime<chrono::Utc> =
        body["startsAt"].as_str().unwrap().parse().unwrap();
    let reminders = || {
        count(
            &app,
            "SELECT count(*) AS n FROM notifications WHERE type = 'REMINDER'",
        )
    };
    // REMINDER_LEAD_MINUTES is 1440: not yet 24 h before the start, nothing is due.
    clock.set(starts_at - chrono::Duration::hours(24) - chrono::Duration::minutes(1));
    assert_eq!(
        api_http::jobs::send_reminders_once(&app.app).await.unwrap(),
        0
    );
    // Inside the lead time: two processes' steps at once write one reminder.
    clock.set(starts_at - chrono::Duration::hours(23));
    let (a, b) = tokio::join!(
        api_http::jobs::send_reminders_once(&app.app),
        api_http::jobs::send_reminders_once(&app.app)
    );
    assert_eq!(
        a.unwrap() + b.unwrap(),
        1,
        "two runs at once write one reminder"
    );
    clock.advance(chrono::Duration::hours(1));
    assert_eq!(
        api_http::jobs::send_reminders_once(&app.app).await.unwrap(),
        0,
        "and never again"
    );
    assert_eq!(reminders().await, 1);
}

#[tokio::test]
async fn a_slot_that_has_started_or_a_doctor_not_taking_appointments_cannot_be_booked() {
    let app = TestApp::spawn().await;
    let c = clinic(&app).await;
    let patient = app.patient().await;
    let (date, day) = day_ahead(3);
    let schedule = app
        .schedule(&c.admin, &c.doctor_id, day, "09:00", "10:00", 30)
        .await;
    let slots = app.free_slots(&c.doctor_id, date).await;

    let (status, _) = app
        .json(
            Method::PATCH,
            &format!("/doctors/{}", c.doctor_id),
            Some(&c.doctor.token),
            Some(json!({ "isAvailable": false })),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = book_for(&app, &patient.token, &slots[0], None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("DOCTOR_UNAVAILABLE"))
    );
    app.json(
        Method::PATCH,
        &format!("/doctors/{}", c.doctor_id),
        Some(&c.doctor.token),
        Some(json!({ "isAvailable": true })),
    )
    .await;

    // A slot that started an hour ago (generation never makes one; insert it directly).
    let past = uuid::Uuid::new_v4();
    let mut conn = app.app.pg.get().await.unwrap();
    diesel::sql_query(format!(
        "INSERT INTO time_slots (id, schedule_id, doctor_id, date, start_time, end_time, starts_at, ends_at)
         VALUES ('{past}', '{schedule}', '{}', current_date - 7, '08:00', '08:30', now() - interval '1 hour', now() - interval '30 minutes')",
        c.doctor_id
    ))
    .execute(&mut conn)
    .await
    .unwrap();
    let (status, body) = book_for(&app, &patient.token, &past.to_string(), None).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("timeSlotId")),
        "{body}"
    );
    let (status, _) = book_for(&app, &patient.token, &slots[0], None).await;
    assert_eq!(status, 201, "available again");
}
