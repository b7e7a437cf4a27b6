//! Who may do what with prescriptions, medical records and bills: every new route, for
//! anonymous callers, the owner patient, another patient, the visit's doctor, another
//! doctor, a receptionist and an admin. Deny by default; another user's data answers 404.

use e2e::clinic::{pdf, Visit};
use e2e::TestApp;
use reqwest::Method;
use serde_json::{json, Value};

/// The callers, in the order of every expectation row below.
const WHO: [&str; 7] = [
    "anonymous",
    "owner",
    "other patient",
    "doctor",
    "other doctor",
    "receptionist",
    "admin",
];

fn tokens(v: &Visit) -> [Option<String>; 7] {
    [
        None,
        Some(v.patient.token.clone()),
        Some(v.other_patient.token.clone()),
        Some(v.doctor.token.clone()),
        Some(v.other_doctor.token.clone()),
        Some(v.desk.token.clone()),
        Some(v.admin.token.clone()),
    ]
}

/// Calls `path` as each caller and compares the statuses; returns the bodies.
async fn matrix(
    app: &TestApp,
    v: &Visit,
    method: Method,
    path: &str,
    body: Option<Value>,
    expected: [u16; 7],
) -> Vec<Value> {
    let mut got = Vec::new();
    let mut bodies = Vec::new();
    for token in tokens(v) {
        let (status, b) = app
            .json(method.clone(), path, token.as_deref(), body.clone())
            .await;
        got.push(status);
        bodies.push(b);
    }
    let table: Vec<String> = WHO
        .iter()
        .zip(got.iter().zip(expected))
        .map(|(w, (g, e))| format!("{w}: {g} (expected {e})"))
        .collect();
    assert_eq!(got, expected, "{method} {path}\n{}", table.join("\n"));
    bodies
}

async fn uploads(app: &TestApp, v: &Visit, kind: &str, expected: [u16; 7]) {
    let report = pdf(1_000);
    let mut got = Vec::new();
    for token in tokens(v) {
        let (status, _) = app
            .upload(
                token.as_deref(),
                &v.patient_id,
                kind,
                "r.pdf",
                "application/pdf",
                &report,
            )
            .await;
        got.push(status);
    }
    assert_eq!(got, expected, "upload {kind} as {WHO:?}");
}

fn totals(bodies: &[Value]) -> Vec<i64> {
    bodies
        .iter()
        .map(|b| b["total"].as_i64().unwrap_or(-1))
        .collect()
}

