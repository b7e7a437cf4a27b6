//! Issue 14, time off: a doctor's leave and clinic holidays hide free slots at once (the cache
//! included), are not generated over, refuse booking, leave booked visits booked but listed
//! and notified, and give the slots back when deleted; a booking racing the recording either
//! lands first and is listed, or is refused.

use e2e::api::day_ahead;
use e2e::TestApp;
use reqwest::Method;
use serde_json::{json, Value};

async fn time_off(app: &TestApp, token: &str, body: Value) -> (u16, Value) {
    app.json(Method::POST, "/time-off", Some(token), Some(body))
        .await
}

async fn needing_reschedule(app: &TestApp, token: &str) -> Vec<String> {
    let (status, page) = app
        .json(
            Method::GET,
            "/appointments?needsRescheduling=true&perPage=100",
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn notices(app: &TestApp, token: &str) -> Vec<Value> {
    let (_, page) = app
        .json(Method::GET, "/notifications?perPage=100", Some(token), None)
        .await;
    page["items"].as_array().unwrap().clone()
}

/// The whole life of a doctor's afternoon off: free slots inside disappear from a warm cache,
/// a booked visit stays booked but is listed and its patient and the desk are told, a slot
/// with a booking history inside is refused even to the desk, a new schedule does not generate
/// inside, and deleting the time off brings every slot back and empties the list.
#[tokio::test]
async fn an_afternoon_off_hides_its_slots_keeps_visits_and_deleting_it_restores_them() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let doctor = app.staff(&admin, "DOCTOR").await;
    let desk = app.staff(&admin, "RECEPTIONIST").await;
    let patient = app.patient().await;
    let doctor_id = doctor.profile_id.clone().unwrap();
    let (date, day) = day_ahead(3);
    app.schedule(&admin, &doctor_id, day, "09:00", "17:00", 60)
        .await;
    let all = app.free_slots(&doctor_id, date).await; // warms the cache
    assert_eq!(all.len(), 8);
    // 14:00 booked (stays), 15:00 booked then cancelled (a slot with a history).
    let (status, booked) = app.book(&patient.token, &all[5], None).await;
    assert_eq!(status, 201, "{booked}");
    let booked_id = booked["id"].as_str().unwrap().to_owned();
    let (_, cancelled) = app.book(&patient.token, &all[6], None).await;
    let cancelled_id = cancelled["id"].as_str().unwrap();
    app.json(
        Method::POST,
        &format!("/appointments/{cancelled_id}/cancel"),
        Some(&patient.token),
        Some(json!({ "reason": "changed plans" })),
    )
    .await;
    assert_eq!(app.free_slots(&doctor_id, date).await.len(), 7);

    let afternoon = json!({ "doctorId": doctor_id, "from": date, "to": date,
        "startTime": "13:00", "endTime": "17:00", "reason": "Conference" });
    for who in [&patient.token, &desk.token] {
        let (status, body) = time_off(&app, who, afternoon.clone()).await;
        assert_eq!(status, 403, "{body}");
    }
    let other = app.staff(&admin, "DOCTOR").await;
    let (status, body) = time_off(&app, &other.token, afternoon.clone()).await;
    assert_eq!(status, 404, "another doctor's leave: {body}");
    let (status, body) = time_off(&app, &doctor.token, json!({ "from": date, "to": date })).await;
    assert_eq!(status, 403, "a doctor records no clinic holiday: {body}");

    let (status, recorded) = time_off(&app, &doctor.token, afternoon.clone()).await;
    assert_eq!(status, 201, "{recorded}");
    let displaced: Vec<&str> = recorded["needsRescheduling"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["appointmentId"].as_str().unwrap())
        .collect();
    assert_eq!(displaced, [booked_id.as_str()]);
    let time_off_id = recorded["timeOff"]["id"].as_str().unwrap().to_owned();

    // At once, through the warm cache: only the morning is free.
    let free = app.free_slots(&doctor_id, date).await;
    assert_eq!(free, all[..4].to_vec());
    // The visit stays booked, listed for the desk and the doctor, not for another patient.
    let (_, visit) = app
        .json(
            Method::GET,
            &format!("/appointments/{booked_id}"),
            Some(&desk.token),
            None,
        )
        .await;
    assert_eq!(visit["status"], "SCHEDULED");
    assert_eq!(
        needing_reschedule(&app, &desk.token).await,
        std::slice::from_ref(&booked_id)
    );
    assert_eq!(
        needing_reschedule(&app, &doctor.token).await,
        std::slice::from_ref(&booked_id)
    );
    assert_eq!(
        needing_reschedule(&app, &patient.token).await,
        std::slice::from_ref(&booked_id)
    );
    let stranger = app.patient().await;
    assert!(needing_reschedule(&app, &stranger.token).await.is_empty());
    // Told: the patient about its visit, the desk once.
    let told: Vec<Value> = notices(&app, &patient.token)
        .await
        .into_iter()
        .filter(|n| n["title"] == "Your appointment needs a new time")
        .collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert_eq!(told[0]["appointmentId"], booked_id.as_str());
    let desk_told = notices(&app, &desk.token).await;
    assert_eq!(desk_told.len(), 1, "{desk_told:?}");
    assert!(desk_told[0]["message"]
        .as_str()
        .unwrap()
        .contains("1 booked"));

    // The slot with a history (15:00) still exists but nobody books it.
    let (status, body) = app
        .book(&desk.token, &all[6], patient.profile_id.as_deref())
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("DOCTOR_TIME_OFF")),
        "{body}"
    );
    // Nor can the visit be moved onto it.
    let (status, body) = app
        .json(
            Method::POST,
            &format!("/appointments/{booked_id}/reschedule"),
            Some(&desk.token),
            Some(json!({ "timeSlotId": all[6] })),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("DOCTOR_TIME_OFF")),
        "{body}"
    );

    // Staff see it; patients do not.
    let (status, listed) = app
        .json(
            Method::GET,
            &format!("/time-off?from={date}&to={date}"),
            Some(&desk.token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["reason"], "Conference");
    let (status, _) = app
        .json(Method::GET, "/time-off", Some(&patient.token), None)
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .json(
            Method::DELETE,
            &format!("/time-off/{time_off_id}"),
            Some(&other.token),
            None,
        )
        .await;
    assert_eq!(
        status, 404,
        "another doctor's time off does not exist for a doctor"
    );

    // Deleting it: every free slot is back (the cache too), the list is empty.
    let (status, body) = app
        .json(
            Method::DELETE,
            &format!("/time-off/{time_off_id}"),
            Some(&doctor.token),
            None,
        )
        .await;
    assert_eq!(status, 204, "{body}");
    // 13:00 and 16:00 were withdrawn and are generated again; 15:00 was only hidden.
    let back = app.free_slots(&doctor_id, date).await;
    assert_eq!(
        back.len(),
        7,
        "the afternoon is free again but for the booked 14:00"
    );
    assert_eq!(back[..4], all[..4]);
    assert_eq!(back[5], all[6]);
    assert!(needing_reschedule(&app, &desk.token).await.is_empty());
    let (status, _) = app
        .json(
            Method::DELETE,
            &format!("/time-off/{time_off_id}"),
            Some(&doctor.token),
            None,
        )
        .await;
    assert_eq!(status, 404);
}

