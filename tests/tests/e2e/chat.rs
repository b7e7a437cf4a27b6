//! Doctor-patient chat (issue 12) against the real stores: two participants over real
//! WebSockets, everyone else refused, idempotent sends, history by cursor, read receipts,
//! reconnect backfill, two processes, session end, throttling, and MongoDB going away.

use std::collections::HashSet;
use std::time::Duration;

use e2e::api::Account;
use e2e::chat::{ChatSocket, Ended};
use e2e::clinic::{multipart, pdf, Part, Visit};
use e2e::servers::{Kind, ThrowawayServer};
use e2e::TestApp;
use reqwest::Method;
use serde_json::{json, Value};

/// `POST /appointments/{id}/messages` as `who`.
async fn say(app: &TestApp, who: &Account, appointment: &str, body: Value) -> (u16, Value) {
    app.json(
        Method::POST,
        &format!("/appointments/{appointment}/messages"),
        Some(&who.token),
        Some(body),
    )
    .await
}

/// Sends `text` and expects it stored (201); answers its `seq`.
async fn said(app: &TestApp, who: &Account, appointment: &str, text: &str) -> i64 {
    let (status, body) = say(app, who, appointment, json!({ "message": text })).await;
    assert_eq!(status, 201, "{body}");
    body["seq"].as_i64().unwrap()
}

/// Every message of the conversation, newest first, walked by cursor `per_page` at a time.
async fn history(app: &TestApp, who: &Account, appointment: &str, per_page: u32) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/appointments/{appointment}/messages?perPage={per_page}");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = app.json(Method::GET, &path, Some(&who.token), None).await;
        assert_eq!(status, 200, "{page}");
        all.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return all,
        }
    }
}

fn seqs(messages: &[Value]) -> Vec<i64> {
    messages
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect()
}

/// Reads `message` frames until one with `seq`, answering the seqs seen on the way.
async fn messages_until(socket: &mut ChatSocket, seq: i64) -> Vec<i64> {
    let mut seen = Vec::new();
    loop {
        let frame = socket.next_of("message").await;
        let got = frame["message"]["seq"].as_i64().unwrap();
        seen.push(got);
        if got >= seq {
            return seen;
        }
    }
}

