//! Issue 14, scheduling as clinics run it: buffers after slots, booking windows, the time
//! guards on a visit's day and no-shows (so far).

use e2e::api::day_ahead;
use e2e::TestApp;
use reqwest::Method;
use serde_json::json;

/// A schedule with a buffer: generation leaves the buffer free after each slot, the schedule
/// says so, and changing the buffer regenerates the free slots; a buffer out of range is 422
/// naming `bufferMinutes`.
#[tokio::test]
async fn a_buffer_leaves_its_minutes_free_after_each_slot() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let doctor = app.staff(&admin, "DOCTOR").await;
    let doctor_id = doctor.profile_id.clone().unwrap();
    let (date, day) = day_ahead(3);
    let path = format!("/doctors/{doctor_id}/schedules");
    let schedule = |buffer: serde_json::Value| {
        json!({ "dayOfWeek": day, "startTime": "09:00", "endTime": "11:00",
                "slotDurationMinutes": 30, "bufferMinutes": buffer })
    };
    for bad in [json!(241), json!(-1), json!("ten")] {
        let (status, body) = app
            .json(
                Method::POST,
                &path,
                Some(&admin.token),
                Some(schedule(bad.clone())),
            )
            .await;
        assert_eq!(
            (status, body["field"].as_str()),
            (422, Some("bufferMinutes")),
            "{bad}: {body}"
        );
    }
    let (status, created) = app
        .json(
            Method::POST,
            &path,
            Some(&admin.token),
            Some(schedule(json!(10))),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["bufferMinutes"], 10);
    assert_eq!(
        free_starts(&app, &doctor_id, date).await,
        ["09:00", "09:40", "10:20"]
    );

    // Without the buffer: the free slots are generated again, back to back.
    let id = created["id"].as_str().unwrap();
    let (status, body) = app
        .json(
            Method::PUT,
            &format!("/schedules/{id}"),
            Some(&admin.token),
            Some(schedule(json!(0))),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        free_starts(&app, &doctor_id, date).await,
        ["09:00", "09:30", "10:00", "10:30"]
    );
    // Left out, the buffer is 0 (schedules written before buffers existed).
    let (_, listed) = app.json(Method::GET, &path, None, None).await;
    assert_eq!(listed[0]["bufferMinutes"], 0);
}

/// The local start times (`HH:MM`) of `doctor`'s free slots on `date`.
async fn free_starts(app: &TestApp, doctor: &str, date: chrono::NaiveDate) -> Vec<String> {
    let (_, slots) = app
        .json(
            Method::GET,
            &format!("/doctors/{doctor}/slots?date={date}"),
            None,
            None,
        )
        .await;
    slots
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["startTime"].as_str().unwrap()[..5].to_owned())
        .collect()
}

