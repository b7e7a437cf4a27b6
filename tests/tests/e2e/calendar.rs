//! The calendar feed from outside: issued by the doctor, read with no login by its secret URL,
//! parsed by an independent iCalendar parser (Python's `icalendar`, installed by
//! `make test-tools`), with the right instants and wall-clock times on both sides of a DST
//! change, stable UIDs, cancelled visits marked, names only when the doctor opts in, and the
//! old URL dead after a rotation or a revocation.

use std::io::Write;
use std::process::{Command, Stdio};

use chrono::{DateTime, Datelike, Duration, Utc};
use chrono_tz::Tz;
use e2e::TestApp;
use reqwest::Method;
use serde_json::{json, Value};

/// The venv's Python (`make test-tools`), or `HS_TEST_PYTHON`.
fn python() -> String {
    std::env::var("HS_TEST_PYTHON").unwrap_or_else(|_| {
        let venv = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../.stack/test-venv/bin/python"
        );
        assert!(
            std::path::Path::new(venv).exists(),
            "{venv} is missing: run `make test-tools` (make test does)"
        );
        venv.to_owned()
    })
}

/// What the independent parser makes of `text` (it fails the test on invalid iCalendar).
fn parse_ics(text: &str) -> Value {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/test-tools/ical_summary.py"
    );
    let mut child = Command::new(python())
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the parser refused the feed: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

const DAYS: [&str; 7] = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];