#[tokio::test]
async fn the_patient_and_the_doctor_talk_live_and_everyone_else_is_refused() {
    let app = TestApp::spawn().await;
    let v: Visit = app.visit("40.00", false).await;
    let a = v.appointment_id.as_str();
    // The patient as a browser (a ticket), the doctor with the header.
    let mut patient = app.chat_socket_with_ticket(&v.patient.token).await.unwrap();
    let mut doctor = app.chat_socket(&v.doctor.token).await.unwrap();

    let client_id = uuid::Uuid::new_v4();
    patient
        .send(json!({ "type": "send", "appointmentId": a, "message": "  Is it serious?  ", "clientMessageId": client_id }))
        .await;
    let sent = patient.next_of("sent").await;
    assert_eq!(sent["clientMessageId"], json!(client_id));
    assert_eq!(
        (sent["seq"].as_i64(), sent["replayed"].as_bool()),
        (Some(1), Some(false))
    );
    let at_doctor = doctor.next_of("message").await["message"].clone();
    assert_eq!(at_doctor["message"], "Is it serious?");
    assert_eq!(at_doctor["senderId"], json!(v.patient.user_id));
    assert_eq!(at_doctor["receiverId"], json!(v.doctor.user_id));
    assert_eq!(at_doctor["isRead"], false);
    // The sender's own socket gets it too (its other devices would).
    assert_eq!(
        patient.next_of("message").await["message"]["id"],
        at_doctor["id"]
    );

    let reply = said(&app, &v.doctor, a, "Not at all.").await;
    assert_eq!(reply, 2);
    assert_eq!(
        patient.next_of("message").await["message"]["message"],
        "Not at all."
    );
    let (status, unread) = app
        .json(Method::GET, "/chat/unread", Some(&v.patient.token), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        unread,
        json!({ "total": 1, "conversations": [{ "appointmentId": a, "count": 1 }] })
    );

    // Read receipts: the patient reads up to 2; the doctor is told.
    let (status, receipt) = app
        .json(
            Method::POST,
            &format!("/appointments/{a}/messages/read"),
            Some(&v.patient.token),
            Some(json!({ "upToSeq": 2 })),
        )
        .await;
    assert_eq!(status, 200, "{receipt}");
    assert_eq!(receipt["marked"], 1);
    let told = doctor.next_of("read").await["receipt"].clone();
    assert_eq!(
        (told["readerId"].clone(), told["upToSeq"].as_i64()),
        (json!(v.patient.user_id), Some(2))
    );
    let (_, unread) = app
        .json(Method::GET, "/chat/unread", Some(&v.patient.token), None)
        .await;
    assert_eq!(unread["total"], 0);
    let messages = history(&app, &v.doctor, a, 50).await;
    assert_eq!(seqs(&messages), [2, 1]);
    assert_eq!(messages[0]["isRead"], true);
    assert!(messages[0]["readAt"].is_string());
    assert_eq!(
        messages[1]["isRead"], false,
        "the doctor has not read the patient's message"
    );

    // A retried send stores one message and answers the first one.
    let retry = json!({ "message": "Thank you", "clientMessageId": uuid::Uuid::new_v4() });
    let (first, stored) = say(&app, &v.patient, a, retry.clone()).await;
    let (again, replayed) = say(&app, &v.patient, a, retry).await;
    assert_eq!((first, again), (201, 200));
    assert_eq!(stored, replayed);
    // Over the socket too, with the first send's client id.
    patient
        .send(json!({ "type": "send", "appointmentId": a, "message": "Is it serious?", "clientMessageId": client_id }))
        .await;
    let sent = patient.next_of("sent").await;
    assert_eq!(
        (sent["seq"].as_i64(), sent["replayed"].as_bool()),
        (Some(1), Some(true))
    );
    assert_eq!(seqs(&history(&app, &v.patient, a, 2).await), [3, 2, 1]);

    // Everyone else: the conversation does not exist for them.
    for outsider in [&v.other_patient, &v.other_doctor, &v.desk, &v.admin] {
        let (status, body) = say(&app, outsider, a, json!({ "message": "hello" })).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (404, Some("NOT_FOUND")),
            "{body}"
        );
        let (status, _) = app
            .json(
                Method::GET,
                &format!("/appointments/{a}/messages"),
                Some(&outsider.token),
                None,
            )
            .await;
        assert_eq!(status, 404);
        let (status, _) = app
            .json(
                Method::POST,
                &format!("/appointments/{a}/messages/read"),
                Some(&outsider.token),
                Some(json!({ "upToSeq": 1 })),
            )
            .await;
        assert_eq!(status, 404);
    }
    for staff in [&v.desk, &v.admin] {
        assert_eq!(app.chat_socket(&staff.token).await.err(), Some(403));
        let (status, _) = app
            .json(Method::GET, "/chat/unread", Some(&staff.token), None)
            .await;
        assert_eq!(status, 403);
    }
    assert_eq!(app.chat_socket("not-a-token").await.err(), Some(401));
    // Another patient's socket cannot resume (read) this conversation, nor write into it.
    let mut intruder = app.chat_socket(&v.other_patient.token).await.unwrap();
    intruder
        .send(json!({ "type": "resume", "appointmentId": a, "afterSeq": 0 }))
        .await;
    let refused = intruder.next().await;
    assert_eq!(
        (refused["type"].as_str(), refused["code"].as_str()),
        (Some("error"), Some("NOT_FOUND"))
    );
    intruder
        .send(json!({ "type": "send", "appointmentId": a, "message": "psst" }))
        .await;
    assert_eq!(intruder.next().await["code"], "NOT_FOUND");
    // ... and hears nothing of it.
    said(&app, &v.doctor, a, "Only for the patient").await;
    assert_eq!(
        intruder.next_or_end(Duration::from_millis(700)).await,
        Ok(None)
    );
}

