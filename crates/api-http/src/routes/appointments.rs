//! Booking and running appointments.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use domain::appointments::{
    Appointment, AppointmentAction, AppointmentFilter, AppointmentStatus, AppointmentType,
    BookingRequest, ListOrder,
};
use domain::error::DomainError;
use domain::idempotency::KeyRef;
use domain::identity::Actor;
use domain::paging::PageRequest;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use actix_web::http::StatusCode;

use crate::auth::AuthUser;
use crate::errors::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, JsonBody};
use crate::idempotent::{self, KeyedWork};
use crate::routes::dto::AppointmentPage;
use crate::state::AppState;
use domain::access::Permission;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BookRequest {
    pub time_slot_id: Uuid,
    /// Required when staff book for a patient; patients book for themselves.
    pub patient_id: Option<Uuid>,
    #[serde(rename = "type")]
    pub kind: AppointmentType,
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RescheduleRequest {
    /// A free future slot of the same doctor.
    pub time_slot_id: Uuid,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WalkInRequest {
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CancelRequest {
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppointmentDto {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    pub time_slot_id: Option<Uuid>,
    #[serde(rename = "type")]
    pub kind: AppointmentType,
    pub status: AppointmentStatus,
    pub reason: String,
    pub notes: Option<String>,
    pub cancel_reason: Option<String>,
    /// The fee quoted at booking, exact decimal string.
    #[schema(example = "80.50")]
    pub consultation_fee: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Appointment> for AppointmentDto {
    fn from(a: Appointment) -> Self {
        Self {
            id: a.id,
            patient_id: a.patient_id,
            doctor_id: a.doctor_id,
            time_slot_id: a.time_slot_id,
            kind: a.kind,
            status: a.status,
            reason: a.reason,
            notes: a.notes,
            cancel_reason: a.cancel_reason,
            consultation_fee: a.consultation_fee.to_string(),
            starts_at: a.starts_at,
            ends_at: a.ends_at,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AppointmentListQuery {
    pub status: Option<AppointmentStatus>,
    pub doctor_id: Option<Uuid>,
    pub patient_id: Option<Uuid>,
    pub department_id: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// By start time: `soonest` first (the default) or `newest` first.
    pub order: Option<ListOrder>,
    /// `true`: only SCHEDULED or CONFIRMED visits inside time off of their doctor or a clinic
    /// holiday, which need a new time (time off never cancels them by itself).
    pub needs_rescheduling: Option<bool>,
    /// 1-based page number, up to 500; deeper pages are read with `cursor`.
    #[param(minimum = 1, maximum = 500)]
    pub page: Option<u32>,
    /// Items per page, 20 by default.
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u32>,
    /// Read the page that starts after this position: the `nextCursor` of the page before,
    /// passed back as it is with the same filters (instead of `page`).
    #[param(
        max_length = 994,
        pattern = r"^[tnsur][0-9a-f-]{0,960}\.[0-9a-f-]{1,36}$"
    )]
    pub cursor: Option<String>,
}

/// Book a slot.
///
/// One transaction takes the slot, creates the appointment (with the doctor's current fee),
/// notifies patient and doctor and writes the audit event. Of concurrent requests for one slot
/// exactly one succeeds; the others get 409 `SLOT_TAKEN`.
#[utoipa::path(operation_id = "bookAppointment", tag = "appointments", security(("bearer" = [])), request_body = BookRequest,
    params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 200, pattern = r"^[!-~]{1,200}$", description = "1 to 200 visible ASCII characters. A retry with the same key and body gets the first answer (also after a crash); the same key with another body is 422; while the first still runs, 409 IDEMPOTENCY_IN_FLIGHT with Retry-After. Keys are kept 24 h.")),
    responses(
        (status = 201, description = "Booked", body = AppointmentDto),
        (status = 403, description = "Doctors do not book", body = ErrorBody),
        (status = 404, description = "No such slot or patient", body = ErrorBody),
        (status = 409, description = "SLOT_TAKEN, PATIENT_OVERLAP, DOCTOR_UNAVAILABLE, DOCTOR_TIME_OFF or NO_SHOW_LIMIT", body = ErrorBody),
        (status = 422, description = "Invalid request or slot in the past", body = ErrorBody),
    ))]
#[post("/appointments")]
pub async fn book(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: AuthUser,
    body: JsonBody<BookRequest>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::Book)?;
    let (b, raw) = body.parse_with_value()?;
    let work = Booking {
        state: &state,
        actor: &user.0,
        request: BookingRequest {
            slot_id: b.time_slot_id,
            patient_id: b.patient_id,
            kind: b.kind,
            reason: b.reason,
        },
    };
    idempotent::respond(&state, &req, &user.0, &raw, StatusCode::CREATED, work).await
}

/// Booking as keyed work: a retry after a crash answers with the appointment that committed.
struct Booking<'a> {
    state: &'a AppState,
    actor: &'a Actor,
    request: BookingRequest,
}

