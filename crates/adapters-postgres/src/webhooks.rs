//! Webhook endpoints, the event outbox and the deliveries (see `domain::webhooks`).
//!
//! Events are written by [`insert_webhook_events`], which `audit_outbox::insert_events` calls
//! in every change's transaction: an event is stored only when an active endpoint subscribes
//! to its type, with one PENDING delivery per such endpoint, in one statement.
//!
//! The relay's side: [`WebhookRepository::claim`] takes a lease on endpoints whose queue head
//! is due (`FOR UPDATE SKIP LOCKED`, so two processes never claim one endpoint), and every
//! recorded attempt renews the lease only while its owner still holds it.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Jsonb, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use domain::audit::AuditEvent;
use domain::error::{Conflict, DomainError};
use domain::paging::{Cursor, Page, PageRequest, Total};
use domain::webhooks::{
    AttemptRecord, ClaimedEndpoint, Delivery, DeliveryFilter, DeliveryStatus, DueDelivery,
    Endpoint, EventType, WebhookRepository,
};
use uuid::Uuid;

use crate::audit_outbox::insert_events;
use crate::errors::{map_pool, DbResultExt, TxError};
use crate::paging::{after_at, keyset_page};
use crate::schema::{webhook_deliveries, webhook_endpoints, webhook_events};
use crate::PgPool;

/// Stores the event and its deliveries when an endpoint subscribes to its type; a no-op
/// otherwise (one read of a small table). Runs inside the change's transaction. An endpoint the
/// relay switched off after sustained failure (`disabled_reason` set) still queues, so nothing
/// is lost while its receiver is down and re-enabling it delivers everything, in order; one an
/// admin paused does not.
const INSERT_EVENT: &str = "
    WITH subscribed AS (
        SELECT id FROM webhook_endpoints
         WHERE (is_active OR disabled_reason IS NOT NULL) AND $1 = ANY (event_types)
    ), event AS (
        INSERT INTO webhook_events (event_type, data)
        SELECT $1, $2 WHERE EXISTS (SELECT 1 FROM subscribed)
        RETURNING id
    )
    INSERT INTO webhook_deliveries (endpoint_id, event_id)
    SELECT subscribed.id, event.id FROM subscribed CROSS JOIN event ORDER BY subscribed.id";

/// Writes the webhook events of `events` (those that are webhook events at all).
pub async fn insert_webhook_events(
    conn: &mut AsyncPgConnection,
    events: &[AuditEvent],
) -> Result<(), diesel::result::Error> {
    for event in events
        .iter()
        .filter_map(domain::webhooks::events::from_audit)
    {
        diesel::sql_query(INSERT_EVENT)
            .bind::<Text, _>(event.event_type.as_str())
            .bind::<Jsonb, _>(&event.data)
            .execute(conn)
            .await?;
    }
    Ok(())
}

#[derive(Clone)]
pub struct PgWebhookRepository {
    pub pool: PgPool,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = webhook_endpoints, check_for_backend(diesel::pg::Pg))]
