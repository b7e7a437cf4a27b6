//! Recurring visits: a series booked by the desk, and "this and following" cancelled in one
//! call (see `domain::appointments::series`).

use actix_web::{post, web, HttpResponse};
use chrono::{NaiveDate, NaiveTime};
use domain::access::Permission;
use domain::appointments::series::{SeriesBooked, SeriesRequest};
use domain::appointments::AppointmentType;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::errors::{ApiError, ErrorBody};
use crate::extract::JsonBody;
use crate::routes::appointments::AppointmentDto;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SeriesBody {
    pub patient_id: Uuid,
    pub doctor_id: Uuid,
    /// The first visit's local date (today or later).
    pub first_date: NaiveDate,
    /// Every visit's local start time (`HH:MM`): the doctor's slot starting then is booked.
    #[schema(value_type = String, pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9](:00)?$", example = "09:00")]
    pub start_time: NaiveTime,
    /// Weeks between visits, 1 (weekly) to 12; 1 when left out.
    #[serde(default = "weekly")]
    #[schema(minimum = 1, maximum = 12, example = 2)]
    pub every_weeks: u32,
    /// 2 to 26 visits.
    #[schema(minimum = 2, maximum = 26, example = 6)]
    pub occurrences: u32,
    #[serde(rename = "type")]
    pub kind: AppointmentType,
    #[schema(min_length = 1, max_length = 2000)]
    pub reason: String,
}

fn weekly() -> u32 {
    1
}

/// A booked visit of the series.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BookedOccurrenceDto {
    /// 1-based position in the series.
    pub occurrence: u32,
    pub appointment: AppointmentDto,
}

/// A visit of the series that could not be booked, with the error a single booking of it
/// would have had (`VALIDATION_FAILED` on `startTime` when the doctor has no slot starting then).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnbookedOccurrenceDto {
    pub occurrence: u32,
    pub date: NaiveDate,
    pub code: String,
    pub message: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SeriesDto {
    pub id: Uuid,
    pub booked: Vec<BookedOccurrenceDto>,
    pub not_booked: Vec<UnbookedOccurrenceDto>,
}

impl From<SeriesBooked> for SeriesDto {
    fn from(s: SeriesBooked) -> Self {
        Self {
            id: s.id,
            booked: s
                .booked
                .into_iter()
                .map(|o| BookedOccurrenceDto {
                    occurrence: o.occurrence,
                    appointment: o.appointment.into(),
                })
                .collect(),
            not_booked: s
                .unbooked
                .into_iter()
                .map(|u| {
                    let error = ApiError::from(u.reason).body;
                    UnbookedOccurrenceDto {
                        occurrence: u.occurrence,
                        date: u.date,
                        code: error.code,
                        message: error.message,
                    }
                })
                .collect(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CancelFollowingRequest {
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CancelledDto {
    /// The visits cancelled, soonest first (those already started, done or cancelled stay as
    /// they were).
    pub cancelled: Vec<AppointmentDto>,
}

/// Book a series of recurring visits for one patient and doctor at the same local time (the
/// desk and admins). Every free occurrence is booked in one transaction; `notBooked` lists the
/// others and why. When none can be booked, nothing is written and the first occurrence's
/// refusal is the answer.
#[utoipa::path(operation_id = "bookAppointmentSeries", tag = "appointments", security(("bearer" = [])), request_body = SeriesBody,
    responses(
        (status = 201, description = "Booked (some occurrences may be listed in notBooked)", body = SeriesDto),
        (status = 403, description = "Only the desk and admins book series", body = ErrorBody),
        (status = 404, description = "No such patient or doctor", body = ErrorBody),
        (status = 409, description = "No occurrence could be booked (the first's refusal)", body = ErrorBody),
        (status = 422, description = "Invalid series", body = ErrorBody),
    ))]
#[post("/appointment-series")]
pub async fn book(
    state: web::Data<AppState>,
    user: AuthUser,
    body: JsonBody<SeriesBody>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::BookSeries)?;
    let b = body.parse()?;
    let booked = state
        .appointments
        .book_series(
            &user.0,
            SeriesRequest {
                patient_id: b.patient_id,
                doctor_id: b.doctor_id,
                first_date: b.first_date,
                start_time: b.start_time,
                every_weeks: b.every_weeks,
                occurrences: b.occurrences,
                kind: b.kind,
                reason: b.reason,
            },
        )
        .await?;
    Ok(HttpResponse::Created().json(SeriesDto::from(booked)))
}

/// Cancel this visit and every later one of its series still SCHEDULED or CONFIRMED, in one
/// transaction (the desk and admins); the patient is notified once.
#[utoipa::path(operation_id = "cancelFollowingAppointments", tag = "appointments", security(("bearer" = [])), request_body = CancelFollowingRequest,
    params(("id" = Uuid, Path, description = "Appointment id")),
    responses(
        (status = 200, description = "Cancelled", body = CancelledDto),
        (status = 403, description = "Only the desk and admins", body = ErrorBody),
        (status = 404, description = "No such appointment", body = ErrorBody),
        (status = 422, description = "Not part of a series, or no reason", body = ErrorBody),
    ))]
#[post("/appointments/{id}/cancel-following")]
pub async fn cancel_following(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: JsonBody<CancelFollowingRequest>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::BookSeries)?;
    let b = body.parse()?;
    let cancelled = state
        .appointments
        .cancel_following(&user.0, id.into_inner(), &b.reason)
        .await?;
    Ok(HttpResponse::Ok().json(CancelledDto {
        cancelled: cancelled.into_iter().map(AppointmentDto::from).collect(),
    }))
}
