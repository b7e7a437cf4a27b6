//! Issue 14, recurring visits: a series books every free occurrence in one transaction (also
//! beyond the slot horizon) and lists the others with the reason a single booking would have
//! had; "this and following" cancels the rest of the series in one call.

use chrono::Duration;
use e2e::api::day_ahead;
use e2e::TestApp;
use reqwest::Method;
use serde_json::{json, Value};

fn titled(notices: &Value, title: &str) -> usize {
    notices["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["title"] == title)
        .count()
}

/// Ten weekly visits at 09:00 (past the 60-day horizon): the second overlaps another visit of
/// the patient, the third's slot is taken, the fifth falls in the doctor's time off; the seven
/// others are booked at the same local time, with one notification for the series. Then "this
/// and following" from the sixth cancels the five still booked from there, and nothing else.
#[tokio::test]
async fn a_series_books_what_is_free_lists_the_rest_and_cancels_from_one_visit_on() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let desk = app.staff(&admin, "RECEPTIONIST").await;
    let doctor = app.staff(&admin, "DOCTOR").await;
    let other_doctor = app.staff(&admin, "DOCTOR").await;
    let patient = app.patient().await;
    let someone = app.patient().await;
    let (doctor_id, other_id) = (
        doctor.profile_id.clone().unwrap(),
        other_doctor.profile_id.clone().unwrap(),
    );
    let patient_id = patient.profile_id.clone().unwrap();
    let (first, day) = day_ahead(2);
    let week = |k: i64| first + Duration::weeks(k);
    app.schedule(&admin, &doctor_id, day, "09:00", "10:00", 30)
        .await;
    app.schedule(&admin, &other_id, day, "09:00", "10:00", 30)
        .await;
    // Occurrence 2: the patient sees another doctor then. Occurrence 3: someone took 09:00.
    let other_slot = app.free_slots(&other_id, week(1)).await[0].clone();
    let (status, body) = app.book(&patient.token, &other_slot, None).await;
    assert_eq!(status, 201, "{body}");
    let taken = app.free_slots(&doctor_id, week(2)).await[0].clone();
    let (status, body) = app.book(&someone.token, &taken, None).await;
    assert_eq!(status, 201, "{body}");
    // Occurrence 5: the doctor is away that day.
    let (status, body) = app
        .json(
            Method::POST,
            "/time-off",
            Some(&doctor.token),
            Some(json!({ "doctorId": doctor_id, "from": week(4), "to": week(4) })),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    let series = |overrides: Value| {
        let mut body = json!({ "patientId": patient_id, "doctorId": doctor_id, "firstDate": first,
            "startTime": "09:00", "everyWeeks": 1, "occurrences": 10, "type": "FOLLOW_UP",
            "reason": "Physiotherapy" });
        for (k, v) in overrides.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    for (who, status) in [(&patient, 403), (&doctor, 403)] {
        let (got, _) = app
            .json(
                Method::POST,
                "/appointment-series",
                Some(&who.token),
                Some(series(json!({}))),
            )
            .await;
        assert_eq!(got, status);
    }
    for (bad, field) in [
        (json!({ "occurrences": 27 }), "occurrences"),
        (json!({ "occurrences": 1 }), "occurrences"),
        (json!({ "everyWeeks": 13 }), "everyWeeks"),
        (
            json!({ "firstDate": first - Duration::days(3) }),
            "firstDate",
        ),
        (json!({ "startTime": "25:00" }), "startTime"),
    ] {
        let (status, body) = app
            .json(
                Method::POST,
                "/appointment-series",
                Some(&desk.token),
                Some(series(bad.clone())),
            )
            .await;
        assert_eq!(
            (status, body["field"].as_str()),
            (422, Some(field)),
            "{bad}: {body}"
        );
    }
    // No slot starts at 13:00: nothing is written, the first refusal is the answer.
    let (status, body) = app
        .json(
            Method::POST,
            "/appointment-series",
            Some(&desk.token),
            Some(series(json!({ "startTime": "13:00" }))),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("startTime")),
        "{body}"
    );
    assert_eq!(app.count_rows("appointment_series").await, 0);

    let (status, booked) = app
        .json(
            Method::POST,
            "/appointment-series",
            Some(&desk.token),
            Some(series(json!({}))),
        )
        .await;
    assert_eq!(status, 201, "{booked}");
    let positions: Vec<u64> = booked["booked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["occurrence"].as_u64().unwrap())
        .collect();
    assert_eq!(positions, [1, 4, 6, 7, 8, 9, 10]);
    let refused: Vec<(u64, &str)> = booked["notBooked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["occurrence"].as_u64().unwrap(),
                o["code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        refused,
        [
            (2, "PATIENT_OVERLAP"),
            (3, "SLOT_TAKEN"),
            (5, "VALIDATION_FAILED")
        ]
    );
    for o in booked["booked"].as_array().unwrap() {
        let a = &o["appointment"];
        assert_eq!(a["status"], "SCHEDULED");
        assert_eq!(a["type"], "FOLLOW_UP");
        assert!(a["startsAt"].as_str().unwrap().contains("T09:00:00"), "{a}");
    }
    let last = &booked["booked"][6]["appointment"];
    assert!(
        last["startsAt"]
            .as_str()
            .unwrap()
            .starts_with(&week(9).to_string()),
        "beyond the horizon: {last}"
    );
    let (_, notes) = app
        .json(
            Method::GET,
            "/notifications?perPage=100",
            Some(&patient.token),
            None,
        )
        .await;
    assert_eq!(
        titled(&notes, "Appointments booked"),
        1,
        "one notification for the series"
    );

    // "This and following" from the sixth: 6..10 cancelled, 1 and 4 kept.
    let sixth = booked["booked"][2]["appointment"]["id"].as_str().unwrap();
    let path = format!("/appointments/{sixth}/cancel-following");
    let (status, _) = app
        .json(
            Method::POST,
            &path,
            Some(&patient.token),
            Some(json!({ "reason": "moving away" })),
        )
        .await;
    assert_eq!(status, 403);
    let (status, body) = app
        .json(
            Method::POST,
            &path,
            Some(&desk.token),
            Some(json!({ "reason": "" })),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("reason")),
        "{body}"
    );
    let (status, cancelled) = app
        .json(
            Method::POST,
            &path,
            Some(&desk.token),
            Some(json!({ "reason": "Moving away" })),
        )
        .await;
    assert_eq!(status, 200, "{cancelled}");
    let gone: Vec<&str> = cancelled["cancelled"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    let expected: Vec<&str> = booked["booked"].as_array().unwrap()[2..]
        .iter()
        .map(|o| o["appointment"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(gone, expected);
    for o in &booked["booked"].as_array().unwrap()[..2] {
        let id = o["appointment"]["id"].as_str().unwrap();
        let (_, a) = app
            .json(
                Method::GET,
                &format!("/appointments/{id}"),
                Some(&desk.token),
                None,
            )
            .await;
        assert_eq!(a["status"], "SCHEDULED");
    }
    let (_, notes) = app
        .json(
            Method::GET,
            "/notifications?perPage=100",
            Some(&patient.token),
            None,
        )
        .await;
    assert_eq!(titled(&notes, "Appointments cancelled"), 1);
    assert_eq!(
        app.free_slots(&doctor_id, week(6)).await.len(),
        2,
        "the slot is free again"
    );
    // Again: nothing left to cancel from there; a visit outside any series is 422.
    let (status, again) = app
        .json(
            Method::POST,
            &path,
            Some(&desk.token),
            Some(json!({ "reason": "Moving away" })),
        )
        .await;
    assert_eq!(
        (status, again["cancelled"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    let (status, body) = app
        .json(
            Method::POST,
            &format!(
                "/appointments/{}/cancel-following",
                body_id(&app, &patient.token).await
            ),
            Some(&desk.token),
            Some(json!({ "reason": "x" })),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("id")),
        "{body}"
    );
    // Savepoints rolled back the refused occurrences: the roll-up kept only what committed.
    assert_eq!(app.rollup_differences().await, Vec::<String>::new());
}

/// The id of the patient's visit with the other doctor (not in any series).
async fn body_id(app: &TestApp, token: &str) -> String {
    let (_, page) = app
        .json(Method::GET, "/appointments?perPage=100", Some(token), None)
        .await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["type"] == "CONSULTATION")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}
