//! A doctor's weekly schedules and the free slots generated from them.

use actix_web::{get, post, put, web, HttpResponse};
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use domain::error::DomainError;
use domain::scheduling::{AvailableSlot, DayOfWeek, DaySlots, Schedule, ScheduleInput};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::errors::{ApiError, ErrorBody};
use crate::extract::{ApiQuery, JsonBody};
use crate::state::AppState;
use domain::access::Permission;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduleRequest {
    pub day_of_week: DayOfWeek,
    /// Local time in the clinic's zone, `HH:MM` (a whole minute).
    #[schema(value_type = String, pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9](:00)?$", example = "09:00")]
    pub start_time: NaiveTime,
    /// After `startTime`, `HH:MM`.
    #[schema(value_type = String, pattern = r"^([01][0-9]|2[0-3]):[0-5][0-9](:00)?$", example = "12:00")]
    pub end_time: NaiveTime,
    /// 5 to 480 minutes; at least one slot must fit between the two times.
    #[schema(minimum = 5, maximum = 480, example = 30)]
    pub slot_duration_minutes: u32,
    /// Minutes left free after each slot (0 to 240; 0 when left out).
    #[serde(default)]
    #[schema(minimum = 0, maximum = 240, example = 10)]
    pub buffer_minutes: u32,
    #[serde(default = "active")]
    pub is_active: bool,
}

fn active() -> bool {
    true
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleDto {
    pub id: Uuid,
    pub doctor_id: Uuid,
    pub day_of_week: DayOfWeek,
    #[schema(value_type = String, example = "09:00:00")]
    pub start_time: NaiveTime,
    #[schema(value_type = String, example = "12:00:00")]
    pub end_time: NaiveTime,
    pub slot_duration_minutes: u32,
    /// Minutes left free after each slot.
    pub buffer_minutes: u32,
    pub is_active: bool,
}

impl From<Schedule> for ScheduleDto {
    fn from(s: Schedule) -> Self {
        Self {
            id: s.id,
            doctor_id: s.doctor_id,
            day_of_week: s.day_of_week,
            start_time: s.start_time,
            end_time: s.end_time,
            slot_duration_minutes: s.slot_minutes,
            buffer_minutes: s.buffer_minutes,
            is_active: s.is_active,
        }
    }
}

/// A free slot: local date and times in the clinic's zone, plus absolute RFC 3339 instants.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SlotDto {
    pub id: Uuid,
    pub doctor_id: Uuid,
    pub date: NaiveDate,
    #[schema(value_type = String, example = "09:00:00")]
    pub start_time: NaiveTime,
    #[schema(value_type = String, example = "09:30:00")]
    pub end_time: NaiveTime,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

impl From<AvailableSlot> for SlotDto {
    fn from(s: AvailableSlot) -> Self {
        Self {
            id: s.id,
            doctor_id: s.doctor_id,
            date: s.date,
            start_time: s.start_time,
            end_time: s.end_time,
            starts_at: s.starts_at,
            ends_at: s.ends_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct SlotQuery {
    /// One day (`YYYY-MM-DD`, clinic time zone).
    pub date: Option<NaiveDate>,
    /// Or a range `from`..=`to` of at most 31 days.
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

impl ScheduleRequest {
    fn parse(&self) -> Result<ScheduleInput, DomainError> {
        ScheduleInput::parse(
            self.day_of_week,
            self.start_time,
            self.end_time,
            self.slot_duration_minutes,
        )?
        .with_buffer(self.buffer_minutes)
    }
}

/// A doctor's schedules (public).
#[utoipa::path(operation_id = "listSchedules", tag = "scheduling", params(("id" = Uuid, Path, description = "Doctor id")),
    responses((status = 200, description = "The schedules", body = [ScheduleDto]), (status = 404, description = "No such doctor", body = ErrorBody)))]
#[get("/doctors/{id}/schedules")]
pub async fn list(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let schedules = state.scheduling.list(id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(
        schedules
            .into_iter()
            .map(ScheduleDto::from)
            .collect::<Vec<_>>(),
    ))
}

/// Add a weekly schedule (admins, or the doctor itself); its slots are generated at once.
#[utoipa::path(operation_id = "createSchedule", tag = "scheduling", security(("bearer" = [])), request_body = ScheduleRequest,
    params(("id" = Uuid, Path, description = "Doctor id")),
    responses(
        (status = 201, description = "Created", body = ScheduleDto),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 404, description = "No such doctor", body = ErrorBody),
        (status = 409, description = "Overlaps another schedule", body = ErrorBody),
        (status = 422, description = "Invalid rule", body = ErrorBody),
    ))]
