//! The authorisation matrix: every route of the identity and directory areas, called as
//! anonymous, the owner, another patient, a doctor (treating / not treating), a receptionist
//! and an admin, with the expected status of each cell. Deny by default; another user's
//! resource answers 404.

use diesel::sql_types::Uuid as SqlUuid;
use diesel_async::RunQueryDsl;
use e2e::api::Account;
use e2e::TestApp;
use reqwest::Method;
use serde_json::{json, Value};

struct Cast {
    owner: Account,
    other_patient: Account,
    treating_doctor: Account,
    other_doctor: Account,
    receptionist: Account,
    admin: Account,
    department_id: String,
    spare_user_id: String,
}

/// The callers of the matrix, in column order.
const WHO: [&str; 7] = [
    "anonymous",
    "owner",
    "other_patient",
    "treating_doctor",
    "other_doctor",
    "receptionist",
    "admin",
];

impl Cast {
    fn token(&self, who: &str) -> Option<&str> {
        Some(match who {
            "anonymous" => return None,
            "owner" => &self.owner.token,
            "other_patient" => &self.other_patient.token,
            "treating_doctor" => &self.treating_doctor.token,
            "other_doctor" => &self.other_doctor.token,
            "receptionist" => &self.receptionist.token,
            "admin" => &self.admin.token,
            _ => unreachable!(),
        })
    }
}

async fn cast(app: &TestApp) -> Cast {
    let admin = app.admin().await;
    let owner = app.patient().await;
    let other_patient = app.patient().await;
    let treating_doctor = app.staff(&admin, "DOCTOR").await;
    let other_doctor = app.staff(&admin, "DOCTOR").await;
    let receptionist = app.staff(&admin, "RECEPTIONIST").await;
    let spare = app.staff(&admin, "RECEPTIONIST").await;
    let (_, department) = app
        .json(
            Method::POST,
            "/departments",
            Some(&admin.token),
            Some(json!({ "name": "Cardiology" })),
        )
        .await;
    // The treating doctor has a (walk-in) appointment with the owner.
    let mut conn = app.app.pg.get().await.unwrap();
    diesel::sql_query(
        "INSERT INTO appointments (patient_id, doctor_id, type, reason, consultation_fee, starts_at, ends_at)
         VALUES ($1, $2, 'EMERGENCY', 'walk-in', 80.50, now(), now() + interval '30 minutes')",
    )
    .bind::<SqlUuid, _>(uuid::Uuid::parse_str(owner.profile_id.as_deref().unwrap()).unwrap())
    .bind::<SqlUuid, _>(uuid::Uuid::parse_str(treating_doctor.profile_id.as_deref().unwrap()).unwrap())
    .execute(&mut conn)
    .await
    .unwrap();
    Cast {
        department_id: department["id"].as_str().unwrap().to_owned(),
        spare_user_id: spare.user_id,
        owner,
        other_patient,
        treating_doctor,
        other_doctor,
        receptionist,
        admin,
    }
}

struct Row {
    method: Method,
    path: String,
    body: Option<Value>,
    /// Expected status for each caller of [`WHO`], in order.
    expected: [u16; 7],
}

/// A creating route: its path, a fresh body per call, and the expected statuses.
type Creator<'a> = (&'a str, &'a dyn Fn() -> Option<Value>, [u16; 7]);

fn row(method: Method, path: impl Into<String>, body: Option<Value>, expected: [u16; 7]) -> Row {
    Row {
        method,
        path: path.into(),
        body,
        expected,
    }
}

