//! A doctor's calendar feed: its management (the doctor; admins read and revoke) and the feed
//! itself, opened by the secret in its URL (see `domain::calendar`).

use actix_web::{delete, get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use domain::access::Permission;
use domain::calendar::{CalendarFeed, FeedToken};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::errors::{ApiError, ErrorBody};
use crate::extract::JsonBody;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IssueCalendarFeedRequest {
    /// Show patients' names in event titles. Off by default: calendar applications sync to
    /// phones and to their vendors' servers.
    #[serde(default)]
    pub include_patient_names: bool,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CalendarFeedDto {
    pub doctor_id: Uuid,
    pub include_patient_names: bool,
    pub created_at: DateTime<Utc>,
    /// When the URL was last issued or the choice changed.
    pub updated_at: DateTime<Utc>,
}

impl From<CalendarFeed> for CalendarFeedDto {
    fn from(f: CalendarFeed) -> Self {
        Self {
            doctor_id: f.doctor_id,
            include_patient_names: f.include_patient_names,
            created_at: f.created_at,
            updated_at: f.updated_at,
        }
    }
}

/// The feed with its secret URL: the only time the URL is shown.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IssuedCalendarFeedDto {
    #[serde(flatten)]
    pub feed: CalendarFeedDto,
    /// The subscription URL, as this request reached the server. Anyone holding it reads the
    /// calendar: keep it secret; rotate (issue again) or revoke it if it leaks.
    pub url: String,
    /// The same, as a path on this server.
    pub path: String,
}

/// Issue the doctor's calendar feed URL, or rotate it: the previous URL stops working at once
/// (the doctor itself).
#[utoipa::path(operation_id = "issueCalendarFeed", tag = "calendar", security(("bearer" = [])),
    request_body = IssueCalendarFeedRequest,
    params(("id" = Uuid, Path, description = "Doctor id")),
    responses(
        (status = 201, description = "The feed and its secret URL", body = IssuedCalendarFeedDto),
        (status = 403, description = "Only doctors have feeds; an admin cannot issue a doctor's", body = ErrorBody),
        (status = 404, description = "Not the caller's own doctor record", body = ErrorBody),
        (status = 422, description = "Invalid body", body = ErrorBody),
    ))]
#[post("/doctors/{id}/calendar-feed")]
pub async fn issue(
    state: web::Data<AppState>,
    user: AuthUser,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: JsonBody<IssueCalendarFeedRequest>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::CalendarFeed)?;
    let options = body.parse()?;
    let (feed, token) = state
        .calendar_feeds
        .issue(&user.0, id.into_inner(), options.include_patient_names)
        .await?;
    let path = feed_path(&token);
    let url = format!("{}{path}", crate::extract::origin(&req));
    Ok(HttpResponse::Created().json(IssuedCalendarFeedDto {
        feed: feed.into(),
        url,
        path,
    }))
}

fn feed_path(token: &FeedToken) -> String {
    format!("/calendar/{}/appointments.ics", token.0)
}

/// Whether the doctor has a feed, and whether it shows names (the doctor, or an admin). The
/// URL itself cannot be read back.
#[utoipa::path(operation_id = "getCalendarFeed", tag = "calendar", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Doctor id")),
    responses(
        (status = 200, description = "The feed", body = CalendarFeedDto),
        (status = 403, description = "Patients and the desk", body = ErrorBody),
        (status = 404, description = "No feed, or another doctor's", body = ErrorBody),
    ))]
#[get("/doctors/{id}/calendar-feed")]
pub async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::CalendarFeed)?;
    let feed = state.calendar_feeds.get(&user.0, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(CalendarFeedDto::from(feed)))
}

/// Revoke the feed: its URL answers 404 from now on (the doctor, or an admin).
#[utoipa::path(operation_id = "revokeCalendarFeed", tag = "calendar", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Doctor id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "Patients and the desk", body = ErrorBody),
        (status = 404, description = "No feed, or another doctor's", body = ErrorBody),
    ))]
#[delete("/doctors/{id}/calendar-feed")]
pub async fn revoke(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::CalendarFeed)?;
    state
        .calendar_feeds
        .revoke(&user.0, id.into_inner())
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The doctor's appointments from 30 days ago to the slot horizon, as iCalendar (RFC 5545),
/// for calendar applications to subscribe to. No login: the token in the path is the
/// credential.
#[utoipa::path(operation_id = "readCalendarFeed", tag = "calendar",
    params(("token" = String, Path, description = "The feed's secret, from its URL", max_length = 70)),
    responses(
        (status = 200, description = "The calendar", content_type = "text/calendar", body = String),
        (status = 404, description = "No such feed (never issued, rotated or revoked)", body = ErrorBody),
    ))]
#[get("/calendar/{token}/appointments.ics")]
pub async fn read_feed(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let text = state.calendar_feeds.read(&token.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .insert_header(("Cache-Control", "private, no-store"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .body(text))
}
