//! The dashboard (issue 13) against the real stores: a small known clinic, every figure
//! asserted to the unit and the cent; the scope per role; the cache; bad periods; the CSV.

use chrono::{Duration, Utc};
use e2e::api::day_ahead;
use e2e::TestApp;
use reqwest::Method;
use serde_json::{json, Value};

#[tokio::test]
async fn a_known_clinic_gives_exact_figures_to_the_admin_and_the_doctor_only() {
    let app = TestApp::spawn().await;
    let v = app.visit("80.50", true).await;
    // The visit: completed (a PENDING bill of 80.50).
    app.step(&v.doctor, &v.appointment_id, "complete", 200)
        .await;
    // A second booking of the same doctor and day, cancelled by the desk.
    let (date, _) = day_ahead(2);
    let slot = app.free_slots(&v.doctor_id, date).await.remove(0);
    let (status, second) = app
        .json(
            Method::POST,
            "/appointments",
            Some(&v.other_patient.token),
            Some(json!({ "timeSlotId": slot, "type": "CONSULTATION", "reason": "Check-up" })),
        )
        .await;
    assert_eq!(status, 201, "{second}");
    let second_id = second["id"].as_str().unwrap();
    let (status, body) = app
        .json(
            Method::POST,
            &format!("/appointments/{second_id}/cancel"),
            Some(&v.desk.token),
            Some(json!({ "reason": "Patient called" })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, first) = app
        .json(
            Method::GET,
            &format!("/appointments/{}", v.appointment_id),
            Some(&v.admin.token),
            None,
        )
        .await;
    let lead = |a: &Value| {
        let starts: chrono::DateTime<Utc> = a["startsAt"].as_str().unwrap().parse().unwrap();
        let booked: chrono::DateTime<Utc> = a["createdAt"].as_str().unwrap().parse().unwrap();
        (starts - booked).num_milliseconds() as f64 / 60_000.0
    };
    let median_minutes = ((lead(&first) + lead(&second)) / 2.0).round() as i64;

    let today = Utc::now().date_naive();
    let (from, to) = (today, today + Duration::days(3));
    let path = format!("/analytics/dashboard?from={from}&to={to}");
    let (status, d) = app
        .json(Method::GET, &path, Some(&v.admin.token), None)
        .await;
    assert_eq!(status, 200, "{d}");
    assert_eq!(d["scope"], "clinic");
    assert_eq!(d["period"], json!({ "from": from, "to": to, "days": 4 }));
    assert_eq!(d["previousPeriod"]["to"], json!(today - Duration::days(1)));
    assert_eq!(d["appointments"], 2);
    let by_status: Vec<(String, u64)> = d["byStatus"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["status"].as_str().unwrap().to_owned(),
                s["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        by_status,
        [
            ("SCHEDULED".to_owned(), 0),
            ("CONFIRMED".to_owned(), 0),
            ("IN_PROGRESS".to_owned(), 0),
            ("COMPLETED".to_owned(), 1),
            ("CANCELLED".to_owned(), 1),
        ]
    );
    let by_day: Vec<u64> = d["byDay"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["count"].as_u64().unwrap())
        .collect();
    assert_eq!(
        by_day,
        [0, 0, 2, 0],
        "both start on the day after tomorrow; empty days are zeros"
    );
    assert_eq!(d["byDoctor"].as_array().unwrap().len(), 1);
    assert_eq!(d["byDoctor"][0]["count"], 2);
    assert_eq!(
        d["byDepartment"],
        json!([]),
        "the doctor is in no department"
    );
    assert_eq!(d["cancellationRate"], "0.5000");
    // 09:00-12:00 in 30 minutes: 6 slots; the completed visit holds one, the cancelled one
    // gave its slot back.
    assert_eq!(
        (d["slotsGenerated"].as_u64(), d["slotsBooked"].as_u64()),
        (Some(6), Some(1))
    );
    assert_eq!(d["slotUtilisation"], "0.1667");
    assert_eq!(
        d["revenue"],
        json!({ "paid": "0.00", "outstanding": "80.50", "overdue": "0.00", "refunded": "0.00" })
    );
    assert_eq!(d["newPatients"], 2);
    assert_eq!(d["medianLeadTimeMinutes"], median_minutes);
    assert_eq!(
        d["headline"]["appointments"],
        json!({ "current": "2", "previous": "0", "change": "+2" })
    );
    assert_eq!(d["headline"]["revenueOutstanding"]["change"], "+80.50");

    // Cached: the same computation is answered again.
    let (_, again) = app
        .json(Method::GET, &path, Some(&v.admin.token), None)
        .await;
    assert_eq!(again["computedAt"], d["computedAt"]);

    // The doctor sees the same figures, as its own; another doctor sees none of them.
    let (status, own) = app
        .json(Method::GET, &path, Some(&v.doctor.token), None)
        .await;
    assert_eq!(status, 200, "{own}");
    assert_eq!(
        (own["scope"].as_str(), own["appointments"].as_u64()),
        (Some("doctor"), Some(2))
    );
    assert_eq!(own["doctorId"], json!(v.doctor_id));
    let (_, other) = app
        .json(Method::GET, &path, Some(&v.other_doctor.token), None)
        .await;
    assert_eq!(
        (
            other["appointments"].as_u64(),
            other["slotsGenerated"].as_u64()
        ),
        (Some(0), Some(0))
    );
    assert_eq!(other["revenue"]["outstanding"], "0.00");
    for refused in [&v.patient, &v.desk] {
        let (status, _) = app
            .json(Method::GET, &path, Some(&refused.token), None)
            .await;
        assert_eq!(status, 403);
    }

    // An empty period: zeros, no median.
    let (_, empty) = app
        .json(
            Method::GET,
            "/analytics/dashboard?from=2020-01-01&to=2020-01-07",
            Some(&v.admin.token),
            None,
        )
        .await;
    assert_eq!(
        (
            empty["appointments"].as_u64(),
            empty["byDay"].as_array().map(Vec::len)
        ),
        (Some(0), Some(7))
    );
    assert_eq!(empty["medianLeadTimeMinutes"], Value::Null);
    assert_eq!(empty["cancellationRate"], "0.0000");

    // Bad periods.
    for (query, field) in [
        ("range=week", "range"),
        ("from=2026-01-01", "to"),
        ("to=2026-01-01", "from"),
        ("from=2026-01-02&to=2026-01-01", "to"),
        ("from=2024-01-01&to=2025-01-01", "to"),
        ("range=7d&from=2026-01-01&to=2026-01-02", "range"),
    ] {
        let (status, body) = app
            .json(
                Method::GET,
                &format!("/analytics/dashboard?{query}"),
                Some(&v.admin.token),
                None,
            )
            .await;
        assert_eq!(
            (status, body["field"].as_str()),
            (422, Some(field)),
            "{query}: {body}"
        );
    }

    // The CSV: the same figures, for spreadsheets.
    let response = app
        .call(
            Method::GET,
            &format!("/analytics/dashboard.csv?from={from}&to={to}"),
            Some(&v.admin.token),
            None,
        )
        .await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/csv"));
    let csv = response.text().await.unwrap();
    assert!(csv.starts_with("section,key,value\r\n"));
    for row in [
        "total,appointments,2",
        "total,cancellationRate,0.5000",
        "revenue,outstanding,80.50",
        "byStatus,CANCELLED,1",
    ] {
        assert!(csv.contains(&format!("{row}\r\n")), "{row} in\n{csv}");
    }
}
