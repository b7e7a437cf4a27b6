//! Issue 14, scheduling as clinics run it: buffers after slots (so far).

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
