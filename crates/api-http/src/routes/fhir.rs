//! FHIR R4, read-only, under `/fhir/R4` (`application/fhir+json`): `Schedule`, `Slot` and
//! `Appointment` read and search, and the `CapabilityStatement` at `/metadata`. The mapping,
//! the search parameters and the access rules are `domain::fhir`'s; a handler here reads the
//! raw query, calls one read, and wraps the result in a `Bundle` with its links.
//!
//! Every error under `/fhir` is an `OperationOutcome` ([`operation_outcomes`]): the API's own
//! error answers, whoever gave them (a handler, the token check, the rate limiter, the 404 of
//! an unknown path), are rewritten there with the same status, except that a well-formed but
//! wrong parameter (the API's 422) is FHIR's 400.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::{get, web, HttpRequest, HttpResponse};
use domain::fhir::capability::CapabilityStatement;
use domain::fhir::resources::{
    Appointment, AppointmentBundle, OperationOutcome, Schedule, ScheduleBundle, Slot, SlotBundle,
};
use domain::fhir::{
    capability_statement, AppointmentSearch, FhirReads, Found, Next as NextPage, ScheduleSearch,
    SlotSearch,
};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::auth::{AuthUser, MaybeAuthUser};
use crate::errors::{ApiError, ErrorBody};
use crate::state::AppState;

/// FHIR's JSON media type, of every answer under `/fhir`.
pub const FHIR_JSON: &str = "application/fhir+json";

/// The search parameters of `searchFhirAppointments` (documentation; the handler parses the
/// raw query with `domain::fhir::AppointmentSearch`, which refuses unknown ones).
#[allow(dead_code)]
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AppointmentParams {
    /// `Patient/<id>` or the bare id.
    #[param(
        pattern = r"^(Patient/)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    )]
    patient: Option<String>,
    /// `Practitioner/<id>` (a doctor) or the bare id.
    #[param(
        pattern = r"^(Practitioner/)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    )]
    practitioner: Option<String>,
    /// `Practitioner/<id>` or `Patient/<id>`.
    #[param(
        pattern = r"^(Practitioner|Patient)/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    )]
    actor: Option<String>,
    /// The start: `[eq|ge|gt|le|lt]` then `YYYY`, `YYYY-MM`, `YYYY-MM-DD` (clinic time zone) or
    /// a date-time with a zone; twice for a range (`date=ge2026-12-01&date=lt2026-12-08`).
    #[param(
        max_items = 2,
        pattern = r"^(eq|ge|gt|le|lt)?[0-9]{4}(-[0-9]{2}(-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2}))?)?)?$"
    )]
    date: Option<Vec<String>>,
    /// Comma-separated R4 codes: `booked`, `arrived`, `fulfilled`, `cancelled`, `noshow` (the
    /// other R4 codes are accepted and match nothing).
    #[param(
        pattern = r"^(proposed|pending|booked|arrived|fulfilled|cancelled|noshow|entered-in-error|checked-in|waitlist)(,(proposed|pending|booked|arrived|fulfilled|cancelled|noshow|entered-in-error|checked-in|waitlist))*$"
    )]
    status: Option<String>,
    /// Results per page (20 by default).
    #[serde(rename = "_count")]
    #[param(minimum = 1, maximum = 100)]
    count: Option<u32>,
    /// Where the page starts: pass the `next` link's value back as it is.
    #[serde(rename = "_cursor")]
    #[param(pattern = r"^[tnsur][0-9a-f-]{0,960}\.[0-9a-f-]{1,36}$")]
    cursor: Option<String>,
}

