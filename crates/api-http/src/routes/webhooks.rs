//! Webhook endpoints (admins): registration, secrets, the delivery log and redelivery (see
//! `domain::webhooks`; how receivers verify a request is in the README).

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use domain::access::Permission;
use domain::paging::PageRequest;
use domain::webhooks::{
    Delivery, DeliveryFilter, DeliveryStatus, Endpoint, EndpointChange, EventType, NewEndpoint,
    NewSecret,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::AuthUser;
use crate::errors::{ApiError, ErrorBody};
use crate::extract::{ApiQuery, JsonBody};
use crate::routes::dto::{WebhookDeliveryPage, WebhookPage};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// Where events are POSTed: https (plain http only where the operator allows it), a public
    /// address unless the operator allows the network (`WEBHOOK_ALLOWED_NETWORKS`).
    #[schema(
        max_length = 2048,
        example = "https://erp.example-clinic.com/healthsync"
    )]
    pub url: String,
    #[serde(default)]
    #[schema(max_length = 200)]
    pub description: Option<String>,
    /// At least one.
    #[schema(min_items = 1, max_items = 10)]
    pub event_types: Vec<EventType>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateWebhookRequest {
    #[schema(max_length = 2048)]
    pub url: Option<String>,
    /// An empty string clears it.
    #[schema(max_length = 200)]
    pub description: Option<String>,
    #[schema(min_items = 1, max_items = 10)]
    pub event_types: Option<Vec<EventType>>,
    /// `true` switches an endpoint the relay switched off back on (its pending deliveries
    /// resume); `false` pauses it (nothing new is queued for it meanwhile).
    pub is_active: Option<bool>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDto {
    pub id: Uuid,
    pub url: String,
    #[schema(nullable, required = true)]
    pub description: Option<String>,
    pub event_types: Vec<EventType>,
    pub is_active: bool,
    /// Why the relay switched it off (failing for `WEBHOOK_GIVE_UP_HOURS`); null otherwise.
    #[schema(nullable, required = true)]
    pub disabled_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Endpoint> for WebhookDto {
    fn from(e: Endpoint) -> Self {
        Self {
            id: e.id,
            url: e.url,
            description: e.description,
            event_types: e.event_types,
            is_active: e.is_active,
            disabled_reason: e.disabled_reason,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// An endpoint with its signing secret: the only time the secret is shown.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookWithSecretDto {
    #[serde(flatten)]
    pub endpoint: WebhookDto,
    /// The HMAC-SHA256 key of the `HealthSync-Signature` header. Store it now: it cannot be
    /// read again (rotate it to get a new one).
    #[schema(example = "whsec_3f9a...")]
    pub secret: String,
}

impl From<(Endpoint, NewSecret)> for WebhookWithSecretDto {
    fn from((endpoint, secret): (Endpoint, NewSecret)) -> Self {
        Self {
            endpoint: endpoint.into(),
            secret: secret.0,
        }
    }
}

/// One delivery of one event to the endpoint.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookDeliveryDto {
    pub id: i64,
    /// The event's id, the same in every delivery and redelivery of it (`HealthSync-Event-Id`).
    pub event_id: Uuid,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    /// When a failed delivery is tried again; null when not waiting for a retry.
    #[schema(nullable, required = true)]
    pub next_attempt_at: Option<DateTime<Utc>>,
    #[schema(nullable, required = true)]
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The receiver's last HTTP status; null when it did not answer.
    #[schema(nullable, required = true)]
    pub last_status_code: Option<i32>,
    /// What went wrong last ("timed out after 10000 ms", "the receiver answered HTTP 500", ...).
    #[schema(nullable, required = true)]
    pub last_error: Option<String>,
    #[schema(nullable, required = true)]
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<Delivery> for WebhookDeliveryDto {
    fn from(d: Delivery) -> Self {
        Self {
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_type,
            status: d.status,
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_attempt_at: d.last_attempt_at,
            last_status_code: d.last_status_code,
            last_error: d.last_error,
            delivered_at: d.delivered_at,
            created_at: d.created_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct WebhookListQuery {
    /// 1-based page number, up to 500; deeper pages are read with `cursor`.
    #[param(minimum = 1, maximum = 500)]
    pub page: Option<u32>,
    /// Items per page, 20 by default.
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u32>,
    /// The `nextCursor` of the page before, passed back as it is.
    #[param(
        max_length = 994,
        pattern = r"^[tnsur][0-9a-f-]{0,960}\.[0-9a-f-]{1,36}$"
    )]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    pub status: Option<DeliveryStatus>,
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

fn names(types: Vec<EventType>) -> Vec<String> {
    types.into_iter().map(|t| t.as_str().to_owned()).collect()
}

/// Register a webhook endpoint (admins). The answer carries the signing secret, shown this
/// once. Events of the chosen types are POSTed to it as they happen, signed, in order, at
/// least once.
#[utoipa::path(operation_id = "createWebhook", tag = "webhooks", security(("bearer" = [])), request_body = CreateWebhookRequest,
    responses(
        (status = 201, description = "Registered; keep the secret", body = WebhookWithSecretDto),
        (status = 403, description = "Admins only", body = ErrorBody),
        (status = 409, description = "WEBHOOK_LIMIT: as many endpoints as the clinic may have", body = ErrorBody),
        (status = 422, description = "A URL that is not https, carries credentials, or points at a private address; no event types", body = ErrorBody),
    ))]
#[post("/webhooks")]
pub async fn create(
    state: web::Data<AppState>,
    user: AuthUser,
    body: JsonBody<CreateWebhookRequest>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::ManageWebhooks)?;
    let b = body.parse()?;
    let created = state
        .webhooks
        .create(
            &user.0,
            NewEndpoint {
                url: b.url,
                description: b.description,
                event_types: names(b.event_types),
            },
        )
        .await?;
    Ok(HttpResponse::Created().json(WebhookWithSecretDto::from(created)))
}

/// The registered endpoints, oldest first (admins). Secrets are never listed.
#[utoipa::path(operation_id = "listWebhooks", tag = "webhooks", security(("bearer" = [])), params(WebhookListQuery),
    responses(
        (status = 200, description = "A page of endpoints", body = WebhookPage),
        (status = 403, description = "Admins only", body = ErrorBody),
        (status = 422, description = "Bad page", body = ErrorBody),
    ))]
#[get("/webhooks")]
pub async fn list(
    state: web::Data<AppState>,
    user: AuthUser,
    query: ApiQuery<WebhookListQuery>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::ManageWebhooks)?;
    let q = query.into_inner();
    let page = PageRequest::parse(q.page, q.per_page, q.cursor.as_deref())?;
    let found = state.webhooks.list(&user.0, page).await?;
    Ok(HttpResponse::Ok().json(WebhookPage::from(found)))
}