#[tokio::test]
async fn every_route_admits_exactly_the_roles_it_states() {
    let app = TestApp::spawn().await;
    let c = cast(&app).await;
    let owner_patient = c.owner.profile_id.clone().unwrap();
    let doctor = c.treating_doctor.profile_id.clone().unwrap();
    let department = c.department_id.clone();
    let new_patient = || {
        Some(
            json!({ "email": format!("p-{}@x.test", e2e::unique_id()), "password": "password-123", "name": "New" }),
        )
    };
    let new_staff = || {
        Some(
            json!({ "email": format!("s-{}@x.test", e2e::unique_id()), "password": "password-123", "name": "S", "role": "RECEPTIONIST" }),
        )
    };
    let new_department = || Some(json!({ "name": format!("Dept {}", e2e::unique_id()) }));

    //                                                     anon owner other tdoc odoc recep admin
    let matrix = vec![
        row(
            Method::GET,
            "/me",
            None,
            [401, 200, 200, 200, 200, 200, 200],
        ),
        row(
            Method::GET,
            "/auth/sessions",
            None,
            [401, 200, 200, 200, 200, 200, 200],
        ),
        row(
            Method::DELETE,
            format!("/auth/sessions/{}", uuid::Uuid::new_v4()),
            None,
            [401, 404, 404, 404, 404, 404, 404],
        ),
        row(
            Method::POST,
            "/notifications/stream-ticket",
            None,
            [401, 201, 201, 201, 201, 201, 201],
        ),
        row(
            Method::GET,
            format!("/users/{}", c.owner.user_id),
            None,
            [401, 200, 404, 404, 404, 404, 200],
        ),
        row(
            Method::PATCH,
            format!("/users/{}/status", c.spare_user_id),
            Some(json!({ "isActive": true })),
            [401, 403, 403, 403, 403, 403, 200],
        ),
        row(
            Method::GET,
            "/patients",
            None,
            [401, 403, 403, 200, 200, 200, 200],
        ),
        row(
            Method::GET,
            "/patients/me",
            None,
            [401, 200, 200, 404, 404, 404, 404],
        ),
        row(
            Method::GET,
            format!("/patients/{owner_patient}"),
            None,
            [401, 200, 404, 200, 404, 200, 200],
        ),
        row(
            Method::PUT,
            format!("/patients/{owner_patient}"),
            Some(json!({ "bloodGroup": "O+" })),
            // Doctors never edit profiles: 403 for every id, checked before the body.
            [401, 200, 404, 403, 403, 200, 200],
        ),
        row(
            Method::GET,
            "/doctors",
            None,
            [200, 200, 200, 200, 200, 200, 200],
        ),
        row(
            Method::GET,
            format!("/doctors/{doctor}"),
            None,
            [200, 200, 200, 200, 200, 200, 200],
        ),
        row(
            Method::PATCH,
            format!("/doctors/{doctor}"),
            Some(json!({ "qualification": "MD, PhD" })),
            [401, 403, 403, 200, 403, 403, 200],
        ),
        row(
            Method::PUT,
            format!("/doctors/{doctor}/departments"),
            Some(json!({ "departmentIds": [department] })),
            [401, 403, 403, 403, 403, 403, 200],
        ),
        row(
            Method::GET,
            "/departments",
            None,
            [200, 200, 200, 200, 200, 200, 200],
        ),
        row(
            Method::GET,
            format!("/departments/{department}"),
            None,
            [200, 200, 200, 200, 200, 200, 200],
        ),
        row(
            Method::PUT,
            format!("/departments/{department}"),
            Some(json!({ "name": "Cardiology" })),
            [401, 403, 403, 403, 403, 403, 200],
        ),
        row(
            Method::GET,
            "/audit-logs",
            None,
            [401, 403, 403, 403, 403, 403, 200],
        ),
    ];
    let mut failures = Vec::new();
    for r in &matrix {
        for (who, expected) in WHO.iter().zip(r.expected) {
            let (status, body) = app
                .json(r.method.clone(), &r.path, c.token(who), r.body.clone())
                .await;
            if status != expected {
                failures.push(format!(
                    "{} {} as {who}: expected {expected}, got {status} {body}",
                    r.method, r.path
                ));
            }
            if status >= 400 {
                assert!(
                    body["code"].is_string(),
                    "error bodies follow the model: {body}"
                );
            }
        }
    }
    // Creating routes: a fresh body per call (unique emails and names).
    let creators: [Creator<'_>; 3] = [
        ("/users", &new_staff, [401, 403, 403, 403, 403, 403, 201]),
        (
            "/patients",
            &new_patient,
            [401, 403, 403, 403, 403, 201, 201],
        ),
        (
            "/departments",
            &new_department,
            [401, 403, 403, 403, 403, 403, 201],
        ),
    ];
    for (path, body, expected) in creators {
        for (who, expected) in WHO.iter().zip(expected) {
            let (status, response) = app.json(Method::POST, path, c.token(who), body()).await;
            if status != expected {
                failures.push(format!(
                    "POST {path} as {who}: expected {expected}, got {status} {response}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "authorisation matrix mismatches:\n{}",
        failures.join("\n")
    );
}

#[tokio::test]
async fn a_doctor_cannot_change_its_own_fee_or_licence_but_an_admin_can() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let doctor = app.staff(&admin, "DOCTOR").await;
    let path = format!("/doctors/{}", doctor.profile_id.as_deref().unwrap());
    let (status, _) = app
        .json(
            Method::PATCH,
            &path,
            Some(&doctor.token),
            Some(json!({ "consultationFee": "999.00" })),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .json(
            Method::PATCH,
            &path,
            Some(&doctor.token),
            Some(json!({ "licenseNumber": "MINE-1" })),
        )
        .await;
    assert_eq!(status, 403);
    let (status, body) = app
        .json(
            Method::PATCH,
            &path,
            Some(&admin.token),
            Some(json!({ "consultationFee": "95.25" })),
        )
        .await;
    assert_eq!(
        (status, body["consultationFee"].as_str()),
        (200, Some("95.25"))
    );
    let (status, body) = app
        .json(
            Method::PATCH,
            &path,
            Some(&doctor.token),
            Some(json!({ "isAvailable": false })),
        )
        .await;
    assert_eq!((status, body["isAvailable"].as_bool()), (200, Some(false)));
}
