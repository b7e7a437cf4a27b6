//! The `audit_logs` collection: documents exactly as in the data model (camelCase), plus
//! `eventId`, the event's globally unique id, under a unique index, which makes shipping a
//! batch twice harmless; and `outboxId`, the outbox sequence number, kept for reading order
//! only: a restored or re-created PostgreSQL database issues those numbers again, so it is not
//! unique (a collection from before event ids has its unique `outboxId` index replaced at
//! start-up, see [`MongoAuditLog::ensure_indexes`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::audit::{AuditAction, AuditLogReader, AuditQuery, AuditRecord, AuditSink};
use domain::error::DomainError;
use domain::paging::{Cursor, Page, PageRequest, Total, TOTAL_CAP};
use futures::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::MongoStore;

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Changes {
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
}

/// One `audit_logs` document. Ids are stored as strings (readable in any MongoDB tool).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuditDoc {
    /// Absent only in documents shipped before events had ids.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event_id: Option<String>,
    outbox_id: i64,
    user_id: Option<String>,
    action: AuditAction,
    entity: String,
    entity_id: Option<String>,
    changes: Changes,
    ip_address: Option<String>,
    user_agent: Option<String>,
    #[serde(with = "mongodb::bson::serde_helpers::chrono_datetime_as_bson_datetime")]
    timestamp: DateTime<Utc>,
}

#[derive(Clone)]
pub struct MongoAuditLog {
    collection: Collection<AuditDoc>,
}

fn unavailable(e: &mongodb::error::Error) -> DomainError {
    tracing::warn!(error = %e.kind, "audit log store unavailable");
    DomainError::Unavailable("audit log")
}

impl MongoAuditLog {
    pub fn new(store: &MongoStore) -> Self {
        Self {
            collection: store.database().collection("audit_logs"),
        }
    }

    /// Creates the indexes the relay and the admin search need (idempotent, safe to run from
    /// several processes at once). A collection created before events had ids has a unique
    /// index on `outboxId`; it is dropped first (else a re-created PostgreSQL database's new
    /// events would be refused as duplicates) and replaced by an ordinary one.
    pub async fn ensure_indexes(&self) -> Result<(), DomainError> {
        self.drop_unique_outbox_index().await?;
        let unique_event = IndexOptions::builder()
            .unique(true)
            // Documents from before event ids have none; they must not collide with each other.
            .sparse(true)
            .name("eventId_unique".to_owned())
            .build();
        let indexes = vec![
            IndexModel::builder()
                .keys(doc! { "eventId": 1 })
                .options(unique_event)
                .build(),
            IndexModel::builder().keys(doc! { "outboxId": 1 }).build(),
            // The search's order and its cursor's position.
            IndexModel::builder()
                .keys(doc! { "timestamp": -1, "outboxId": -1 })
                .build(),
            IndexModel::builder()
                .keys(doc! { "userId": 1, "timestamp": -1 })
                .build(),
            IndexModel::builder()
                .keys(doc! { "entity": 1, "entityId": 1, "timestamp": -1 })
                .build(),
            IndexModel::builder()
                .keys(doc! { "action": 1, "timestamp": -1 })
                .build(),
        ];
        self.collection
            .create_indexes(indexes)
            .await
            .map(|_| ())
            .map_err(|e| unavailable(&e))
    }

    /// Drops a unique index on `outboxId` (the old deduplication key) when there is one.
    async fn drop_unique_outbox_index(&self) -> Result<(), DomainError> {
        let indexes: Vec<IndexModel> = match self.collection.list_indexes().await {
            Ok(cursor) => cursor.try_collect().await.map_err(|e| unavailable(&e))?,
            // No collection yet: nothing to replace.
            Err(e) if is_namespace_not_found(&e) => return Ok(()),
            Err(e) => return Err(unavailable(&e)),
        };
        for index in indexes {
            let unique = index
                .options
                .as_ref()
                .and_then(|o| o.unique)
                .unwrap_or(false);
            if !unique || index.keys != doc! { "outboxId": 1 } {
                continue;
            }
            let Some(name) = index.options.and_then(|o| o.name) else {
                continue;
            };
            match self.collection.drop_index(name.clone()).await {
                Ok(()) => {
                    tracing::info!(index = %name, "dropped the unique outboxId index of audit_logs")
                }
                // Another process dropped it first.
                Err(e) if is_index_not_found(&e) => {}
                Err(e) => return Err(unavailable(&e)),
            }
        }
        Ok(())
    }
}

fn command_code(error: &mongodb::error::Error) -> Option<i32> {
    match &*error.kind {
        ErrorKind::Command(e) => Some(e.code),
        _ => None,
    }
}

fn is_namespace_not_found(error: &mongodb::error::Error) -> bool {
    command_code(error) == Some(26)
}

fn is_index_not_found(error: &mongodb::error::Error) -> bool {
    command_code(error) == Some(27)
}