/// The search parameters of `searchFhirSlots` (documentation, as above).
#[allow(dead_code)]
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SlotParams {
    /// `Schedule/<id>`: that weekly rule's slots. This or `schedule.actor` is required.
    #[param(
        pattern = r"^Schedule/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    )]
    schedule: Option<String>,
    /// `Practitioner/<id>` (or the bare id): the doctor's slots, chained through `Slot.schedule`.
    #[serde(rename = "schedule.actor")]
    #[param(
        pattern = r"^(Practitioner/)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    )]
    schedule_actor: Option<String>,
    /// The slot's start, as `date` of the Appointment search; at most 31 clinic days are read,
    /// from today when no lower bound is given.
    #[param(
        max_items = 2,
        pattern = r"^(eq|ge|gt|le|lt)?[0-9]{4}(-[0-9]{2}(-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2}))?)?)?$"
    )]
    start: Option<Vec<String>>,
    /// Comma-separated: `free`, `busy`, `busy-unavailable`, `busy-tentative`.
    #[param(
        pattern = r"^(free|busy|busy-unavailable|busy-tentative|entered-in-error)(,(free|busy|busy-unavailable|busy-tentative|entered-in-error))*$"
    )]
    status: Option<String>,
    /// Results per page (20 by default).
    #[serde(rename = "_count")]
    #[param(minimum = 1, maximum = 100)]
    count: Option<u32>,
    /// The page, as the `next` link gives it.
    #[serde(rename = "_page")]
    #[param(minimum = 1, maximum = 500)]
    page: Option<u32>,
}

/// The search parameters of `searchFhirSchedules` (documentation, as above).
#[allow(dead_code)]
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ScheduleParams {
    /// `Practitioner/<id>` (or the bare id): the doctor whose weekly rules to list (required).
    #[param(
        pattern = r"^(Practitioner/)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
    )]
    actor: Option<String>,
    /// Only active (`true`) or deactivated (`false`) rules.
    #[param(pattern = "^(true|false)$")]
    active: Option<String>,
    /// Results per page (20 by default).
    #[serde(rename = "_count")]
    #[param(minimum = 1, maximum = 100)]
    count: Option<u32>,
    /// The page, as the `next` link gives it.
    #[serde(rename = "_page")]
    #[param(minimum = 1, maximum = 500)]
    page: Option<u32>,
}

/// The endpoint's absolute base URL (`http://host/fhir/R4`), for `fullUrl`s and links.
fn base(req: &HttpRequest) -> String {
    format!("{}/fhir/R4", crate::extract::origin(req))
}

/// The query's parameters, decoded.
fn params(req: &HttpRequest) -> Vec<(String, String)> {
    form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect()
}

/// The search's URL with `params` (re-encoded), optionally without the paging parameter and
/// with another one.
fn search_url(
    base: &str,
    resource: &str,
    params: &[(String, String)],
    next: Option<&NextPage>,
) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        if next.is_none() || !matches!(name.as_str(), "_page" | "_cursor") {
            query.append_pair(name, value);
        }
    }
    match next {
        Some(NextPage::Page(n)) => {
            query.append_pair("_page", &n.to_string());
        }
        Some(NextPage::Cursor(c)) => {
            query.append_pair("_cursor", c);
        }
        None => {}
    }
    let query = query.finish();
    if query.is_empty() {
        format!("{base}/{resource}")
    } else {
        format!("{base}/{resource}?{query}")
    }
}

/// A 200 answer in FHIR's media type.
fn fhir_json(body: &impl serde::Serialize) -> Result<HttpResponse, ApiError> {
    let bytes = serde_json::to_vec(body).map_err(|e| ApiError::internal(&e))?;
    Ok(HttpResponse::Ok().content_type(FHIR_JSON).body(bytes))
}

/// An id in a FHIR path: ours are UUIDs, so anything else names no resource (404, as a
/// resource id of another server would).
fn resource_id(raw: &str, what: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw)
        .ok()
        .filter(|_| raw.len() == 36)
        .ok_or_else(|| ApiError::not_found(what))
}

fn reads(state: &AppState) -> FhirReads<'_> {
    FhirReads {
        appointments: &state.appointments,
        scheduling: &state.scheduling,
    }
}

fn bundle_parts<R>(
    req: &HttpRequest,
    resource: &str,
    found: &Found<R>,
) -> (String, String, Option<String>) {
    let base = base(req);
    let params = params(req);
    let self_url = search_url(&base, resource, &params, None);
    let next = found
        .next
        .as_ref()
        .map(|n| search_url(&base, resource, &params, Some(n)));
    (base, self_url, next)
}

/// What this server does (FHIR `capabilities` interaction). Public: clients read it before
/// they log in.
#[utoipa::path(operation_id = "getFhirCapabilityStatement", tag = "fhir",
    responses((status = 200, description = "The CapabilityStatement: FHIR 4.0.1, JSON, Schedule/Slot/Appointment with read and search-type and their search parameters", body = CapabilityStatement, content_type = "application/fhir+json")))]