/// A clinic holiday (admins only) keeps every doctor away, whole days in the clinic's zone;
/// a schedule added during it generates nothing inside it; bad ranges are 422 naming the
/// field.
#[tokio::test]
async fn a_clinic_holiday_keeps_every_doctor_away_and_schedules_do_not_generate_into_it() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let first = app.staff(&admin, "DOCTOR").await;
    let second = app.staff(&admin, "DOCTOR").await;
    let (date, day) = day_ahead(4);
    let (next_week, _) = day_ahead(11);
    for d in [&first, &second] {
        app.schedule(
            &admin,
            d.profile_id.as_deref().unwrap(),
            day,
            "09:00",
            "11:00",
            30,
        )
        .await;
    }
    for (body, field) in [
        (
            json!({ "from": date, "to": date - chrono::Duration::days(1) }),
            "to",
        ),
        (
            json!({ "from": date, "to": date + chrono::Duration::days(400) }),
            "to",
        ),
        (
            json!({ "from": date, "to": date, "startTime": "12:00", "endTime": "11:00" }),
            "endTime",
        ),
        (
            json!({ "from": date, "to": date, "reason": "x".repeat(201) }),
            "reason",
        ),
        (json!({ "from": "someday", "to": date }), "from"),
    ] {
        let (status, got) = time_off(&app, &admin.token, body.clone()).await;
        assert_eq!(
            (status, got["field"].as_str()),
            (422, Some(field)),
            "{body}: {got}"
        );
    }
    let (status, holiday) = time_off(
        &app,
        &admin.token,
        json!({ "from": date, "to": date, "reason": "Holiday" }),
    )
    .await;
    assert_eq!(status, 201, "{holiday}");
    assert!(holiday["timeOff"]["doctorId"].is_null());
    for d in [&first, &second] {
        let id = d.profile_id.as_deref().unwrap();
        assert!(app.free_slots(id, date).await.is_empty(), "holiday");
        assert_eq!(app.free_slots(id, next_week).await.len(), 4, "a week later");
    }
    // A doctor's new schedule on that weekday: nothing on the holiday, slots a week later.
    let third = app.staff(&admin, "DOCTOR").await;
    let third_id = third.profile_id.clone().unwrap();
    app.schedule(&admin, &third_id, day, "13:00", "14:00", 30)
        .await;
    assert!(app.free_slots(&third_id, date).await.is_empty());
    assert_eq!(app.free_slots(&third_id, next_week).await.len(), 2);
    // Deleting the holiday: the new doctor's slots that were never generated appear.
    let id = holiday["timeOff"]["id"].as_str().unwrap();
    let (status, _) = app
        .json(
            Method::DELETE,
            &format!("/time-off/{id}"),
            Some(&admin.token),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(app.free_slots(&third_id, date).await.len(), 2);
    assert_eq!(
        app.free_slots(first.profile_id.as_deref().unwrap(), date)
            .await
            .len(),
        4
    );
}