#[tokio::test]
async fn the_feed_parses_with_correct_times_across_dst_and_keeps_names_private() {
    let zone: Tz = "Europe/Berlin".parse().unwrap();
    let now = Utc::now();
    // The zone's next change of offset, and a day a week before and a week after it.
    let change = domain::calendar::ics::transitions(
        zone,
        now + Duration::days(8),
        now + Duration::days(366),
    )[0];
    let before = (change - Duration::days(7))
        .with_timezone(&zone)
        .date_naive();
    let after = (change + Duration::days(7))
        .with_timezone(&zone)
        .date_naive();
    let horizon = (after - now.date_naive()).num_days() + 7;
    let app = TestApp::spawn_with(|c| {
        c.clinic_timezone = "Europe/Berlin".into();
        c.slot_horizon_days = horizon;
    })
    .await;
    let admin = app.admin().await;
    let doctor = app.staff(&admin, "DOCTOR").await;
    let other_doctor = app.staff(&admin, "DOCTOR").await;
    let desk = app.staff(&admin, "RECEPTIONIST").await;
    let patient = app.patient().await;
    let doctor_id = doctor.profile_id.clone().unwrap();
    let patient_id = patient.profile_id.clone().unwrap();
    let mut booked = Vec::new();
    let mut days = Vec::new();
    for date in [before, after] {
        let day = DAYS[date.weekday().num_days_from_monday() as usize];
        if !days.contains(&day) {
            app.schedule(&admin, &doctor_id, day, "09:00", "11:00", 30)
                .await;
            days.push(day);
        }
        let slots = app.free_slots(&doctor_id, date).await;
        for slot in &slots[..2] {
            let (status, body) = app.book(&desk.token, slot, Some(&patient_id)).await;
            assert_eq!(status, 201, "{body}");
            booked.push(body);
        }
    }
    let cancelled = booked[1]["id"].as_str().unwrap().to_owned();
    let (status, body) = app
        .json(
            Method::POST,
            &format!("/appointments/{cancelled}/cancel"),
            Some(&desk.token),
            Some(json!({ "reason": "PRIVATE-REASON" })),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // The doctor issues its feed; the URL opens it with no login.
    let (status, issued) = app
        .json(
            Method::POST,
            &format!("/doctors/{doctor_id}/calendar-feed"),
            Some(&doctor.token),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 201, "{issued}");
    assert_eq!(issued["includePatientNames"], false);
    let path = issued["path"].as_str().unwrap().to_owned();
    assert_eq!(issued["url"].as_str().unwrap(), app.url(&path));
    let response = app.get(&path).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/calendar; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    let parsed = parse_ics(&text);
    assert_eq!(parsed["version"], "2.0");
    assert_eq!(parsed["zone"], "Europe/Berlin");
    assert_eq!(parsed["timezones"], json!(["Europe/Berlin"]));
    let events = parsed["events"].as_array().unwrap();
    assert_eq!(events.len(), 4, "{parsed:#}");
    for (event, appointment) in events.iter().zip(&booked) {
        assert_eq!(
            event["uid"],
            format!("{}@healthsync", appointment["id"].as_str().unwrap())
        );
        assert_eq!(event["tzid"], "Europe/Berlin");
        let starts: DateTime<Utc> = appointment["startsAt"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            event["startUtc"],
            starts.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            "the same instant, by the feed's own VTIMEZONE"
        );
        assert_eq!(
            event["startUtcBySystemZone"], event["startUtc"],
            "and by the system's tz database"
        );
        let ends: DateTime<Utc> = appointment["endsAt"].as_str().unwrap().parse().unwrap();
        assert_eq!(
            event["endUtc"],
            ends.format("%Y-%m-%dT%H:%M:%SZ").to_string()
        );
        assert_eq!(
            event["summary"], "Consultation",
            "no name without the opt-in"
        );
    }
    // 09:00 and 09:30 local on both sides of the change, though the UTC hours differ.
    let locals: Vec<&str> = events
        .iter()
        .map(|e| e["startLocal"].as_str().unwrap())
        .collect();
    assert_eq!(
        locals,
        vec![
            format!("{before}T09:00"),
            format!("{before}T09:30"),
            format!("{after}T09:00"),
            format!("{after}T09:30"),
        ]
    );
    let utc_hour = |e: &Value| e["startUtc"].as_str().unwrap()[11..13].to_owned();
    assert_ne!(
        utc_hour(&events[0]),
        utc_hour(&events[2]),
        "the offset changed between them"
    );
    assert_eq!(events[1]["status"], "CANCELLED");
    assert_eq!(events[0]["status"], "CONFIRMED");
    assert!(
        !text.contains("Pat Ient")
            && !text.contains("PRIVATE-REASON")
            && !text.contains("Check-up"),
        "{text}"
    );

    // Opting in rotates the URL: the old one is dead, the new one shows names.
    let (status, again) = app
        .json(
            Method::POST,
            &format!("/doctors/{doctor_id}/calendar-feed"),
            Some(&doctor.token),
            Some(json!({ "includePatientNames": true })),
        )
        .await;
    assert_eq!(status, 201, "{again}");
    assert_eq!(app.get(&path).await.status(), 404);
    let new_path = again["path"].as_str().unwrap().to_owned();
    assert_ne!(new_path, path);
    let named = parse_ics(&app.get(&new_path).await.text().await.unwrap());
    assert_eq!(named["events"][0]["summary"], "Consultation: Pat Ient");
    // Same UIDs as before: calendar apps update their events rather than duplicating them.
    assert_eq!(named["events"][0]["uid"], events[0]["uid"]);

    // Who may do what: another doctor 404, patients and the desk 403, an admin reads and
    // revokes but cannot issue.
    let (status, _) = app
        .json(
            Method::GET,
            &format!("/doctors/{doctor_id}/calendar-feed"),
            Some(&other_doctor.token),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .json(
            Method::POST,
            &format!("/doctors/{doctor_id}/calendar-feed"),
            Some(&other_doctor.token),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 404);
    for who in [&patient, &desk] {
        let (status, _) = app
            .json(
                Method::GET,
                &format!("/doctors/{doctor_id}/calendar-feed"),
                Some(&who.token),
                None,
            )
            .await;
        assert_eq!(status, 403);
    }
    let (status, _) = app
        .json(
            Method::POST,
            &format!("/doctors/{doctor_id}/calendar-feed"),
            Some(&admin.token),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 403);
    // A deactivated doctor's feed is closed with the account, and opens again with it.
    for (active, expected) in [(false, 404), (true, 200)] {
        let (status, body) = app
            .json(
                Method::PATCH,
                &format!("/users/{}/status", doctor.user_id),
                Some(&admin.token),
                Some(json!({ "isActive": active })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            app.get(&new_path).await.status(),
            expected,
            "active: {active}"
        );
    }
    let (status, seen) = app
        .json(
            Method::GET,
            &format!("/doctors/{doctor_id}/calendar-feed"),
            Some(&admin.token),
            None,
        )
        .await;
    assert_eq!(
        (status, seen["includePatientNames"].as_bool()),
        (200, Some(true))
    );
    assert!(
        !seen.to_string().contains("hscal_"),
        "the URL is never read back"
    );
    let (status, _) = app
        .json(
            Method::DELETE,
            &format!("/doctors/{doctor_id}/calendar-feed"),
            Some(&admin.token),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(app.get(&new_path).await.status(), 404);
    // Junk and guessed tokens are plain 404s.
    for junk in [
        "/calendar/hscal_x/appointments.ics",
        "/calendar/%2e%2e/appointments.ics",
    ] {
        assert_eq!(app.get(junk).await.status(), 404, "{junk}");
    }
    let guessed = format!(
        "/calendar/{}/appointments.ics",
        domain::calendar::FeedToken::generate().0
    );
    assert_eq!(app.get(&guessed).await.status(), 404);
}