impl KeyedWork<AppointmentDto> for Booking<'_> {
    async fn run(&self, key: Option<KeyRef>) -> Result<AppointmentDto, DomainError> {
        let booked = self
            .state
            .appointments
            .book(self.actor, self.request.clone(), key)
            .await?;
        Ok(booked.into())
    }

    async fn recover(&self, id: Uuid) -> Result<AppointmentDto, DomainError> {
        Ok(self.state.appointments.get(self.actor, id).await?.into())
    }
}

/// List appointments: a patient's own, a doctor's day, or all (front desk and admins).
#[utoipa::path(operation_id = "listAppointments", tag = "appointments", security(("bearer" = [])), params(AppointmentListQuery),
    responses((status = 200, description = "A page of appointments", body = AppointmentPage)))]
#[get("/appointments")]
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    query: ApiQuery<AppointmentListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let page = PageRequest::parse(q.page, q.per_page, q.cursor.as_deref())?;
    let soonest_first = q.order.unwrap_or_default() == ListOrder::Soonest;
    let filter = AppointmentFilter {
        patient_id: q.patient_id,
        doctor_id: q.doctor_id,
        department_id: q.department_id,
        status: q.status,
        statuses: Vec::new(),
        from: q.from,
        to: q.to,
        soonest_first,
        needs_rescheduling: q.needs_rescheduling.unwrap_or(false),
    };
    let found = state.appointments.list(&user.0, filter, page).await?;
    Ok(HttpResponse::Ok().json(AppointmentPage::from(found)))
}

/// An appointment the caller may see (404 otherwise).
#[utoipa::path(operation_id = "getAppointment", tag = "appointments", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Appointment id")),
    responses((status = 200, description = "The appointment", body = AppointmentDto), (status = 404, description = "Not found", body = ErrorBody)))]
#[get("/appointments/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(AppointmentDto::from(
        state.appointments.get(&user.0, id.into_inner()).await?,
    )))
}

async fn act(
    state: web::Data<AppState>,
    user: AuthUser,
    id: Uuid,
    action: AppointmentAction,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(AppointmentDto::from(
        state.appointments.act(&user.0, id, action).await?,
    )))
}

/// Confirm (front desk, admins, the appointment's doctor or patient). SCHEDULED -> CONFIRMED.
#[utoipa::path(operation_id = "confirmAppointment", tag = "appointments", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Appointment id")),
    responses((status = 200, description = "Confirmed", body = AppointmentDto),
        (status = 404, description = "No such appointment, or not yours", body = ErrorBody),
        (status = 409, description = "INVALID_TRANSITION", body = ErrorBody)))]
#[post("/appointments/{id}/confirm")]
pub async fn confirm(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    act(state, user, id.into_inner(), AppointmentAction::Confirm).await
}

/// Start (the appointment's doctor). CONFIRMED -> IN_PROGRESS.
#[utoipa::path(operation_id = "startAppointment", tag = "appointments", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Appointment id")),
    responses((status = 200, description = "Started", body = AppointmentDto),
        (status = 403, description = "Not the appointment's doctor", body = ErrorBody),
        (status = 404, description = "No such appointment, or not yours", body = ErrorBody),
        (status = 409, description = "INVALID_TRANSITION", body = ErrorBody)))]
#[post("/appointments/{id}/start")]
pub async fn start(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    act(state, user, id.into_inner(), AppointmentAction::Start).await
}

/// Complete (the appointment's doctor). IN_PROGRESS -> COMPLETED.
#[utoipa::path(operation_id = "completeAppointment", tag = "appointments", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Appointment id")),
    responses((status = 200, description = "Completed", body = AppointmentDto),
        (status = 403, description = "Not the appointment's doctor", body = ErrorBody),
        (status = 404, description = "No such appointment, or not yours", body = ErrorBody),
        (status = 409, description = "INVALID_TRANSITION", body = ErrorBody)))]
