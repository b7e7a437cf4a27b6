//! The audit outbox: events are inserted in the transaction of the change they record (each
//! row gets its globally unique `event_id` from the column default), and shipped to the audit
//! sink by [`PgAuditOutbox::relay_batch`]. The same call writes the changes' webhook events
//! (`crate::webhooks::insert_webhook_events`) and emails (`crate::email`).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use domain::audit::{AuditEvent, AuditOutbox, AuditRecord, AuditSink};
use domain::error::DomainError;
use serde_json::json;
use uuid::Uuid;

use crate::enums::PgAuditAction;
use crate::errors::{map_diesel, map_pool, TxError};
use crate::schema::audit_outbox;
use crate::PgPool;

/// Only one relay ships at a time, across processes: a transaction-scoped advisory lock.
const RELAY_LOCK: i64 = 0x68_73_2d_61_75_64_69_74; // "hs-audit"

#[derive(Insertable)]
#[diesel(table_name = audit_outbox)]
struct NewOutboxRow<'a> {
    user_id: Option<Uuid>,
    action: PgAuditAction,
    entity: &'a str,
    entity_id: Option<Uuid>,
    changes: serde_json::Value,
    ip_address: Option<&'a str>,
    user_agent: Option<&'a str>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_outbox, check_for_backend(diesel::pg::Pg))]
struct OutboxRow {
    id: i64,
    event_id: Uuid,
    user_id: Option<Uuid>,
    action: PgAuditAction,
    entity: String,
    entity_id: Option<Uuid>,
    changes: serde_json::Value,
    ip_address: Option<String>,
    user_agent: Option<String>,
    occurred_at: DateTime<Utc>,
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Writes `events` on `conn`, which must be inside the transaction of the change, with the
/// webhook events and the emails those changes make.
pub async fn insert_events(
    conn: &mut AsyncPgConnection,
    events: &[AuditEvent],
) -> Result<(), diesel::result::Error> {
    write(conn, events, true).await
}

/// Like [`insert_events`], without the emails: a recurring series writes one confirmation for
/// all its visits instead of one per visit.
pub async fn insert_events_without_emails(
    conn: &mut AsyncPgConnection,
    events: &[AuditEvent],
) -> Result<(), diesel::result::Error> {
    write(conn, events, false).await
}

async fn write(
    conn: &mut AsyncPgConnection,
    events: &[AuditEvent],
    emails: bool,
) -> Result<(), diesel::result::Error> {
    if events.is_empty() {
        return Ok(());
    }
    let rows: Vec<NewOutboxRow<'_>> = events
        .iter()
        .map(|e| NewOutboxRow {
            user_id: e.user_id,
            action: e.action.into(),
            entity: e.entity,
            entity_id: e.entity_id,
            changes: json!({ "before": e.before, "after": e.after }),
            ip_address: e.meta.ip.as_deref().map(|s| truncate(s, 64)),
            user_agent: e.meta.user_agent.as_deref().map(|s| truncate(s, 512)),
        })
        .collect();
    diesel::insert_into(audit_outbox::table)
        .values(&rows)
        .execute(conn)
        .await?;
    // The same changes, as webhook events for the endpoints that subscribe to them, and as
    // emails to the patients they concern.
    crate::webhooks::insert_webhook_events(conn, events).await?;
    if emails {
        crate::email::insert_emails_from_audit(conn, events).await?;
    }
    Ok(())
}

/// The outbox relay's PostgreSQL side.
#[derive(Clone)]
pub struct PgAuditOutbox {
    pub pool: PgPool,
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    locked: bool,
}

#[async_trait]
impl AuditOutbox for PgAuditOutbox {
    async fn relay_batch(
        &self,
        sink: Arc<dyn AuditSink>,
        limit: i64,
    ) -> Result<usize, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let shipped = conn
            .transaction::<usize, TxError, _>(async move |conn| {
                {
                    let locked: Locked =
                        diesel::sql_query("SELECT pg_try_advisory_xact_lock($1) AS locked")
                            .bind::<diesel::sql_types::BigInt, _>(RELAY_LOCK)
                            .get_result(conn)
                            .await?;
                    if !locked.locked {
                        return Ok(0);
                    }
                    let rows: Vec<OutboxRow> = audit_outbox::table
                        .filter(audit_outbox::shipped_at.is_null())
                        .order(audit_outbox::id.asc())
                        .limit(limit)
                        .select(OutboxRow::as_select())
                        .load(conn)
                        .await?;
                    if rows.is_empty() {
                        return Ok(0);
                    }
                    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
                    let records = rows.into_iter().map(to_record).collect();
                    // If the sink fails, the transaction rolls back and nothing is marked.
                    // If the commit below fails after the sink succeeded, the next run sends
                    // the batch again and the sink skips what it already has (by event id).
                    sink.append(records).await?;
                    diesel::update(audit_outbox::table.filter(audit_outbox::id.eq_any(&ids)))
                        .set(audit_outbox::shipped_at.eq(diesel::dsl::now))
                        .execute(conn)
                        .await?;
                    Ok(ids.len())
                }
            })
            .await?;
        Ok(shipped)
    }

    async fn prune_shipped(
        &self,
        retention: chrono::Duration,
        limit: i64,
    ) -> Result<usize, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        // The oldest shipped rows past the retention (audit_outbox_shipped_idx), locked with
        // SKIP LOCKED so two relays pruning at once take different rows instead of waiting.
        diesel::sql_query(
            "DELETE FROM audit_outbox WHERE id IN ( \
               SELECT id FROM audit_outbox \
               WHERE shipped_at < now() - $1 * interval '1 second' \
               ORDER BY shipped_at LIMIT $2 \
               FOR UPDATE SKIP LOCKED)",
        )
        .bind::<diesel::sql_types::BigInt, _>(retention.num_seconds())
        .bind::<diesel::sql_types::BigInt, _>(limit)
        .execute(&mut conn)
        .await
        .map_err(map_diesel)
    }

    async fn pending(&self) -> Result<u64, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let n: i64 = audit_outbox::table
            .filter(audit_outbox::shipped_at.is_null())
            .count()
            .get_result(&mut conn)
            .await
            .map_err(map_diesel)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

fn to_record(row: OutboxRow) -> AuditRecord {
    let take = |key: &str| row.changes.get(key).filter(|v| !v.is_null()).cloned();
    AuditRecord {
        event_id: row.event_id,
        outbox_id: row.id,
        user_id: row.user_id,
        action: row.action.into(),
        before: take("before"),
        after: take("after"),
        entity: row.entity,
        entity_id: row.entity_id,
        ip_address: row.ip_address,
        user_agent: row.user_agent,
        timestamp: row.occurred_at,
    }
}
