//! The limits the OpenAPI document states are the limits the server enforces.
//!
//! Every bound of every request input is read from the served document: `maxLength`/`minLength`
//! of strings, `minimum`/`maximum` of numbers and `minItems`/`maxItems` of lists, in JSON
//! bodies (nested objects and list items too), query parameters, headers and the record upload
//! form. For each, a request with the value exactly at the bound must not be refused for that
//! field, and one just past it must be refused with 422 naming it. So a limit written into the
//! document but not enforced fails here, as does one the server enforces differently; and an
//! operation whose bounded input this table cannot build a valid request for fails too, so a new
//! operation cannot slip past.

use e2e::api::{Account, PASSWORD};
use e2e::clinic::{pdf, Part, Visit};
use e2e::TestApp;
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// A valid request of one operation, into which one value at a time is put at or past a bound.
struct Base {
    method: Method,
    path: String,
    token: Option<String>,
    body: Value,
}

/// One bounded input: where it is, and its value at the bound and just past it.
struct Bound {
    /// A JSON path (`profile.address`, `items.0.medicineName`), a query parameter or a header.
    at: Target,
    /// The field name the 422 must carry (its last segment is compared).
    name: String,
    at_limit: Value,
    past_limit: Value,
}

#[derive(Clone)]
enum Target {
    Body(Vec<String>),
    Query(String),
    Header(String),
}

/// Pairs whose value at the bound is itself wrong for another reason, so its answer may name
/// the field: a `currentPassword` of 128 characters is simply not the current password.
/// A reset `token` of 70 characters is not a token that was ever issued.
const AT_LIMIT_MAY_NAME_THE_FIELD: &[(&str, &str)] = &[
    ("changePassword", "currentPassword"),
    ("resetPassword", "token"),
];

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => &doc["components"]["schemas"][r.rsplit('/').next().unwrap()],
        None => schema,
    }
}

/// The schema itself, or for an optional object (`oneOf: [null, X]`) the object's schema.
fn present<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    let schema = resolve(doc, schema);
    match schema["oneOf"].as_array() {
        Some(alternatives) => alternatives
            .iter()
            .map(|alt| resolve(doc, alt))
            .find(|alt| alt["type"] != "null")
            .unwrap_or(schema),
        None => schema,
    }
}

fn kind(schema: &Value) -> &str {
    match &schema["type"] {
        Value::String(k) => k,
        Value::Array(ks) => ks
            .iter()
            .filter_map(Value::as_str)
            .find(|k| *k != "null")
            .unwrap_or(""),
        _ => "",
    }
}

/// A valid string of exactly `n` characters for the named field.
fn text_of(field: &str, n: usize) -> String {
    match field {
        "email" => {
            let local = n.saturating_sub(6).min(64);
            let domain = n - local - 1 - 4;
            format!("{}@{}.org", "a".repeat(local), "b".repeat(domain))
        }
        "password" | "newPassword" | "currentPassword" => "a1".repeat(n).chars().take(n).collect(),
        "phone" | "emergencyContactPhone" => "1".repeat(n),
        // 8 digits, a point and two places is the longest fee; one more digit is 1e8 or more.
        "consultationFee" => format!("{}.50", "9".repeat(n.saturating_sub(3))),
        // A webhook URL of exactly n characters.
        "url" => format!(
            "https://hooks.example.com/{}",
            "u".repeat(n.saturating_sub(26))
        ),
        _ => "x".repeat(n),
    }
}

