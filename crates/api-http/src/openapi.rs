//! The OpenAPI document. Its paths come from the one route list, [`crate::startup::configure`]:
//! registering a handler there (through `utoipa-actix-web`) also documents it, with the method
//! and path read from the handler's actix attribute (`#[get("/x")]`) and the rest from its
//! `#[utoipa::path(...)]`; every schema an operation names (request body, responses, and the
//! schemas those contain) is collected with it. [`ApiDoc`] adds what no route says: info, the
//! tags' descriptions and the `bearer` security scheme. `healthsync openapi` prints [`document`] (so do
//! `/api-docs/openapi.json` and the Swagger UI); `openapi/openapi.json` is the committed copy,
//! and a test fails when the two differ.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

#[derive(OpenApi)]
#[openapi(
    servers((url = "/", description = "The server that serves this document")),
    info(
        title = "HealthSync API",
        description = "Clinic backend: patients book a doctor's time slot, receptionists run the \
front desk, doctors run their day, admins run the clinic. Every error answers the `ErrorBody` \
shape with a stable `code`.",
        version = "0.1.0"
    ),
    // Schemas only query parameters name (bodies' schemas are collected with their routes),
    // and the chat socket's frames, which no HTTP body carries.
    components(schemas(
        domain::appointments::ListOrder,
        crate::routes::analytics::RangePreset,
        crate::chat::frames::ChatClientFrame,
        crate::chat::frames::ChatServerFrame
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "operations", description = "Liveness and readiness"),
        (name = "auth", description = "Registration, login, sessions"),
        (name = "users", description = "Staff accounts and account status (admins)"),
        (name = "patients", description = "Patients"),
        (name = "doctors", description = "Doctors"),
        (name = "departments", description = "Departments"),
        (name = "scheduling", description = "Schedules and free slots"),
        (name = "appointments", description = "Booking and the appointment lifecycle"),
        (name = "waitlist", description = "Patients waiting for a doctor; offers that hold a freed slot for them"),
        (name = "calendar", description = "A doctor's secret iCalendar feed of its appointments"),
        (name = "webhooks", description = "Signed event deliveries to the clinic's own systems (admins); see the README for verifying them"),
        (name = "notifications", description = "A user's notifications; admin broadcasts"),
        (name = "prescriptions", description = "Prescriptions written during a visit"),
        (name = "medical-records", description = "Patients' documents: upload, list, download"),
        (name = "billing", description = "Bills of completed visits: payment, refund"),
        (name = "chat", description = "Doctor-patient conversations, one per appointment: REST and a WebSocket"),
        (name = "audit", description = "The audit log (admins)"),
        (name = "analytics", description = "The clinic's dashboard (admins; a doctor its own)"),
        (name = "fhir", description = "FHIR R4 (read-only, `application/fhir+json`): Schedule, Slot and Appointment read and search, the CapabilityStatement; every error is an OperationOutcome"),
    ),
)]
pub struct ApiDoc;

/// Declares the `bearer` security scheme (JWT access tokens from `POST /auth/login`).
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The whole document: [`ApiDoc`] plus every route [`crate::startup::configure`] registers,
/// collected by registering that same list on a throwaway `App` (nothing is served).
pub fn document() -> utoipa::openapi::OpenApi {
    let (_app, doc) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::startup::configure)
        .split_for_parts();
    with_shared_errors(doc)
}