#[post("/appointments/{id}/complete")]
pub async fn complete(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    act(state, user, id.into_inner(), AppointmentAction::Complete).await
}

/// Record that the patient did not come (the appointment's doctor, the desk, admins), from
/// `NO_SHOW_GRACE_MINUTES` after the start. SCHEDULED | CONFIRMED -> NO_SHOW. The slot stays
/// taken; with `NO_SHOW_FEE` set, a PENDING bill of that fee is written in the same transaction.
#[utoipa::path(operation_id = "markNoShow", tag = "appointments", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Appointment id")),
    responses((status = 200, description = "Recorded", body = AppointmentDto),
        (status = 403, description = "Not the appointment's doctor or the desk", body = ErrorBody),
        (status = 404, description = "No such appointment, or not yours", body = ErrorBody),
        (status = 409, description = "INVALID_TRANSITION", body = ErrorBody),
        (status = 422, description = "Before the start plus the grace period", body = ErrorBody)))]
#[post("/appointments/{id}/no-show")]
pub async fn no_show(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    act(state, user, id.into_inner(), AppointmentAction::NoShow).await
}

/// Cancel with a reason: the patient itself up to the notice period before the start, staff
/// any time before IN_PROGRESS. Frees the slot.
#[utoipa::path(operation_id = "cancelAppointment", tag = "appointments", security(("bearer" = [])), request_body = CancelRequest,
    params(("id" = Uuid, Path, description = "Appointment id")),
    responses(
        (status = 200, description = "Cancelled", body = AppointmentDto),
        (status = 404, description = "No such appointment, or not yours", body = ErrorBody),
        (status = 409, description = "INVALID_TRANSITION", body = ErrorBody),
        (status = 422, description = "No reason, or inside the notice period", body = ErrorBody),
    ))]
#[post("/appointments/{id}/cancel")]
pub async fn cancel(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: ApiJson<CancelRequest>,
) -> Result<HttpResponse, ApiError> {
    act(
        state,
        user,
        id.into_inner(),
        AppointmentAction::Cancel {
            reason: body.0.reason,
        },
    )
    .await
}

/// Move an appointment to another free slot of its doctor, in one transaction (the old slot is
/// freed and the new one taken, or nothing changes). The patient itself outside the notice
/// period, or the front desk and admins.
#[utoipa::path(operation_id = "rescheduleAppointment", tag = "appointments", security(("bearer" = [])), request_body = RescheduleRequest,
    params(("id" = Uuid, Path, description = "Appointment id")),
    responses(
        (status = 200, description = "Moved", body = AppointmentDto),
        (status = 403, description = "Doctors do not reschedule", body = ErrorBody),
        (status = 404, description = "No such appointment (or not yours) or slot", body = ErrorBody),
        (status = 409, description = "SLOT_TAKEN, DOCTOR_TIME_OFF or INVALID_TRANSITION", body = ErrorBody),
        (status = 422, description = "Another doctor's slot, past slot, or inside the notice period", body = ErrorBody),
    ))]
#[post("/appointments/{id}/reschedule")]
pub async fn reschedule(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: ApiJson<RescheduleRequest>,
) -> Result<HttpResponse, ApiError> {
    let moved = state
        .appointments
        .reschedule(&user.0, id.into_inner(), body.0.time_slot_id)
        .await?;
    Ok(HttpResponse::Ok().json(AppointmentDto::from(moved)))
}

/// Register an EMERGENCY walk-in (front desk and admins): no slot, starting now; it never
/// takes a slot from anyone.
#[utoipa::path(operation_id = "registerWalkIn", tag = "appointments", security(("bearer" = [])), request_body = WalkInRequest,
    responses(
        (status = 201, description = "Registered", body = AppointmentDto),
        (status = 403, description = "Not front-desk staff", body = ErrorBody),
        (status = 404, description = "No such patient or doctor", body = ErrorBody),
        (status = 409, description = "PATIENT_OVERLAP or DOCTOR_UNAVAILABLE", body = ErrorBody),
    ))]
#[post("/appointments/walk-ins")]
pub async fn walk_in(
    state: web::Data<AppState>,
    user: AuthUser,
    body: JsonBody<WalkInRequest>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::RegisterWalkIns)?;
    let body = body.parse()?;
    let b = body;
    let created = state
        .appointments
        .walk_in(&user.0, b.patient_id, b.doctor_id, &b.reason)
        .await?;
    Ok(HttpResponse::Created().json(AppointmentDto::from(created)))
}
