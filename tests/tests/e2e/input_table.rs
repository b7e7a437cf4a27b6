//! Every input of the API, walked from the OpenAPI document: each property of each JSON body
//! and each query parameter is sent a NUL/control character and a value of the wrong JSON
//! type (an enum given a number, a number given a string). Each must answer 422 naming that
//! field (under `/fhir`, 400 with an OperationOutcome naming it), never a 500, and the role must be checked before the body. Wrong methods answer 405
//! with `Allow`, and HEAD works wherever GET does.

use e2e::api::Account;
use e2e::TestApp;
use reqwest::Method;
use serde_json::{json, Map, Value};

/// The callers, in the order tried: the first whose role may use the route decodes the body.
async fn callers(app: &TestApp) -> Vec<Account> {
    let admin = app.admin().await;
    let desk = app.staff(&admin, "RECEPTIONIST").await;
    let doctor = app.staff(&admin, "DOCTOR").await;
    let patient = app.patient().await;
    vec![admin, desk, doctor, patient]
}

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.trim_start_matches("#/components/schemas/");
            &doc["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// A wrong-typed value for a property of this schema.
fn wrong_type(doc: &Value, schema: &Value) -> Value {
    let schema = resolve(doc, schema);
    let kind = match &schema["type"] {
        Value::Array(kinds) => kinds
            .iter()
            .find(|k| *k != "null")
            .cloned()
            .unwrap_or(Value::Null),
        other => other.clone(),
    };
    match kind.as_str() {
        Some("string") => json!(0),
        Some("integer" | "number" | "boolean" | "array") => json!("not-this"),
        _ => json!(17),
    }
}

fn is_string(doc: &Value, schema: &Value) -> bool {
    let schema = resolve(doc, schema);
    match &schema["type"] {
        Value::String(k) => k == "string",
        Value::Array(kinds) => kinds.iter().any(|k| k == "string"),
        _ => false,
    }
}

/// Replaces `{param}` segments with a random UUID.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if seg.starts_with('{') {
                uuid::Uuid::new_v4().to_string()
            } else {
                seg.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn every_body_field_and_query_parameter_refuses_nul_and_wrong_types_with_422() {
    let app = TestApp::spawn().await;
    let doc = app.openapi().await;
    let callers = callers(&app).await;
    let mut failures = Vec::new();
    let mut checked = 0;
    let paths = doc["paths"].as_object().unwrap().clone();
    for (path, item) in &paths {
        for (method, op) in item.as_object().unwrap() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let url = concrete(path);
            let mut probes: Vec<(String, Value, Option<String>)> = Vec::new();
            if let Some(schema) = op
                .pointer("/requestBody/content/application~1json/schema")
                .map(|s| resolve(&doc, s))
            {
                let props = schema["properties"]
                    .as_object()
                    .cloned()
                    .unwrap_or_default();
                for (name, prop) in &props {
                    let mut body = Map::new();
                    body.insert(name.clone(), wrong_type(&doc, prop));
                    probes.push((name.clone(), Value::Object(body), None));
                    if is_string(&doc, prop) {
                        let mut body = Map::new();
                        body.insert(name.clone(), json!("bad\u{0}value"));
                        probes.push((name.clone(), Value::Object(body), None));
                    }
                }
            }
            for param in op["parameters"].as_array().cloned().unwrap_or_default() {
                if param["in"] != "query" {
                    continue;
                }
                let name = param["name"].as_str().unwrap().to_owned();
                let value = if is_string(&doc, &param["schema"]) {
                    "bad%00value"
                } else {
                    "-1x"
                };
                probes.push((name.clone(), Value::Null, Some(format!("{name}={value}"))));
            }
            for (field, body, query) in probes {
                checked += 1;
                let target = match &query {
                    Some(q) => format!("{url}?{q}"),
                    None => url.clone(),
                };
                let mut answers = Vec::new();
                let mut found = false;
                for caller in &callers {
                    let mut request = app
                        .client
                        .request(method.clone(), app.url(&target))
                        .bearer_auth(&caller.token);
                    if query.is_none() {
                        request = request.json(&body);
                    }
                    let response = request.send().await.unwrap();
                    let status = response.status().as_u16();
                    let answer: Value = response.json().await.unwrap_or(Value::Null);
                    if status >= 500 {
                        failures.push(format!("{method} {target} {body}: {status} {answer}"));
                    }
                    // Under /fhir a bad parameter is FHIR's 400, an OperationOutcome naming it.
                    let fhir_names_it = path.starts_with("/fhir/")
                        && status == 400
                        && answer["issue"][0]["expression"][0] == field.as_str();
                    if (status == 422 && answer["field"] == field.as_str()) || fhir_names_it {
                        found = true;
                        break;
                    }
                    answers.push(format!("{status} {answer}"));
                    // 403: this role may not use the route at all; try the next one.
                    if status != 403 {
                        break;
                    }
                }
                if !found {
                    failures.push(format!(
                        "{method} {target} {body}: expected 422 naming {field}, got {answers:?}"
                    ));
                }
            }
        }
    }
    assert!(
        checked > 150,
        "only {checked} probes: is the document walked?"
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} probes failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn a_patient_posting_garbage_to_an_admin_route_is_told_403_not_what_is_wrong() {
    let app = TestApp::spawn().await;
    let patient = app.patient().await;
    for (method, path) in [
        (Method::POST, "/departments".to_owned()),
        (Method::POST, "/users".to_owned()),
        (Method::POST, "/notifications/broadcast".to_owned()),
        (Method::POST, "/appointments/walk-ins".to_owned()),
        (
            Method::POST,
            format!("/doctors/{}/schedules", uuid::Uuid::new_v4()),
        ),
    ] {
        let (status, body) = app
            .json(
                method.clone(),
                &path,
                Some(&patient.token),
                Some(json!({ "name": "" })),
            )
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("FORBIDDEN")),
            "{method} {path}: {body}"
        );
    }
    // Nor by a bad query string, the wrong media type or an oversized body.
    for path in ["/audit-logs?action=%00&perPage=-1", "/patients?perPage=abc"] {
        let (status, body) = app
            .json(Method::GET, path, Some(&patient.token), None)
            .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (403, Some("FORBIDDEN")),
            "{path}: {body}"
        );
    }
    for body in ["x".to_owned(), "y".repeat(200_000)] {
        let response = app
            .client
            .post(app.url("/users"))
            .bearer_auth(&patient.token)
            .header("content-type", "text/plain")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 403);
    }
}

