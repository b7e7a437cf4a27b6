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
    let (status, second) = app.book(&v.other_patient.token, &slot, None).await;
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
        (starts - booked).num_hours()
    };
    // Whole hours, rounded down; the lower median of two is the smaller.
    let median_hours = lead(&first).min(lead(&second));

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
            ("NO_SHOW".to_owned(), 0),
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
    assert_eq!(d["medianLeadTimeHours"], median_hours);
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
    assert_eq!(empty["medianLeadTimeHours"], Value::Null);
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

/// Runs `sql` (several statements) on the app's database.
async fn sql(app: &TestApp, sql: &str) {
    use diesel_async::SimpleAsyncConnection;
    let mut conn = app.app.pg.get().await.unwrap();
    conn.batch_execute(sql).await.unwrap();
}

/// The counts of a dashboard's list (`byStatus`, `byDay`) by their key.
fn counts(list: &Value, key: &str) -> Vec<(String, u64)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x[key].as_str().unwrap().to_owned(),
                x["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// A known clinic in London written straight into the tables (so its times are exact, across
/// both DST changes of 2026), through the triggers that keep the roll-up: every figure of the
/// clinic's and one doctor's dashboard asserted, before and after the fold, and the roll-up
/// equal to the raw aggregation.
#[tokio::test]
async fn every_figure_is_exact_across_dst_changes_in_the_clinics_zone() {
    let app = TestApp::spawn_with(|c| c.clinic_timezone = "Europe/London".into()).await;
    let admin = app.admin().await;
    let ada = app.staff(&admin, "DOCTOR").await;
    let bo = app.staff(&admin, "DOCTOR").await;
    let cy = app.staff(&admin, "DOCTOR").await;
    let (d1, d2, d3) = (
        ada.profile_id.clone().unwrap(),
        bo.profile_id.clone().unwrap(),
        cy.profile_id.clone().unwrap(),
    );
    let patient_no = |n: u32| format!("00000000-0000-4000-8000-00000000000{n}");
    let user_no = |n: u32| format!("00000000-0000-4000-9000-00000000000{n}");
    let mut fixture = format!(
        r#"
        UPDATE users SET name = 'Dr Ada' WHERE id = '{ada_user}';
        UPDATE users SET name = 'Dr Bo' WHERE id = '{bo_user}';
        UPDATE users SET name = 'Dr Cy' WHERE id = '{cy_user}';
        INSERT INTO departments (id, name, description) VALUES
            ('00000000-0000-4000-a000-00000000000a', 'Cardiology', 'Hearts'),
            ('00000000-0000-4000-a000-00000000000b', 'General', 'Everything else');
        -- Ada is in both departments, Bo in General only, Cy in none.
        INSERT INTO doctor_departments (doctor_id, department_id) VALUES
            ('{d1}', '00000000-0000-4000-a000-00000000000a'),
            ('{d1}', '00000000-0000-4000-a000-00000000000b'),
            ('{d2}', '00000000-0000-4000-a000-00000000000b');
        -- Patients 1 and 2 are new in the March period (2's account at 00:30 BST on the 30th,
        -- the 29th in UTC), 3 on 25 October (00:30 BST), 4 long before, 5 just after March
        -- (00:30 BST on 1 April).
        INSERT INTO users (id, email, password_hash, name, role, created_at) VALUES
            ('{u1}', 'p1@fixture.test', 'x', 'Patient One', 'PATIENT', '2026-03-28 23:30Z'),
            ('{u2}', 'p2@fixture.test', 'x', 'Patient Two', 'PATIENT', '2026-03-29 23:30Z'),
            ('{u3}', 'p3@fixture.test', 'x', 'Patient Three', 'PATIENT', '2026-10-24 23:30Z'),
            ('{u4}', 'p4@fixture.test', 'x', 'Patient Four', 'PATIENT', '2026-01-01 12:00Z'),
            ('{u5}', 'p5@fixture.test', 'x', 'Patient Five', 'PATIENT', '2026-03-31 23:30Z');
        INSERT INTO patients (id, user_id) VALUES
            ('{p1}', '{u1}'), ('{p2}', '{u2}'), ('{p3}', '{u3}'), ('{p4}', '{u4}'), ('{p5}', '{u5}');
        "#,
        ada_user = ada.user_id,
        bo_user = bo.user_id,
        cy_user = cy.user_id,
        u1 = user_no(1),
        u2 = user_no(2),
        u3 = user_no(3),
        u4 = user_no(4),
        u5 = user_no(5),
        p1 = patient_no(1),
        p2 = patient_no(2),
        p3 = patient_no(3),
        p4 = patient_no(4),
        p5 = patient_no(5),
    );
    // Appointments: (name, doctor, patient, start (UTC), lead in minutes, status, bill).
    // Walk-ins (EMERGENCY) need no slot; slots are written apart below.
    let appointments = [
        // 27 March, 23:30 GMT: the day before the period (in the previous one).
        (
            "a9",
            &d1,
            2,
            "2026-03-27 23:30Z",
            600,
            "COMPLETED",
            Some(("PAID", "10.00")),
        ),
        (
            "a1",
            &d1,
            1,
            "2026-03-28 10:00Z",
            72 * 60,
            "COMPLETED",
            Some(("PAID", "100.00")),
        ),
        // 00:30 GMT on the 29th, before the clocks go forward at 01:00.
        (
            "a2",
            &d1,
            2,
            "2026-03-29 00:30Z",
            12 * 60,
            "CANCELLED",
            None,
        ),
        // 00:30 BST on the 30th (the 29th in UTC).
        (
            "a3",
            &d2,
            3,
            "2026-03-29 23:30Z",
            24 * 60 + 59,
            "COMPLETED",
            Some(("REFUNDED", "60.00")),
        ),
        (
            "a4",
            &d2,
            1,
            "2026-03-30 09:00Z",
            5 * 60,
            "COMPLETED",
            Some(("OVERDUE", "45.50")),
        ),
        (
            "a5",
            &d3,
            2,
            "2026-03-30 12:00Z",
            100 * 60,
            "SCHEDULED",
            None,
        ),
        ("a6", &d1, 3, "2026-03-30 13:00Z", 60, "CONFIRMED", None),
        ("a7", &d3, 4, "2026-03-30 14:00Z", 30, "IN_PROGRESS", None),
        (
            "a8",
            &d1,
            4,
            "2026-03-30 15:00Z",
            49 * 60,
            "COMPLETED",
            Some(("PENDING", "80.25")),
        ),
        // 00:30 BST on 1 April: after the period; the 31st has nothing.
        ("a10", &d1, 4, "2026-03-31 23:30Z", 60, "SCHEDULED", None),
        // 25 October, the 25-hour day: 00:15 BST and 23:30 GMT are in it, 23:45 BST on the
        // 24th is not.
        ("b1", &d2, 3, "2026-10-24 23:15Z", 120, "SCHEDULED", None),
        ("b2", &d2, 1, "2026-10-25 23:30Z", 180, "SCHEDULED", None),
        ("b3", &d2, 2, "2026-10-24 22:45Z", 60, "SCHEDULED", None),
    ];
    for (i, (name, doctor, patient, starts, lead, status, bill)) in appointments.iter().enumerate()
    {
        let id = format!("00000000-0000-4000-b000-{:012}", i + 1);
        let cancel = if *status == "CANCELLED" {
            "'Patient called'"
        } else {
            "NULL"
        };
        fixture.push_str(&format!(
            "-- {name}\n\
             INSERT INTO appointments (id, patient_id, doctor_id, type, status, reason, cancel_reason,\n\
                 consultation_fee, starts_at, ends_at, created_at)\n\
             VALUES ('{id}', '{patient}', '{doctor}', 'EMERGENCY', '{status}', 'Fixture', {cancel}, 80,\n\
                 '{starts}', timestamptz '{starts}' + interval '15 minutes',\n\
                 timestamptz '{starts}' - interval '{lead} minutes');\n",
            patient = patient_no(*patient as u32),
        ));
        if let Some((bill_status, amount)) = bill {
            let paid = if matches!(*bill_status, "PAID" | "REFUNDED") {
                "now(), 'CARD'"
            } else {
                "NULL, NULL"
            };
            fixture.push_str(&format!(
                "INSERT INTO billings (appointment_id, patient_id, amount, status, paid_at, payment_method, due_at)\n\
                 VALUES ('{id}', '{patient}', {amount}, '{bill_status}', {paid}, now());\n",
                patient = patient_no(*patient as u32),
            ));
        }
    }
    // Slots by local date: Ada 2 on the 28th (1 taken) and 1 on the 29th, Bo 3 on the 30th (2
    // taken), Cy 2 on the 31st; outside: Ada on the 27th and on 1 April.
    fixture.push_str(&format!(
        r#"
        INSERT INTO schedules (id, doctor_id, day_of_week, start_time, end_time, slot_duration_minutes)
        VALUES ('00000000-0000-4000-c000-000000000001', '{d1}', 'SAT', '09:00', '17:00', 15),
               ('00000000-0000-4000-c000-000000000002', '{d2}', 'MON', '09:00', '17:00', 15),
               ('00000000-0000-4000-c000-000000000003', '{d3}', 'TUE', '09:00', '17:00', 15);
        INSERT INTO time_slots (schedule_id, doctor_id, date, start_time, end_time, starts_at, ends_at, is_available)
        SELECT s, d, date, t, t + interval '15 minutes', date + t, date + t + interval '15 minutes', free
        FROM (VALUES
            ('00000000-0000-4000-c000-000000000001'::uuid, '{d1}'::uuid, date '2026-03-28', time '09:00', false),
            ('00000000-0000-4000-c000-000000000001', '{d1}', '2026-03-28', '09:15', true),
            ('00000000-0000-4000-c000-000000000001', '{d1}', '2026-03-29', '09:00', true),
            ('00000000-0000-4000-c000-000000000002', '{d2}', '2026-03-30', '09:00', false),
            ('00000000-0000-4000-c000-000000000002', '{d2}', '2026-03-30', '09:15', false),
            ('00000000-0000-4000-c000-000000000002', '{d2}', '2026-03-30', '09:30', true),
            ('00000000-0000-4000-c000-000000000003', '{d3}', '2026-03-31', '09:00', true),
            ('00000000-0000-4000-c000-000000000003', '{d3}', '2026-03-31', '09:15', true),
            ('00000000-0000-4000-c000-000000000001', '{d1}', '2026-03-27', '09:00', false),
            ('00000000-0000-4000-c000-000000000001', '{d1}', '2026-04-01', '09:00', true)
        ) v(s, d, date, t, free);
        "#
    ));
    sql(&app, &fixture).await;

    let march = "/analytics/dashboard?from=2026-03-28&to=2026-03-31";
    let expected_clinic = |d: &Value| {
        assert_eq!(d["timeZone"], "Europe/London");
        assert_eq!(d["appointments"], 8, "{d}");
        assert_eq!(
            counts(&d["byStatus"], "status"),
            [
                ("SCHEDULED".into(), 1),
                ("CONFIRMED".into(), 1),
                ("IN_PROGRESS".into(), 1),
                ("COMPLETED".into(), 4),
                ("CANCELLED".into(), 1),
                ("NO_SHOW".into(), 0),
            ]
        );
        assert_eq!(
            counts(&d["byDay"], "date"),
            [
                ("2026-03-28".into(), 1),
                ("2026-03-29".into(), 1),
                ("2026-03-30".into(), 6),
                ("2026-03-31".into(), 0),
            ],
            "by the local day: 00:30 BST on the 30th is the 30th; the 31st is empty"
        );
        let named = |list: &Value| -> Vec<(String, u64)> {
            list.as_array()
                .unwrap()
                .iter()
                .map(|x| {
                    (
                        x["name"].as_str().unwrap().to_owned(),
                        x["count"].as_u64().unwrap(),
                    )
                })
                .collect()
        };
        assert_eq!(
            named(&d["byDoctor"]),
            [
                ("Dr Ada".into(), 4),
                ("Dr Bo".into(), 2),
                ("Dr Cy".into(), 2)
            ]
        );
        assert_eq!(
            named(&d["byDepartment"]),
            [("General".into(), 6), ("Cardiology".into(), 4)],
            "Ada's appointments count in both of her departments; Cy's in none"
        );
        assert_eq!(d["cancellationRate"], "0.1250");
        assert_eq!(
            (d["slotsGenerated"].as_u64(), d["slotsBooked"].as_u64()),
            (Some(8), Some(3))
        );
        assert_eq!(d["slotUtilisation"], "0.3750");
        assert_eq!(
            d["revenue"],
            json!({ "paid": "100.00", "outstanding": "125.75", "overdue": "45.50", "refunded": "60.00" })
        );
        assert_eq!(d["newPatients"], 2);
        // Leads in whole hours: 0, 1, 5, 12, 24, 49, 72, 100; the lower median is the 4th.
        assert_eq!(d["medianLeadTimeHours"], 12);
        assert_eq!(
            d["previousPeriod"],
            json!({ "from": "2026-03-24", "to": "2026-03-27", "days": 4 })
        );
        assert_eq!(
            d["headline"]["appointments"],
            json!({ "current": "8", "previous": "1", "change": "+7" })
        );
        assert_eq!(
            d["headline"]["revenuePaid"],
            json!({ "current": "100.00", "previous": "10.00", "change": "+90.00" })
        );
        assert_eq!(
            d["headline"]["medianLeadTimeHours"],
            json!({ "current": "12", "previous": "10", "change": "+2" })
        );
    };
    let (status, d) = app.json(Method::GET, march, Some(&admin.token), None).await;
    assert_eq!(status, 200, "{d}");
    expected_clinic(&d);

    // Ada's own: 4 appointments; patients 1, 3 and 4 saw her first in the period (2 on the
    // 27th); leads 1, 12, 49, 72.
    let (status, own) = app.json(Method::GET, march, Some(&ada.token), None).await;
    assert_eq!(status, 200, "{own}");
    assert_eq!(
        counts(&own["byStatus"], "status"),
        [
            ("SCHEDULED".into(), 0),
            ("CONFIRMED".into(), 1),
            ("IN_PROGRESS".into(), 0),
            ("COMPLETED".into(), 2),
            ("CANCELLED".into(), 1),
            ("NO_SHOW".into(), 0),
        ]
    );
    assert_eq!(
        counts(&own["byDay"], "date")
            .iter()
            .map(|(_, n)| *n)
            .collect::<Vec<_>>(),
        [1, 1, 2, 0]
    );
    assert_eq!(own["byDepartment"].as_array().unwrap().len(), 2);
    assert_eq!(
        (
            own["byDepartment"][0]["name"].as_str(),
            own["byDepartment"][0]["count"].as_u64()
        ),
        (Some("Cardiology"), Some(4))
    );
    assert_eq!(own["cancellationRate"], "0.2500");
    assert_eq!(
        (own["slotsGenerated"].as_u64(), own["slotsBooked"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(own["slotUtilisation"], "0.3333");
    assert_eq!(
        own["revenue"],
        json!({ "paid": "100.00", "outstanding": "80.25", "overdue": "0.00", "refunded": "0.00" })
    );
    assert_eq!(own["newPatients"], 3);
    assert_eq!(own["medianLeadTimeHours"], 12);

    // The 25-hour day of October: 00:15 BST and 23:30 GMT are in it; patient 3 is new.
    let (_, october) = app
        .json(
            Method::GET,
            "/analytics/dashboard?from=2026-10-25&to=2026-10-25",
            Some(&admin.token),
            None,
        )
        .await;
    assert_eq!(october["appointments"], 2, "{october}");
    assert_eq!(october["newPatients"], 1);
    assert_eq!(october["medianLeadTimeHours"], 2);
    assert_eq!(october["revenue"]["paid"], "0.00");

    // The fold changes where the counts are kept, not what they are; the roll-up equals the
    // raw aggregation before and after it.
    assert_eq!(app.rollup_differences().await, Vec::<String>::new());
    api_http::jobs::fold_analytics_once(&app.app).await.unwrap();
    assert_eq!(app.count_rows("analytics_daily_changes").await, 0);
    assert_eq!(app.rollup_differences().await, Vec::<String>::new());
    let key = app.app.redis.key("analytics:clinic:2026-03-28..2026-03-31");
    let _: i64 = app
        .app
        .redis
        .query(deadpool_redis::redis::cmd("DEL").arg(&key))
        .await
        .unwrap();
    let (_, folded) = app.json(Method::GET, march, Some(&admin.token), None).await;
    expected_clinic(&folded);
}

/// The roll-up follows every change the API makes (bookings, a lost race for one slot,
/// confirmation, cancellation, rescheduling to another day, a walk-in, completion and its
/// bill, the overdue job, payment, refund) and equals the raw aggregation after each step.
#[tokio::test]
async fn the_rollup_follows_every_change_the_api_makes() {
    let (app, clock) = TestApp::spawn_with_manual_clock(|_| {}).await;
    let mut v = app.visit("80.50", true).await;
    assert_eq!(app.rollup_differences().await, Vec::<String>::new());
    app.step(&v.doctor, &v.appointment_id, "complete", 200)
        .await;

    // Eight patients race for one slot: one booking commits, the others roll back.
    let (date, _) = day_ahead(2);
    let slots = app.free_slots(&v.doctor_id, date).await;
    let mut racers = Vec::new();
    for _ in 0..8 {
        racers.push(app.patient().await);
    }
    let results =
        futures::future::join_all(racers.iter().map(|p| app.book(&p.token, &slots[0], None))).await;
    assert_eq!(results.iter().filter(|(s, _)| *s == 201).count(), 1);
    assert_eq!(app.rollup_differences().await, Vec::<String>::new());

    let (status, second) = app.book(&v.other_patient.token, &slots[1], None).await;
    assert_eq!(status, 201, "{second}");
    let second = second["id"].as_str().unwrap().to_owned();
    app.step(&v.desk, &second, "confirm", 200).await;
    // A new schedule on the next day generates its slots; the visit moves there.
    let (later, later_day) = day_ahead(3);
    app.schedule(&v.admin, &v.doctor_id, later_day, "09:00", "10:00", 30)
        .await;
    let later_slot = app.free_slots(&v.doctor_id, later).await.remove(0);
    let (status, moved) = app
        .json(
            Method::POST,
            &format!("/appointments/{second}/reschedule"),
            Some(&v.desk.token),
            Some(json!({ "timeSlotId": later_slot })),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    let winner = results.iter().find(|(s, _)| *s == 201).unwrap().1["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = app
        .json(
            Method::POST,
            &format!("/appointments/{winner}/cancel"),
            Some(&v.desk.token),
            Some(json!({ "reason": "Patient called" })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .json(
            Method::POST,
            "/appointments/walk-ins",
            Some(&v.desk.token),
            Some(json!({ "patientId": v.patient_id, "doctorId": v.doctor_id, "reason": "Chest pain" })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(app.rollup_differences().await, Vec::<String>::new());

    // The bill goes overdue by the job, is paid, then refunded.
    let (_, bills) = app
        .json(Method::GET, "/billings", Some(&v.admin.token), None)
        .await;
    let bill = bills["items"][0]["id"].as_str().unwrap().to_owned();
    clock.advance(Duration::days(app.config.bill_due_days + 3));
    assert_eq!(
        api_http::jobs::mark_overdue_once(&app.app).await.unwrap(),
        1
    );
    assert_eq!(app.rollup_differences().await, Vec::<String>::new());
    // Two weeks on, the morning's sessions have expired.
    app.relogin(&mut v.desk).await;
    app.relogin(&mut v.admin).await;
    let (status, body) = app
        .json(
            Method::POST,
            &format!("/billings/{bill}/pay"),
            Some(&v.desk.token),
            Some(json!({ "paymentMethod": "CASH" })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    api_http::jobs::fold_analytics_once(&app.app).await.unwrap();
    let (status, body) = app
        .json(
            Method::POST,
            &format!("/billings/{bill}/refund"),
            Some(&v.admin.token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(app.rollup_differences().await, Vec::<String>::new());
    api_http::jobs::fold_analytics_once(&app.app).await.unwrap();
    assert_eq!(app.rollup_differences().await, Vec::<String>::new());
}

/// Random changes to a seeded clinic from four connections at once (some transactions
/// committed, some rolled back, some refused by the tables' rules half-way), with the fold
/// running beside them: afterwards the roll-up equals the raw aggregation.
#[tokio::test]
async fn concurrent_random_changes_leave_the_rollup_equal_to_the_raw_aggregation() {
    use diesel_async::SimpleAsyncConnection;
    let app = TestApp::spawn_with(|c| c.clinic_timezone = "America/New_York".into()).await;
    api_http::seed::run(
        app.config.clone(),
        api_http::seed::SeedOptions {
            seed: 11,
            appointments: 3_000,
            reset: false,
        },
    )
    .await
    .unwrap();
    assert_eq!(app.rollup_differences().await, Vec::<String>::new());

    // Each statement picks its rows at random in PostgreSQL; the tables' rules (one active
    // booking per slot, no overlapping visits of a patient, bills' paid fields) refuse some.
    const CHANGES: &[&str] = &[
        "UPDATE appointments SET status = 'CANCELLED', cancel_reason = 'random'
         WHERE id IN (SELECT id FROM appointments TABLESAMPLE SYSTEM (5) LIMIT 3)",
        "UPDATE appointments SET status = (ARRAY['SCHEDULED', 'CONFIRMED', 'IN_PROGRESS',
             'COMPLETED', 'NO_SHOW']::appointment_status[])[1 + floor(random() * 5)::int]
         WHERE id IN (SELECT id FROM appointments TABLESAMPLE SYSTEM (5) LIMIT 2)",
        "UPDATE appointments SET starts_at = starts_at + interval '13 hours',
             ends_at = ends_at + interval '13 hours'
         WHERE id IN (SELECT id FROM appointments TABLESAMPLE SYSTEM (5) LIMIT 2)",
        "UPDATE appointments SET created_at = created_at - interval '90 minutes'
         WHERE id IN (SELECT id FROM appointments TABLESAMPLE SYSTEM (5) LIMIT 4)",
        "UPDATE appointments SET notes = 'only notes' WHERE id IN
             (SELECT id FROM appointments TABLESAMPLE SYSTEM (5) LIMIT 5)",
        "UPDATE billings SET status = s, paid_at = CASE WHEN s IN ('PAID', 'REFUNDED') THEN now() END,
             payment_method = CASE WHEN s IN ('PAID', 'REFUNDED') THEN 'CARD' END
         FROM (SELECT (ARRAY['PENDING', 'OVERDUE', 'PAID', 'REFUNDED']::billing_status[])
                      [1 + floor(random() * 4)::int] AS s) r
         WHERE id IN (SELECT id FROM billings TABLESAMPLE SYSTEM (10) LIMIT 3)",
        "UPDATE billings SET amount = amount + 1.25
         WHERE id IN (SELECT id FROM billings TABLESAMPLE SYSTEM (10) LIMIT 2)",
        "UPDATE time_slots SET is_available = NOT is_available
         WHERE id IN (SELECT id FROM time_slots TABLESAMPLE SYSTEM (5) LIMIT 4)",
        "DELETE FROM time_slots WHERE id IN (SELECT t.id FROM time_slots t TABLESAMPLE SYSTEM (5)
             WHERE NOT EXISTS (SELECT 1 FROM appointments a WHERE a.time_slot_id = t.id) LIMIT 2)",
        "INSERT INTO appointments (patient_id, doctor_id, type, reason, consultation_fee,
             starts_at, ends_at, created_at, status, cancel_reason)
         SELECT p.id, d.id, 'EMERGENCY', 'random walk-in', 55.55, t, t + interval '20 minutes',
             t - random() * interval '30 days', 'CANCELLED', 'random'
         FROM (SELECT id FROM patients ORDER BY random() LIMIT 1) p,
              (SELECT id FROM doctors ORDER BY random() LIMIT 1) d,
              (SELECT now() - random() * interval '400 days' AS t) w",
        "INSERT INTO billings (appointment_id, patient_id, amount, due_at)
         SELECT a.id, a.patient_id, a.consultation_fee, now() FROM appointments a
         WHERE a.status = 'CANCELLED' AND NOT EXISTS
             (SELECT 1 FROM billings b WHERE b.appointment_id = a.id) LIMIT 2",
        "DELETE FROM billings WHERE id IN (SELECT id FROM billings TABLESAMPLE SYSTEM (10) LIMIT 1)",
        "DELETE FROM appointments a WHERE a.reason = 'random walk-in' AND NOT EXISTS
             (SELECT 1 FROM billings b WHERE b.appointment_id = a.id)
             AND a.id IN (SELECT id FROM appointments WHERE reason = 'random walk-in' LIMIT 1)",
    ];
    let worker = |seed: u64| {
        let db = app.database();
        async move {
            let mut conn = db.connect().await;
            let mut state = seed;
            let mut next = move || {
                // xorshift64: reproducible choices per worker.
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            };
            let (mut committed, mut refused) = (0, 0);
            for _ in 0..60 {
                let mut batch = String::from("BEGIN;");
                for _ in 0..1 + next() % 3 {
                    batch.push_str(CHANGES[(next() % CHANGES.len() as u64) as usize]);
                    batch.push(';');
                }
                let end = if next() % 4 == 0 {
                    "ROLLBACK;"
                } else {
                    "COMMIT;"
                };
                batch.push_str(end);
                match conn.batch_execute(&batch).await {
                    Ok(()) if end == "COMMIT;" => committed += 1,
                    Ok(()) => {}
                    Err(_) => {
                        refused += 1;
                        conn.batch_execute("ROLLBACK").await.unwrap();
                    }
                }
            }
            (committed, refused)
        }
    };
    let folding = async {
        for _ in 0..20 {
            api_http::jobs::fold_analytics_once(&app.app).await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    };
    let (outcomes, ()) = futures::join!(
        futures::future::join_all(
            (1..=4).map(|w| worker(0x9E37_79B9_7F4A_7C15_u64.wrapping_mul(w)))
        ),
        folding
    );
    let committed: u32 = outcomes.iter().map(|(c, _)| c).sum();
    let refused: u32 = outcomes.iter().map(|(_, r)| r).sum();
    assert!(committed > 50, "{outcomes:?}");
    assert!(
        refused > 0,
        "some changes are refused by the rules: {outcomes:?}"
    );
    assert_eq!(app.rollup_differences().await, Vec::<String>::new());
    api_http::jobs::fold_analytics_once(&app.app).await.unwrap();
    assert_eq!(app.rollup_differences().await, Vec::<String>::new());
}

/// Two `serve` processes asked for the same missing dashboard at once count it once: the one
/// that claims it computes, the other waits for its result (same `computedAt`). The roll-up
/// is held locked meanwhile so that the two computations would overlap without the claim.
#[tokio::test]
async fn two_processes_asked_at_once_compute_a_dashboard_once() {
    use diesel_async::SimpleAsyncConnection;
    let app = TestApp::spawn().await;
    let sibling = app.sibling().await;
    let admin = app.admin().await;
    let mut lock = app.database().connect().await;
    lock.batch_execute("BEGIN; LOCK TABLE analytics_daily IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let path = "/analytics/dashboard?from=2026-01-01&to=2026-01-31";
    let release = async {
        tokio::time::sleep(std::time::Duration::from_millis(800)).await;
        lock.batch_execute("COMMIT").await.unwrap();
    };
    let ((s1, a), (s2, b), ()) = tokio::join!(
        app.json(Method::GET, path, Some(&admin.token), None),
        sibling.json(Method::GET, path, Some(&admin.token), None),
        release
    );
    assert_eq!((s1, s2), (200, 200), "{a} {b}");
    assert_eq!(a["computedAt"], b["computedAt"], "computed once");
    // The claim is gone with the computation: a later miss (another period) is counted at once.
    let started = std::time::Instant::now();
    let (status, _) = sibling
        .json(
            Method::GET,
            "/analytics/dashboard?from=2026-02-01&to=2026-02-28",
            Some(&admin.token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

/// A Redis that refuses writes (out of memory) still reads sessions: the dashboard is then
/// counted directly on every request instead of failing.
#[tokio::test]
async fn a_redis_that_refuses_writes_means_computing_directly() {
    use e2e::servers::{Kind, ThrowawayServer};
    let redis = ThrowawayServer::start(Kind::Redis);
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let app = TestApp::spawn_with(|c| c.redis_url = url.clone()).await;
    let admin = app.admin().await;
    let path = "/analytics/dashboard?range=7d";
    let (status, cached) = app.json(Method::GET, path, Some(&admin.token), None).await;
    assert_eq!(status, 200, "{cached}");
    let client = deadpool_redis::redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = deadpool_redis::redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg("1")
        .query_async(&mut conn)
        .await
        .unwrap();
    let fresh = "/analytics/dashboard?range=30d";
    let (status, first) = app.json(Method::GET, fresh, Some(&admin.token), None).await;
    assert_eq!(status, 200, "{first}");
    let (status, second) = app.json(Method::GET, fresh, Some(&admin.token), None).await;
    assert_eq!(status, 200, "{second}");
    assert_ne!(
        first["computedAt"], second["computedAt"],
        "nothing could be cached: each request counted"
    );
    let (_, again) = app.json(Method::GET, path, Some(&admin.token), None).await;
    assert_eq!(
        again["computedAt"], cached["computedAt"],
        "what was cached is read"
    );
}