#[get("/fhir/R4/metadata")]
pub async fn metadata(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    fhir_json(&capability_statement(&base(&req)))
}

/// Search appointments (FHIR `Appointment`): a patient finds its own, a doctor its own, the
/// front desk and admins all; soonest first. Naming another patient (or, for a doctor,
/// another doctor) finds nothing. Unknown, repeated or malformed parameters are 400 naming
/// the parameter in `issue[0].expression`.
#[utoipa::path(operation_id = "searchFhirAppointments", tag = "fhir", security(("bearer" = [])), params(AppointmentParams),
    responses(
        (status = 200, description = "A searchset Bundle: total (when exact), self and next links, fullUrls", body = AppointmentBundle, content_type = "application/fhir+json"),
        (status = 400, description = "A search parameter is unknown, repeated or malformed; `issue[0].expression` names it", body = OperationOutcome, content_type = "application/fhir+json"),
    ))]
#[get("/fhir/R4/Appointment")]
pub async fn search_appointments(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let search = AppointmentSearch::parse(&params(&req), state.scheduling.zone())?;
    let found = reads(&state).appointments(&user.0, &search).await?;
    let (base, self_url, next) = bundle_parts(&req, "Appointment", &found);
    fhir_json(&AppointmentBundle::new(
        &base,
        found.items,
        found.total,
        self_url,
        next,
    ))
}

/// Read an appointment (FHIR `Appointment`) the caller may see; another's is 404.
#[utoipa::path(operation_id = "readFhirAppointment", tag = "fhir", security(("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Appointment id")),
    responses(
        (status = 200, description = "The Appointment", body = Appointment, content_type = "application/fhir+json"),
        (status = 404, description = "No such appointment, or not the caller's", body = OperationOutcome, content_type = "application/fhir+json"),
    ))]
#[get("/fhir/R4/Appointment/{id}")]
pub async fn read_appointment(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = resource_id(&id, "appointment")?;
    fhir_json(&reads(&state).appointment(&user.0, id).await?)
}

/// Search a doctor's weekly rules (FHIR `Schedule`; public, as the API's schedules are).
/// `actor` is required.
#[utoipa::path(operation_id = "searchFhirSchedules", tag = "fhir", security((), ("bearer" = [])), params(ScheduleParams),
    responses(
        (status = 200, description = "A searchset Bundle of Schedules", body = ScheduleBundle, content_type = "application/fhir+json"),
        (status = 400, description = "A search parameter is missing, unknown, repeated or malformed; `issue[0].expression` names it", body = OperationOutcome, content_type = "application/fhir+json"),
    ))]
#[get("/fhir/R4/Schedule")]
pub async fn search_schedules(
    req: HttpRequest,
    state: web::Data<AppState>,
    _user: MaybeAuthUser,
) -> Result<HttpResponse, ApiError> {
    let search = ScheduleSearch::parse(&params(&req))?;
    let found = reads(&state).schedules(&search).await?;
    let (base, self_url, next) = bundle_parts(&req, "Schedule", &found);
    fhir_json(&ScheduleBundle::new(
        &base,
        found.items,
        found.total,
        self_url,
        next,
    ))
}

/// Read a weekly rule (FHIR `Schedule`; public). Deactivated rules stay readable
/// (`active: false`), so every `Slot.schedule` resolves.
#[utoipa::path(operation_id = "readFhirSchedule", tag = "fhir", security((), ("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Schedule id")),
    responses(
        (status = 200, description = "The Schedule", body = Schedule, content_type = "application/fhir+json"),
        (status = 404, description = "No such schedule", body = OperationOutcome, content_type = "application/fhir+json"),
    ))]
#[get("/fhir/R4/Schedule/{id}")]
pub async fn read_schedule(
    state: web::Data<AppState>,
    _user: MaybeAuthUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = resource_id(&id, "schedule")?;
    fhir_json(&reads(&state).schedule(id).await?)
}

