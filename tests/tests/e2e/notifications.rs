//! A user's notifications: written by booking and broadcasts, listed unread first, counted,
//! marked read; nobody reaches anyone else's.

use e2e::api::day_ahead;
use e2e::TestApp;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn booking_and_broadcasts_notify_and_each_user_reads_only_its_own() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let doctor = app.staff(&admin, "DOCTOR").await;
    let patient = app.patient().await;
    let other = app.patient().await;
    let doctor_id = doctor.profile_id.clone().unwrap();
    let (date, day) = day_ahead(3);
    app.schedule(&admin, &doctor_id, day, "09:00", "10:00", 30)
        .await;
    let slot = app.free_slots(&doctor_id, date).await.remove(0);
    let (status, _) = app
        .json(
            Method::POST,
            "/appointments",
            Some(&patient.token),
            Some(json!({ "timeSlotId": slot, "type": "CONSULTATION", "reason": "x" })),
        )
        .await;
    assert_eq!(status, 201);

    let count = |token: String| {
        let app = &app;
        async move {
            app.json(
                Method::GET,
                "/notifications/unread-count",
                Some(&token),
                None,
            )
            .await
            .1["count"]
                .as_u64()
                .unwrap()
        }
    };
    assert_eq!(
        count(patient.token.clone()).await,
        1,
        "BOOKING_CONFIRMATION for the patient"
    );
    assert_eq!(count(doctor.token.clone()).await, 1, "and for the doctor");
    assert_eq!(count(other.token.clone()).await, 0);

    let (status, body) = app
        .json(
            Method::POST,
            "/notifications/broadcast",
            Some(&patient.token),
            Some(json!({ "title": "t", "message": "m" })),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = app
        .json(
            Method::POST,
            "/notifications/broadcast",
            Some(&admin.token),
            Some(json!({ "title": " ", "message": "m" })),
        )
        .await;
    assert_eq!((status, body["field"].as_str()), (422, Some("title")));
    let (status, sent) = app
        .json(Method::POST, "/notifications/broadcast", Some(&admin.token),
              Some(json!({ "title": "Clinic closed Friday", "message": "Staff training.", "role": "PATIENT" })))
        .await;
    assert_eq!(
        (status, sent["count"].as_u64()),
        (201, Some(2)),
        "both patients, nobody else"
    );
    assert_eq!(count(doctor.token.clone()).await, 1);

    let (_, page) = app
        .json(Method::GET, "/notifications", Some(&patient.token), None)
        .await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["type"], "GENERAL", "newest first among unread");
    let booking_note = items[1]["id"].as_str().unwrap().to_owned();

    let (status, _) = app
        .json(
            Method::POST,
            &format!("/notifications/{booking_note}/read"),
            Some(&other.token),
            None,
        )
        .await;
    assert_eq!(status, 404, "another user's notification");
    let (status, read) = app
        .json(
            Method::POST,
            &format!("/notifications/{booking_note}/read"),
            Some(&patient.token),
            None,
        )
        .await;
    assert_eq!((status, read["isRead"].as_bool()), (200, Some(true)));
    let (_, page) = app
        .json(Method::GET, "/notifications", Some(&patient.token), None)
        .await;
    assert_eq!(
        page["items"][1]["id"],
        booking_note.as_str(),
        "unread first, read after"
    );
    let (_, unread) = app
        .json(
            Method::GET,
            "/notifications?unreadOnly=true",
            Some(&patient.token),
            None,
        )
        .await;
    assert_eq!(unread["total"], 1);

    let (status, all) = app
        .json(
            Method::POST,
            "/notifications/read-all",
            Some(&patient.token),
            None,
        )
        .await;
    assert_eq!((status, all["count"].as_u64()), (200, Some(1)));
    assert_eq!(count(patient.token.clone()).await, 0);
    assert_eq!(
        app.json(Method::GET, "/notifications", None, None).await.0,
        401
    );
}

