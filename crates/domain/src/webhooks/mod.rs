//! Outgoing webhooks: the clinic's own systems told when appointments, bills and
//! prescriptions change.
//!
//! - **Events** ([`events`]) are derived from the audit events of each change and written to
//!   an outbox, one delivery per subscribed endpoint, in the change's own transaction: a
//!   rolled-back change sends nothing, a committed one cannot be missed.
//! - **Delivery** ([`WebhookService::deliver_due`]) is at least once, in order per endpoint:
//!   each endpoint's deliveries go one at a time, oldest first, and a failing one holds the
//!   ones behind it until it succeeds or is given up. A lease on the endpoint keeps two
//!   `serve` processes from delivering to it at once. Receivers deduplicate on the event id.
//! - **Signing** ([`signature`]): HMAC-SHA256 over the timestamp and the body.
//! - **Retries** ([`RetryPolicy`]): exponential back-off for a day, then the delivery is
//!   FAILED and the endpoint switched off; an admin re-enables it and redelivers.
//! - **Where requests may go** ([`addresses`]): public addresses only, unless configured.

pub mod addresses;
pub mod endpoint;
pub mod events;
pub mod service;
pub mod signature;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

pub use endpoint::{
    parse_event_types, Delivery, DeliveryStatus, Endpoint, NewSecret, RetryPolicy, WebhookUrl,
};
pub use events::{EventType, WebhookEvent};
pub use service::{EndpointChange, NewEndpoint, WebhookService};

use crate::audit::AuditEvent;
use crate::error::DomainError;
use crate::paging::{Page, PageRequest};

/// An endpoint a relay holds the lease of.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedEndpoint {
    pub id: Uuid,
}

/// The head of an endpoint's queue, with the endpoint's URL and secret as they are now (read
/// with each delivery, so a changed URL or a rotated secret applies from the next request).
#[derive(Clone, PartialEq)]
pub struct DueDelivery {
    pub id: i64,
    pub url: String,
    pub secret: String,
    pub event_id: Uuid,
    pub event_type: String,
    pub data: serde_json::Value,
    pub occurred_at: DateTime<Utc>,
    /// Attempts made before this one.
    pub attempts: i32,
    pub first_attempt_at: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for DueDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DueDelivery")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("event_id", &self.event_id)
            .field("event_type", &self.event_type)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// What an attempt came to, as the relay records it.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptRecord {
    Delivered {
        at: DateTime<Utc>,
        status_code: u16,
    },
    /// Failed; tried again at `next_at`.
    Retry {
        at: DateTime<Utc>,
        next_at: DateTime<Utc>,
        status_code: Option<u16>,
        error: String,
    },
    /// Failed for the whole retry period: the delivery is FAILED and the endpoint switched off
    /// with `reason`.
    GaveUp {
        at: DateTime<Utc>,
        status_code: Option<u16>,
        error: String,
        reason: String,
    },
}

/// What a receiver made of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// A 2xx answer.
    Delivered { status_code: u16 },
    /// Any other answer, a timeout, a refused connection or a refused address: `error` says
    /// which in words an admin can act on (never the receiver's body).
    Failed {
        status_code: Option<u16>,
        error: String,
    },
}

/// Filters of the delivery log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    pub status: Option<DeliveryStatus>,
}

/// Where endpoints, events and deliveries are kept.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WebhookRepository: Send + Sync {
    /// Stores a new endpoint with its secret and its audit event, in one transaction, unless
    /// `max` endpoints exist already: then `Conflict(WebhookLimit)` (counted under a lock, so
    /// concurrent registrations cannot pass the limit together).
    async fn create(
        &self,
        endpoint: Endpoint,
        secret: String,
        created_by: Uuid,
        event: AuditEvent,
        max: u64,
    ) -> Result<(), DomainError>;

    /// Oldest first.
    async fn list(&self, page: PageRequest) -> Result<Page<Endpoint>, DomainError>;

    /// `NotFound("webhook")` when it does not exist.
    async fn get(&self, id: Uuid) -> Result<Endpoint, DomainError>;

    /// Writes the changed endpoint (and a new secret when given) with its audit event.
    /// `NotFound("webhook")` when it was deleted meanwhile.
    async fn update(
        &self,
        endpoint: Endpoint,
        secret: Option<String>,
        event: AuditEvent,
    ) -> Result<(), DomainError>;

    /// Deletes the endpoint and its deliveries. `NotFound("webhook")` when it does not exist.
    async fn delete(&self, id: Uuid, event: AuditEvent) -> Result<(), DomainError>;

    /// The endpoint's delivery log, newest first.
    async fn deliveries(
        &self,
        endpoint_id: Uuid,
        filter: DeliveryFilter,
        page: PageRequest,
    ) -> Result<Page<Delivery>, DomainError>;

    /// Queues the event of delivery `delivery_id` again, as a new delivery at the end of the
    /// endpoint's queue. `NotFound("delivery")` when it is not the endpoint's;
    /// `Conflict(DeliveryPending)` while it is still pending.
    async fn redeliver(
        &self,
        endpoint_id: Uuid,
        delivery_id: i64,
        event: AuditEvent,
    ) -> Result<Delivery, DomainError>;

    /// Takes the lease of up to `limit` active endpoints whose queue head is due at `now`
    /// (by the clinic's clock) and whose lease is free or lapsed (by the database's clock),
    /// for `lease` from now. Endpoints another process is claiming are skipped.
    async fn claim(
        &self,
        owner: Uuid,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
    ) -> Result<Vec<ClaimedEndpoint>, DomainError>;

    /// The endpoint's queue head, if it is due at `now` and the endpoint is still on.
    async fn next_due(
        &self,
        endpoint_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<DueDelivery>, DomainError>;

    /// Records an attempt and renews the lease, if `owner` still holds it; `Ok(false)` when the
    /// lease was lost (another process may be delivering now), and nothing is written.
    async fn record(
        &self,
        owner: Uuid,
        endpoint_id: Uuid,
        delivery_id: i64,
        attempt: AttemptRecord,
        lease: chrono::Duration,
    ) -> Result<bool, DomainError>;

    /// Gives the lease back.
    async fn release(&self, owner: Uuid, endpoint_id: Uuid) -> Result<(), DomainError>;

    /// Deletes up to `limit` delivered or failed deliveries created before `before`, then up to
    /// `limit` events older than that with no delivery left (those of deleted endpoints too).
    /// Never a pending delivery. Returns how many rows went. Safe with several processes.
    async fn prune(&self, before: DateTime<Utc>, limit: i64) -> Result<usize, DomainError>;
}

/// Sends one signed request.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WebhookSender: Send + Sync {
    /// POSTs `body` (JSON) to `url` with `headers`, never following redirects and never to an
    /// address the policy refuses; a refusal is a [`SendOutcome::Failed`], like a timeout.
    async fn send(&self, url: &str, headers: Vec<(String, String)>, body: String) -> SendOutcome;
}