/// Search a doctor's slots (FHIR `Slot`; public, as availability is): `free`, `busy`, and for
/// the front desk, admins and the doctor itself why a slot is busy (`busy-unavailable`: time
/// off or no longer bookable; `busy-tentative`: held by a waitlist offer).
#[utoipa::path(operation_id = "searchFhirSlots", tag = "fhir", security((), ("bearer" = [])), params(SlotParams),
    responses(
        (status = 200, description = "A searchset Bundle of Slots, by start", body = SlotBundle, content_type = "application/fhir+json"),
        (status = 400, description = "A search parameter is missing, unknown, repeated or malformed, or the range is longer than 31 days; `issue[0].expression` names it", body = OperationOutcome, content_type = "application/fhir+json"),
    ))]
#[get("/fhir/R4/Slot")]
pub async fn search_slots(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: MaybeAuthUser,
) -> Result<HttpResponse, ApiError> {
    let search = SlotSearch::parse(&params(&req), state.scheduling.zone())?;
    let found = reads(&state).slots(user.0.as_ref(), &search).await?;
    let (base, self_url, next) = bundle_parts(&req, "Slot", &found);
    fhir_json(&SlotBundle::new(
        &base,
        found.items,
        found.total,
        self_url,
        next,
    ))
}

/// Read a slot (FHIR `Slot`; public), in any state.
#[utoipa::path(operation_id = "readFhirSlot", tag = "fhir", security((), ("bearer" = [])),
    params(("id" = String, Path, format = Uuid, description = "Slot id")),
    responses(
        (status = 200, description = "The Slot", body = Slot, content_type = "application/fhir+json"),
        (status = 404, description = "No such slot", body = OperationOutcome, content_type = "application/fhir+json"),
    ))]
#[get("/fhir/R4/Slot/{id}")]
pub async fn read_slot(
    state: web::Data<AppState>,
    user: MaybeAuthUser,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = resource_id(&id, "slot")?;
    fhir_json(&reads(&state).slot(user.0.as_ref(), id).await?)
}

/// FHIR's issue type for an answer's status.
fn issue_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 422 => "invalid",
        401 => "login",
        403 => "forbidden",
        404 => "not-found",
        405 | 406 | 415 => "not-supported",
        409 => "conflict",
        413 => "too-long",
        429 => "throttled",
        503 => "transient",
        _ => "exception",
    }
}

/// Rewrites every error answer under `/fhir/` into an `OperationOutcome` in
/// `application/fhir+json`, keeping the status (422 becomes 400: FHIR answers a bad search
/// parameter with 400), the headers (`Retry-After`, `Allow`, `WWW-Authenticate`) and the
/// extensions (the access log's store of a 503). The API's `code` and `message` become the
/// issue's `diagnostics`, its `field` the issue's `expression`. Outermost but for the
/// request-id and header middleware, so the 404 of an unknown path and a 429 are rewritten too.
pub async fn operation_outcomes(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let fhir = req.path().starts_with("/fhir/");
    let response = next.call(req).await?.map_into_boxed_body();
    let is_error = response.status().is_client_error() || response.status().is_server_error();
    let already = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(FHIR_JSON));
    if !fhir || !is_error || already {
        return Ok(response);
    }
    let (req, response) = response.into_parts();
    let status = match response.status() {
        StatusCode::UNPROCESSABLE_ENTITY => StatusCode::BAD_REQUEST,
        other => other,
    };
    let (mut head, body) = response.into_parts();
    // A HEAD request's answer has no body to read; its headers are rewritten all the same.
    let bytes = actix_web::body::to_bytes(body).await.unwrap_or_default();
    let error: Option<ErrorBody> = serde_json::from_slice(&bytes).ok();
    let outcome = OperationOutcome::error(
        issue_code(status),
        error.as_ref().map_or_else(
            || status.canonical_reason().unwrap_or("error").to_owned(),
            |e| format!("{}: {}", e.code, e.message),
        ),
        error.and_then(|e| e.field),
    );
    let body = serde_json::to_vec(&outcome).unwrap_or_default();
    *head.status_mut() = status;
    head.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(FHIR_JSON),
    );
    head.headers_mut().remove(header::CONTENT_LENGTH);
    Ok(ServiceResponse::new(
        req,
        head.set_body(body).map_into_boxed_body(),
    ))
}
