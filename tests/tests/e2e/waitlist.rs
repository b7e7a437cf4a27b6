//! Issue 14, the waitlist: a freed slot is held for the patient waiting longest, who accepts
//! (booked in one transaction) or declines or lets it expire (the next one gets it); one open
//! offer per slot with two processes matching at once; an accepting patient and the desk
//! racing for the held slot have one winner.

use chrono::{Duration, Utc};
use domain::clock::Clock;
use e2e::api::{day_ahead, Account};
use e2e::TestApp;
use reqwest::Method;
use serde_json::{json, Value};

/// A doctor whose `slots` morning slots on `date` (09:00, 30 minutes each) are all booked by
/// the desk for patients of their own; returns the doctor, the desk and the bookings' ids.
async fn full_morning(
    app: &TestApp,
    admin: &Account,
    days_ahead: i64,
    slots: u32,
) -> (Account, Account, chrono::NaiveDate, Vec<String>) {
    let doctor = app.staff(admin, "DOCTOR").await;
    let desk = app.staff(admin, "RECEPTIONIST").await;
    let doctor_id = doctor.profile_id.clone().unwrap();
    let (date, day) = day_ahead(days_ahead);
    let end = format!("{:02}:{:02}", 9 + slots * 30 / 60, slots * 30 % 60);
    app.schedule(admin, &doctor_id, day, "09:00", &end, 30)
        .await;
    let mut booked = Vec::new();
    for slot in app.free_slots(&doctor_id, date).await {
        let patient = app.patient().await;
        let (status, body) = app
            .book(&desk.token, &slot, patient.profile_id.as_deref())
            .await;
        assert_eq!(status, 201, "{body}");
        booked.push(body["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(booked.len(), slots as usize);
    (doctor, desk, date, booked)
}

async fn join(app: &TestApp, who: &Account, body: Value) -> (u16, Value) {
    app.json(Method::POST, "/waitlist", Some(&who.token), Some(body))
        .await
}

async fn entry(app: &TestApp, who: &Account, id: &str) -> Value {
    let (status, body) = app
        .json(
            Method::GET,
            &format!("/waitlist/{id}"),
            Some(&who.token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn cancel(app: &TestApp, desk: &Account, appointment: &str) {
    let (status, body) = app
        .json(
            Method::POST,
            &format!("/appointments/{appointment}/cancel"),
            Some(&desk.token),
            Some(json!({ "reason": "The patient called" })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

fn accept_body() -> Value {
    json!({ "reason": "From the waitlist" })
}

/// Joining, the rules of who sees what, an offer on a cancellation (held: hidden from
/// availability, refused to the desk for someone else), declining passes it to the next
/// patient, accepting books it; a part of the day that does not match gets nothing.
#[tokio::test]
async fn a_freed_slot_is_offered_in_turn_and_accepting_books_it() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (doctor, desk, date, booked) = full_morning(&app, &admin, 3, 2).await;
    let doctor_id = doctor.profile_id.clone().unwrap();
    let (first, second, evening) = (
        app.patient().await,
        app.patient().await,
        app.patient().await,
    );
    let range =
        |part: Value| json!({ "doctorId": doctor_id, "from": date, "to": date, "partOfDay": part });

    for (body, field) in [
        (
            json!({ "doctorId": doctor_id, "from": Utc::now().date_naive() - Duration::days(1), "to": date }),
            "from",
        ),
        (
            json!({ "doctorId": doctor_id, "from": date, "to": date - Duration::days(1) }),
            "to",
        ),
        (
            json!({ "doctorId": doctor_id, "from": date, "to": date + Duration::days(90) }),
            "to",
        ),
        (
            json!({ "doctorId": doctor_id, "from": date, "to": date, "partOfDay": "NIGHT" }),
            "partOfDay",
        ),
    ] {
        let (status, got) = join(&app, &first, body.clone()).await;
        assert_eq!(
            (status, got["field"].as_str()),
            (422, Some(field)),
            "{body}: {got}"
        );
    }
    let (status, _) = join(&app, &doctor, range(Value::Null)).await;
    assert_eq!(status, 403, "doctors do not wait");
    let (status, _) = join(&app, &desk, range(Value::Null)).await;
    assert_eq!(status, 422, "the desk names the patient");

    let (status, a) = join(&app, &first, range(json!("MORNING"))).await;
    assert_eq!(
        (status, a["status"].as_str()),
        (201, Some("WAITING")),
        "{a}"
    );
    let (status, body) = join(&app, &first, range(Value::Null)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("ALREADY_WAITING")),
        "{body}"
    );
    let (status, b) = join(
        &app,
        &desk,
        json!({ "doctorId": doctor_id, "patientId": second.profile_id, "from": date, "to": date }),
    )
    .await;
    assert_eq!(status, 201, "{b}");
    let (_, c) = join(&app, &evening, range(json!("EVENING"))).await;
    let (a_id, b_id, c_id) = (
        a["id"].as_str().unwrap(),
        b["id"].as_str().unwrap(),
        c["id"].as_str().unwrap(),
    );

    // Who sees what: a patient its own, the doctor its list, the desk all; others 404.
    let (_, mine) = app
        .json(Method::GET, "/waitlist", Some(&first.token), None)
        .await;
    assert_eq!(mine["total"], 1);
    let (_, theirs) = app
        .json(Method::GET, "/waitlist", Some(&doctor.token), None)
        .await;
    assert_eq!(theirs["total"], 3);
    let (_, all) = app
        .json(
            Method::GET,
            &format!("/waitlist?doctorId={doctor_id}&status=WAITING"),
            Some(&desk.token),
            None,
        )
        .await;
    let order: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(order, [a_id, b_id, c_id], "oldest first");
    let (status, _) = app
        .json(
            Method::GET,
            &format!("/waitlist/{a_id}"),
            Some(&second.token),
            None,
        )
        .await;
    assert_eq!(status, 404);

    // A cancellation frees 09:00: held for the first patient at once.
    cancel(&app, &desk, &booked[0]).await;
    let a_now = entry(&app, &first, a_id).await;
    assert_eq!(a_now["status"], "OFFERED", "{a_now}");
    let offer = a_now["offer"].clone();
    let offer_id = offer["id"].as_str().unwrap().to_owned();
    let slot = offer["slotId"].as_str().unwrap().to_owned();
    assert_eq!(entry(&app, &second, b_id).await["status"], "WAITING");
    let (_, notes) = app
        .json(Method::GET, "/notifications", Some(&first.token), None)
        .await;
    assert!(
        notes["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["title"] == "A slot is held for you"),
        "{notes}"
    );
    assert!(
        app.free_slots(&doctor_id, date).await.is_empty(),
        "held: hidden"
    );
    let someone = app.patient().await;
    let (status, body) = app
        .book(&desk.token, &slot, someone.profile_id.as_deref())
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("SLOT_HELD")),
        "{body}"
    );
    // Nobody else answers it.
    for who in [&second, &doctor] {
        let (status, _) = app
            .json(
                Method::POST,
                &format!("/waitlist/offers/{offer_id}/decline"),
                Some(&who.token),
                None,
            )
            .await;
        assert!(status == 404 || status == 403, "{status}");
    }

    // Declined: the first keeps waiting, the second gets this slot.
    let (status, body) = app
        .json(
            Method::POST,
            &format!("/waitlist/offers/{offer_id}/decline"),
            Some(&first.token),
            None,
        )
        .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(entry(&app, &first, a_id).await["status"], "WAITING");
    let b_now = entry(&app, &second, b_id).await;
    assert_eq!(b_now["status"], "OFFERED", "{b_now}");
    assert_eq!(b_now["offer"]["slotId"], slot.as_str());
    let second_offer = b_now["offer"]["id"].as_str().unwrap().to_owned();
    let (status, visit) = app
        .json(
            Method::POST,
            &format!("/waitlist/offers/{second_offer}/accept"),
            Some(&second.token),
            Some(accept_body()),
        )
        .await;
    assert_eq!(status, 201, "{visit}");
    assert_eq!(visit["timeSlotId"], slot.as_str());
    assert_eq!(visit["patientId"], second.profile_id.as_deref().unwrap());
    assert_eq!(entry(&app, &second, b_id).await["status"], "BOOKED");
    let (status, _) = app
        .json(
            Method::POST,
            &format!("/waitlist/offers/{second_offer}/accept"),
            Some(&second.token),
            Some(accept_body()),
        )
        .await;
    assert_eq!(status, 409, "answered already: OFFER_CLOSED");

    // The first leaves; the evening patient never matched a morning slot.
    cancel(&app, &desk, &booked[1]).await;
    let a_now = entry(&app, &first, a_id).await;
    assert_eq!(a_now["status"], "OFFERED");
    let (status, _) = app
        .json(
            Method::DELETE,
            &format!("/waitlist/{a_id}"),
            Some(&first.token),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(entry(&app, &first, a_id).await["status"], "LEFT");
    assert_eq!(entry(&app, &evening, c_id).await["status"], "WAITING");
    assert_eq!(
        app.free_slots(&doctor_id, date).await.len(),
        1,
        "released to everyone"
    );
}

/// On a manual clock: an offer not answered within WAITLIST_HOLD_MINUTES expires when the job
/// runs, the next patient gets the slot, and the late answer is refused.
#[tokio::test]
async fn an_unanswered_offer_expires_and_passes_to_the_next_patient() {
    let (app, clock) = TestApp::spawn_with_manual_clock(|c| c.waitlist_hold_minutes = 20).await;
    let admin = app.admin().await;
    let (doctor, desk, date, booked) = full_morning(&app, &admin, 4, 1).await;
    let doctor_id = doctor.profile_id.clone().unwrap();
    let (first, second) = (app.patient().await, app.patient().await);
    let range = json!({ "doctorId": doctor_id, "from": date, "to": date });
    let (_, a) = join(&app, &first, range.clone()).await;
    // First come, first served goes by the clinic's clock, which stands still here.
    clock.advance(Duration::seconds(1));
    let (status, b) = join(&app, &second, range).await;
    assert_eq!(status, 201, "{b}");
    cancel(&app, &desk, &booked[0]).await;
    let a_id = a["id"].as_str().unwrap();
    let offer = entry(&app, &first, a_id).await["offer"].clone();
    let expires: chrono::DateTime<Utc> = offer["expiresAt"].as_str().unwrap().parse().unwrap();
    // Stored to the microsecond.
    assert!((expires - (clock.now() + Duration::minutes(20))).abs() < Duration::milliseconds(1));

    clock.advance(Duration::minutes(21));
    // Past the hold, before the job: the answer is refused already.
    let offer_id = offer["id"].as_str().unwrap();
    let (status, body) = app
        .json(
            Method::POST,
            &format!("/waitlist/offers/{offer_id}/accept"),
            Some(&first.token),
            Some(accept_body()),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("OFFER_CLOSED")),
        "{body}"
    );
    assert_eq!(
        api_http::jobs::match_waitlist_once(&app.app).await.unwrap(),
        1
    );
    assert_eq!(
        entry(&app, &first, a_id).await["status"],
        "WAITING",
        "not offered the same slot again"
    );
    let b_now = entry(&app, &second, b["id"].as_str().unwrap()).await;
    assert_eq!(b_now["status"], "OFFERED");
    assert_eq!(b_now["offer"]["slotId"], offer["slotId"]);
}

/// Two processes matching at once while eight slots free up through both: every slot gets
/// exactly one open offer and every waiting patient one.
#[tokio::test]
async fn two_processes_make_exactly_one_offer_per_freed_slot() {
    let app = TestApp::spawn().await;
    let other = app.sibling().await;
    let admin = app.admin().await;
    let (doctor, desk, date, booked) = full_morning(&app, &admin, 5, 8).await;
    let doctor_id = doctor.profile_id.clone().unwrap();
    let mut waiting = Vec::new();
    for _ in 0..10 {
        let p = app.patient().await;
        let (status, e) = join(
            &app,
            &p,
            json!({ "doctorId": doctor_id, "from": date, "to": date }),
        )
        .await;
        assert_eq!(status, 201, "{e}");
        waiting.push(p);
    }
    let cancels = booked.iter().enumerate().map(|(i, id)| {
        let (through, desk) = (if i % 2 == 0 { &app } else { &other }, &desk);
        async move { cancel(through, desk, id).await }
    });
    let matching = (0..6).map(|i| {
        let through = if i % 2 == 0 { &app } else { &other };
        async move {
            api_http::jobs::match_waitlist_once(&through.app)
                .await
                .unwrap()
        }
    });
    let (_, made) = tokio::join!(
        futures::future::join_all(cancels),
        futures::future::join_all(matching)
    );
    // Whatever ran first, one more pass settles anything still unmatched.
    let _ = (
        made,
        api_http::jobs::match_waitlist_once(&other.app)
            .await
            .unwrap(),
    );
    assert_eq!(
        app.count_rows("waitlist_offers WHERE status = 'OPEN'")
            .await,
        8
    );
    assert_eq!(
        app.count_rows("waitlist_offers").await,
        8,
        "no offer was made twice"
    );
    assert_eq!(
        app.count_rows(
            "(SELECT slot_id FROM waitlist_offers GROUP BY slot_id HAVING count(*) > 1) d"
        )
        .await,
        0
    );
    assert_eq!(
        app.count_rows("waitlist_entries WHERE status = 'OFFERED'")
            .await,
        8
    );
    assert_eq!(
        app.count_rows("waitlist_entries WHERE status = 'WAITING'")
            .await,
        2
    );
}

/// The patient accepting a held slot and the desk booking the same slot for that patient at
/// the same moment: one booking, the other refused; the desk booking it for anyone else is
/// refused throughout.
#[tokio::test]
async fn an_accepting_patient_and_the_desk_racing_for_a_held_slot_have_one_winner() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (doctor, desk, date, booked) = full_morning(&app, &admin, 6, 4).await;
    let doctor_id = doctor.profile_id.clone().unwrap();
    for appointment in &booked {
        let patient = app.patient().await;
        let (_, e) = join(
            &app,
            &patient,
            json!({ "doctorId": doctor_id, "from": date, "to": date }),
        )
        .await;
        cancel(&app, &desk, appointment).await;
        let held = entry(&app, &patient, e["id"].as_str().unwrap()).await;
        let offer = held["offer"]["id"].as_str().unwrap().to_owned();
        let slot = held["offer"]["slotId"].as_str().unwrap().to_owned();
        let accept_path = format!("/waitlist/offers/{offer}/accept");
        let (accepted, by_desk) = tokio::join!(
            app.json(
                Method::POST,
                &accept_path,
                Some(&patient.token),
                Some(accept_body())
            ),
            app.book(&desk.token, &slot, patient.profile_id.as_deref())
        );
        let wins = [accepted.0, by_desk.0]
            .iter()
            .filter(|s| **s == 201)
            .count();
        assert_eq!(wins, 1, "{accepted:?} {by_desk:?}");
        for (status, body) in [&accepted, &by_desk] {
            if *status != 201 {
                assert_eq!(*status, 409, "{body}");
            }
        }
        assert_eq!(
            entry(&app, &patient, e["id"].as_str().unwrap()).await["status"],
            "BOOKED"
        );
    }
    assert_eq!(
        app.count_rows("waitlist_offers WHERE status = 'ACCEPTED'")
            .await,
        4
    );
    assert_eq!(app.rollup_differences().await, Vec::<String>::new());
}

/// Offers and entries agree: every open offer's entry is OFFERED and every OFFERED entry has
/// exactly one open offer; no open offer holds a slot inside time off.
async fn offers_agree_with_entries(app: &TestApp) {
    let stray = app
        .count_rows(
            "waitlist_offers o JOIN waitlist_entries e ON e.id = o.entry_id \
             WHERE o.status = 'OPEN' AND e.status <> 'OFFERED'",
        )
        .await;
    assert_eq!(
        stray, 0,
        "an open offer behind an entry that is not OFFERED"
    );
    let bare = app
        .count_rows(
            "waitlist_entries e WHERE e.status = 'OFFERED' AND (SELECT count(*) FROM \
             waitlist_offers o WHERE o.entry_id = e.id AND o.status = 'OPEN') <> 1",
        )
        .await;
    assert_eq!(bare, 0, "an OFFERED entry without exactly one open offer");
    let away = app
        .count_rows(
            "waitlist_offers o JOIN time_slots s ON s.id = o.slot_id WHERE o.status = 'OPEN' \
             AND EXISTS (SELECT 1 FROM time_off t WHERE (t.doctor_id = s.doctor_id OR \
             t.doctor_id IS NULL) AND t.starts_at < s.ends_at AND t.ends_at > s.starts_at)",
        )
        .await;
    assert_eq!(away, 0, "an open offer holding a slot inside time off");
}

/// A patient leaving while the slot it waits for frees up: never an open offer left behind a
/// LEFT entry (the slot would stay held for nobody).
#[tokio::test]
async fn leaving_while_a_slot_frees_up_leaves_no_offer_behind() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let (doctor, desk, date, booked) = full_morning(&app, &admin, 3, 6).await;
    let doctor_id = doctor.profile_id.clone().unwrap();
    for appointment in &booked {
        let patient = app.patient().await;
        let (status, e) = join(
            &app,
            &patient,
            json!({ "doctorId": doctor_id, "from": date, "to": date }),
        )
        .await;
        assert_eq!(status, 201, "{e}");
        let leave_path = format!("/waitlist/{}", e["id"].as_str().unwrap());
        let (_, (left, _)) = tokio::join!(
            cancel(&app, &desk, appointment),
            app.json(Method::DELETE, &leave_path, Some(&patient.token), None)
        );
        assert_eq!(left, 204);
        offers_agree_with_entries(&app).await;
    }
    assert_eq!(
        app.free_slots(&doctor_id, date).await.len(),
        booked.len(),
        "nobody waits: every freed slot is free for all"
    );
}

/// Everything that withdraws, frees or takes slots at once with two processes matching: a
/// schedule change, time off, a series, cancellations, patients joining. Every answer is
/// clean (no 5xx) and offers still agree with entries and time off afterwards.
#[tokio::test]
async fn slot_changes_racing_the_matcher_answer_cleanly_and_keep_offers_consistent() {
    let app = TestApp::spawn().await;
    let other = app.sibling().await;
    let admin = app.admin().await;
    let (doctor, desk, date, booked) = full_morning(&app, &admin, 4, 8).await;
    let doctor_id = doctor.profile_id.clone().unwrap();
    let (_, day) = day_ahead(4);
    let second = app
        .schedule(&admin, &doctor_id, day, "13:00", "15:00", 30)
        .await;
    let mut waiting = Vec::new();
    for _ in 0..6 {
        let p = app.patient().await;
        let (status, e) = join(
            &app,
            &p,
            json!({ "doctorId": doctor_id, "from": date, "to": date + Duration::days(21) }),
        )
        .await;
        assert_eq!(status, 201, "{e}");
        waiting.push(p);
    }
    let series_patient = app.patient().await;
    let mut statuses = Vec::new();
    let cancels = booked.iter().map(|id| {
        let path = format!("/appointments/{id}/cancel");
        let token = desk.token.clone();
        let app = &app;
        async move {
            app.json(
                Method::POST,
                &path,
                Some(&token),
                Some(json!({ "reason": "Called" })),
            )
            .await
            .0
        }
    });
    let schedule_path = format!("/schedules/{second}");
    let change = app.json(
        Method::PUT,
        &schedule_path,
        Some(&admin.token),
        Some(
            json!({ "dayOfWeek": day, "startTime": "13:15", "endTime": "15:15",
                     "slotDurationMinutes": 30, "bufferMinutes": 10 }),
        ),
    );
    let away = app.json(
        Method::POST,
        "/time-off",
        Some(&doctor.token),
        Some(
            json!({ "doctorId": doctor_id, "from": date + Duration::days(7),
                     "to": date + Duration::days(7) }),
        ),
    );
    let series = other.json(
        Method::POST,
        "/appointment-series",
        Some(&desk.token),
        Some(
            json!({ "patientId": series_patient.profile_id, "doctorId": doctor_id,
                     "firstDate": date, "startTime": "09:30", "occurrences": 4,
                     "type": "FOLLOW_UP", "reason": "Physiotherapy" }),
        ),
    );
    let matching = (0..4).map(|i| {
        let through = if i % 2 == 0 { &app } else { &other };
        async move {
            api_http::jobs::match_waitlist_once(&through.app)
                .await
                .is_ok()
        }
    });
    let (cancelled, (changed, _), (recorded, _), (booked_series, _), matched) = tokio::join!(
        futures::future::join_all(cancels),
        change,
        away,
        series,
        futures::future::join_all(matching)
    );
    statuses.extend(cancelled);
    statuses.extend([changed, recorded, booked_series]);
    assert!(statuses.iter().all(|s| *s < 500), "{statuses:?}");
    assert!(
        matched.iter().all(|ok| *ok),
        "every matching pass ran cleanly"
    );
    api_http::jobs::match_waitlist_once(&app.app).await.unwrap();
    offers_agree_with_entries(&app).await;
    assert_eq!(app.rollup_differences().await, Vec::<String>::new());
}