#[post("/doctors/{id}/schedules")]
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: JsonBody<ScheduleRequest>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::ManageSchedules)?;
    let body = body.parse()?;
    let input = body.parse()?;
    let created = state
        .scheduling
        .create(&user.0, id.into_inner(), input)
        .await?;
    Ok(HttpResponse::Created().json(ScheduleDto::from(created)))
}

/// Change or (de)activate a schedule: future unbooked slots are withdrawn and regenerated;
/// booked slots are never touched.
#[utoipa::path(operation_id = "updateSchedule", tag = "scheduling", security(("bearer" = [])), request_body = ScheduleRequest,
    params(("id" = Uuid, Path, description = "Schedule id")),
    responses(
        (status = 200, description = "Updated", body = ScheduleDto),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 404, description = "No such schedule", body = ErrorBody),
        (status = 409, description = "Overlaps another schedule", body = ErrorBody),
    ))]
#[put("/schedules/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: JsonBody<ScheduleRequest>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::ManageSchedules)?;
    let body = body.parse()?;
    let input = body.parse()?;
    let updated = state
        .scheduling
        .update(&user.0, id.into_inner(), input, body.is_active)
        .await?;
    Ok(HttpResponse::Ok().json(ScheduleDto::from(updated)))
}

/// Free slots of a doctor for a date or a date range (public), soonest first. Served from the
/// `slots:{doctorId}:{date}` cache, which every booking, cancellation and schedule change of
/// that doctor and date drops.
#[utoipa::path(operation_id = "listAvailableSlots", tag = "scheduling", params(("id" = Uuid, Path, description = "Doctor id"), SlotQuery),
    responses(
        (status = 200, description = "Free slots", body = [SlotDto]),
        (status = 404, description = "No such doctor", body = ErrorBody),
        (status = 422, description = "Bad date range", body = ErrorBody),
    ))]
#[get("/doctors/{id}/slots")]
pub async fn available(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    query: ApiQuery<SlotQuery>,
) -> Result<HttpResponse, ApiError> {
    let (from, to) = match (query.date, query.from, query.to) {
        (Some(date), None, None) => (date, date),
        (None, Some(from), Some(to)) if from <= to && to - from <= Duration::days(30) => (from, to),
        (None, Some(_), Some(_)) => {
            return Err(ApiError::validation(
                "to",
                "to must be on or after from, at most 31 days",
            ))
        }
        _ => {
            return Err(ApiError::validation(
                "date",
                "give either date, or both from and to",
            ))
        }
    };
    let doctor_id = id.into_inner();
    let mut days = Vec::new();
    let mut date = from;
    while date <= to {
        days.push(state.scheduling.available(doctor_id, date).await?);
        date += Duration::days(1);
    }
    Ok(HttpResponse::Ok()
        .content_type(actix_web::http::header::ContentType::json())
        .body(slots_body(days)?))
}

/// The days' slots as one JSON array. A cached day is already the JSON array of its slots
/// (serde's shape of `AvailableSlot`, which is `SlotDto`'s): its items are copied in as they
/// are, not parsed and serialised again.
fn slots_body(days: Vec<DaySlots>) -> Result<String, ApiError> {
    let mut body = String::from("[");
    for day in days {
        let json = match day {
            DaySlots::Json(json) => json,
            DaySlots::Slots(slots) => {
                let dtos: Vec<SlotDto> = slots.into_iter().map(SlotDto::from).collect();
                serde_json::to_string(&dtos).map_err(|e| ApiError::internal(&e))?
            }
        };
        let items = json
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
            .unwrap_or_default();
        if !items.is_empty() {
            if body.len() > 1 {
                body.push(',');
            }
            body.push_str(items);
        }
    }
    body.push(']');
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn slot(hour: u32) -> AvailableSlot {
        AvailableSlot {
            id: Uuid::new_v4(),
            doctor_id: Uuid::new_v4(),
            date: NaiveDate::from_ymd_opt(2030, 1, 2).unwrap(),
            start_time: NaiveTime::from_hms_opt(hour, 0, 0).unwrap(),
            end_time: NaiveTime::from_hms_opt(hour, 30, 0).unwrap(),
            starts_at: Utc.with_ymd_and_hms(2030, 1, 2, hour, 0, 0).unwrap(),
            ends_at: Utc.with_ymd_and_hms(2030, 1, 2, hour, 30, 0).unwrap(),
        }
    }

    #[test]
    fn a_cached_day_is_the_json_the_dto_would_have_written() {
        // The cache stores serde's shape of the domain type and the route sends it as is: it
        // must be byte for byte what the documented DTO gives.
        let s = slot(9);
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            serde_json::to_string(&SlotDto::from(s.clone())).unwrap()
        );
    }

    #[test]
    fn days_cached_fresh_and_empty_join_into_one_array() {
        let (a, b, c) = (slot(9), slot(10), slot(11));
        let cached = DaySlots::Json(serde_json::to_string(&[a.clone(), b.clone()]).unwrap());
        let body = slots_body(vec![
            DaySlots::Json("[]".into()),
            cached,
            DaySlots::Slots(vec![]),
            DaySlots::Slots(vec![c.clone()]),
            DaySlots::Json("[]".into()),
        ])
        .unwrap();
        let parsed: Vec<AvailableSlot> = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed, vec![a, b, c]);
        assert_eq!(slots_body(vec![]).unwrap(), "[]");
        assert_eq!(slots_body(vec![DaySlots::Json("[]".into())]).unwrap(), "[]");
    }
}