/// One endpoint (admins).
#[utoipa::path(operation_id = "getWebhook", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Endpoint id")),
    responses(
        (status = 200, description = "The endpoint", body = WebhookDto),
        (status = 403, description = "Admins only", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
    ))]
#[get("/webhooks/{id}")]
pub async fn get(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::ManageWebhooks)?;
    let endpoint = state.webhooks.get(&user.0, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(WebhookDto::from(endpoint)))
}

/// Change an endpoint (admins): its URL, description, event types, or whether it is on.
#[utoipa::path(operation_id = "updateWebhook", tag = "webhooks", security(("bearer" = [])), request_body = UpdateWebhookRequest,
    params(("id" = Uuid, Path, description = "Endpoint id")),
    responses(
        (status = 200, description = "Changed", body = WebhookDto),
        (status = 403, description = "Admins only", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 422, description = "Invalid change", body = ErrorBody),
    ))]
#[patch("/webhooks/{id}")]
pub async fn update(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    body: JsonBody<UpdateWebhookRequest>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::ManageWebhooks)?;
    let b = body.parse()?;
    let change = EndpointChange {
        url: b.url,
        description: b
            .description
            .map(|d| Some(d).filter(|d| !d.trim().is_empty())),
        event_types: b.event_types.map(names),
        is_active: b.is_active,
    };
    let endpoint = state
        .webhooks
        .update(&user.0, id.into_inner(), change)
        .await?;
    Ok(HttpResponse::Ok().json(WebhookDto::from(endpoint)))
}

/// Delete an endpoint and its delivery log (admins).
#[utoipa::path(operation_id = "deleteWebhook", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Endpoint id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "Admins only", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
    ))]
#[delete("/webhooks/{id}")]
pub async fn remove(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::ManageWebhooks)?;
    state.webhooks.delete(&user.0, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A new signing secret (admins), shown this once; requests are signed with it from now on.
#[utoipa::path(operation_id = "rotateWebhookSecret", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Endpoint id")),
    responses(
        (status = 200, description = "The endpoint and its new secret", body = WebhookWithSecretDto),
        (status = 403, description = "Admins only", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
    ))]
#[post("/webhooks/{id}/rotate-secret")]
pub async fn rotate_secret(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::ManageWebhooks)?;
    let rotated = state
        .webhooks
        .rotate_secret(&user.0, id.into_inner())
        .await?;
    Ok(HttpResponse::Ok().json(WebhookWithSecretDto::from(rotated)))
}

/// The endpoint's delivery log, newest first (admins): each attempt's outcome, and when a
/// failed one is tried again.
#[utoipa::path(operation_id = "listWebhookDeliveries", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Endpoint id"), DeliveryQuery),
    responses(
        (status = 200, description = "A page of deliveries", body = WebhookDeliveryPage),
        (status = 403, description = "Admins only", body = ErrorBody),
        (status = 404, description = "Not found", body = ErrorBody),
        (status = 422, description = "Bad filter or page", body = ErrorBody),
    ))]
#[get("/webhooks/{id}/deliveries")]
pub async fn deliveries(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<Uuid>,
    query: ApiQuery<DeliveryQuery>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::ManageWebhooks)?;
    let q = query.into_inner();
    let page = PageRequest::parse(q.page, q.per_page, q.cursor.as_deref())?;
    let filter = DeliveryFilter { status: q.status };
    let found = state
        .webhooks
        .deliveries(&user.0, id.into_inner(), filter, page)
        .await?;
    Ok(HttpResponse::Ok().json(WebhookDeliveryPage::from(found)))
}

/// Send a delivered or failed event again (admins): a new delivery at the end of the
/// endpoint's queue, with the same event id.
#[utoipa::path(operation_id = "redeliverWebhook", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Endpoint id"), ("deliveryId" = i64, Path, description = "Delivery id")),
    responses(
        (status = 202, description = "Queued", body = WebhookDeliveryDto),
        (status = 403, description = "Admins only", body = ErrorBody),
        (status = 404, description = "No such endpoint or delivery", body = ErrorBody),
        (status = 409, description = "DELIVERY_PENDING: it is still queued", body = ErrorBody),
    ))]
#[post("/webhooks/{id}/deliveries/{deliveryId}/redeliver")]
pub async fn redeliver(
    state: web::Data<AppState>,
    user: AuthUser,
    path: web::Path<(Uuid, i64)>,
) -> Result<HttpResponse, ApiError> {
    user.0.require(Permission::ManageWebhooks)?;
    let (id, delivery_id) = path.into_inner();
    let queued = state.webhooks.redeliver(&user.0, id, delivery_id).await?;
    Ok(HttpResponse::Accepted().json(WebhookDeliveryDto::from(queued)))
}
