//! The waitlist: patients waiting for a doctor, and the offers that hold a freed slot for them
//! (see `domain::waitlist`).

use actix_web::{delete, get, post, web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use domain::access::Permission;
use domain::appointments::AppointmentType;
use domain::paging::PageRequest;
use domain::waitlist::{
    JoinRequest, Offer, PartOfDay, WaitlistEntry, WaitlistFilter, WaitlistStatus,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::errors::{ApiError, ErrorBody};
use crate::extract::{ApiQuery, JsonBody};
use crate::routes::appointments::AppointmentDto;
use crate::routes::dto::WaitlistPage;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JoinWaitlistRequest {
    pub doctor_id: Uuid,
    /// Required when staff add a patient; patients wait for themselves.
    #[serde(default)]
    pub patient_id: Option<Uuid>,
    /// First local day the patient could come (today or later).
    pub from: NaiveDate,
    /// Last local day, at most 89 days after `from`.
    pub to: NaiveDate,
    /// Only slots starting in this part of the day (any when left out).
    #[serde(default)]
    pub part_of_day: Option<PartOfDay>,
}

/// A slot held for the patient until `expiresAt`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OfferDto {
    pub id: Uuid,
    pub slot_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl From<Offer> for OfferDto {
    fn from(o: Offer) -> Self {
        Self {
            id: o.id,
            slot_id: o.slot_id,
            starts_at: o.starts_at,
            ends_at: o.ends_at,
            expires_at: o.expires_at,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WaitlistEntryDto {
    pub id: Uuid,
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    pub from: NaiveDate,
    pub to: NaiveDate,
    #[schema(nullable, required = true)]
    pub part_of_day: Option<PartOfDay>,
    pub status: WaitlistStatus,
    pub created_at: DateTime<Utc>,
    /// The open offer, while `OFFERED`.
    #[schema(nullable, required = true)]
    pub offer: Option<OfferDto>,
}

impl From<WaitlistEntry> for WaitlistEntryDto {
    fn from(e: WaitlistEntry) -> Self {
        Self {
            id: e.id,
            patient_id: e.patient_id,
            doctor_id: e.doctor_id,
            from: e.from,
            to: e.to,
            part_of_day: e.part_of_day,
            status: e.status,
            created_at: e.created_at,
            offer: e.offer.map(Into::into),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct WaitlistQuery {
    /// One doctor's waitlist (a doctor always sees its own).
    pub doctor_id: Option<Uuid>,
    /// One patient's entries (a patient always sees its own).
    pub patient_id: Option<Uuid>,
    pub status: Option<WaitlistStatus>,
    /// 1-based page number, up to 500; deeper pages are read with `cursor`.
    #[param(minimum = 1, maximum = 500)]
    pub page: Option<u32>,
    /// Items per page, 20 by default.
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u32>,
    /// The `nextCursor` of the page before, passed back as it is with the same filters.
    #[param(
        max_length = 994,
        pattern = r"^[tnsur][0-9a-f-]{0,960}\.[0-9a-f-]{1,36}$"
    )]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AcceptOfferRequest {
    /// `CONSULTATION` when left out.
    #[serde(rename = "type", default)]
    pub kind: Option<AppointmentType>,
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: String,
}

/// Join a doctor's waitlist (a patient for itself, the desk for a patient). When a matching
/// slot is free or frees up, the patient waiting longest gets an offer holding it for
/// `WAITLIST_HOLD_MINUTES`, and a notification.
#[utoipa::path(operation_id = "joinWaitlist", tag = "waitlist", security(("bearer" = [])), request_body = JoinWaitlistRequest,
    responses(
        (status = 201, description = "Waiting (or already offered a slot)", body = WaitlistEntryDto),
        (status = 403, description = "Doctors do not join waitlists", body = ErrorBody),
        (status = 404, description = "No such doctor or patient", body = ErrorBody),
        (status = 409, description = "ALREADY_WAITING for this doctor, or NO_SHOW_LIMIT (a patient sent to the desk)", body = ErrorBody),
        (status = 422, description = "Invalid range", body = ErrorBody),
    ))]
#[post("/waitlist")]
pub async fn join(
    state: web::Data<AppState>,
    user: AuthUser,
    body: JsonBody<JoinWaitlistRequest>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::Book)?;
    let b = body.parse()?;
    let entry = state
        .waitlist
        .join(
            &user.0,
            JoinRequest {
                doctor_id: b.doctor_id,
                patient_id: b.patient_id,
                from: b.from,
                to: b.to,
                part_of_day: b.part_of_day,
            },
        )
        .await?;
    Ok(HttpResponse::Created().json(WaitlistEntryDto::from(entry)))
}

/// Waitlist entries, oldest first: a patient's own, a doctor's own waitlist, or (the desk and
/// admins) the whole list.
#[utoipa::path(operation_id = "listWaitlist", tag = "waitlist", security(("bearer" = [])), params(WaitlistQuery),
    responses(
        (status = 200, description = "A page of entries", body = WaitlistPage),
        (status = 403, description = "A patient account without a patient record", body = ErrorBody),
        (status = 404, description = "A doctor account without a doctor record", body = ErrorBody),
        (status = 422, description = "Bad filter", body = ErrorBody),
    ))]
#[get("/waitlist")]
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    query: ApiQuery<WaitlistQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let page = PageRequest::parse(q.page, q.per_page, q.cursor.as_deref())?;
    let filter = WaitlistFilter {
        patient_id: q.patient_id,
        doctor_id: q.doctor_id,
        status: q.status,
    };
    let found = state.waitlist.list(&user.0, filter, page).await?;
    Ok(HttpResponse::Ok().json(WaitlistPage::from(found)))
}

/// One entry the caller may see (404 otherwise).
#[utoipa::path(operation_id = "getWaitlistEntry", tag = "waitlist", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Entry id")),
    responses((status = 200, description = "The entry", body = WaitlistEntryDto), (status = 404, description = "Not found", body = ErrorBody)))]
