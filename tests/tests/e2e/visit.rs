//! A whole visit, end to end, with each role doing its own step; then the money rules: the
//! fee quoted at booking is what is billed, to the cent, and the bill's life after that.

use e2e::clinic::pdf;
use e2e::TestApp;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn a_visit_from_booking_to_paid_bill_with_each_role_doing_its_step() {
    let app = TestApp::spawn().await;
    // Booked by the patient, confirmed by the desk, started by the doctor.
    let v = app.visit("123.45", true).await;

    // The patient keeps a live stream open for the whole visit. (The booking's confirmation,
    // committed before, may still be announced on it: at least once around `ready`.)
    let known = app.notification_ids(&v.patient.token).await;
    let mut live = app.live(&v.patient.token).await;
    let (event, data) = live.next_event().await;
    assert_eq!(event, "ready");
    assert_eq!(data["count"], 1, "the BOOKING_CONFIRMATION is unread");

    // The doctor prescribes; the patient hears of it at once.
    let (status, prescription) = app.prescribe(&v.doctor, &v.appointment_id).await;
    assert_eq!(status, 201, "{prescription}");
    let (event, data) = live.next_new_event(&known).await;
    assert_eq!(
        (event.as_str(), data["type"].as_str()),
        ("notification", Some("PRESCRIPTION"))
    );
    assert_eq!(data["appointmentId"], v.appointment_id.as_str());

    // The doctor uploads a lab report (larger than one read chunk).
    let report = pdf(300_000);
    let (status, record) = app
        .upload(
            Some(&v.doctor.token),
            &v.patient_id,
            "LAB_REPORT",
            "cbc 2026-11.pdf",
            "application/pdf",
            &report,
        )
        .await;
    assert_eq!(status, 201, "{record}");
    assert_eq!(record["contentType"], "application/pdf");
    assert_eq!(record["sizeBytes"], report.len());
    assert_eq!(record["fileName"], "cbc 2026-11.pdf");

    // Completing the visit bills it, in the same transaction.
    let done = app
        .step(&v.doctor, &v.appointment_id, "complete", 200)
        .await;
    assert_eq!(done["status"], "COMPLETED");
    let (event, data) = live.next_new_event(&known).await;
    assert_eq!(
        (event.as_str(), data["type"].as_str()),
        ("notification", Some("PAYMENT"))
    );
    let (status, bills) = app
        .json(Method::GET, "/billings", Some(&v.patient.token), None)
        .await;
    assert_eq!(status, 200, "{bills}");
    assert_eq!(bills["total"], 1);
    let bill = &bills["items"][0];
    assert_eq!(bill["status"], "PENDING");
    assert_eq!(
        bill["amount"], "123.45",
        "the fee quoted at booking, to the cent"
    );
    assert_eq!(bill["appointmentId"], v.appointment_id.as_str());
    assert!(bill["paidAt"].is_null() && bill["paymentMethod"].is_null());
    let bill_id = bill["id"].as_str().unwrap().to_owned();

    // The patient pays.
    let (status, paid) = app
        .json(
            Method::POST,
            &format!("/billings/{bill_id}/pay"),
            Some(&v.patient.token),
            Some(json!({ "paymentMethod": "CARD" })),
        )
        .await;
    assert_eq!(status, 200, "{paid}");
    assert_eq!(paid["status"], "PAID");
    assert_eq!(paid["paymentMethod"], "CARD");
    assert!(paid["paidAt"].is_string());
    assert_eq!(paid["amount"], "123.45");
    let (event, data) = live.next_event().await;
    assert_eq!(
        (event.as_str(), data["title"].as_str()),
        ("notification", Some("Payment received"))
    );
    // Paying twice is refused, naming the moves a PAID bill has.
    let (status, again) = app
        .json(
            Method::POST,
            &format!("/billings/{bill_id}/pay"),
            Some(&v.patient.token),
            Some(json!({ "paymentMethod": "CARD" })),
        )
        .await;
    assert_eq!(
        (status, again["code"].as_str()),
        (409, Some("INVALID_TRANSITION"))
    );

    // The patient reads its prescription, items in the order written.
    let (status, mine) = app
        .json(
            Method::GET,
            &format!("/appointments/{}/prescription", v.appointment_id),
            Some(&v.patient.token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{mine}");
    assert_eq!(mine["diagnosis"], "Otitis media");
    let names: Vec<&str> = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["medicineName"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Amoxicillin", "Ibuprofen"]);
    assert_eq!(mine["items"][1]["instructions"], "with food");

    // ... lists its records and downloads the report byte for byte.
    let (status, records) = app
        .json(
            Method::GET,
            &format!("/patients/{}/medical-records?type=LAB_REPORT", v.patient_id),
            Some(&v.patient.token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{records}");
    assert_eq!(records["total"], 1);
    let url = records["items"][0]["fileUrl"].as_str().unwrap().to_owned();
    let download = app
        .client
        .get(app.url(&url))
        .bearer_auth(&v.patient.token)
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), 200);
    assert_eq!(download.headers()["content-type"], "application/pdf");
    assert_eq!(download.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        download.headers()["content-disposition"],
        "attachment; filename=\"cbc 2026-11.pdf\""
    );
    let bytes = download.bytes().await.unwrap();
    assert!(
        bytes.as_ref() == report.as_slice(),
        "the same bytes come back"
    );
    // Without a session the file is not served.
    assert_eq!(app.get(&url).await.status(), 401);

    // ... and sees its notifications: booking, prescription, bill, payment.
    let (_, notes) = app
        .json(
            Method::GET,
            "/notifications?perPage=50",
            Some(&v.patient.token),
            None,
        )
        .await;
    let mut kinds: Vec<&str> = notes["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["type"].as_str().unwrap())
        .collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        ["BOOKING_CONFIRMATION", "PAYMENT", "PAYMENT", "PRESCRIPTION"]
    );

    // Every change is in the audit log.
    app.wait_for_audit_shipped().await;
    for (entity, expected) in [("prescription", 1), ("medical_record", 1), ("billing", 2)] {
        let (status, found) = app
            .json(
                Method::GET,
                &format!("/audit-logs?entity={entity}"),
                Some(&v.admin.token),
                None,
            )
            .await;
        assert_eq!(status, 200, "{found}");
        assert_eq!(found["total"], expected, "{entity}: {found}");
    }
}

#[tokio::test]
async fn fees_with_cents_are_billed_and_paid_without_drift_and_a_later_fee_change_does_not_apply() {
    let app = TestApp::spawn().await;
    // Amounts that binary floating point cannot represent, and the largest the column holds.
    let fees = [
        "0.10",
        "0.20",
        "19.99",
        "33.33",
        "1234567.89",
        "99999999.99",
    ];
    let mut billed_cents: i128 = 0;
    for fee in fees {
        let v = app.visit(fee, true).await;
        // The doctor's fee changes after booking: the quoted figure still applies.
        let (status, _) = app
            .json(
                Method::PATCH,
                &format!("/doctors/{}", v.doctor_id),
                Some(&v.admin.token),
                Some(json!({ "consultationFee": "1.00" })),
            )
            .await;
        assert_eq!(status, 200);
        app.step(&v.doctor, &v.appointment_id, "complete", 200)
            .await;
        let (_, bills) = app
            .json(
                Method::GET,
                &format!("/billings?patientId={}", v.patient_id),
                Some(&v.desk.token),
                None,
            )
            .await;
        let bill = &bills["items"][0];
        assert_eq!(bill["amount"], fee, "billed exactly the quoted fee");
        let (status, paid) = app
            .json(
                Method::POST,
                &format!("/billings/{}/pay", bill["id"].as_str().unwrap()),
                Some(&v.desk.token),
                Some(json!({ "paymentMethod": "CASH" })),
            )
            .await;
        assert_eq!(status, 200, "{paid}");
        assert_eq!(paid["amount"], fee, "paid exactly the billed amount");
        let (units, cents) = fee.split_once('.').unwrap();
        billed_cents += units.parse::<i128>().unwrap() * 100 + cents.parse::<i128>().unwrap();
    }
    // The database's own sum agrees with the cents summed by hand.
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Sum {
        #[diesel(sql_type = diesel::sql_types::Text)]
        total: String,
    }
    let mut conn = app.app.pg.get().await.unwrap();
    let sum: Sum =
        diesel::sql_query("SELECT sum(amount)::text AS total FROM billings WHERE status = 'PAID'")
            .get_result(&mut conn)
            .await
            .unwrap();
    assert_eq!(
        sum.total,
        format!("{}.{:02}", billed_cents / 100, billed_cents % 100)
    );
}

#[tokio::test]
async fn an_unpaid_bill_becomes_overdue_can_still_be_paid_and_only_an_admin_refunds_it() {
    // Time is the test's: the OVERDUE job's step runs when the test says, at the clock's now.
    let (app, clock) = TestApp::spawn_with_manual_clock(|_| {}).await;
    let mut v = app.visit("50.05", true).await;
    app.step(&v.doctor, &v.appointment_id, "complete", 200)
        .await;
    let bill_path = {
        let (_, bills) = app
            .json(Method::GET, "/billings", Some(&v.patient.token), None)
            .await;
        format!("/billings/{}", bills["items"][0]["id"].as_str().unwrap())
    };
    let status_of = |token: String| {
        let (app, path) = (&app, bill_path.clone());
        async move {
            let (_, bill) = app.json(Method::GET, &path, Some(&token), None).await;
            bill["status"].as_str().unwrap().to_owned()
        }
    };
    // Due BILL_DUE_DAYS (30) after completion: a day before, the job leaves it alone.
    clock.advance(chrono::Duration::days(29));
    assert_eq!(
        api_http::jobs::mark_overdue_once(&app.app).await.unwrap(),
        0
    );
    // Sessions live 24 h by the same clock: log in again after the jump.
    for who in [&mut v.patient, &mut v.desk, &mut v.doctor, &mut v.admin] {
        app.relogin(who).await;
    }
    assert_eq!(status_of(v.patient.token.clone()).await, "PENDING");
    clock.advance(chrono::Duration::days(1) + chrono::Duration::minutes(1));
    for who in [&mut v.patient, &mut v.desk, &mut v.doctor, &mut v.admin] {
        app.relogin(who).await;
    }
    assert_eq!(
        api_http::jobs::mark_overdue_once(&app.app).await.unwrap(),
        1
    );
    assert_eq!(
        api_http::jobs::mark_overdue_once(&app.app).await.unwrap(),
        0,
        "a bill moves once"
    );
    assert_eq!(status_of(v.patient.token.clone()).await, "OVERDUE");
    let (_, overdue) = app
        .json(
            Method::GET,
            "/billings?status=OVERDUE",
            Some(&v.desk.token),
            None,
        )
        .await;
    assert_eq!(overdue["total"], 1, "the desk filters by status");
    let (_, notes) = app
        .json(Method::GET, "/notifications", Some(&v.patient.token), None)
        .await;
    assert!(
        notes["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["title"] == "Payment overdue"),
        "{notes}"
    );

    // The desk records the payment; a refund is the admin's alone, and only once.
    let (status, paid) = app
        .json(
            Method::POST,
            &format!("{bill_path}/pay"),
            Some(&v.desk.token),
            Some(json!({ "paymentMethod": "INSURANCE" })),
        )
        .await;
    assert_eq!((status, paid["status"].as_str()), (200, Some("PAID")));
    for who in [&v.patient, &v.desk, &v.doctor] {
        let (status, _) = app
            .json(
                Method::POST,
                &format!("{bill_path}/refund"),
                Some(&who.token),
                None,
            )
            .await;
        assert_eq!(status, 403);
    }
    let (status, refunded) = app
        .json(
            Method::POST,
            &format!("{bill_path}/refund"),
            Some(&v.admin.token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{refunded}");
    assert_eq!(refunded["status"], "REFUNDED");
    assert_eq!(
        refunded["paymentMethod"], "INSURANCE",
        "how it was paid is kept"
    );
    let (status, again) = app
        .json(
            Method::POST,
            &format!("{bill_path}/refund"),
            Some(&v.admin.token),
            None,
        )
        .await;
    assert_eq!(
        (status, again["code"].as_str()),
        (409, Some("INVALID_TRANSITION"))
    );
    // Bad payment methods are refused by name.
    let (status, bad) = app
        .json(
            Method::POST,
            &format!("{bill_path}/pay"),
            Some(&v.desk.token),
            Some(json!({ "paymentMethod": "BITCOIN" })),
        )
        .await;
    assert_eq!(status, 422, "{bad}");
    assert_eq!(bad["field"], "paymentMethod");

    // Every move of the bill is audited, the job's without a user.
    app.wait_for_audit_shipped().await;
    let bill_id = bill_path.trim_start_matches("/billings/");
    let (_, log) = app
        .json(
            Method::GET,
            &format!("/audit-logs?entity=billing&entityId={bill_id}&perPage=10"),
            Some(&v.admin.token),
            None,
        )
        .await;
    let moves: Vec<(&str, Option<&str>, bool)> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["changes"]["after"]["status"].as_str(),
                e["userId"].is_null(),
            )
        })
        .collect();
    assert_eq!(
        moves,
        [
            ("CREATE", Some("PENDING"), false),
            ("UPDATE", Some("OVERDUE"), true),
            ("UPDATE", Some("PAID"), false),
            ("UPDATE", Some("REFUNDED"), false),
        ]
    );
}

#[tokio::test]
async fn one_prescription_per_appointment_and_only_while_it_is_under_way() {
    let app = TestApp::spawn().await;
    let v = app.visit("10.00", false).await;
    // CONFIRMED, not started: too early.
    let (status, body) = app.prescribe(&v.doctor, &v.appointment_id).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("APPOINTMENT_NOT_IN_CONSULTATION"))
    );
    app.step(&v.doctor, &v.appointment_id, "start", 200).await;
    // No items, or a blank field: named.
    let (status, body) = app
        .json(
            Method::POST,
            &format!("/appointments/{}/prescription", v.appointment_id),
            Some(&v.doctor.token),
            Some(json!({ "diagnosis": "x", "items": [] })),
        )
        .await;
    assert_eq!((status, body["field"].as_str()), (422, Some("items")));
    let (status, body) = app
        .json(
            Method::POST,
            &format!("/appointments/{}/prescription", v.appointment_id),
            Some(&v.doctor.token),
            Some(json!({ "diagnosis": "x", "items": [
                { "medicineName": "A", "dosage": "1", "frequency": "1", "duration": "1" },
                { "medicineName": "B", "dosage": " ", "frequency": "1", "duration": "1" }
            ] })),
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("items[1].dosage"))
    );
    assert_eq!(
        app.count_rows("prescriptions").await,
        0,
        "nothing half-written"
    );
    assert_eq!(app.count_rows("prescription_items").await, 0);
    let (status, _) = app.prescribe(&v.doctor, &v.appointment_id).await;
    assert_eq!(status, 201);
    // Two doctors' hands racing: still one.
    let (a, b) = tokio::join!(
        app.prescribe(&v.doctor, &v.appointment_id),
        app.prescribe(&v.doctor, &v.appointment_id)
    );
    assert_eq!((a.0, b.0), (409, 409));
    assert_eq!(a.1["code"], "PRESCRIPTION_EXISTS");
    assert_eq!(app.count_rows("prescriptions").await, 1);
    assert_eq!(app.count_rows("prescription_items").await, 2);
    // Still allowed after completion (a forgotten item is a new visit's business, though).
    app.step(&v.doctor, &v.appointment_id, "complete", 200)
        .await;
}