struct EndpointRow {
    id: Uuid,
    url: String,
    description: Option<String>,
    event_types: Vec<Option<String>>,
    is_active: bool,
    disabled_reason: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<EndpointRow> for Endpoint {
    fn from(r: EndpointRow) -> Self {
        Self {
            id: r.id,
            url: r.url,
            description: r.description,
            // Written from the enum; a name this build does not know is skipped, not fatal.
            event_types: r
                .event_types
                .iter()
                .flatten()
                .filter_map(|t| EventType::parse(t))
                .collect(),
            is_active: r.is_active,
            disabled_reason: r.disabled_reason,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

fn type_names(types: &[EventType]) -> Vec<Option<String>> {
    types.iter().map(|t| Some(t.as_str().to_owned())).collect()
}

#[derive(Queryable)]
struct DeliveryRow {
    id: i64,
    endpoint_id: Uuid,
    status: String,
    attempts: i32,
    next_attempt_at: Option<DateTime<Utc>>,
    last_attempt_at: Option<DateTime<Utc>>,
    last_status_code: Option<i32>,
    last_error: Option<String>,
    delivered_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    event_id: Uuid,
    event_type: String,
}

type DeliveryColumns = (
    webhook_deliveries::id,
    webhook_deliveries::endpoint_id,
    webhook_deliveries::status,
    webhook_deliveries::attempts,
    webhook_deliveries::next_attempt_at,
    webhook_deliveries::last_attempt_at,
    webhook_deliveries::last_status_code,
    webhook_deliveries::last_error,
    webhook_deliveries::delivered_at,
    webhook_deliveries::created_at,
    webhook_events::event_id,
    webhook_events::event_type,
);

const DELIVERY_COLUMNS: DeliveryColumns = (
    webhook_deliveries::id,
    webhook_deliveries::endpoint_id,
    webhook_deliveries::status,
    webhook_deliveries::attempts,
    webhook_deliveries::next_attempt_at,
    webhook_deliveries::last_attempt_at,
    webhook_deliveries::last_status_code,
    webhook_deliveries::last_error,
    webhook_deliveries::delivered_at,
    webhook_deliveries::created_at,
    webhook_events::event_id,
    webhook_events::event_type,
);

impl From<DeliveryRow> for Delivery {
    fn from(r: DeliveryRow) -> Self {
        Self {
            id: r.id,
            endpoint_id: r.endpoint_id,
            event_id: r.event_id,
            event_type: r.event_type,
            status: DeliveryStatus::parse(&r.status).unwrap_or(DeliveryStatus::Pending),
            attempts: r.attempts,
            next_attempt_at: r.next_attempt_at,
            last_attempt_at: r.last_attempt_at,
            last_status_code: r.last_status_code,
            last_error: r.last_error,
            delivered_at: r.delivered_at,
            created_at: r.created_at,
        }
    }
}

#[derive(QueryableByName)]
struct ClaimedRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

/// Leases the endpoints whose queue head is due. The lease is by the database's clock (it is
/// about processes being alive); being due is by the clinic's clock (`$2`), like every rule.
const CLAIM: &str = "
    UPDATE webhook_endpoints e
       SET lease_owner = $1, lease_until = now() + make_interval(secs => $3)
     WHERE e.id IN (
        SELECT c.id FROM webhook_endpoints c
         WHERE c.is_active
           AND (c.lease_until IS NULL OR c.lease_until < now())
           AND (SELECT coalesce(d.next_attempt_at, '-infinity') <= $2
                  FROM webhook_deliveries d
                 WHERE d.endpoint_id = c.id AND d.status = 'PENDING'
                 ORDER BY d.id LIMIT 1)
         ORDER BY c.id
         LIMIT $4
         -- NO KEY: changes inserting deliveries hold KEY SHARE locks on their endpoints, which
         -- this lock does not conflict with (the claim waits for no booking, and skips none).
         FOR NO KEY UPDATE SKIP LOCKED)
    RETURNING e.id";

/// The oldest finished deliveries; rows another process is pruning are skipped.
const PRUNE_DELIVERIES: &str = "
    DELETE FROM webhook_deliveries WHERE id IN (
        SELECT id FROM webhook_deliveries
         WHERE status <> 'PENDING' AND created_at < $1
         ORDER BY id LIMIT $2
         FOR UPDATE SKIP LOCKED)";

/// The oldest events no delivery refers to any more.
const PRUNE_EVENTS: &str = "
    DELETE FROM webhook_events WHERE id IN (
        SELECT e.id FROM webhook_events e
         WHERE e.occurred_at < $1
           AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id)
         ORDER BY e.id LIMIT $2
         FOR UPDATE SKIP LOCKED)";

/// Serialises endpoint registrations (the limit is counted under it).
const REGISTRATION_LOCK: i64 = 0x68_73_2d_77_65_62_68_6b; // "hs-webhk"

/// Renews the lease while `$2` still holds it.
const RENEW: &str = "
    UPDATE webhook_endpoints SET lease_until = now() + make_interval(secs => $3)
     WHERE id = $1 AND lease_owner = $2";

fn seconds(d: Duration) -> f64 {
    d.num_milliseconds() as f64 / 1000.0
}

#[async_trait]
impl WebhookRepository for PgWebhookRepository {
    async fn create(
        &self,
        endpoint: Endpoint,
        secret: String,
        created_by: Uuid,
        event: AuditEvent,
        max: u64,
    ) -> Result<(), DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        conn.transaction::<(), TxError, _>(async move |conn| {
            // Registrations take turns, so two cannot both see room for one more.
            diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
                .bind::<BigInt, _>(REGISTRATION_LOCK)
                .execute(conn)
                .await?;
            let count: i64 = webhook_endpoints::table.count().get_result(conn).await?;
            if u64::try_from(count).unwrap_or(0) >= max {
                return Err(DomainError::Conflict(Conflict::WebhookLimit).into());
            }
            diesel::insert_into(webhook_endpoints::table)
                .values((
                    webhook_endpoints::id.eq(endpoint.id),
                    webhook_endpoints::url.eq(&endpoint.url),
                    webhook_endpoints::description.eq(&endpoint.description),
                    webhook_endpoints::secret.eq(&secret),
                    webhook_endpoints::event_types.eq(type_names(&endpoint.event_types)),
                    webhook_endpoints::is_active.eq(endpoint.is_active),
                    webhook_endpoints::created_by.eq(created_by),
                    webhook_endpoints::created_at.eq(endpoint.created_at),
                    webhook_endpoints::updated_at.eq(endpoint.updated_at),
                ))
                .execute(conn)
                .await?;
            insert_events(conn, std::slice::from_ref(&event)).await?;
            Ok(())
        })
        .await
        .map_err(Into::into)
    }

    async fn list(&self, page: PageRequest) -> Result<Page<Endpoint>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let build = || webhook_endpoints::table.into_boxed();
        let after = page.after.as_ref().map(|c| c.at()).transpose()?;
        let keyset = after.map(|position| {
            after_at(
                "(webhook_endpoints.created_at, webhook_endpoints.id)",
                false,
                position,
            )
        });
        let (rows, total) = keyset_page!(
            &mut conn,
            build,
            EndpointRow::as_select(),
            (
                webhook_endpoints::created_at.asc(),
                webhook_endpoints::id.asc()
            ),
            keyset,
            page
        );
        let items: Vec<Endpoint> = rows.into_iter().map(Endpoint::from).collect();
        Ok(page.page_of(items, total, |e| Cursor::At(e.created_at, e.id)))
    }

    async fn get(&self, id: Uuid) -> Result<Endpoint, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        webhook_endpoints::table
            .find(id)
            .select(EndpointRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .db()?
            .map(Endpoint::from)
            .ok_or(DomainError::NotFound("webhook"))
    }

    async fn update(
        &self,
        endpoint: Endpoint,
        secret: Option<String>,
        event: AuditEvent,
    ) -> Result<(), DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        conn.transaction::<(), TxError, _>(async move |conn| {
            let target = webhook_endpoints::table.find(endpoint.id);
            let changed = diesel::update(target)
                .set((
                    webhook_endpoints::url.eq(&endpoint.url),
                    webhook_endpoints::description.eq(&endpoint.description),
                    webhook_endpoints::event_types.eq(type_names(&endpoint.event_types)),
                    webhook_endpoints::is_active.eq(endpoint.is_active),
                    webhook_endpoints::disabled_reason.eq(&endpoint.disabled_reason),
                    webhook_endpoints::updated_at.eq(endpoint.updated_at),
                ))
                .execute(conn)
                .await?;
            if changed == 0 {
                return Err(DomainError::NotFound("webhook").into());
            }
            if let Some(secret) = &secret {
                diesel::update(target)
                    .set(webhook_endpoints::secret.eq(secret))
                    .execute(conn)
                    .await?;
            }
            insert_events(conn, std::slice::from_ref(&event)).await?;
            Ok(())
        })
        .await
        .map_err(Into::into)
    }