/// Bookings racing the recording of time off over their slots: each either commits first (and
/// is then listed as needing a new time, its patient told) or is refused with
/// DOCTOR_TIME_OFF; no visit ends up inside the time off unlisted.
#[tokio::test]
async fn a_booking_racing_time_off_is_either_listed_or_refused() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let doctor = app.staff(&admin, "DOCTOR").await;
    let desk = app.staff(&admin, "RECEPTIONIST").await;
    let doctor_id = doctor.profile_id.clone().unwrap();
    let (date, day) = day_ahead(5);
    app.schedule(&admin, &doctor_id, day, "08:00", "16:00", 30)
        .await;
    let slots = app.free_slots(&doctor_id, date).await;
    let mut patients = Vec::new();
    for _ in 0..slots.len() {
        patients.push(app.patient().await);
    }
    let bookings = slots
        .iter()
        .zip(&patients)
        .map(|(slot, p)| app.book(&p.token, slot, None));
    let recording = time_off(
        &app,
        &doctor.token,
        json!({ "doctorId": doctor_id, "from": date, "to": date }),
    );
    let (results, (status, recorded)) =
        tokio::join!(futures::future::join_all(bookings), recording);
    assert_eq!(status, 201, "{recorded}");
    let mut booked = Vec::new();
    for (status, body) in results {
        match status {
            201 => booked.push(body["id"].as_str().unwrap().to_owned()),
            // Refused after the lock, or the free slot was already withdrawn.
            409 => assert_eq!(body["code"], "DOCTOR_TIME_OFF", "{body}"),
            404 => assert_eq!(body["code"], "NOT_FOUND", "{body}"),
            other => panic!("{other}: {body}"),
        }
    }
    let mut listed = needing_reschedule(&app, &desk.token).await;
    let mut displaced: Vec<String> = recorded["needsRescheduling"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["appointmentId"].as_str().unwrap().to_owned())
        .collect();
    booked.sort();
    listed.sort();
    displaced.sort();
    assert_eq!(listed, booked, "every visit that got in is listed");
    assert_eq!(
        displaced, booked,
        "and was found by the recording transaction (so notified)"
    );
    assert!(app.free_slots(&doctor_id, date).await.is_empty());
    // The dashboard's roll-up saw every slot withdrawn and every booking.
    assert_eq!(app.rollup_differences().await, Vec::<String>::new());
}