/// The bounds of one schema, walked into nested objects and the first list item.
fn bounds_of(doc: &Value, schema: &Value, base: &Value, at: &[String], out: &mut Vec<Bound>) {
    let schema = resolve(doc, schema);
    let Some(props) = schema["properties"].as_object() else {
        return;
    };
    for (name, prop) in props {
        let prop = present(doc, prop);
        if prop["readOnly"] == true {
            continue;
        }
        let mut here = at.to_vec();
        here.push(name.clone());
        let mut push = |at_limit: Value, past_limit: Value| {
            out.push(Bound {
                at: Target::Body(here.clone()),
                name: name.clone(),
                at_limit,
                past_limit,
            })
        };
        match kind(prop) {
            "string" => {
                if let Some(max) = prop["maxLength"].as_u64() {
                    let max = max as usize;
                    push(json!(text_of(name, max)), json!(text_of(name, max + 1)));
                }
                if let Some(min) = prop["minLength"].as_u64().filter(|m| *m > 0) {
                    let min = min as usize;
                    push(json!(text_of(name, min)), json!(text_of(name, min - 1)));
                }
            }
            "integer" | "number" => {
                if let Some(max) = prop["maximum"].as_i64() {
                    push(json!(max), json!(max + 1));
                }
                if let Some(min) = prop["minimum"].as_i64() {
                    push(json!(min), json!(min - 1));
                }
            }
            "array" => {
                let items: Vec<Value> = base
                    .pointer(&format!("/{}", here.join("/")))
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                assert!(!items.is_empty(), "the base body has no {here:?} to repeat");
                // Distinct elements where the base gives enough (ids), else copies of the first.
                let list = |n: usize| -> Value {
                    (0..n)
                        .map(|i| items.get(i).unwrap_or(&items[0]).clone())
                        .collect()
                };
                if let Some(max) = prop["maxItems"].as_u64() {
                    push(list(max as usize), list(max as usize + 1));
                }
                if let Some(min) = prop["minItems"].as_u64().filter(|m| *m > 0) {
                    push(list(min as usize), list(min as usize - 1));
                }
                let mut first = here.clone();
                first.push("0".into());
                bounds_of(doc, &prop["items"], base, &first, out);
            }
            _ => bounds_of(doc, prop, base, &here, out),
        }
    }
}

fn with(body: &Value, at: &[String], value: Value) -> Value {
    let mut body = body.clone();
    let mut slot = &mut body;
    for key in at {
        slot = match key.parse::<usize>() {
            Ok(i) => &mut slot[i],
            Err(_) => &mut slot[key.as_str()],
        };
    }
    *slot = value;
    body
}

