//! Time off: a doctor's leave or a clinic holiday (see `domain::scheduling::time_off`).

use actix_web::{delete, get, post, web, HttpResponse};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use domain::access::Permission;
use domain::scheduling::{TimeOff, TimeOffRecorded, TimeOffRequest};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::errors::{ApiError, ErrorBody};
use crate::extract::{ApiQuery, JsonBody};
use crate::state::AppState;

/// Time off in the clinic's local time: whole days `from`..=`to`, or from `startTime` on
/// `from` to `endTime` on `to` (one afternoon: the same date with both times).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TimeOffBody {
    /// The doctor away; left out or `null`: a clinic holiday for every doctor (admins only).
    #[serde(default)]
    pub doctor_id: Option<Uuid>,
    pub from: NaiveDate,
    /// On or after `from`; at most 366 days in all.
    pub to: NaiveDate,
    /// When it starts on `from` (`HH:MM`); midnight when left out.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9](:00)?$", example = "14:00")]
    pub start_time: Option<NaiveTime>,
    /// When it ends on `to` (`HH:MM`); the end of that day when left out.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9](:00)?$", example = "17:00")]
    pub end_time: Option<NaiveTime>,
    /// Shown to staff only, never to patients. Up to 200 characters.
    #[serde(default)]
    #[schema(max_length = 200, example = "Conference")]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimeOffDto {
    pub id: Uuid,
    /// `null`: a clinic holiday.
    #[schema(nullable, required = true)]
    pub doctor_id: Option<Uuid>,
    /// The first instant away.
    pub starts_at: DateTime<Utc>,
    /// The first instant back.
    pub ends_at: DateTime<Utc>,
    #[schema(nullable, required = true)]
    pub reason: Option<String>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
}

impl From<TimeOff> for TimeOffDto {
    fn from(t: TimeOff) -> Self {
        Self {
            id: t.id,
            doctor_id: t.doctor_id,
            starts_at: t.starts_at,
            ends_at: t.ends_at,
            reason: t.reason,
            created_by: t.created_by,
            created_at: t.created_at,
        }
    }
}

/// A booked visit inside new time off: still booked, to be moved.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DisplacedDto {
    pub appointment_id: Uuid,
    pub starts_at: DateTime<Utc>,
}

/// Recorded time off and the visits it leaves to reschedule (their patients and the front
/// desk were notified).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimeOffRecordedDto {
    pub time_off: TimeOffDto,
    pub needs_rescheduling: Vec<DisplacedDto>,
}

impl From<TimeOffRecorded> for TimeOffRecordedDto {
    fn from(r: TimeOffRecorded) -> Self {
        Self {
            time_off: r.time_off.into(),
            needs_rescheduling: r
                .displaced
                .into_iter()
                .map(|d| DisplacedDto {
                    appointment_id: d.appointment_id,
                    starts_at: d.starts_at,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct TimeOffQuery {
    /// One doctor's time off and the clinic's holidays (a doctor always sees its own).
    pub doctor_id: Option<Uuid>,
    /// First local day (today when left out).
    pub from: Option<NaiveDate>,
    /// Last local day, at most 366 days after `from` (`from` plus 90 days when left out).
    pub to: Option<NaiveDate>,
}

/// Record time off (admins, or a doctor its own; clinic holidays admins only). Free slots
/// inside disappear at once and are not generated; booked visits inside are not cancelled:
/// they are answered here, listed by `GET /appointments?needsRescheduling=true`, and their
/// patients and the front desk are notified.
#[utoipa::path(operation_id = "createTimeOff", tag = "scheduling", security(("bearer" = [])), request_body = TimeOffBody,
    responses(
        (status = 201, description = "Recorded", body = TimeOffRecordedDto),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 404, description = "No such doctor", body = ErrorBody),
        (status = 422, description = "Invalid range", body = ErrorBody),
    ))]
#[post("/time-off")]
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: JsonBody<TimeOffBody>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::ManageSchedules)?;
    let b = body.parse()?;
    let request = TimeOffRequest {
        doctor_id: b.doctor_id,
        from: b.from,
        to: b.to,
        start_time: b.start_time,
        end_time: b.end_time,
        reason: b.reason,
    };
    let recorded = state.scheduling.add_time_off(&user.0, request).await?;
    Ok(HttpResponse::Created().json(TimeOffRecordedDto::from(recorded)))
}

/// Time off overlapping a range of local days (staff), by start.
#[utoipa::path(operation_id = "listTimeOff", tag = "scheduling", security(("bearer" = [])), params(TimeOffQuery),
    responses(
        (status = 200, description = "Time off", body = [TimeOffDto]),
        (status = 403, description = "Patients do not see time off", body = ErrorBody),
        (status = 404, description = "Another doctor's", body = ErrorBody),
        (status = 422, description = "Bad range", body = ErrorBody),
    ))]
#[get("/time-off")]
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    query: ApiQuery<TimeOffQuery>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::ViewTimeOff)?;
    let q = query.into_inner();
    let from = q.from.unwrap_or_else(|| state.scheduling.today());
    let to = match q.to {
        Some(to) => to,
        None => from
            .checked_add_days(chrono::Days::new(90))
            .ok_or_else(|| ApiError::validation("from", "is out of range"))?,
    };
    let found = state
        .scheduling
        .list_time_off(&user.0, q.doctor_id, from, to)
        .await?;
    Ok(HttpResponse::Ok().json(found.into_iter().map(TimeOffDto::from).collect::<Vec<_>>()))
}

/// Delete time off (who recorded it may); the slots it kept out come back.
#[utoipa::path(operation_id = "deleteTimeOff", tag = "scheduling", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Time off id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 404, description = "No such time off", body = ErrorBody),
    ))]
#[delete("/time-off/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    state
        .scheduling
        .remove_time_off(&user.0, id.into_inner())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