#[get("/waitlist/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let entry = state.waitlist.get(&user.0, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(WaitlistEntryDto::from(entry)))
}

/// Leave the waitlist (a patient its own entry, the desk any); a held slot goes to the next
/// patient.
#[utoipa::path(operation_id = "leaveWaitlist", tag = "waitlist", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Entry id")),
    responses(
        (status = 204, description = "Left"),
        (status = 403, description = "Doctors do not manage waitlists", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 409, description = "STALE_STATUS: no longer waiting", body = ErrorBody),
    ))]
#[delete("/waitlist/{id}")]
pub async fn leave(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state.waitlist.leave(&user.0, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Accept an offer (its patient, or the desk on the patient's behalf): the held slot is booked
/// in one transaction. An offer already answered, or past its hold, is 409 `OFFER_CLOSED`.
#[utoipa::path(operation_id = "acceptWaitlistOffer", tag = "waitlist", security(("bearer" = [])), request_body = AcceptOfferRequest,
    params(("id" = Uuid, Path, description = "Offer id")),
    responses(
        (status = 201, description = "Booked", body = AppointmentDto),
        (status = 403, description = "Doctors do not book", body = ErrorBody),
        (status = 404, description = "No such offer of yours", body = ErrorBody),
        (status = 409, description = "OFFER_CLOSED, SLOT_TAKEN, PATIENT_OVERLAP, DOCTOR_TIME_OFF, DOCTOR_UNAVAILABLE or NO_SHOW_LIMIT", body = ErrorBody),
        (status = 422, description = "Invalid reason", body = ErrorBody),
    ))]
#[post("/waitlist/offers/{id}/accept")]
pub async fn accept(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: JsonBody<AcceptOfferRequest>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::Book)?;
    let b = body.parse()?;
    let appointment = state
        .waitlist
        .accept(
            &user.0,
            id.into_inner(),
            b.kind.unwrap_or(AppointmentType::Consultation),
            &b.reason,
        )
        .await?;
    Ok(HttpResponse::Created().json(AppointmentDto::from(appointment)))
}

/// Decline an offer: the patient keeps waiting for another slot and this one goes to the next
/// patient.
#[utoipa::path(operation_id = "declineWaitlistOffer", tag = "waitlist", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Offer id")),
    responses(
        (status = 204, description = "Declined"),
        (status = 403, description = "Doctors do not answer offers", body = ErrorBody),
        (status = 404, description = "No such offer of yours", body = ErrorBody),
        (status = 409, description = "OFFER_CLOSED: answered already or past its hold", body = ErrorBody),
    ))]
#[post("/waitlist/offers/{id}/decline")]
pub async fn decline(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state.waitlist.decline(&user.0, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}