/// Patients book inside the clinic's window (36 hours' notice, 4 days ahead here) or the
/// doctor's own; the desk books anywhere; a patient moving its visit is held to the window; the
/// doctor (or an admin) sets its own window, nobody else; going back to the clinic's is both
/// `null`.
#[tokio::test]
async fn patients_book_inside_the_booking_window_and_the_desk_anywhere() {
    let app = TestApp::spawn_with(|c| {
        c.booking_min_notice_hours = 36;
        c.booking_max_advance_days = 4;
    })
    .await;
    let admin = app.admin().await;
    let doctor = app.staff(&admin, "DOCTOR").await;
    let other_doctor = app.staff(&admin, "DOCTOR").await;
    let desk = app.staff(&admin, "RECEPTIONIST").await;
    let patient = app.patient().await;
    let doctor_id = doctor.profile_id.clone().unwrap();
    // Tomorrow is always under 36 hours ahead (slots end at 11:00), the day after tomorrow's
    // day after inside the window, six days ahead past it.
    let mut days = Vec::new();
    for ahead in [1, 3, 6] {
        let (date, day) = day_ahead(ahead);
        app.schedule(&admin, &doctor_id, day, "09:00", "11:00", 30)
            .await;
        days.push(app.free_slots(&doctor_id, date).await);
    }
    let (tomorrow, inside, beyond) = (&days[0], &days[1], &days[2]);
    let (status, body) = app.book(&patient.token, &tomorrow[0], None).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("timeSlotId")),
        "{body}"
    );
    assert!(
        body["message"].as_str().unwrap().contains("36 hours"),
        "{body}"
    );
    let (status, body) = app.book(&patient.token, &beyond[0], None).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("timeSlotId")),
        "{body}"
    );
    assert!(
        body["message"].as_str().unwrap().contains("4 days"),
        "{body}"
    );
    let (status, body) = app
        .book(&desk.token, &tomorrow[0], patient.profile_id.as_deref())
        .await;
    assert_eq!(status, 201, "the desk is not bound: {body}");
    let (status, visit) = app.book(&patient.token, &inside[0], None).await;
    assert_eq!(status, 201, "{visit}");
    // Moving it to tomorrow: held to the same window.
    let visit_id = visit["id"].as_str().unwrap();
    let (status, body) = reschedule(&app, &patient.token, visit_id, &tomorrow[1]).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("timeSlotId")),
        "{body}"
    );

    let path = format!("/doctors/{doctor_id}/booking-window");
    let (status, window) = app.json(Method::GET, &path, None, None).await;
    assert_eq!(status, 200, "{window}");
    assert_eq!(
        window,
        json!({ "doctorId": doctor_id, "minNoticeHours": null, "maxAdvanceDays": null,
                "effectiveMinNoticeHours": 36, "effectiveMaxAdvanceDays": 4 })
    );
    let own = json!({ "minNoticeHours": 0, "maxAdvanceDays": 10 });
    for (who, expected) in [(&other_doctor, 403), (&patient, 403), (&desk, 403)] {
        let (status, _) = app
            .json(Method::PUT, &path, Some(&who.token), Some(own.clone()))
            .await;
        assert_eq!(status, expected);
    }
    for (bad, field) in [
        (json!({ "minNoticeHours": 8761 }), "minNoticeHours"),
        (json!({ "maxAdvanceDays": 0 }), "maxAdvanceDays"),
        (json!({ "minNoticeHours": -1 }), "minNoticeHours"),
        (json!({ "notice": 1 }), "notice"),
    ] {
        let (status, body) = app
            .json(Method::PUT, &path, Some(&doctor.token), Some(bad.clone()))
            .await;
        assert_eq!(
            (status, body["field"].as_str()),
            (422, Some(field)),
            "{bad}: {body}"
        );
    }
    let (status, set) = app
        .json(Method::PUT, &path, Some(&doctor.token), Some(own))
        .await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(
        (
            set["effectiveMinNoticeHours"].as_u64(),
            set["effectiveMaxAdvanceDays"].as_u64()
        ),
        (Some(0), Some(10))
    );
    // The doctor's window now: tomorrow and six days ahead are open to patients.
    let (status, body) = reschedule(&app, &patient.token, visit_id, &tomorrow[1]).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app.book(&patient.token, &beyond[0], None).await;
    assert_eq!(status, 201, "{body}");
    // Back to the clinic's.
    let (status, set) = app
        .json(Method::PUT, &path, Some(&admin.token), Some(json!({})))
        .await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(
        (
            set["minNoticeHours"].clone(),
            set["effectiveMinNoticeHours"].as_u64()
        ),
        (serde_json::Value::Null, Some(36))
    );
    let (status, body) = app.book(&patient.token, &beyond[1], None).await;
    assert_eq!(status, 422, "{body}");
}

/// Moves appointment `id` to `slot` as the bearer of `token`.
async fn reschedule(app: &TestApp, token: &str, id: &str, slot: &str) -> (u16, serde_json::Value) {
    app.json(
        Method::POST,
        &format!("/appointments/{id}/reschedule"),
        Some(token),
        Some(json!({ "timeSlotId": slot })),
    )
    .await
}

