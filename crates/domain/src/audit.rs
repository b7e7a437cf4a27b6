//! The audit trail: every committed change and every login/logout leaves one event.
//!
//! Events are written to a PostgreSQL outbox in the same transaction as the change (so a
//! rolled-back change has none and a committed one cannot miss it), then shipped to MongoDB
//! `audit_logs` by the [`AuditRelay`], in order and exactly once. Each event carries a UUID
//! made when its outbox row is written ([`AuditRecord::event_id`]); `audit_logs` is unique on
//! it, so re-shipping is harmless. The outbox sequence number is kept only for reading order:
//! a restored or re-created database issues those numbers again.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::error::DomainError;
use crate::paging::{Page, PageRequest};

/// What happened.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuditAction {
    Create,
    Update,
    Delete,
    Login,
    Logout,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "CREATE",
            Self::Update => "UPDATE",
            Self::Delete => "DELETE",
            Self::Login => "LOGIN",
            Self::Logout => "LOGOUT",
        }
    }
}

/// Who did it and from where: taken from the request, passed to every mutating use case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// One audit event as written to the outbox.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub user_id: Option<Uuid>,
    pub action: AuditAction,
    /// Lower-case entity name: `user`, `patient`, `doctor`, `department`, `appointment`, ...
    pub entity: &'static str,
    pub entity_id: Option<Uuid>,
    /// State before the change (`None` for CREATE); secrets are never included.
    pub before: Option<Value>,
    /// State after the change (`None` for DELETE).
    pub after: Option<Value>,
    pub meta: RequestMeta,
}

impl AuditEvent {
    pub fn new(
        actor: Option<Uuid>,
        action: AuditAction,
        entity: &'static str,
        entity_id: Option<Uuid>,
        meta: &RequestMeta,
    ) -> Self {
        Self {
            user_id: actor,
            action,
            entity,
            entity_id,
            before: None,
            after: None,
            meta: meta.clone(),
        }
    }

    pub fn before(mut self, value: Value) -> Self {
        self.before = Some(value);
        self
    }

    pub fn after(mut self, value: Value) -> Self {
        self.after = Some(value);
        self
    }
}

/// An event read back from the outbox (with its ids) or from `audit_logs`.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// The event's globally unique id, made when its outbox row was written; unique in
    /// `audit_logs`, which makes re-shipping a no-op. [`Uuid::nil`] for documents shipped
    /// before events had ids.
    pub event_id: Uuid,
    /// The outbox sequence number: the shipping order within one database. Not unique across
    /// databases (a restored or re-created one starts again), so never used to deduplicate.
    pub outbox_id: i64,
    pub user_id: Option<Uuid>,
    pub action: AuditAction,
    pub entity: String,
    pub entity_id: Option<Uuid>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub timestamp: DateTime<Utc>,
}

/// The MongoDB side of the relay.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AuditSink: Send + Sync {
    /// Stores the records. Idempotent: a record whose `event_id` is already stored is skipped
    /// silently (whatever its `outbox_id`). Returns `DomainError::Unavailable` when MongoDB cannot be reached.
    async fn append(&self, records: Vec<AuditRecord>) -> Result<(), DomainError>;
}

/// The PostgreSQL side of the relay.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AuditOutbox: Send + Sync {
    /// In one transaction holding the relay lock (so two `serve` processes never ship out of
    /// order): reads up to `limit` unshipped events oldest first, hands them to `sink`, and
    /// marks them shipped only if the sink succeeded. Returns how many were shipped; 0 when
    /// nothing is pending or another process holds the lock.
    async fn relay_batch(&self, sink: Arc<dyn AuditSink>, limit: i64)
        -> Result<usize, DomainError>;

    /// How many events wait to be shipped.
    async fn pending(&self) -> Result<u64, DomainError>;

    /// Deletes up to `limit` events shipped more than `retention` ago (by the database's
    /// clock), oldest first; never an unshipped one. Returns how many. Safe with several
    /// relays at once: rows another process is deleting are skipped, not waited for.
    async fn prune_shipped(
        &self,
        retention: chrono::Duration,
        limit: i64,
    ) -> Result<usize, DomainError>;
}

/// Search criteria of the admin audit search; every one optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditQuery {
    pub user_id: Option<Uuid>,
    pub entity: Option<String>,
    pub entity_id: Option<Uuid>,
    pub action: Option<AuditAction>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Checks an `entity` filter: an entity name is lower-case letters and `_` (`user`,
/// `medical_record`, ...), at most 40 characters. Anything else could never match, so it is
/// refused rather than searched for.
pub fn parse_entity_filter(raw: Option<&str>) -> Result<Option<String>, DomainError> {
    let Some(entity) = raw else {
        return Ok(None);
    };
    let ok = (1..=40).contains(&entity.len())
        && entity.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
    if !ok {
        return Err(DomainError::validation(
            "entity",
            "must be an entity name: 1 to 40 lower-case letters or _ (user, medical_record, ...)",
        ));
    }
    Ok(Some(entity.to_owned()))
}

/// Reads `audit_logs`.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AuditLogReader: Send + Sync {
    /// Newest first. `DomainError::Unavailable` when MongoDB is down.
    async fn search(
        &self,
        query: AuditQuery,
        page: PageRequest,
    ) -> Result<Page<AuditRecord>, DomainError>;
}