#[tokio::test]
async fn live_streams_carry_only_my_notifications_and_end_with_my_session() {
    let app = TestApp::spawn_with(|c| c.live_keepalive_secs = 1).await;
    let v = app.visit("10.00", true).await;
    // The booking's confirmation, committed before the stream opens, is in the `ready` count;
    // its announcement may still reach the stream when the listener lags (at least once).
    let known = app.notification_ids(&v.patient.token).await;
    let mut mine = app.live(&v.patient.token).await;
    let mut theirs = app.live(&v.other_patient.token).await;
    assert_eq!(mine.next_event().await.0, "ready");
    assert_eq!(theirs.next_event().await.0, "ready");

    let (status, _) = app.prescribe(&v.doctor, &v.appointment_id).await;
    assert_eq!(status, 201);
    let (status, _) = app
        .json(
            Method::POST,
            "/notifications/broadcast",
            Some(&v.admin.token),
            Some(json!({ "title": "Closed on Friday", "message": "Holiday", "role": "PATIENT" })),
        )
        .await;
    assert_eq!(status, 201);
    let (event, data) = mine.next_new_event(&known).await;
    assert_eq!(
        (event.as_str(), data["type"].as_str()),
        ("notification", Some("PRESCRIPTION"))
    );
    assert_eq!(mine.next_new_event(&known).await.1["type"], "GENERAL");
    // The other patient's first event is the broadcast: the prescription never reached it.
    let (event, data) = theirs.next_event().await;
    assert_eq!(
        (event.as_str(), data["title"].as_str()),
        ("notification", Some("Closed on Friday"))
    );

    // Logging out ends my stream (at the next keep-alive), not theirs.
    let (status, _) = app
        .json(Method::POST, "/auth/logout", Some(&v.patient.token), None)
        .await;
    assert_eq!(status, 204);
    let (event, data) = mine.next_event().await;
    assert_eq!(
        (event.as_str(), data["reason"].as_str()),
        ("end", Some("session ended"))
    );
    assert_eq!(mine.next_event().await.0, "closed");
    let (status, _) = app
        .json(
            Method::POST,
            "/notifications/broadcast",
            Some(&v.admin.token),
            Some(json!({ "title": "Second", "message": "m", "role": "PATIENT" })),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(theirs.next_event().await.1["title"], "Second");
}

#[tokio::test]
async fn a_user_holds_a_bounded_number_of_live_streams() {
    let app = TestApp::spawn_with(|c| {
        c.live_max_streams_per_user = 2;
        c.live_keepalive_secs = 1;
    })
    .await;
    let me = app.patient().await;
    let other = app.patient().await;
    let first = app.live(&me.token).await;
    let _second = app.live(&me.token).await;
    let (status, body) = app
        .json(Method::GET, "/notifications/stream", Some(&me.token), None)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("TOO_MANY_STREAMS"))
    );
    // Another user is not affected.
    let _theirs = app.live(&other.token).await;
    // Closing a stream frees its place once the server notices (at the next keep-alive).
    drop(first);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let response = app
            .client
            .get(app.url("/notifications/stream"))
            .bearer_auth(&me.token)
            .send()
            .await
            .unwrap();
        if response.status() == 200 {
            break;
        }
        assert_eq!(response.status(), 429);
        assert!(
            tokio::time::Instant::now() < deadline,
            "the place was never freed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn a_browser_opens_the_stream_with_a_single_use_ticket_never_a_token_in_the_url() {
    let app = TestApp::spawn().await;
    let patient = app.patient().await;
    let ticket = || async {
        let (status, body) = app
            .json(
                reqwest::Method::POST,
                "/notifications/stream-ticket",
                Some(&patient.token),
                None,
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["ticket"].as_str().unwrap().to_owned()
    };
    let first = ticket().await;
    let mut stream = app
        .live_with_ticket(&first)
        .await
        .expect("the ticket opens it");
    let (event, data) = stream.next_event().await;
    assert_eq!(event, "ready", "{data}");
    // Once only, and nothing but a real ticket.
    assert_eq!(app.live_with_ticket(&first).await.err(), Some(401));
    assert_eq!(app.live_with_ticket(&"0".repeat(64)).await.err(), Some(401));
    assert_eq!(app.live_with_ticket(&patient.token).await.err(), Some(401));
    // A ticket of a session that has ended opens nothing.
    let late = ticket().await;
    let (status, _) = app
        .json(
            reqwest::Method::POST,
            "/auth/logout",
            Some(&patient.token),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(app.live_with_ticket(&late).await.err(), Some(401));
    // Without a session, no ticket.
    let (status, _) = app
        .json(
            reqwest::Method::POST,
            "/notifications/stream-ticket",
            None,
            None,
        )
        .await;
    assert_eq!(status, 401);
}