/// The error answers every route can give, defined once under `components.responses` and
/// referenced by each operation that can give them (unless it documents its own): 401 where a
/// token is accepted (required or optional), 400/413/415/422 where there is a body or
/// parameters, 429 everywhere (per-IP budget), 503 where a store is needed. So a generated client
/// types `error` as `ErrorBody` for every status it can meet.
fn with_shared_errors(doc: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    use serde_json::{json, Value};
    let mut value = serde_json::to_value(&doc).expect("the document serialises");
    let shared = [
        ("Unauthorized", "401", "No valid session: the token is missing, expired, or its session ended (`UNAUTHORIZED`)."),
        ("MalformedRequest", "400", "The body is not JSON (`MALFORMED_JSON`) or a path id is not a UUID (`INVALID_PATH`)."),
        ("PayloadTooLarge", "413", "The body is larger than the limit (`PAYLOAD_TOO_LARGE`)."),
        ("UnsupportedMediaType", "415", "The body is not `application/json` (`UNSUPPORTED_MEDIA_TYPE`)."),
        ("ValidationFailed", "422", "A well-formed value is invalid (`VALIDATION_FAILED`); `field` names it."),
        ("RateLimited", "429", "Over the per-IP request budget (`RATE_LIMITED`); see `Retry-After`."),
        ("ServiceUnavailable", "503", "A store is down (`SERVICE_UNAVAILABLE`); see `Retry-After`."),
    ];
    let error_body =
        json!({ "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } });
    // Under /fhir the same answers are OperationOutcomes (`routes::fhir::operation_outcomes`
    // rewrites them), and a bad parameter is 400, never 422.
    let outcome = json!({ "application/fhir+json": { "schema": { "$ref": "#/components/schemas/OperationOutcome" } } });
    let fhir_shared = [
        ("FhirUnauthorized", "401", "No valid session (issue code `login`)."),
        ("FhirBadRequest", "400", "A search parameter is unknown, repeated or malformed (issue code `invalid`); `issue[0].expression` names it."),
        ("FhirRateLimited", "429", "Over the per-IP request budget (issue code `throttled`); see `Retry-After`."),
        ("FhirServiceUnavailable", "503", "A store is down (issue code `transient`); see `Retry-After`."),
    ];
    let responses = value["components"]
        .as_object_mut()
        .expect("components")
        .entry("responses")
        .or_insert_with(|| json!({}));
    for (name, _, description) in shared {
        responses[name] = json!({ "description": description, "content": error_body.clone() });
    }
    for (name, _, description) in fhir_shared {
        responses[name] = json!({ "description": description, "content": outcome.clone() });
    }
    let Some(paths) = value["paths"].as_object_mut() else {
        return doc;
    };
    for (path, item) in paths.iter_mut() {
        let Some(operations) = item.as_object_mut() else {
            continue;
        };
        for op in operations.values_mut() {
            // A token is checked wherever one may be sent: where security is optional (public
            // reads that show staff more), a token sent but expired or logged out is still a
            // 401, never silently read as anonymous.
            let requirements = op["security"].as_array().cloned().unwrap_or_default();
            let token_checked = requirements
                .iter()
                .any(|r| r.as_object().is_some_and(|o| !o.is_empty()));
            let has_body = op.get("requestBody").is_some();
            let has_json_body = op
                .pointer("/requestBody/content/application~1json")
                .is_some();
            let has_params = op["parameters"].as_array().is_some_and(|p| !p.is_empty());
            let wants = |name: &str| match name {
                "Unauthorized" => token_checked,
                "MalformedRequest" => has_json_body || path.contains('{'),
                "PayloadTooLarge" => has_body,
                "UnsupportedMediaType" => has_json_body,
                "ValidationFailed" => has_body || has_params,
                "RateLimited" => true,
                "ServiceUnavailable" => path != "/health",
                _ => false,
            };
            let documented = op["responses"].as_object_mut().expect("responses");
            if path.starts_with("/fhir/") {
                for (name, status, _) in fhir_shared {
                    let wanted = match status {
                        "401" => token_checked,
                        "400" => has_params,
                        _ => true,
                    };
                    if wanted && !documented.contains_key(status) {
                        documented.insert(
                            status.to_owned(),
                            json!({ "$ref": format!("#/components/responses/{name}") }),
                        );
                    }
                }
            }
            for (name, status, _) in shared {
                if wants(name) && !path.starts_with("/fhir/") && !documented.contains_key(status) {
                    documented.insert(
                        status.to_owned(),
                        json!({ "$ref": format!("#/components/responses/{name}") }),
                    );
                }
            }
            let sorted: serde_json::Map<String, Value> = {
                let mut entries: Vec<_> = std::mem::take(documented).into_iter().collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                entries.into_iter().collect()
            };
            *documented = sorted;
        }
    }
    // utoipa writes an encoding without `headers` when it has none but cannot read one back
    // without it (utoipa 5.5): give the multipart encodings an empty map for the round trip.
    for encoding in paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|ops| ops.values_mut())
        .filter_map(|op| op.pointer_mut("/requestBody/content"))
        .filter_map(Value::as_object_mut)
        .flat_map(|media| media.values_mut())
        .filter_map(|m| m.get_mut("encoding").and_then(Value::as_object_mut))
        .flat_map(|e| e.values_mut())
    {
        encoding
            .as_object_mut()
            .map(|e| e.entry("headers").or_insert_with(|| json!({})));
    }
    serde_json::from_value(value).expect("the document reads back")
}

/// The document as pretty JSON with a trailing newline, exactly as committed.
pub fn document_json() -> String {
    let mut json = document()
        .to_pretty_json()
        .expect("the OpenAPI document serialises");
    json.push('\n');
    json
}

#[cfg(test)]
mod tests {
    /// Fails when the code's API drifts from the committed `openapi/openapi.json`.
    /// Regenerate with `make openapi`.
    #[test]
    fn committed_openapi_document_matches_the_code() {
        let committed = include_str!("../../../openapi/openapi.json");
        assert!(
            committed == super::document_json(),
            "openapi/openapi.json is stale: run `make openapi` and commit the result"
        );
    }
}

#[cfg(test)]
mod document_rules {
    /// Every operation that needs a session documents its 401, and every documented error
    /// status carries the `ErrorBody` shape (directly or through a shared response).
    #[test]
    fn every_operation_needing_a_session_documents_its_401() {
        let doc: serde_json::Value = serde_json::from_str(&super::document_json()).unwrap();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let required = op["security"].as_array().is_some_and(|r| {
                    !r.is_empty() && r.iter().all(|x| x != &serde_json::json!({}))
                });
                if required {
                    assert!(
                        op["responses"].get("401").is_some(),
                        "{method} {path} lacks 401"
                    );
                }
            }
        }
    }

    /// Every list takes a `cursor`, documented as the domain encodes it, and says where the
    /// next page starts (`nextCursor`).
    #[test]
    fn every_list_pages_by_cursor_as_the_domain_encodes_it() {
        use domain::paging::Cursor;
        let doc: serde_json::Value = serde_json::from_str(&super::document_json()).unwrap();
        let mut lists = 0;
        for item in doc["paths"].as_object().unwrap().values() {
            for op in item.as_object().unwrap().values() {
                let params = op["parameters"].as_array().into_iter().flatten();
                let names: Vec<&str> = params.clone().filter_map(|p| p["name"].as_str()).collect();
                if !names.contains(&"perPage") {
                    continue;
                }
                lists += 1;
                let id = &op["operationId"];
                let cursor = params
                    .clone()
                    .find(|p| p["name"] == "cursor")
                    .unwrap_or_else(|| panic!("{id} pages without a cursor"));
                assert_eq!(cursor["schema"]["pattern"], Cursor::PATTERN, "{id}");
                assert_eq!(cursor["schema"]["maxLength"], Cursor::MAX_LEN, "{id}");
                let page = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
                    .as_str()
                    .and_then(|r| r.rsplit('/').next())
                    .unwrap_or_else(|| panic!("{id}: no page schema"));
                let props = &doc["components"]["schemas"][page]["properties"];
                for field in ["nextCursor", "total", "totalIsExact"] {
                    assert!(props.get(field).is_some(), "{page} lacks {field}");
                }
            }
        }
        assert!(lists >= 9, "{lists} lists found");
    }

    /// Generated clients name their functions after operationIds: one operation, one name.
    #[test]
    fn every_operation_has_its_own_operation_id() {
        let doc: serde_json::Value = serde_json::from_str(&super::document_json()).unwrap();
        let mut seen = std::collections::HashSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let id = op["operationId"].as_str().unwrap_or_default();
                assert!(!id.is_empty(), "{method} {path} has no operationId");
                assert!(
                    seen.insert(id.to_owned()),
                    "{method} {path}: {id} is repeated"
                );
            }
        }
    }

    /// Every value a client sends is bounded in the document as the server bounds it: a string
    /// by `maxLength`, an enum, a `pattern` or a format with a fixed shape (uuid, date,
    /// date-time, binary); a number by `minimum` and `maximum`; a list by `maxItems`. So a
    /// generated client and a fuzzer know the limits (the e2e test `limits` checks that the
    /// server enforces exactly these).
    #[test]
    fn every_input_is_bounded() {
        use serde_json::Value;
        let doc: Value = serde_json::from_str(&super::document_json()).unwrap();
        let resolve = |s: &Value| -> Value {
            match s["$ref"].as_str() {
                Some(r) => doc["components"]["schemas"][r.rsplit('/').next().unwrap()].clone(),
                None => s.clone(),
            }
        };
        fn kind(s: &Value) -> &str {
            match &s["type"] {
                Value::String(k) => k,
                Value::Array(ks) => ks
                    .iter()
                    .filter_map(Value::as_str)
                    .find(|k| *k != "null")
                    .unwrap_or(""),
                _ => "",
            }
        }
        let mut unbounded = Vec::new();
        let check = |at: String, schema: &Value, unbounded: &mut Vec<String>| {
            let ok = match kind(schema) {
                "string" => {
                    schema.get("maxLength").is_some()
                        || schema.get("enum").is_some()
                        || schema.get("pattern").is_some()
                        || matches!(
                            schema["format"].as_str(),
                            Some("uuid" | "date" | "date-time" | "binary")
                        )
                }
                "integer" | "number" => {
                    schema.get("minimum").is_some() && schema.get("maximum").is_some()
                }
                "array" => schema.get("maxItems").is_some(),
                _ => true,
            };
            if !ok {
                unbounded.push(at);
            }
        };
        // Walks a request schema, following references and `oneOf` alternatives.
        fn walk(
            at: &str,
            schema: &Value,
            resolve: &dyn Fn(&Value) -> Value,
            check: &mut dyn FnMut(String, &Value),
            depth: usize,
        ) {
            if depth > 6 {
                return;
            }
            let schema = resolve(schema);
            for alt in schema["oneOf"].as_array().into_iter().flatten() {
                walk(at, alt, resolve, check, depth + 1);
            }
            if let Some(props) = schema["properties"].as_object() {
                for (name, prop) in props {
                    let prop_resolved = resolve(prop);
                    if prop_resolved["readOnly"] == true || prop["readOnly"] == true {
                        continue;
                    }
                    let here = format!("{at}.{name}");
                    check(here.clone(), &prop_resolved);
                    walk(&here, prop, resolve, check, depth + 1);
                    if kind(&prop_resolved) == "array" {
                        walk(
                            &format!("{here}[]"),
                            &prop_resolved["items"],
                            resolve,
                            check,
                            depth + 1,
                        );
                        check(format!("{here}[]"), &resolve(&prop_resolved["items"]));
                    }
                }
            }
        }
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let name = format!("{} {path}", method.to_uppercase());
                for param in op["parameters"].as_array().into_iter().flatten() {
                    if param["in"] == "path" {
                        continue;
                    }
                    let at = format!("{name} {} {}", param["in"], param["name"]);
                    check(at, &resolve(&param["schema"]), &mut unbounded);
                }
                for (media, content) in op["requestBody"]["content"]
                    .as_object()
                    .into_iter()
                    .flatten()
                {
                    let mut visit = |at: String, s: &Value| check(at, s, &mut unbounded);
                    walk(
                        &format!("{name} {media}"),
                        &content["schema"],
                        &resolve,
                        &mut visit,
                        0,
                    );
                }
            }
        }
        assert!(
            unbounded.is_empty(),
            "inputs without a bound in the document: {unbounded:#?}"
        );
    }
}