/// Ships the outbox to the sink until it is empty.
pub struct AuditRelay {
    outbox: Arc<dyn AuditOutbox>,
    sink: Arc<dyn AuditSink>,
    batch_size: i64,
}

impl AuditRelay {
    /// Wires the use case to its ports; only the composition root (and tests) build one.
    #[allow(clippy::too_many_arguments)]
    pub fn new(outbox: Arc<dyn AuditOutbox>, sink: Arc<dyn AuditSink>, batch_size: i64) -> Self {
        Self {
            outbox,
            sink,
            batch_size,
        }
    }
}

/// How many shipped events one prune statement deletes: bounded, so each statement holds its
/// row locks briefly and never scans the whole outbox at once.
pub const PRUNE_BATCH: i64 = 1000;

impl AuditRelay {
    /// Deletes the events shipped more than `retention` ago, batch after batch until a short
    /// one (shipped rows are copies of what MongoDB holds; without this the outbox grows with
    /// every change for ever). Returns how many went.
    #[tracing::instrument(name = "audit.prune", skip_all)]
    pub async fn prune(&self, retention: chrono::Duration) -> Result<usize, DomainError> {
        let mut pruned = 0;
        loop {
            let n = self.outbox.prune_shipped(retention, PRUNE_BATCH).await?;
            pruned += n;
            if n < usize::try_from(PRUNE_BATCH).unwrap_or(usize::MAX) {
                return Ok(pruned);
            }
        }
    }

    /// Ships batches until none is left (or one fails). Returns the number shipped; an error
    /// leaves the remaining events in the outbox for the next run.
    #[tracing::instrument(name = "audit.drain", skip_all)]
    pub async fn drain(&self) -> Result<usize, DomainError> {
        let mut shipped = 0;
        loop {
            let n = self
                .outbox
                .relay_batch(self.sink.clone(), self.batch_size)
                .await?;
            shipped += n;
            if n < usize::try_from(self.batch_size).unwrap_or(usize::MAX) || n == 0 {
                return Ok(shipped);
            }
        }
    }
}

/// Validates a search and runs it (the route admits admins only).
pub async fn search(
    reader: &dyn AuditLogReader,
    query: AuditQuery,
    page: PageRequest,
) -> Result<Page<AuditRecord>, DomainError> {
    crate::dates::check_window(query.from, query.to)?;
    reader.search(query, page).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn drain_ships_until_a_short_batch() {
        let mut outbox = MockAuditOutbox::new();
        let mut seq = mockall::Sequence::new();
        outbox
            .expect_relay_batch()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(2));
        outbox
            .expect_relay_batch()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_, _| Ok(1));
        let relay = AuditRelay {
            outbox: Arc::new(outbox),
            sink: Arc::new(MockAuditSink::new()),
            batch_size: 2,
        };
        assert_eq!(relay.drain().await.unwrap(), 3);
    }

    #[tokio::test]
    async fn drain_stops_and_reports_when_the_sink_is_down() {
        let mut outbox = MockAuditOutbox::new();
        outbox
            .expect_relay_batch()
            .times(1)
            .returning(|_, _| Err(DomainError::Unavailable("audit log")));
        let relay = AuditRelay {
            outbox: Arc::new(outbox),
            sink: Arc::new(MockAuditSink::new()),
            batch_size: 10,
        };
        assert_eq!(
            relay.drain().await,
            Err(DomainError::Unavailable("audit log"))
        );
    }

    #[tokio::test]
    async fn prune_deletes_in_bounded_batches_until_a_short_one() {
        let mut outbox = MockAuditOutbox::new();
        let mut seq = mockall::Sequence::new();
        let week = chrono::Duration::hours(168);
        for n in [1000, 1000, 7] {
            outbox
                .expect_prune_shipped()
                .times(1)
                .in_sequence(&mut seq)
                .withf(move |retention, limit| *retention == week && *limit == PRUNE_BATCH)
                .returning(move |_, _| Ok(n));
        }
        let relay = AuditRelay {
            outbox: Arc::new(outbox),
            sink: Arc::new(MockAuditSink::new()),
            batch_size: 10,
        };
        assert_eq!(relay.prune(week).await.unwrap(), 2007);
    }

    #[test]
    fn entity_filter_takes_entity_names_only() {
        assert_eq!(
            parse_entity_filter(Some("medical_record")).unwrap(),
            Some("medical_record".to_owned())
        );
        assert_eq!(parse_entity_filter(None).unwrap(), None);
        for bad in ["", "User", "user;drop", "a b", &"x".repeat(41), "é"] {
            let err = parse_entity_filter(Some(bad)).unwrap_err();
            assert!(
                matches!(err, DomainError::Validation { ref field, .. } if field == "entity"),
                "{bad:?}"
            );
        }
    }

    #[tokio::test]
    async fn search_rejects_an_inverted_range_without_asking_the_store() {
        let reader = MockAuditLogReader::new();
        let now = Utc::now();
        let query = AuditQuery {
            from: Some(now),
            to: Some(now - chrono::Duration::hours(1)),
            ..AuditQuery::default()
        };
        let err = search(&reader, query, PageRequest::default())
            .await
            .unwrap_err();
        assert!(matches!(err, DomainError::Validation { ref field, .. } if field == "from"));
    }
}
