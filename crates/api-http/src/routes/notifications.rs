//! A user's own notifications, and the admin broadcast.

use actix_web::{get, post, web, FromRequest, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use domain::identity::{Actor, Role};
use domain::notifications::{Notification, NotificationType};
use domain::paging::PageRequest;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::errors::{ApiError, ErrorBody};
use crate::extract::{ApiQuery, JsonBody};
use crate::routes::dto::NotificationPage;
use crate::state::AppState;
use domain::access::Permission;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationDto {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: NotificationType,
    pub title: String,
    pub message: String,
    pub is_read: bool,
    pub appointment_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl From<Notification> for NotificationDto {
    fn from(n: Notification) -> Self {
        Self {
            id: n.id,
            kind: n.kind,
            title: n.title,
            message: n.message,
            is_read: n.is_read,
            appointment_id: n.appointment_id,
            created_at: n.created_at,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CountDto {
    pub count: u64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BroadcastRequest {
    #[schema(min_length = 1, max_length = 200)]
    pub title: String,
    #[schema(min_length = 1, max_length = 2000)]
    pub message: String,
    /// Only users of this role (default: every active user).
    pub role: Option<Role>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    pub unread_only: Option<bool>,
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

/// My notifications, unread first, then newest first.
#[utoipa::path(operation_id = "listNotifications", tag = "notifications", security(("bearer" = [])), params(NotificationQuery),
    responses((status = 200, description = "A page of notifications", body = NotificationPage)))]
#[get("/notifications")]
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    query: ApiQuery<NotificationQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = PageRequest::parse(query.page, query.per_page, query.cursor.as_deref())?;
    let found = state
        .notifications
        .list(&user.0, query.unread_only.unwrap_or(false), page)
        .await?;
    Ok(HttpResponse::Ok().json(NotificationPage::from(found)))
}

/// How many of my notifications are unread.
#[utoipa::path(operation_id = "countUnreadNotifications", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, description = "Unread count", body = CountDto)))]
#[get("/notifications/unread-count")]
pub async fn unread_count(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(CountDto {
        count: state.notifications.unread_count(&user.0).await?,
    }))
}

/// Mark one of my notifications read (404 for anyone else's).
#[utoipa::path(operation_id = "markNotificationRead", tag = "notifications", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Notification id")),
    responses((status = 200, description = "Marked read", body = NotificationDto), (status = 404, description = "Not found", body = ErrorBody)))]
#[post("/notifications/{id}/read")]
pub async fn mark_read(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(NotificationDto::from(
        state
            .notifications
            .mark_read(&user.0, id.into_inner())
            .await?,
    )))
}

/// Mark all my notifications read; answers how many changed.
#[utoipa::path(operation_id = "markAllNotificationsRead", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, description = "How many were marked", body = CountDto)))]
#[post("/notifications/read-all")]
pub async fn mark_all_read(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(CountDto {
        count: state.notifications.mark_all_read(&user.0).await?,
    }))
}

/// Broadcast a GENERAL notice to every active user, or those of one role (admins only).
#[utoipa::path(operation_id = "broadcastNotification", tag = "notifications", security(("bearer" = [])), request_body = BroadcastRequest,
    responses(
        (status = 201, description = "How many users were notified", body = CountDto),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 422, description = "Empty or oversize title/message", body = ErrorBody),
    ))]
#[post("/notifications/broadcast")]
pub async fn broadcast(
    state: web::Data<AppState>,
    user: AuthUser,
    body: JsonBody<BroadcastRequest>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::Broadcast)?;
    let body = body.parse()?;
    let b = body;
    let count = state
        .notifications
        .broadcast(&user.0, &b.title, &b.message, b.role)
        .await?;
    Ok(HttpResponse::Created().json(CountDto { count }))
}

/// My notifications live, as Server-Sent Events.
///
/// First a `ready` event with the unread count, then one `notification` event (a
/// `NotificationDto`) for each notification committed for me while connected, and a
/// keep-alive comment every `LIVE_KEEPALIVE_SECS` (15 s). The stream ends with an `end` event
/// when my session ends
/// (logout, password change, deactivation). Notifications committed while disconnected are
/// not replayed: on (re)connect, read `GET /notifications?unreadOnly=true`.
///
/// From a browser (`EventSource` cannot send headers), first get a ticket with
/// `POST /notifications/stream-ticket`, then open `GET /notifications/stream?ticket=...`: the
/// ticket works once, for 30 s, and only while its session is live. Never put the access token
/// in the URL.
#[utoipa::path(operation_id = "streamNotifications", tag = "notifications", security(("bearer" = []), ()),
    params(("ticket" = Option<String>, Query, pattern = r"^[0-9a-f]{64}$", description = "A stream ticket, instead of the Authorization header (browsers)")),
    responses((status = 200, description = "An event stream", content_type = "text/event-stream"),
        (status = 401, description = "No valid session", body = ErrorBody),
        (status = 429, description = "TOO_MANY_STREAMS: the user already holds LIVE_MAX_STREAMS_PER_USER", body = ErrorBody)))]
#[get("/notifications/stream")]
pub async fn stream(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let actor = stream_actor(&req, &state).await?;
    // Subscribe before reading the count, so nothing committed in between is missed.
    let subscription = state.live.subscribe(actor.user_id)?;
    let unread = state.notifications.unread_count(&actor).await?;
    let body = crate::live::stream(state, actor, subscription, unread);
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-cache"))
        // Keeps the compression middleware (and proxies) from buffering events.
        .insert_header((actix_web::http::header::CONTENT_ENCODING, "identity"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}

/// The stream's caller: the `Authorization` header when there is one (it must be valid), else a
/// `ticket` query parameter, redeemed once and checked against its still-live session.
pub(crate) async fn stream_actor(req: &HttpRequest, state: &AppState) -> Result<Actor, ApiError> {
    let query = ApiQuery::<StreamQuery>::parse(req.query_string())?;
    if req
        .headers()
        .contains_key(actix_web::http::header::AUTHORIZATION)
    {
        return AuthUser::extract(req).await.map(|u| u.0);
    }
    let ticket = query.ticket.ok_or_else(|| {
        ApiError::unauthorized("an Authorization header or a stream ticket is required")
    })?;
    let (user_id, session_id) = state.stream_tickets.redeem(&ticket).await?;
    Ok(state
        .identity
        .authenticate(
            user_id,
            session_id,
            crate::auth::extractor::request_meta(req),
        )
        .await?)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StreamQuery {
    pub(crate) ticket: Option<String>,
}

/// A single-use ticket for opening the live notification stream or the chat socket.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StreamTicketDto {
    /// Pass as `?ticket=` to `GET /notifications/stream` or `GET /chat/socket`, once, before
    /// `expiresAt`.
    pub ticket: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// Get a single-use ticket (valid 30 s) that opens `GET /notifications/stream?ticket=...` or
/// `GET /chat/socket?ticket=...` from a browser, whose `EventSource` and `WebSocket` cannot
/// send the `Authorization` header.
#[utoipa::path(operation_id = "createStreamTicket", tag = "notifications", security(("bearer" = [])),
    responses((status = 201, description = "A ticket", body = StreamTicketDto)))]
#[post("/notifications/stream-ticket")]
pub async fn stream_ticket(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<HttpResponse, ApiError> {
    let issued = state.stream_tickets.issue(&user.0).await?;
    Ok(HttpResponse::Created().json(StreamTicketDto {
        ticket: issued.ticket,
        expires_at: issued.expires_at,
    }))
}