/// A doctor's booking window: what the doctor set (`null`: the clinic's value) and what
/// patients booking themselves are held to.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BookingWindowDto {
    pub doctor_id: Uuid,
    /// The doctor's own minimum notice in hours; `null` keeps the clinic's.
    #[schema(nullable, required = true)]
    pub min_notice_hours: Option<u32>,
    /// The doctor's own horizon in days; `null` keeps the clinic's.
    #[schema(nullable, required = true)]
    pub max_advance_days: Option<u32>,
    /// Patients cannot book a slot starting within this many hours (0: up to the start).
    pub effective_min_notice_hours: u32,
    /// Patients cannot book a slot starting more than this many days ahead (`null`: as far
    /// as slots exist).
    #[schema(nullable, required = true)]
    pub effective_max_advance_days: Option<u32>,
}

impl BookingWindowDto {
    fn new(doctor_id: Uuid, w: domain::scheduling::DoctorBookingWindow) -> Self {
        Self {
            doctor_id,
            min_notice_hours: w.own.min_notice_hours,
            max_advance_days: w.own.max_advance_days,
            effective_min_notice_hours: w.effective.min_notice_hours,
            effective_max_advance_days: w.effective.max_advance_days,
        }
    }
}

/// A doctor's own booking window; both `null` (or left out) go back to the clinic's.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BookingWindowRequest {
    /// 0 to 8760 hours.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 8760, example = 24)]
    pub min_notice_hours: Option<u32>,
    /// 1 to 3650 days.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3650, example = 90)]
    pub max_advance_days: Option<u32>,
}

/// How close to the start and how far ahead patients may book this doctor themselves
/// (public). The front desk is not bound by it.
#[utoipa::path(operation_id = "getBookingWindow", tag = "scheduling", params(("id" = Uuid, Path, description = "Doctor id")),
    responses((status = 200, description = "The window", body = BookingWindowDto), (status = 404, description = "No such doctor", body = ErrorBody)))]
#[get("/doctors/{id}/booking-window")]
pub async fn booking_window(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let window = state.scheduling.booking_window(id).await?;
    Ok(HttpResponse::Ok().json(BookingWindowDto::new(id, window)))
}

/// Set a doctor's own booking window over the clinic's (admins, or the doctor itself).
#[utoipa::path(operation_id = "setBookingWindow", tag = "scheduling", security(("bearer" = [])), request_body = BookingWindowRequest,
    params(("id" = Uuid, Path, description = "Doctor id")),
    responses(
        (status = 200, description = "Set", body = BookingWindowDto),
        (status = 403, description = "Not allowed", body = ErrorBody),
        (status = 404, description = "No such doctor", body = ErrorBody),
        (status = 422, description = "Out of range", body = ErrorBody),
    ))]
#[put("/doctors/{id}/booking-window")]
pub async fn set_booking_window(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: JsonBody<BookingWindowRequest>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::ManageSchedules)?;
    let body = body.parse()?;
    let window = domain::appointments::booking::DoctorWindow::parse(
        body.min_notice_hours,
        body.max_advance_days,
    )?;
    let id = id.into_inner();
    let set = state
        .scheduling
        .set_booking_window(&user.0, id, window)
        .await?;
    Ok(HttpResponse::Ok().json(BookingWindowDto::new(id, set)))
}