#[tokio::test]
async fn the_authorisation_matrix_of_clinical_and_billing_routes() {
    let app = TestApp::spawn().await;
    let v = app.visit("42.00", true).await;
    let a = v.appointment_id.clone();
    let pid = v.patient_id.clone();

    // Writing a prescription: the visit's doctor only (the first call of the row makes it).
    let item = json!({ "diagnosis": "d", "items": [{ "medicineName": "m", "dosage": "1", "frequency": "1", "duration": "1" }] });
    for (i, token) in tokens(&v).into_iter().enumerate() {
        if i == 3 {
            continue; // the doctor writes it below, once
        }
        let (status, _) = app
            .json(
                Method::POST,
                &format!("/appointments/{a}/prescription"),
                token.as_deref(),
                Some(item.clone()),
            )
            .await;
        let expected = [401, 403, 403, 0, 404, 403, 403][i];
        assert_eq!(status, expected, "write prescription as {}", WHO[i]);
    }
    let (status, p) = app.prescribe(&v.doctor, &a).await;
    assert_eq!(status, 201);
    let prescription = p["id"].as_str().unwrap().to_owned();
    let reader = [401, 200, 404, 200, 404, 403, 200];
    matrix(
        &app,
        &v,
        Method::GET,
        &format!("/appointments/{a}/prescription"),
        None,
        reader,
    )
    .await;
    matrix(
        &app,
        &v,
        Method::GET,
        &format!("/prescriptions/{prescription}"),
        None,
        reader,
    )
    .await;
    let lists = matrix(
        &app,
        &v,
        Method::GET,
        "/prescriptions",
        None,
        [401, 200, 200, 200, 200, 403, 200],
    )
    .await;
    assert_eq!(
        totals(&lists),
        [-1, 1, 0, 1, 0, -1, 1],
        "each sees only its own"
    );

    // Uploads: desk documents by the patient, the desk and its doctors; clinical ones by
    // its doctors only; admins upload nothing.
    uploads(&app, &v, "LAB_REPORT", [401, 201, 404, 201, 404, 201, 403]).await;
    uploads(
        &app,
        &v,
        "CLINICAL_NOTE",
        [401, 403, 404, 201, 404, 403, 403],
    )
    .await;
    let lists = matrix(
        &app,
        &v,
        Method::GET,
        &format!("/patients/{pid}/medical-records"),
        None,
        [401, 200, 404, 200, 404, 200, 200],
    )
    .await;
    assert_eq!(
        totals(&lists),
        [-1, 4, -1, 4, -1, 3, 4],
        "the desk does not see clinical notes"
    );
    let records = lists[6]["items"].as_array().unwrap().clone();
    let of = |kind: &str| {
        records
            .iter()
            .find(|r| r["type"] == kind)
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .unwrap()
    };
    let (lab, note) = (of("LAB_REPORT"), of("CLINICAL_NOTE"));
    for path in [
        format!("/medical-records/{lab}"),
        format!("/medical-records/{lab}/file"),
    ] {
        matrix(
            &app,
            &v,
            Method::GET,
            &path,
            None,
            [401, 200, 404, 200, 404, 200, 200],
        )
        .await;
    }
    for path in [
        format!("/medical-records/{note}"),
        format!("/medical-records/{note}/file"),
    ] {
        matrix(
            &app,
            &v,
            Method::GET,
            &path,
            None,
            [401, 200, 404, 200, 404, 404, 200],
        )
        .await;
    }

    // Bills: the owner, the desk and admins; doctors never; another patient's is 404.
    app.step(&v.doctor, &a, "complete", 200).await;
    let lists = matrix(
        &app,
        &v,
        Method::GET,
        "/billings",
        None,
        [401, 200, 200, 403, 403, 200, 200],
    )
    .await;
    assert_eq!(totals(&lists), [-1, 1, 0, -1, -1, 1, 1]);
    let bill = lists[1]["items"][0]["id"].as_str().unwrap().to_owned();
    matrix(
        &app,
        &v,
        Method::GET,
        &format!("/billings/{bill}"),
        None,
        [401, 200, 404, 403, 403, 200, 200],
    )
    .await;
    // Refunding a PENDING bill: only the admin gets as far as the state machine.
    matrix(
        &app,
        &v,
        Method::POST,
        &format!("/billings/{bill}/refund"),
        None,
        [401, 403, 403, 403, 403, 403, 409],
    )
    .await;
    // Paying: the first caller allowed pays (the owner); after that it is PAID.
    let pay = Some(json!({ "paymentMethod": "ONLINE" }));
    matrix(
        &app,
        &v,
        Method::POST,
        &format!("/billings/{bill}/pay"),
        pay,
        [401, 200, 404, 403, 403, 409, 409],
    )
    .await;
    matrix(
        &app,
        &v,
        Method::POST,
        &format!("/billings/{bill}/refund"),
        None,
        [401, 403, 403, 403, 403, 403, 200],
    )
    .await;

    // The live stream needs a session.
    assert_eq!(app.get("/notifications/stream").await.status(), 401);
    // Unknown ids are 404, malformed ones 400, for everyone allowed to ask.
    let unknown = uuid::Uuid::new_v4();
    for path in [
        format!("/prescriptions/{unknown}"),
        format!("/medical-records/{unknown}"),
        format!("/medical-records/{unknown}/file"),
        format!("/billings/{unknown}"),
        format!("/patients/{unknown}/medical-records"),
    ] {
        let (status, body) = app
            .json(Method::GET, &path, Some(&v.admin.token), None)
            .await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    let (status, body) = app
        .json(
            Method::GET,
            "/billings/not-a-uuid",
            Some(&v.admin.token),
            None,
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_PATH")));
}