/// With the clinic's guards (start at most 60 minutes early, arrival confirmed on the day), a
/// visit two days ahead can be neither confirmed nor started today, and staff are told from
/// when; on its day, confirming works, and starting from 08:00 for a 09:00 visit.
#[tokio::test]
async fn a_visit_is_confirmed_on_its_day_and_started_at_most_an_hour_early() {
    use chrono::{TimeZone, Utc};
    let (app, clock) = TestApp::spawn_with_manual_clock(|c| {
        c.start_early_minutes = 60;
        c.confirm_on_the_day = true;
    })
    .await;
    let mut admin = app.admin().await;
    let mut doctor = app.staff(&admin, "DOCTOR").await;
    let mut desk = app.staff(&admin, "RECEPTIONIST").await;
    let patient = app.patient().await;
    let doctor_id = doctor.profile_id.clone().unwrap();
    let (date, day) = day_ahead(2);
    app.schedule(&admin, &doctor_id, day, "09:00", "10:00", 30)
        .await;
    let slot = app.free_slots(&doctor_id, date).await.remove(0);
    let (status, visit) = app.book(&patient.token, &slot, None).await;
    assert_eq!(status, 201, "{visit}");
    let id = visit["id"].as_str().unwrap().to_owned();
    let body = app.step(&desk, &id, "confirm", 422).await;
    assert_eq!(body["field"], "status");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains(&date.to_string()),
        "{body}"
    );

    // Its day, 07:30 (the clinic is in UTC): confirmed; not started yet, and told from when.
    clock.set(Utc.from_utc_datetime(&date.and_hms_opt(7, 30, 0).unwrap()));
    app.relogin(&mut desk).await;
    app.relogin(&mut doctor).await;
    app.relogin(&mut admin).await;
    app.step(&desk, &id, "confirm", 200).await;
    let body = app.step(&doctor, &id, "start", 422).await;
    assert_eq!(body["field"], "status");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains(&format!("{date} 08:00")),
        "{body}"
    );
    clock.set(Utc.from_utc_datetime(&date.and_hms_opt(8, 0, 0).unwrap()));
    app.step(&doctor, &id, "start", 200).await;
    app.step(&doctor, &id, "complete", 200).await;
}

/// A patient who does not come: the doctor or the desk records NO_SHOW from 15 minutes after
/// the start (not before, not the patient, not another doctor), the slot stays taken, the
/// clinic's no-show fee is billed in the same transaction, and the dashboard counts it.
#[tokio::test]
async fn a_no_show_is_recorded_after_the_grace_period_and_billed_the_clinics_fee() {
    use chrono::{DateTime, Duration, Utc};
    let (app, clock) = TestApp::spawn_with_manual_clock(|c| {
        c.no_show_fee = "25.00".into();
        c.no_show_booking_limit = 1;
    })
    .await;
    let mut v = app.visit("80.50", false).await;
    let id = v.appointment_id.clone();
    let body = app.step(&v.desk, &id, "no-show", 422).await;
    assert_eq!(body["field"], "status");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("15 minutes after the start"));
    let (_, visit) = app
        .json(
            Method::GET,
            &format!("/appointments/{}", v.appointment_id),
            Some(&v.admin.token),
            None,
        )
        .await;
    let starts: DateTime<Utc> = visit["startsAt"].as_str().unwrap().parse().unwrap();
    let date = starts.date_naive();

    clock.set(starts + Duration::minutes(16));
    for account in [
        &mut v.admin,
        &mut v.desk,
        &mut v.doctor,
        &mut v.patient,
        &mut v.other_doctor,
    ] {
        app.relogin(account).await;
    }
    // A patient does not record its own no-show; another doctor's appointment is not there.
    app.step(&v.patient, &id, "no-show", 403).await;
    app.step(&v.other_doctor, &id, "no-show", 404).await;
    let missed = app.step(&v.doctor, &id, "no-show", 200).await;
    assert_eq!(missed["status"], "NO_SHOW");
    let again = app.step(&v.desk, &id, "no-show", 409).await;
    assert_eq!(again["code"], "INVALID_TRANSITION");

    // The fee, billed to the patient; the slot not given back.
    let (_, bills) = app
        .json(Method::GET, "/billings", Some(&v.patient.token), None)
        .await;
    assert_eq!(bills["items"].as_array().unwrap().len(), 1, "{bills}");
    assert_eq!(
        (
            bills["items"][0]["amount"].as_str(),
            bills["items"][0]["status"].as_str()
        ),
        (Some("25.00"), Some("PENDING"))
    );
    assert_eq!(
        bills["items"][0]["appointmentId"],
        v.appointment_id.as_str()
    );
    let (_, slots) = app
        .json(
            Method::GET,
            &format!("/doctors/{}/slots?date={date}", v.doctor_id),
            None,
            None,
        )
        .await;
    assert!(
        slots
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["id"] != visit["timeSlotId"]),
        "the missed slot stays taken"
    );

    // The dashboard of that day counts it (and its fee as outstanding).
    let (_, d) = app
        .json(
            Method::GET,
            &format!("/analytics/dashboard?from={date}&to={date}"),
            Some(&v.admin.token),
            None,
        )
        .await;
    let no_shows = d["byStatus"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["status"] == "NO_SHOW")
        .map(|s| s["count"].as_u64());
    assert_eq!(no_shows, Some(Some(1)), "{d}");
    assert_eq!(d["revenue"]["outstanding"], "25.00");

    // Staff see the patient's record of no-shows; the patient does not.
    let no_shows = format!("/patients/{}/no-shows", v.patient_id);
    let (status, counted) = app
        .json(Method::GET, &no_shows, Some(&v.desk.token), None)
        .await;
    assert_eq!(status, 200, "{counted}");
    assert_eq!(
        (counted["total"].as_u64(), counted["last90Days"].as_u64()),
        (Some(1), Some(1))
    );
    let (status, _) = app
        .json(Method::GET, &no_shows, Some(&v.patient.token), None)
        .await;
    assert_eq!(status, 403);
    // With NO_SHOW_BOOKING_LIMIT=1, the patient books through the desk from now on.
    let later = app
        .free_slots(&v.doctor_id, date)
        .await
        .pop()
        .expect("a later slot");
    let (status, body) = app.book(&v.patient.token, &later, None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("NO_SHOW_LIMIT")),
        "{body}"
    );
    // Nor through the waitlist.
    let (status, body) = app
        .json(
            Method::POST,
            "/waitlist",
            Some(&v.patient.token),
            Some(json!({ "doctorId": v.doctor_id, "from": date, "to": date })),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("NO_SHOW_LIMIT")),
        "{body}"
    );
    let (status, body) = app
        .book(&v.desk.token, &later, Some(v.patient_id.as_str()))
        .await;
    assert_eq!(status, 201, "the desk still books: {body}");
}