#[tokio::test]
async fn a_reconnecting_socket_gets_what_it_missed_once_and_in_order() {
    let app = TestApp::spawn().await;
    let v = app.visit("40.00", false).await;
    let a = v.appointment_id.as_str();
    let mut patient = app.chat_socket(&v.patient.token).await.unwrap();
    for text in ["one", "two", "three"] {
        said(&app, &v.doctor, a, text).await;
    }
    assert_eq!(messages_until(&mut patient, 3).await, [1, 2, 3]);
    patient.close().await;
    // Sent while the patient was away.
    for text in ["four", "five", "six"] {
        said(&app, &v.doctor, a, text).await;
    }
    let mut patient = app.chat_socket(&v.patient.token).await.unwrap();
    // The doctor keeps writing while the patient resumes: every message arrives exactly once.
    let writer = {
        let app_url = app.address.clone();
        let token = v.doctor.token.clone();
        let client = app.client.clone();
        let a = a.to_owned();
        tokio::spawn(async move {
            for i in 0..20 {
                let response = client
                    .post(format!("{app_url}/appointments/{a}/messages"))
                    .bearer_auth(&token)
                    .json(&json!({ "message": format!("live {i}") }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 201);
            }
        })
    };
    patient
        .send(json!({ "type": "resume", "appointmentId": a, "afterSeq": 3 }))
        .await;
    let mut seen = Vec::new();
    let mut resumed = None;
    while seen.last().copied() != Some(26) {
        let frame = patient.next().await;
        match frame["type"].as_str() {
            Some("message") => seen.push(frame["message"]["seq"].as_i64().unwrap()),
            Some("resumed") => resumed = frame["lastSeq"].as_i64(),
            _ => {}
        }
    }
    writer.await.unwrap();
    assert_eq!(
        seen,
        (4..=26).collect::<Vec<_>>(),
        "nothing lost, nothing twice, in order"
    );
    assert!(resumed.is_some_and(|last| last >= 6));
    assert_eq!(
        patient.next_or_end(Duration::from_millis(700)).await,
        Ok(None),
        "nothing more"
    );

    // Live messages that reached a socket before its `resume` are not sent again by it; only
    // what the client lacks is.
    patient.close().await;
    let mut patient = app.chat_socket(&v.patient.token).await.unwrap();
    said(&app, &v.doctor, a, "live before the resume").await;
    assert_eq!(messages_until(&mut patient, 27).await, [27]);
    patient
        .send(json!({ "type": "resume", "appointmentId": a, "afterSeq": 20 }))
        .await;
    let mut backfilled = Vec::new();
    loop {
        let frame = patient.next().await;
        match frame["type"].as_str() {
            Some("message") => backfilled.push(frame["message"]["seq"].as_i64().unwrap()),
            Some("resumed") => {
                assert_eq!(frame["lastSeq"], 27);
                break;
            }
            _ => {}
        }
    }
    assert_eq!(backfilled, (21..=26).collect::<Vec<_>>());

    // A number past the conversation's end names nothing: the socket still gets what follows.
    patient
        .send(json!({ "type": "resume", "appointmentId": a, "afterSeq": 900_000 }))
        .await;
    let resumed = patient.next_of("resumed").await;
    assert_eq!(
        (resumed["lastSeq"].as_i64(), resumed["complete"].as_bool()),
        (Some(27), Some(true))
    );
    patient
        .send(json!({ "type": "resume", "appointmentId": a, "afterSeq": 2_000_000_000_i64 }))
        .await;
    let refused = patient.next_of("error").await;
    assert_eq!(
        (refused["field"].as_str(), refused["appointmentId"].as_str()),
        (Some("afterSeq"), Some(a))
    );

    // History pages stay stable while messages arrive: a page walk sees each message once.
    let first = app
        .json(
            Method::GET,
            &format!("/appointments/{a}/messages?perPage=10"),
            Some(&v.patient.token),
            None,
        )
        .await
        .1;
    said(&app, &v.patient, a, "newer than every cursor").await;
    let cursor = first["nextCursor"].as_str().unwrap();
    let second = app
        .json(
            Method::GET,
            &format!("/appointments/{a}/messages?perPage=10&cursor={cursor}"),
            Some(&v.patient.token),
            None,
        )
        .await
        .1;
    let walked: Vec<i64> = seqs(first["items"].as_array().unwrap())
        .into_iter()
        .chain(seqs(second["items"].as_array().unwrap()))
        .collect();
    assert_eq!(walked, (8..=27).rev().collect::<Vec<_>>());
    assert_eq!(first["total"], 27);
    assert_eq!(second["total"], 28, "counted when read");
    assert_eq!(
        seqs(&history(&app, &v.doctor, a, 7).await),
        (1..=28).rev().collect::<Vec<_>>()
    );
    for bad in ["garbage", "t1.x"] {
        let (status, body) = app
            .json(
                Method::GET,
                &format!("/appointments/{a}/messages?cursor={bad}"),
                Some(&v.patient.token),
                None,
            )
            .await;
        assert_eq!(
            (status, body["field"].as_str()),
            (422, Some("cursor")),
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_message_sent_through_one_process_reaches_a_socket_held_by_another() {
    let app = TestApp::spawn().await;
    let other_process = app.sibling().await;
    let v = app.visit("40.00", false).await;
    let a = v.appointment_id.as_str();
    let mut on_other = other_process.chat_socket(&v.patient.token).await.unwrap();
    let mut on_first = app.chat_socket(&v.patient.token).await.unwrap();
    said(&app, &v.doctor, a, "from the first process").await;
    // Too long for an announcement: the other process reads it back from MongoDB.
    let long = "語".repeat(4000);
    said(&app, &v.doctor, a, &long).await;
    for socket in [&mut on_other, &mut on_first] {
        let first = socket.next_of("message").await;
        assert_eq!(first["message"]["message"], "from the first process");
        let second = socket.next_of("message").await;
        assert_eq!(second["message"]["message"].as_str(), Some(long.as_str()));
    }
    // And the other way round.
    said(&other_process, &v.doctor, a, "from the other one").await;
    assert_eq!(on_first.next_of("message").await["message"]["seq"], 3);
    assert_eq!(on_other.next_of("message").await["message"]["seq"], 3);
}

#[tokio::test]
async fn closed_conversations_and_bad_input_get_clear_answers() {
    let app = TestApp::spawn().await;
    let v = app.visit("40.00", false).await;
    let a = v.appointment_id.as_str();
    for (body, field) in [
        (json!({ "message": "   " }), "message"),
        (json!({ "message": "x".repeat(4001) }), "message"),
        (json!({ "message": "bell\u{7}" }), "message"),
    ] {
        let (status, answer) = say(&app, &v.patient, a, body).await;
        assert_eq!(
            (status, answer["field"].as_str()),
            (422, Some(field)),
            "{answer}"
        );
    }
    let (status, answer) = say(&app, &v.patient, a, json!({ "message": "hi", "extra": 1 })).await;
    assert_eq!(
        (status, answer["field"].as_str()),
        (422, Some("extra")),
        "{answer}"
    );
    let (status, answer) = say(
        &app,
        &v.patient,
        &uuid::Uuid::new_v4().to_string(),
        json!({ "message": "hi" }),
    )
    .await;
    assert_eq!((status, answer["code"].as_str()), (404, Some("NOT_FOUND")));
    let (status, _) = app
        .json(
            Method::POST,
            &format!("/appointments/{a}/messages/read"),
            Some(&v.patient.token),
            Some(json!({ "upToSeq": 0 })),
        )
        .await;
    assert_eq!(status, 422);
    let (status, _) = app
        .json(
            Method::GET,
            &format!("/appointments/{a}/messages?perPage=500"),
            Some(&v.patient.token),
            None,
        )
        .await;
    assert_eq!(status, 422);

    // Bad frames are answered; the socket stays.
    let mut socket = app.chat_socket(&v.patient.token).await.unwrap();
    socket
        .send_raw(tokio_tungstenite::tungstenite::Message::text("{not json"))
        .await;
    assert_eq!(socket.next().await["code"], "MALFORMED_FRAME");
    socket
        .send(json!({ "type": "shout", "appointmentId": a }))
        .await;
    assert_eq!(socket.next().await["code"], "MALFORMED_FRAME");
    socket
        .send_raw(tokio_tungstenite::tungstenite::Message::binary(vec![
            1, 2, 3,
        ]))
        .await;
    assert_eq!(socket.next().await["code"], "MALFORMED_FRAME");
    socket
        .send(json!({ "type": "send", "appointmentId": a, "message": "" }))
        .await;
    let refused = socket.next().await;
    assert_eq!(
        (refused["code"].as_str(), refused["field"].as_str()),
        (Some("VALIDATION_FAILED"), Some("message"))
    );
    said(&app, &v.patient, a, "before the cancellation").await;

    // Cancelled: read-only for both.
    let (status, body) = app
        .json(
            Method::POST,
            &format!("/appointments/{a}/cancel"),
            Some(&v.desk.token),
            Some(json!({ "reason": "Doctor ill" })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, answer) = say(&app, &v.doctor, a, json!({ "message": "too late" })).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (409, Some("CHAT_CLOSED")),
        "{answer}"
    );
    socket
        .send(json!({ "type": "send", "appointmentId": a, "message": "too late" }))
        .await;
    assert_eq!(socket.next_of("error").await["code"], "CHAT_CLOSED");
    assert_eq!(
        history(&app, &v.doctor, a, 10).await.len(),
        1,
        "still readable"
    );
    // A frame too large for the socket closes it with a protocol error.
    socket
        .send_raw(tokio_tungstenite::tungstenite::Message::text(
            "x".repeat(70 * 1024),
        ))
        .await;
    assert!(matches!(
        socket.ended(Duration::from_secs(5)).await,
        Ended::Closed(1002) | Ended::Closed(1009) | Ended::Dropped
    ));
}

#[tokio::test]
async fn the_socket_closes_when_the_session_ends_and_sockets_are_capped() {
    let app = TestApp::spawn_with(|c| {
        c.live_keepalive_secs = 1;
        c.chat_max_sockets_per_user = 2;
    })
    .await;
    let v = app.visit("40.00", false).await;
    let first = app.chat_socket(&v.patient.token).await.unwrap();
    let mut second = app.chat_socket(&v.patient.token).await.unwrap();
    assert_eq!(app.chat_socket(&v.patient.token).await.err(), Some(429));
    first.close().await;
    // The place is given back when a socket closes.
    let mut third = None;
    for _ in 0..20 {
        if let Ok(socket) = app.chat_socket(&v.patient.token).await {
            third = Some(socket);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut third = third.expect("a place after a close");
    // A plain GET with a ticket does not spend it.
    let (_, issued) = app
        .json(
            Method::POST,
            "/notifications/stream-ticket",
            Some(&v.doctor.token),
            None,
        )
        .await;
    let ticket = issued["ticket"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/chat/socket?ticket={ticket}"))
            .await
            .status(),
        400
    );
    let request = format!("ws://127.0.0.1:{}/chat/socket?ticket={ticket}", app.port);
    assert!(
        tokio_tungstenite::connect_async(request).await.is_ok(),
        "the ticket still opens"
    );
    let (status, _) = app
        .json(Method::POST, "/auth/logout", Some(&v.patient.token), None)
        .await;
    assert_eq!(status, 204);
    for socket in [&mut second, &mut third] {
        assert_eq!(socket.next_of("end").await["reason"], "session ended");
        assert_eq!(
            socket.ended(Duration::from_secs(5)).await,
            Ended::Closed(4001)
        );
    }
}

#[tokio::test]
async fn a_frame_after_logout_closes_the_socket_at_once_and_stores_nothing() {
    // Heartbeats far apart: only the per-frame check can close the socket in time.
    let app = TestApp::spawn_with(|c| c.live_keepalive_secs = 300).await;
    let v = app.visit("40.00", false).await;
    let mut socket = app.chat_socket(&v.patient.token).await.unwrap();
    let (status, _) = app
        .json(Method::POST, "/auth/logout", Some(&v.patient.token), None)
        .await;
    assert_eq!(status, 204);
    socket
        .send(
            json!({ "type": "send", "appointmentId": v.appointment_id, "message": "after logout" }),
        )
        .await;
    assert_eq!(socket.next_of("end").await["reason"], "session ended");
    assert_eq!(
        socket.ended(Duration::from_secs(3)).await,
        Ended::Closed(4001)
    );
    let (_, page) = app
        .json(
            Method::GET,
            &format!("/appointments/{}/messages", v.appointment_id),
            Some(&v.doctor.token),
            None,
        )
        .await;
    assert_eq!(page["total"], 0, "nothing was sent after the logout");
}

#[tokio::test]
async fn a_flooding_socket_is_throttled_then_closed() {
    let app = TestApp::spawn_with(|c| {
        c.chat_socket_rate_per_sec = 1;
        c.chat_socket_burst = 3;
    })
    .await;
    let v = app.visit("40.00", false).await;
    let a = v.appointment_id.as_str();
    let mut socket = app.chat_socket(&v.patient.token).await.unwrap();
    for i in 0..3 {
        socket
            .send(json!({ "type": "send", "appointmentId": a, "message": format!("m{i}") }))
            .await;
        socket.next_of("sent").await;
    }
    socket
        .send(json!({ "type": "send", "appointmentId": a, "message": "one too many" }))
        .await;
    let refused = socket.next_of("error").await;
    assert_eq!(refused["code"], "RATE_LIMITED");
    assert!(refused["retryAfter"].as_u64().is_some_and(|s| s >= 1));
    for _ in 0..10 {
        socket
            .send(json!({ "type": "read", "appointmentId": a, "upToSeq": 1 }))
            .await;
    }
    assert_eq!(
        socket.ended(Duration::from_secs(5)).await,
        Ended::Closed(1008)
    );
    assert_eq!(
        seqs(&history(&app, &v.doctor, a, 50).await),
        [3, 2, 1],
        "refused frames stored nothing"
    );
}

#[tokio::test]
async fn with_mongodb_down_chat_answers_503_the_rest_works_and_all_recovers() {
    let mut mongo = ThrowawayServer::start(Kind::Mongo);
    let uri = mongo.url();
    let app = TestApp::spawn_with(|c| {
        c.mongodb_uri = uri;
        c.store_timeout_ms = 1500;
    })
    .await;
    let v = app.visit("40.00", false).await;
    let a = v.appointment_id.as_str();
    let mut socket = app.chat_socket(&v.doctor.token).await.unwrap();
    // Down before the first message: a SIGKILLed test server may lose writes it had
    // acknowledged but not flushed, which would say nothing about the chat.
    mongo.stop();
    let response = app
        .call(
            Method::POST,
            &format!("/appointments/{a}/messages"),
            Some(&v.patient.token),
            Some(json!({ "message": "during" })),
        )
        .await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "SERVICE_UNAVAILABLE");
    assert!(!body["message"]
        .as_str()
        .unwrap()
        .to_lowercase()
        .contains("mongo"));
    socket.send(json!({ "type": "send", "appointmentId": a, "message": "during", "clientMessageId": uuid::Uuid::new_v4() })).await;
    let told = socket.next_of("error").await;
    assert_eq!(told["code"], "SERVICE_UNAVAILABLE");
    assert!(told["retryAfter"].as_u64().is_some());
    assert!(told["ref"].is_string());
    // The rest of the API does not need MongoDB.
    let (status, _) = app
        .json(Method::GET, "/appointments", Some(&v.patient.token), None)
        .await;
    assert_eq!(status, 200);

    mongo.restart();
    // The socket stayed, and the numbering has no hole: the failed sends took no number.
    let mut recovered = false;
    for _ in 0..40 {
        let (status, _) = say(&app, &v.patient, a, json!({ "message": "after" })).await;
        if status == 201 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(recovered, "chat recovers by itself");
    let got = socket.next_of("message").await;
    assert_eq!(
        (
            got["message"]["seq"].as_i64(),
            got["message"]["message"].as_str()
        ),
        (Some(1), Some("after"))
    );
    said(&app, &v.doctor, a, "and again").await;
    let all = history(&app, &v.doctor, a, 50).await;
    assert_eq!(seqs(&all), [2, 1]);
    let ids: HashSet<&str> = all.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2);
}

/// Posts a chat attachment form as `who`.
async fn attach(
    app: &TestApp,
    who: &Account,
    appointment: &str,
    parts: &[Part<'_>],
) -> (u16, Value) {
    let (content_type, body) = multipart(parts);
    let response = app
        .client
        .post(app.url(&format!("/appointments/{appointment}/messages/attachments")))
        .header("Content-Type", content_type)
        .bearer_auth(&who.token)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn attachments_are_sniffed_bounded_cleaned_up_and_only_for_the_two_participants() {
    let app = TestApp::spawn_with(|c| c.upload_max_bytes = 64 * 1024).await;
    let v = app.visit("40.00", false).await;
    let a = v.appointment_id.as_str();
    let mut doctor = app.chat_socket(&v.doctor.token).await.unwrap();
    let report = pdf(20_000);
    let client_id = uuid::Uuid::new_v4().to_string();
    let parts = [
        Part::text("message", "My lab results"),
        Part::text("clientMessageId", &client_id),
        Part::file("results.pdf", "application/pdf", &report),
    ];
    let (status, sent) = attach(&app, &v.patient, a, &parts).await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(sent["message"], "My lab results");
    let attachment = sent["attachments"][0].clone();
    assert_eq!(
        (
            attachment["fileName"].as_str(),
            attachment["contentType"].as_str(),
            attachment["sizeBytes"].as_i64()
        ),
        (Some("results.pdf"), Some("application/pdf"), Some(20_000))
    );
    let live = doctor.next_of("message").await;
    assert_eq!(live["message"]["attachments"][0]["id"], attachment["id"]);
    // A retry stores neither a second message nor a second file.
    let (status, again) = attach(&app, &v.patient, a, &parts).await;
    assert_eq!((status, again["id"].clone()), (200, sent["id"].clone()));
    assert_eq!(app.stored_files().len(), 1);

    let url = attachment["fileUrl"].as_str().unwrap();
    for reader in [&v.patient, &v.doctor] {
        let response = app.call(Method::GET, url, Some(&reader.token), None).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/pdf");
        assert!(response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment"));
        assert_eq!(response.bytes().await.unwrap().as_ref(), report.as_slice());
    }
    for outsider in [&v.other_patient, &v.other_doctor, &v.desk, &v.admin] {
        let response = app
            .call(Method::GET, url, Some(&outsider.token), None)
            .await;
        assert_eq!(response.status(), 404, "an outsider cannot download");
    }
    // Another message's id with this attachment's id: not found.
    let text_seq = said(&app, &v.doctor, a, "Thanks, reading it").await;
    assert_eq!(text_seq, 2);
    let text_id = history(&app, &v.doctor, a, 1).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let wrong = format!(
        "/appointments/{a}/messages/{text_id}/attachments/{}",
        attachment["id"].as_str().unwrap()
    );
    assert_eq!(
        app.call(Method::GET, &wrong, Some(&v.patient.token), None)
            .await
            .status(),
        404
    );

    // Abuse: every refusal leaves no file and no message behind.
    let exe = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0".repeat(64);
    let too_big = pdf(70 * 1024);
    let cases: Vec<(Vec<Part<'_>>, u16)> = vec![
        (
            vec![Part::file("invoice.pdf", "application/pdf", &exe)],
            415,
        ),
        (vec![Part::file("scan.png", "image/png", &report)], 415),
        (
            vec![Part::file("report.exe", "application/pdf", &report)],
            415,
        ),
        (
            vec![Part::file("big.pdf", "application/pdf", &too_big)],
            413,
        ),
        (vec![Part::file("empty.pdf", "application/pdf", b"")], 422),
        (
            vec![Part::file("../../etc/passwd", "text/plain", b"root:x:0:0")],
            422,
        ),
        (
            vec![
                Part::file("a.pdf", "application/pdf", &report),
                Part::text("message", "late"),
            ],
            422,
        ),
        (vec![Part::text("message", "no file")], 422),
        (vec![Part::text("colour", "red")], 422),
    ];
    for (parts, expected) in cases {
        let (status, body) = attach(&app, &v.patient, a, &parts).await;
        assert_eq!(status, expected, "{body}");
        assert!(body["code"].is_string(), "{body}");
    }
    // The form breaks after its file was stored: the file goes too.
    let (content_type, mut body) = multipart(&[Part::file("r.pdf", "application/pdf", &report)]);
    let end = format!("--{}--\r\n", e2e::clinic::BOUNDARY);
    body.truncate(body.len() - end.len());
    body.extend_from_slice(
        format!(
            "--{}\r\nContent-Disposition: form-da",
            e2e::clinic::BOUNDARY
        )
        .as_bytes(),
    );
    let response = app
        .client
        .post(app.url(&format!("/appointments/{a}/messages/attachments")))
        .header("Content-Type", content_type)
        .bearer_auth(&v.patient.token)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    for outsider in [&v.other_patient, &v.desk] {
        let (status, _) = attach(
            &app,
            outsider,
            a,
            &[Part::file("r.pdf", "application/pdf", &report)],
        )
        .await;
        assert_eq!(status, 404);
    }
    assert_eq!(
        app.stored_files().len(),
        1,
        "nothing stays behind a refused upload"
    );
    assert_eq!(seqs(&history(&app, &v.patient, a, 50).await), [2, 1]);
    // A closed conversation takes no file either.
    let (status, _) = app
        .json(
            Method::POST,
            &format!("/appointments/{a}/cancel"),
            Some(&v.desk.token),
            Some(json!({ "reason": "Doctor ill" })),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = attach(
        &app,
        &v.patient,
        a,
        &[Part::file("r.pdf", "application/pdf", &report)],
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (409, Some("CHAT_CLOSED")));
    assert_eq!(app.stored_files().len(), 1);
}