async fn send(app: &TestApp, base: &Base, target: &Target, value: Value) -> (u16, Value) {
    let mut url = app.url(&base.path);
    let mut body = Some(base.body.clone()).filter(|b| !b.is_null());
    let mut request_header = None;
    match target {
        Target::Body(at) => body = Some(with(&base.body, at, value)),
        Target::Query(name) => {
            let mut u = reqwest::Url::parse(&url).unwrap();
            u.query_pairs_mut()
                .append_pair(name, value.as_str().unwrap());
            url = u.to_string();
        }
        Target::Header(name) => request_header = Some((name.clone(), value)),
    }
    let mut request = app.client.request(base.method.clone(), url);
    if let Some(token) = &base.token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    if let Some((name, value)) = request_header {
        request = request.header(name, value.as_str().unwrap());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn names_field(answer: &Value, name: &str) -> bool {
    answer["field"]
        .as_str()
        .is_some_and(|f| f == name || f.ends_with(&format!(".{name}")))
}

/// A valid request for each operation with a bounded input.
async fn bases(app: &TestApp, v: &Visit) -> BTreeMap<&'static str, Base> {
    let token = |a: &Account| Some(a.token.clone());
    let post = |path: &str, token: Option<String>, body: Value| Base {
        method: Method::POST,
        path: path.to_owned(),
        token,
        body,
    };
    let mut departments = Vec::new();
    for i in 0..21 {
        let (status, dept) = app
            .json(
                Method::POST,
                "/departments",
                Some(&v.admin.token),
                Some(json!({ "name": format!("Ward {i} {}", e2e::unique_id()) })),
            )
            .await;
        assert_eq!(status, 201, "{dept}");
        departments.push(dept["id"].clone());
    }
    let other_doctor = v.other_doctor.profile_id.clone().unwrap();
    let schedule = app
        .schedule(&v.admin, &other_doctor, "SUN", "08:00", "09:00", 30)
        .await;
    let person = || {
        json!({
            "email": format!("p-{}@clinic.test", e2e::unique_id()), "password": PASSWORD,
            "name": "Ann Example", "phone": "+44 20 7946 0000",
            "profile": { "dateOfBirth": "1990-01-01", "gender": "FEMALE", "bloodGroup": "O+",
                "address": "1 High Street", "emergencyContactName": "Bo Example",
                "emergencyContactPhone": "+44 20 7946 0001" }
        })
    };
    let doctor_profile = json!({
        "specialization": "Cardiology", "qualification": "MD", "experienceYears": 7,
        "licenseNumber": format!("LIC-{}", e2e::unique_id()), "consultationFee": "80.50",
    });
    let schedule_body = json!({ "dayOfWeek": "MON", "startTime": "09:00", "endTime": "17:00",
        "slotDurationMinutes": 30 });
    let mut staff = person();
    staff.as_object_mut().unwrap().remove("profile");
    staff["role"] = json!("DOCTOR");
    staff["doctor"] = doctor_profile.clone();
    let mut bases = BTreeMap::new();
    bases.insert("register", post("/auth/register", None, person()));
    bases.insert(
        "login",
        post(
            "/auth/login",
            None,
            json!({ "email": v.patient.email, "password": "not-the-password-1" }),
        ),
    );
    bases.insert(
        "changePassword",
        Base {
            method: Method::PUT,
            path: "/me/password".into(),
            token: token(&v.other_patient),
            body: json!({ "currentPassword": "not-the-password-1", "newPassword": "another-pass-2" }),
        },
    );
    bases.insert(
        "forgotPassword",
        post(
            "/auth/forgot-password",
            None,
            json!({ "email": v.other_patient.email }),
        ),
    );
    bases.insert(
        "resetPassword",
        post(
            "/auth/reset-password",
            None,
            json!({ "token": format!("hsrst_{}", "0".repeat(64)), "newPassword": "another-pass-2" }),
        ),
    );
    bases.insert("createPatient", post("/patients", token(&v.desk), person()));
    bases.insert(
        "updatePatient",
        Base {
            method: Method::PUT,
            path: format!("/patients/{}", v.patient_id),
            token: token(&v.desk),
            body: person()["profile"].clone(),
        },
    );
    bases.insert("createStaff", post("/users", token(&v.admin), staff));
    bases.insert(
        "updateDoctor",
        Base {
            method: Method::PATCH,
            path: format!("/doctors/{other_doctor}"),
            token: token(&v.admin),
            body: doctor_profile,
        },
    );
    bases.insert(
        "setDoctorDepartments",
        Base {
            method: Method::PUT,
            path: format!("/doctors/{other_doctor}/departments"),
            token: token(&v.admin),
            body: json!({ "departmentIds": departments }),
        },
    );
    bases.insert(
        "createDepartment",
        post(
            "/departments",
            token(&v.admin),
            json!({ "name": format!("Dept {}", e2e::unique_id()), "description": "Hearts" }),
        ),
    );
    bases.insert(
        "updateDepartment",
        Base {
            method: Method::PUT,
            path: format!("/departments/{}", departments[0].as_str().unwrap()),
            token: token(&v.admin),
            body: json!({ "name": format!("Dept {}", e2e::unique_id()), "description": "Hearts", "isActive": true }),
        },
    );
    bases.insert(
        "createSchedule",
        post(
            &format!("/doctors/{other_doctor}/schedules"),
            token(&v.admin),
            schedule_body.clone(),
        ),
    );
    bases.insert(
        "updateSchedule",
        Base {
            method: Method::PUT,
            path: format!("/schedules/{schedule}"),
            token: token(&v.admin),
            body: schedule_body,
        },
    );
    bases.insert(
        "setBookingWindow",
        Base {
            method: Method::PUT,
            path: format!("/doctors/{other_doctor}/booking-window"),
            token: token(&v.admin),
            body: json!({ "minNoticeHours": 2, "maxAdvanceDays": 30 }),
        },
    );
    bases.insert(
        "createTimeOff",
        post(
            "/time-off",
            token(&v.admin),
            json!({ "doctorId": other_doctor, "from": "2031-01-06", "to": "2031-01-06", "reason": "Conference" }),
        ),
    );
    let nowhere = uuid::Uuid::new_v4();
    bases.insert(
        "bookAppointment",
        post(
            "/appointments",
            token(&v.patient),
            json!({ "timeSlotId": nowhere, "type": "CONSULTATION", "reason": "Ear ache" }),
        ),
    );
    bases.insert(
        "bookAppointmentSeries",
        post(
            "/appointment-series",
            token(&v.desk),
            json!({ "patientId": v.patient_id, "doctorId": other_doctor, "firstDate": "2031-01-06",
                "startTime": "13:00", "everyWeeks": 2, "occurrences": 3, "type": "FOLLOW_UP",
                "reason": "Ear ache" }),
        ),
    );
    bases.insert(
        "cancelFollowingAppointments",
        post(
            &format!("/appointments/{}/cancel-following", v.appointment_id),
            token(&v.desk),
            json!({ "reason": "The patient called" }),
        ),
    );
    bases.insert(
        "acceptWaitlistOffer",
        post(
            &format!("/waitlist/offers/{nowhere}/accept"),
            token(&v.patient),
            json!({ "reason": "Ear ache" }),
        ),
    );
    bases.insert(
        "registerWalkIn",
        post(
            "/appointments/walk-ins",
            token(&v.desk),
            json!({ "patientId": v.patient_id, "doctorId": other_doctor, "reason": "Ear ache" }),
        ),
    );
    bases.insert(
        "cancelAppointment",
        post(
            &format!("/appointments/{}/cancel", v.appointment_id),
            token(&v.desk),
            json!({ "reason": "The patient called" }),
        ),
    );
    bases.insert(
        "writePrescription",
        post(
            &format!("/appointments/{}/prescription", v.appointment_id),
            token(&v.doctor),
            json!({ "diagnosis": "Otitis", "notes": "Rest", "items": [{ "medicineName": "Amoxicillin",
                "dosage": "500 mg", "frequency": "3 times a day", "duration": "7 days",
                "instructions": "with food" }] }),
        ),
    );
    bases.insert(
        "broadcastNotification",
        post(
            "/notifications/broadcast",
            token(&v.admin),
            json!({ "title": "Closed", "message": "Closed on Monday", "role": "DOCTOR" }),
        ),
    );
    let hook = json!({ "url": "https://hooks.example.com/h", "description": "ERP",
        "eventTypes": ["bill.paid", "appointment.booked"] });
    bases.insert(
        "createWebhook",
        post("/webhooks", token(&v.admin), hook.clone()),
    );
    let (status, created) = app
        .json(
            Method::POST,
            "/webhooks",
            Some(&v.admin.token),
            Some(hook.clone()),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let webhook = created["id"].as_str().unwrap().to_owned();
    bases.insert(
        "updateWebhook",
        Base {
            method: Method::PATCH,
            path: format!("/webhooks/{webhook}"),
            token: token(&v.admin),
            body: hook,
        },
    );
    let get = |path: &str, token: Option<String>| Base {
        method: Method::GET,
        path: path.to_owned(),
        token,
        body: Value::Null,
    };
    bases.insert("listPatients", get("/patients", token(&v.desk)));
    bases.insert("listDoctors", get("/doctors", None));
    bases.insert("searchAuditLog", get("/audit-logs", token(&v.admin)));
    bases.insert("listAppointments", get("/appointments", token(&v.desk)));
    bases.insert("listBills", get("/billings", token(&v.admin)));
    bases.insert("listWaitlist", get("/waitlist", token(&v.desk)));
    bases.insert("listWebhooks", get("/webhooks", token(&v.admin)));
    bases.insert(
        "listWebhookDeliveries",
        get(&format!("/webhooks/{webhook}/deliveries"), token(&v.admin)),
    );
    bases.insert("listDepartments", get("/departments", None));
    bases.insert(
        "listNotifications",
        get("/notifications", token(&v.patient)),
    );
    bases.insert("listPrescriptions", get("/prescriptions", token(&v.doctor)));
    let messages = format!("/appointments/{}/messages", v.appointment_id);
    bases.insert(
        "sendChatMessage",
        post(
            &messages,
            token(&v.patient),
            json!({ "message": "Is it serious?" }),
        ),
    );
    bases.insert("listChatMessages", get(&messages, token(&v.patient)));
    bases.insert("getDashboard", get("/analytics/dashboard", token(&v.admin)));
    bases.insert(
        "exportDashboardCsv",
        get("/analytics/dashboard.csv", token(&v.admin)),
    );
    bases.insert(
        "markChatRead",
        post(
            &format!("{messages}/read"),
            token(&v.doctor),
            json!({ "upToSeq": 1 }),
        ),
    );
    bases.insert(
        "listMedicalRecords",
        get(
            &format!("/patients/{}/medical-records", v.patient_id),
            token(&v.doctor),
        ),
    );
    bases
}

#[tokio::test]
async fn every_documented_bound_is_the_servers_bound() {
    let app = TestApp::spawn().await;
    let doc = app.openapi().await;
    let v = app.visit("80.50", true).await;
    let bases = bases(&app, &v).await;
    let mut failures = Vec::new();
    let mut checked = 0;
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            let id = op["operationId"].as_str().unwrap();
            let mut bounds = Vec::new();
            let base_body = bases.get(id).map_or(Value::Null, |b| b.body.clone());
            if let Some(schema) = op.pointer("/requestBody/content/application~1json/schema") {
                bounds_of(&doc, schema, &base_body, &[], &mut bounds);
            }
            for param in op["parameters"].as_array().into_iter().flatten() {
                let schema = resolve(&doc, &param["schema"]);
                let Some(max) = schema["maxLength"].as_u64() else {
                    continue;
                };
                let name = param["name"].as_str().unwrap().to_owned();
                let at = match param["in"].as_str() {
                    Some("query") => Target::Query(name.clone()),
                    Some("header") => Target::Header(name.clone()),
                    _ => continue,
                };
                let at_limit = match name.as_str() {
                    // The longest cursor: a position after a 480-byte name.
                    "cursor" => format!("n{}.{}", "61".repeat(480), "0".repeat(32)),
                    "entity" => "a".repeat(max as usize),
                    _ => "k".repeat(max as usize),
                };
                assert_eq!(at_limit.len(), max as usize, "{id} {name}");
                bounds.push(Bound {
                    at,
                    name,
                    past_limit: json!(format!("{at_limit}0")),
                    at_limit: json!(at_limit),
                });
            }
            if bounds.is_empty() {
                continue;
            }
            let Some(base) = bases.get(id) else {
                failures.push(format!(
                    "{id}: bounded inputs but no base request in this test"
                ));
                continue;
            };
            for bound in bounds {
                checked += 1;
                let (status, answer) = send(&app, base, &bound.at, bound.at_limit.clone()).await;
                // A cursor as long as one can be is a name position (patients, doctors): the
                // lists ordered by time refuse it as another list's, naming it all the same.
                let excused = AT_LIMIT_MAY_NAME_THE_FIELD.contains(&(id, bound.name.as_str()))
                    || bound.name == "cursor";
                if status >= 500 || (!excused && status == 422 && names_field(&answer, &bound.name))
                {
                    failures.push(format!(
                        "{id} {}: at the bound {} answered {status} {answer}",
                        bound.name, bound.at_limit
                    ));
                }
                let (status, answer) = send(&app, base, &bound.at, bound.past_limit.clone()).await;
                if status != 422 || !names_field(&answer, &bound.name) {
                    failures.push(format!(
                        "{id} {}: past the bound {} answered {status} {answer}",
                        bound.name, bound.past_limit
                    ));
                }
            }
        }
    }
    eprintln!("limits: {checked} bounds checked at and past their value");
    assert!(checked > 60, "only {checked} bounds found in the document");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The upload form's text fields have the bounds the document gives them.
#[tokio::test]
async fn the_upload_forms_bounds_are_the_servers() {
    let app = TestApp::spawn().await;
    let doc = app.openapi().await;
    let form = &doc["components"]["schemas"]["UploadRecordForm"]["properties"];
    let v = app.visit("80.50", false).await;
    let file = pdf(2048);
    for field in ["title", "description"] {
        let max = form[field]["maxLength"].as_u64().unwrap() as usize;
        for (n, refused) in [(max, false), (max + 1, true)] {
            let value = "x".repeat(n);
            let mut parts = vec![Part::text("type", "LAB_REPORT")];
            if field != "title" {
                parts.push(Part::text("title", "Blood panel"));
            }
            parts.push(Part::text(field, &value));
            parts.push(Part::file("report.pdf", "application/pdf", &file));
            let (status, answer) = app
                .upload_parts(Some(&v.doctor.token), &v.patient_id, &parts)
                .await;
            if refused {
                assert_eq!(status, 422, "{field} of {n}: {answer}");
                assert_eq!(answer["field"], field, "{answer}");
            } else {
                assert_eq!(status, 201, "{field} of {n}: {answer}");
            }
        }
    }
}