#[tokio::test]
async fn a_wrong_method_is_405_with_allow_and_head_works_wherever_get_does() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let response = app
        .client
        .delete(app.url("/departments"))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(
        response.headers()["allow"].to_str().unwrap(),
        "GET, HEAD, POST"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "METHOD_NOT_ALLOWED");

    let response = app
        .client
        .patch(app.url(&format!("/appointments/{}/confirm", uuid::Uuid::new_v4())))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(response.headers()["allow"].to_str().unwrap(), "POST");

    // A literal route is not its `{id}` neighbour: GET /appointments/walk-ins is 405 (POST
    // only), not a malformed id; a malformed id elsewhere is 400 without echoing it.
    let response = app
        .client
        .get(app.url("/appointments/walk-ins"))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    assert_eq!(response.headers()["allow"].to_str().unwrap(), "POST");
    let (status, body) = app
        .json(
            Method::GET,
            "/appointments/%1B%5B2J",
            Some(&admin.token),
            None,
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("INVALID_PATH")));
    assert!(
        !body["message"].as_str().unwrap().contains('\u{1b}'),
        "{body}"
    );
    // A repeated parameter names itself.
    let (status, body) = app
        .json(
            Method::GET,
            "/appointments?status=SCHEDULED&status=CONFIRMED",
            Some(&admin.token),
            None,
        )
        .await;
    assert_eq!(
        (status, body["field"].as_str()),
        (422, Some("status")),
        "{body}"
    );

    // An unknown path is still 404.
    let response = app.client.delete(app.url("/nowhere")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 404);

    // HEAD: GET's status and headers, no body.
    let get = app
        .client
        .get(app.url("/departments"))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    let head = app
        .client
        .head(app.url("/departments"))
        .bearer_auth(&admin.token)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status().as_u16(), 200);
    assert_eq!(
        head.headers().get("content-type"),
        get.headers().get("content-type")
    );
    assert!(head.bytes().await.unwrap().is_empty());
    let health = app.client.head(app.url("/health")).send().await.unwrap();
    assert_eq!(health.status().as_u16(), 200);
}
