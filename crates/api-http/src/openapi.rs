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
    info(
        title = "HealthSync API",
        description = "Clinic backend: patients book a doctor's time slot, receptionists run the \
front desk, doctors run their day, admins run the clinic. Every error answers the `ErrorBody` \
shape with a stable `code`.",
        version = "0.1.0"
    ),
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
        (name = "notifications", description = "A user's notifications; admin broadcasts"),
        (name = "prescriptions", description = "Prescriptions written during a visit"),
        (name = "medical-records", description = "Patients' documents: upload, list, download"),
        (name = "billing", description = "Bills of completed visits: payment, refund"),
        (name = "audit", description = "The audit log (admins)"),
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
    doc
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
}