fn is_only_duplicates(error: &mongodb::error::Error) -> bool {
    match &*error.kind {
        ErrorKind::InsertMany(failure) => {
            failure.write_concern_error.is_none()
                && failure
                    .write_errors
                    .as_ref()
                    .is_some_and(|errors| errors.iter().all(|e| e.code == 11000))
        }
        ErrorKind::Write(WriteFailure::WriteError(e)) => e.code == 11000,
        _ => false,
    }
}

#[async_trait]
impl AuditSink for MongoAuditLog {
    async fn append(&self, records: Vec<AuditRecord>) -> Result<(), DomainError> {
        if records.is_empty() {
            return Ok(());
        }
        let docs: Vec<AuditDoc> = records
            .into_iter()
            .map(|r| AuditDoc {
                event_id: Some(r.event_id.to_string()),
                outbox_id: r.outbox_id,
                user_id: r.user_id.map(|u| u.to_string()),
                action: r.action,
                entity: r.entity,
                entity_id: r.entity_id.map(|u| u.to_string()),
                changes: Changes {
                    before: r.before,
                    after: r.after,
                },
                ip_address: r.ip_address,
                user_agent: r.user_agent,
                timestamp: r.timestamp,
            })
            .collect();
        // Unordered: a duplicate (already shipped) does not stop the rest of the batch.
        match self.collection.insert_many(docs).ordered(false).await {
            Ok(_) => Ok(()),
            Err(e) if is_only_duplicates(&e) => Ok(()),
            Err(e) => Err(unavailable(&e)),
        }
    }
}

fn filter_of(query: &AuditQuery) -> Document {
    let mut filter = Document::new();
    if let Some(u) = query.user_id {
        filter.insert("userId", u.to_string());
    }
    if let Some(e) = &query.entity {
        filter.insert("entity", e.clone());
    }
    if let Some(id) = query.entity_id {
        filter.insert("entityId", id.to_string());
    }
    if let Some(a) = query.action {
        filter.insert("action", a.as_str());
    }
    let mut range = Document::new();
    if let Some(from) = query.from {
        range.insert(
            "$gte",
            Bson::DateTime(mongodb::bson::DateTime::from_chrono(from)),
        );
    }
    if let Some(to) = query.to {
        range.insert(
            "$lte",
            Bson::DateTime(mongodb::bson::DateTime::from_chrono(to)),
        );
    }
    if !range.is_empty() {
        filter.insert("timestamp", range);
    }
    filter
}

#[async_trait]
impl AuditLogReader for MongoAuditLog {
    async fn search(
        &self,
        query: AuditQuery,
        page: PageRequest,
    ) -> Result<Page<AuditRecord>, DomainError> {
        let filter = filter_of(&query);
        // Newest first; a cursor continues strictly after (timestamp, outboxId).
        let find = match page.after.as_ref().map(|c| c.seq()).transpose()? {
            None => filter.clone(),
            Some((at, seq)) => {
                let at = Bson::DateTime(mongodb::bson::DateTime::from_chrono(at));
                doc! { "$and": [filter.clone(), { "$or": [
                    { "timestamp": { "$lt": at.clone() } },
                    { "timestamp": at, "outboxId": { "$lt": seq } },
                ] }] }
            }
        };
        let cursor = self
            .collection
            .find(find)
            .sort(doc! { "timestamp": -1, "outboxId": -1 })
            .skip(u64::try_from(page.offset()).unwrap_or(0))
            .limit(page.limit() + 1)
            .await
            .map_err(|e| unavailable(&e))?;
        let docs: Vec<AuditDoc> = cursor.try_collect().await.map_err(|e| unavailable(&e))?;
        let parse = |s: Option<String>| s.and_then(|s| Uuid::parse_str(&s).ok());
        let items = docs
            .into_iter()
            .map(|d| AuditRecord {
                event_id: parse(d.event_id).unwrap_or(Uuid::nil()),
                outbox_id: d.outbox_id,
                user_id: parse(d.user_id),
                action: d.action,
                entity: d.entity,
                entity_id: parse(d.entity_id),
                before: d.changes.before,
                after: d.changes.after,
                ip_address: d.ip_address,
                user_agent: d.user_agent,
                timestamp: d.timestamp,
            })
            .collect::<Vec<_>>();
        let total = match page.total_from_rows(items.len()) {
            Some(total) => total,
            None => {
                // Counted no further than the cap: a count over the whole log reads all of it.
                let counted = self
                    .collection
                    .count_documents(filter)
                    .limit(TOTAL_CAP + 1)
                    .await
                    .map_err(|e| unavailable(&e))?;
                if counted > TOTAL_CAP {
                    Total::at_least_cap()
                } else {
                    Total::exact(counted)
                }
            }
        };
        Ok(page.page_of(items, total, |r| Cursor::Seq(r.timestamp, r.outbox_id)))
    }
}