/// A schedule moved by a quarter of an hour: a slot of the old grid that keeps a cancelled
/// booking (so it is not deleted) is neither shown, nor booked, nor moved onto, beside the new
/// grid's slot that overlaps it; deactivating the schedule does the same to every kept slot.
#[tokio::test]
async fn a_changed_schedule_leaves_no_slot_of_its_old_grid_bookable() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let desk = app.staff(&admin, "RECEPTIONIST").await;
    let doctor = app.staff(&admin, "DOCTOR").await;
    let patient = app.patient().await;
    let doctor_id = doctor.profile_id.clone().unwrap();
    let (date, day) = day_ahead(3);
    let schedule = app
        .schedule(&admin, &doctor_id, day, "09:00", "11:00", 30)
        .await;
    let old = app.free_slots(&doctor_id, date).await;
    let (status, booked) = app.book(&patient.token, &old[0], None).await;
    assert_eq!(status, 201, "{booked}");
    let id = booked["id"].as_str().unwrap();
    let (status, _) = app
        .json(
            Method::POST,
            &format!("/appointments/{id}/cancel"),
            Some(&patient.token),
            Some(json!({ "reason": "changed plans" })),
        )
        .await;
    assert_eq!(status, 200);
    let rule = |start: &str, active: bool| {
        json!({ "dayOfWeek": day, "startTime": start, "endTime": "11:00",
                "slotDurationMinutes": 30, "isActive": active })
    };
    let path = format!("/schedules/{schedule}");
    let (status, body) = app
        .json(
            Method::PUT,
            &path,
            Some(&admin.token),
            Some(rule("09:15", true)),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        free_starts(&app, &doctor_id, date).await,
        ["09:15", "09:45", "10:15"],
        "the kept 09:00 slot is not shown"
    );
    let other = app.patient().await;
    let (status, body) = app
        .book(&desk.token, &old[0], other.profile_id.as_deref())
        .await;
    assert_eq!(status, 404, "the kept 09:00 slot is not bookable: {body}");
    // Deactivated: nothing of it is bookable, the kept slot included.
    let (status, _) = app
        .json(
            Method::PUT,
            &path,
            Some(&admin.token),
            Some(rule("09:15", false)),
        )
        .await;
    assert_eq!(status, 200);
    assert!(free_starts(&app, &doctor_id, date).await.is_empty());
    let (status, _) = app
        .book(&desk.token, &old[0], other.profile_id.as_deref())
        .await;
    assert_eq!(status, 404);
}
