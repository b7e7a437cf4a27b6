//! Bad input gets a clear JSON error with a stable code, the field, and the right status;
//! never a 500, a stack trace or a database message.

use e2e::api::PASSWORD;
use e2e::TestApp;
use reqwest::Method;
use serde_json::{json, Value};

struct Case {
    name: &'static str,
    method: Method,
    path: String,
    content_type: &'static str,
    body: String,
    status: u16,
    code: &'static str,
    field: Option<&'static str>,
}

fn case(
    name: &'static str,
    method: Method,
    path: &str,
    body: Value,
    status: u16,
    code: &'static str,
    field: Option<&'static str>,
) -> Case {
    Case {
        name,
        method,
        path: path.into(),
        content_type: "application/json",
        body: body.to_string(),
        status,
        code,
        field,
    }
}

#[tokio::test]
async fn every_bad_request_is_answered_with_the_documented_code() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let existing = app.patient().await;
    let doctor = app.staff(&admin, "DOCTOR").await;
    let (_, doctor_row) = app
        .json(
            Method::GET,
            &format!("/doctors/{}", doctor.profile_id.as_deref().unwrap()),
            None,
            None,
        )
        .await;
    let taken_license = doctor_row["licenseNumber"].as_str().unwrap().to_owned();
    let register = |extra: Value| {
        let mut body = json!({ "email": format!("new-{}@x.test", e2e::unique_id()), "password": PASSWORD, "name": "New Person" });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let doctor_account = |fee: Value, license: &str| {
        json!({ "email": format!("d-{}@x.test", e2e::unique_id()), "password": PASSWORD, "name": "Doc", "role": "DOCTOR",
                "doctor": { "specialization": "GP", "qualification": "MD", "licenseNumber": license, "consultationFee": fee } })
    };

    let mut cases =
        vec![
        Case {
            name: "malformed JSON",
            method: Method::POST,
            path: "/auth/register".into(),
            content_type: "application/json",
            body: "{\"email\": ".into(),
            status: 400,
            code: "MALFORMED_JSON",
            field: None,
        },
        Case {
            name: "not JSON at all",
            method: Method::POST,
            path: "/auth/register".into(),
            content_type: "text/plain",
            body: "email=a".into(),
            status: 415,
            code: "UNSUPPORTED_MEDIA_TYPE",
            field: None,
        },
        Case {
            name: "oversize body",
            method: Method::POST,
            path: "/auth/register".into(),
            content_type: "application/json",
            body: json!({ "email": "a@b.test", "password": PASSWORD, "name": "x".repeat(100_000) })
                .to_string(),
            status: 413,
            code: "PAYLOAD_TOO_LARGE",
            field: None,
        },
        case(
            "wrong type",
            Method::POST,
            "/auth/register",
            register(json!({ "name": 42 })),
            422,
            "VALIDATION_FAILED",
            Some("name"),
        ),
        case(
            "missing field",
            Method::POST,
            "/auth/register",
            json!({ "email": "a@b.test", "password": PASSWORD }),
            422,
            "VALIDATION_FAILED",
            None,
        ),
        case(
            "unknown field",
            Method::POST,
            "/auth/register",
            register(json!({ "role": "ADMIN" })),
            422,
            "VALIDATION_FAILED",
            None,
        ),
        case(
            "unknown enum value",
            Method::POST,
            "/auth/register",
            register(json!({ "profile": { "gender": "ROBOT" } })),
            422,
            "VALIDATION_FAILED",
            Some("profile.gender"),
        ),
        case(
            "bad blood group",
            Method::POST,
            "/auth/register",
            register(json!({ "profile": { "bloodGroup": "C+" } })),
            422,
            "VALIDATION_FAILED",
            Some("profile.bloodGroup"),
        ),
        case(
            "birth in the future",
            Method::POST,
            "/auth/register",
            register(json!({ "profile": { "dateOfBirth": "2999-01-01" } })),
            422,
            "VALIDATION_FAILED",
            Some("profile.dateOfBirth"),
        ),
        case(
            "not a date",
            Method::POST,
            "/auth/register",
            register(json!({ "profile": { "dateOfBirth": "yesterday" } })),
            422,
            "VALIDATION_FAILED",
            Some("profile.dateOfBirth"),
        ),
        case(
            "oversize name",
            Method::POST,
            "/auth/register",
            register(json!({ "name": "x".repeat(500) })),
            422,
            "VALIDATION_FAILED",
            Some("name"),
        ),
        case(
            "invalid email",
            Method::POST,
            "/auth/register",
            register(json!({ "email": "not-an-email" })),
            422,
            "VALIDATION_FAILED",
            Some("email"),
        ),
        case(
            "weak password",
            Method::POST,
            "/auth/register",
            register(json!({ "password": "short" })),
            422,
            "VALIDATION_FAILED",
            Some("password"),
        ),
        case(
            "bad phone",
            Method::POST,
            "/auth/register",
            register(json!({ "phone": "call me maybe" })),
            422,
            "VALIDATION_FAILED",
            Some("phone"),
        ),
        case(
            "duplicate email",
            Method::POST,
            "/auth/register",
            register(json!({ "email": existing.email })),
            409,
            "EMAIL_TAKEN",
            None,
        ),
        case(
            "fee as a JSON number",
            Method::POST,
            "/users",
            doctor_account(json!(80.5), "LIC-NUM-1"),
            422,
            "VALIDATION_FAILED",
            Some("doctor.consultationFee"),
        ),
        case(
            "fee with three decimals",
            Method::POST,
            "/users",
            doctor_account(json!("80.505"), "LIC-NUM-2"),
            422,
            "VALIDATION_FAILED",
            Some("doctor.consultationFee"),
        ),
        case(
            "negative fee",
            Method::POST,
            "/users",
            doctor_account(json!("-1"), "LIC-NUM-3"),
            422,
            "VALIDATION_FAILED",
            Some("doctor.consultationFee"),
        ),
        case(
            "duplicate license",
            Method::POST,
            "/users",
            doctor_account(json!("10.00"), &taken_license),
            409,
            "LICENSE_NUMBER_TAKEN",
            None,
        ),
        case(
            "doctor without profile",
            Method::POST,
            "/users",
            json!({ "email": "x@y.test", "password": PASSWORD, "name": "D", "role": "DOCTOR" }),
            422,
            "VALIDATION_FAILED",
            Some("doctor"),
        ),
        case(
            "staff role PATIENT",
            Method::POST,
            "/users",
            json!({ "email": "x@y.test", "password": PASSWORD, "name": "D", "role": "PATIENT" }),
            422,
            "VALIDATION_FAILED",
            Some("role"),
        ),
        case(
            "duplicate department",
            Method::POST,
            "/departments",
            json!({ "name": "cardiology" }),
            409,
            "DEPARTMENT_NAME_TAKEN",
            None,
        ),
        case(
            "blank department",
            Method::POST,
            "/departments",
            json!({ "name": "  " }),
            422,
            "VALIDATION_FAILED",
            Some("name"),
        ),
        case(
            "unknown department link",
            Method::PUT,
            &format!(
                "/doctors/{}/departments",
                doctor.profile_id.as_deref().unwrap()
            ),
            json!({ "departmentIds": [uuid::Uuid::new_v4()] }),
            422,
            "VALIDATION_FAILED",
            Some("departmentIds"),
        ),
        case(
            "malformed uuid in path",
            Method::GET,
            "/doctors/not-a-uuid",
            Value::Null,
            400,
            "INVALID_PATH",
            None,
        ),
        case(
            "unknown id",
            Method::GET,
            &format!("/doctors/{}", uuid::Uuid::new_v4()),
            Value::Null,
            404,
            "NOT_FOUND",
            None,
        ),
        case(
            "bad query type",
            Method::GET,
            "/doctors?perPage=many",
            Value::Null,
            422,
            "VALIDATION_FAILED",
            Some("perPage"),
        ),
        case(
            "negative page size: the same status as zero",
            Method::GET,
            "/doctors?perPage=-1",
            Value::Null,
            422,
            "VALIDATION_FAILED",
            Some("perPage"),
        ),
        case(
            "unknown status filter: the same status as a bad order",
            Method::GET,
            "/appointments?status=LATE",
            Value::Null,
            422,
            "VALIDATION_FAILED",
            Some("status"),
        ),
        case(
            "a year PostgreSQL cannot store, in a list filter",
            Method::GET,
            "/appointments?from=-5000-01-01T00:00:00Z",
            Value::Null,
            422,
            "VALIDATION_FAILED",
            Some("from"),
        ),
        case(
            "a year beyond 9999, in the bills filter",
            Method::GET,
            "/billings?to=%2B200000-01-01T00:00:00Z",
            Value::Null,
            422,
            "VALIDATION_FAILED",
            Some("to"),
        ),
        case(
            "a year MongoDB cannot store, in the audit search",
            Method::GET,
            "/audit-logs?from=%2B200000-01-01T00:00:00Z",
            Value::Null,
            422,
            "VALIDATION_FAILED",
            Some("from"),
        ),
        case(
            "availability on a day no slot can have",
            Method::GET,
            &format!("/doctors/{}/slots?date=-3000-01-01", doctor.profile_id.as_deref().unwrap()),
            Value::Null,
            422,
            "VALIDATION_FAILED",
            Some("date"),
        ),
        case(
            "NUL in a search term",
            Method::GET,
            "/patients?search=a%00b",
            Value::Null,
            422,
            "VALIDATION_FAILED",
            Some("search"),
        ),
        case(
            "an enum given a number",
            Method::POST,
            "/auth/register",
            json!({ "email": "n@x.test", "password": PASSWORD, "name": "N", "gender": 0 }),
            422,
            "VALIDATION_FAILED",
            Some("gender"),
        ),
        case(
            "NUL in a login email (no account needed)",
            Method::POST,
            "/auth/login",
            json!({ "email": "a\u{0}@x.test", "password": PASSWORD }),
            422,
            "VALIDATION_FAILED",
            Some("email"),
        ),
        case(
            "page size too large",
            Method::GET,
            "/doctors?perPage=1000",
            Value::Null,
            422,
            "VALIDATION_FAILED",
            Some("perPage"),
        ),
        case(
            "a page beyond the documented maximum",
            Method::GET,
            "/departments?page=4294967295",
            Value::Null,
            422,
            "VALIDATION_FAILED",
            Some("page"),
        ),
        case(
            "page zero",
            Method::GET,
            "/departments?page=0",
            Value::Null,
            422,
            "VALIDATION_FAILED",
            Some("page"),
        ),
    ];
    let (status, _) = app
        .json(
            Method::POST,
            "/departments",
            Some(&admin.token),
            Some(json!({ "name": "Cardiology" })),
        )
        .await;
    assert_eq!(status, 201);

    let mut failures = Vec::new();
    for c in cases.drain(..) {
        let mut request = app
            .client
            .request(c.method.clone(), app.url(&c.path))
            .bearer_auth(&admin.token);
        if c.method != Method::GET {
            request = request
                .header("content-type", c.content_type)
                .body(c.body.clone());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        let text = response.text().await.unwrap();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let ok = status == c.status
            && body["code"] == c.code
            && body["message"].as_str().is_some_and(|m| !m.is_empty())
            && (c.field.is_none() || body["field"] == c.field.unwrap())
            && content_type.as_deref() == Some("application/json");
        let leaks = [
            "panicked",
            "diesel",
            "postgres",
            "SQLSTATE",
            "constraint",
            "stack backtrace",
        ]
        .iter()
        .any(|w| text.contains(w));
        if !ok || leaks || status >= 500 {
            failures.push(format!(
                "{}: expected {} {} {:?}, got {status} {text}",
                c.name, c.status, c.code, c.field
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "bad input answered wrongly:\n{}",
        failures.join("\n")
    );
}