    async fn delete(&self, id: Uuid, event: AuditEvent) -> Result<(), DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        conn.transaction::<(), TxError, _>(async move |conn| {
            let gone = diesel::delete(webhook_endpoints::table.find(id))
                .execute(conn)
                .await?;
            if gone == 0 {
                return Err(DomainError::NotFound("webhook").into());
            }
            insert_events(conn, std::slice::from_ref(&event)).await?;
            Ok(())
        })
        .await
        .map_err(Into::into)
    }

    async fn deliveries(
        &self,
        endpoint_id: Uuid,
        filter: DeliveryFilter,
        page: PageRequest,
    ) -> Result<Page<Delivery>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let before = match &page.after {
            Some(Cursor::Seq(_, id)) => Some(*id),
            Some(_) => return Err(DomainError::validation("cursor", "belongs to another list")),
            None => None,
        };
        let build = || {
            let mut q = webhook_deliveries::table
                .inner_join(webhook_events::table)
                .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
                .into_boxed();
            if let Some(status) = filter.status {
                q = q.filter(webhook_deliveries::status.eq(status.as_str()));
            }
            q
        };
        let mut q = build()
            .select(DELIVERY_COLUMNS)
            .order(webhook_deliveries::id.desc())
            .offset(page.offset())
            .limit(page.limit() + 1);
        if let Some(before) = before {
            q = q.filter(webhook_deliveries::id.lt(before));
        }
        let rows: Vec<DeliveryRow> = q.load(&mut conn).await.db()?;
        let total = match page.total_from_rows(rows.len()) {
            Some(total) => total,
            None => {
                let n: i64 = build().count().get_result(&mut conn).await.db()?;
                Total::exact(u64::try_from(n).unwrap_or(0))
            }
        };
        let items: Vec<Delivery> = rows.into_iter().map(Delivery::from).collect();
        Ok(page.page_of(items, total, |d| Cursor::Seq(d.created_at, d.id)))
    }

    async fn redeliver(
        &self,
        endpoint_id: Uuid,
        delivery_id: i64,
        event: AuditEvent,
    ) -> Result<Delivery, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        conn.transaction::<Delivery, TxError, _>(async move |conn| {
            let original: Option<(i64, String)> = webhook_deliveries::table
                .filter(webhook_deliveries::id.eq(delivery_id))
                .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
                .select((webhook_deliveries::event_id, webhook_deliveries::status))
                .first(conn)
                .await
                .optional()?;
            let Some((event_row, status)) = original else {
                return Err(DomainError::NotFound("delivery").into());
            };
            if status == DeliveryStatus::Pending.as_str() {
                return Err(DomainError::Conflict(Conflict::DeliveryPending).into());
            }
            let id: i64 = diesel::insert_into(webhook_deliveries::table)
                .values((
                    webhook_deliveries::endpoint_id.eq(endpoint_id),
                    webhook_deliveries::event_id.eq(event_row),
                ))
                .returning(webhook_deliveries::id)
                .get_result(conn)
                .await?;
            insert_events(conn, std::slice::from_ref(&event)).await?;
            let row: DeliveryRow = webhook_deliveries::table
                .inner_join(webhook_events::table)
                .filter(webhook_deliveries::id.eq(id))
                .select(DELIVERY_COLUMNS)
                .first(conn)
                .await?;
            Ok(row.into())
        })
        .await
        .map_err(Into::into)
    }

    async fn claim(
        &self,
        owner: Uuid,
        now: DateTime<Utc>,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<ClaimedEndpoint>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let rows: Vec<ClaimedRow> = diesel::sql_query(CLAIM)
            .bind::<SqlUuid, _>(owner)
            .bind::<Timestamptz, _>(now)
            .bind::<diesel::sql_types::Double, _>(seconds(lease))
            .bind::<BigInt, _>(limit)
            .load(&mut conn)
            .await
            .db()?;
        Ok(rows
            .into_iter()
            .map(|r| ClaimedEndpoint { id: r.id })
            .collect())
    }

    async fn next_due(
        &self,
        endpoint_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<DueDelivery>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        type Head = (
            i64,
            String,
            String,
            i32,
            Option<DateTime<Utc>>,
            Option<DateTime<Utc>>,
            Uuid,
            String,
            serde_json::Value,
            DateTime<Utc>,
        );
        let head: Option<Head> = webhook_deliveries::table
            .inner_join(webhook_events::table)
            .inner_join(webhook_endpoints::table)
            .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
            // Switched off meanwhile (by an admin, or by another process giving up): stop.
            .filter(webhook_endpoints::is_active.eq(true))
            .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()))
            .order(webhook_deliveries::id.asc())
            .select((
                webhook_deliveries::id,
                webhook_endpoints::url,
                webhook_endpoints::secret,
                webhook_deliveries::attempts,
                webhook_deliveries::next_attempt_at,
                webhook_deliveries::first_attempt_at,
                webhook_events::event_id,
                webhook_events::event_type,
                webhook_events::data,
                webhook_events::occurred_at,
            ))
            .first(&mut conn)
            .await
            .optional()
            .db()?;
        Ok(head.and_then(
            |(
                id,
                url,
                secret,
                attempts,
                next_at,
                first_attempt_at,
                event_id,
                event_type,
                data,
                occurred_at,
            )| {
                next_at.is_none_or(|t| t <= now).then_some(DueDelivery {
                    id,
                    url,
                    secret,
                    event_id,
                    event_type,
                    data,
                    occurred_at,
                    attempts,
                    first_attempt_at,
                })
            },
        ))
    }

    async fn record(
        &self,
        owner: Uuid,
        endpoint_id: Uuid,
        delivery_id: i64,
        attempt: AttemptRecord,
        lease: Duration,
    ) -> Result<bool, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        conn.transaction::<bool, TxError, _>(async move |conn| {
            let renewed = diesel::sql_query(RENEW)
                .bind::<SqlUuid, _>(endpoint_id)
                .bind::<SqlUuid, _>(owner)
                .bind::<diesel::sql_types::Double, _>(seconds(lease))
                .execute(conn)
                .await?;
            if renewed == 0 {
                return Ok(false);
            }
            let target = webhook_deliveries::table.find(delivery_id);
            let (at, status_code, error) = match &attempt {
                AttemptRecord::Delivered { at, status_code } => (*at, Some(*status_code), None),
                AttemptRecord::Retry {
                    at,
                    status_code,
                    error,
                    ..
                }
                | AttemptRecord::GaveUp {
                    at,
                    status_code,
                    error,
                    ..
                } => (*at, *status_code, Some(truncate(error, 500))),
            };
            let (status, next_at, delivered_at) = match &attempt {
                AttemptRecord::Delivered { at, .. } => (DeliveryStatus::Delivered, None, Some(*at)),
                AttemptRecord::Retry { next_at, .. } => {
                    (DeliveryStatus::Pending, Some(*next_at), None)
                }
                AttemptRecord::GaveUp { .. } => (DeliveryStatus::Failed, None, None),
            };
            diesel::update(target)
                .set((
                    webhook_deliveries::status.eq(status.as_str()),
                    webhook_deliveries::attempts.eq(webhook_deliveries::attempts + 1),
                    webhook_deliveries::next_attempt_at.eq(next_at),
                    webhook_deliveries::first_attempt_at.eq(diesel::dsl::sql::<
                        diesel::sql_types::Nullable<Timestamptz>,
                    >(
                        "coalesce(first_attempt_at, "
                    )
                    .bind::<Timestamptz, _>(at)
                    .sql(")")),
                    webhook_deliveries::last_attempt_at.eq(Some(at)),
                    webhook_deliveries::last_status_code.eq(status_code.map(i32::from)),
                    webhook_deliveries::last_error.eq(error),
                    webhook_deliveries::delivered_at.eq(delivered_at),
                ))
                .execute(conn)
                .await?;
            if let AttemptRecord::GaveUp { reason, .. } = &attempt {
                let reason = truncate(reason, 300);
                diesel::update(webhook_endpoints::table.find(endpoint_id))
                    .set((
                        webhook_endpoints::is_active.eq(false),
                        webhook_endpoints::disabled_reason.eq(Some(&reason)),
                        webhook_endpoints::updated_at.eq(at),
                    ))
                    .execute(conn)
                    .await?;
                // The system switched it off: audited like an admin's change, without a user.
                let event = AuditEvent::new(
                    None,
                    domain::audit::AuditAction::Update,
                    "webhook_endpoint",
                    Some(endpoint_id),
                    &domain::audit::RequestMeta::default(),
                )
                .after(serde_json::json!({ "isActive": false, "disabledReason": reason }));
                insert_events(conn, std::slice::from_ref(&event)).await?;
            }
            Ok(true)
        })
        .await
        .map_err(Into::into)
    }

    async fn prune(&self, before: DateTime<Utc>, limit: i64) -> Result<usize, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        conn.transaction::<usize, TxError, _>(async move |conn| {
            let deliveries = diesel::sql_query(PRUNE_DELIVERIES)
                .bind::<Timestamptz, _>(before)
                .bind::<BigInt, _>(limit)
                .execute(conn)
                .await?;
            let events = diesel::sql_query(PRUNE_EVENTS)
                .bind::<Timestamptz, _>(before)
                .bind::<BigInt, _>(limit)
                .execute(conn)
                .await?;
            Ok(deliveries + events)
        })
        .await
        .map_err(Into::into)
    }

    async fn release(&self, owner: Uuid, endpoint_id: Uuid) -> Result<(), DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        diesel::update(
            webhook_endpoints::table
                .find(endpoint_id)
                .filter(webhook_endpoints::lease_owner.eq(owner)),
        )
        .set((
            webhook_endpoints::lease_owner.eq(None::<Uuid>),
            webhook_endpoints::lease_until.eq(None::<DateTime<Utc>>),
        ))
        .execute(&mut conn)
        .await
        .db()?;
        Ok(())
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}
