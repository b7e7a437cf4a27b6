//! The `chat_messages` collection: the data model's fields (camelCase), plus `seq` (the
//! message's place in its conversation, given by the ledger), `readAt`, `clientMessageId`, and
//! `clientKey`, the sender and client message id in one string under a unique sparse index (a
//! compound unique index would treat every message without a client id as a duplicate).
//!
//! Every query is one indexed read:
//! - history and backfill: `(appointmentId, seq)`, unique;
//! - unread counts: `(receiverId, isRead, appointmentId)`;
//! - retried sends: `clientKey`.
//!
//! The indexes are created on first use (idempotent, safe from several processes at once) and
//! again after a failure, so a server that was down at start-up gets them when it comes back.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::chat::{ChatAttachment, ChatMessage, ChatRepository, Stored, Unread};
use domain::error::DomainError;
use futures::TryStreamExt;
use mongodb::bson::{doc, Document};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::IndexOptions;
use mongodb::{Collection, IndexModel};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::MongoStore;

/// One `chat_messages` document. Ids are strings, readable in any MongoDB tool.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MessageDoc {
    #[serde(rename = "_id")]
    id: String,
    appointment_id: String,
    seq: i64,
    sender_id: String,
    receiver_id: String,
    message: String,
    attachments: Vec<AttachmentDoc>,
    is_read: bool,
    #[serde(
        default,
        with = "mongodb::bson::serde_helpers::chrono_datetime_as_bson_datetime_optional"
    )]
    read_at: Option<DateTime<Utc>>,
    #[serde(with = "mongodb::bson::serde_helpers::chrono_datetime_as_bson_datetime")]
    sent_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    client_key: Option<String>,
}

/// One attachment, as kept in its message.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AttachmentDoc {
    id: String,
    file_name: String,
    content_type: String,
    size_bytes: i64,
}

fn client_key(sender_id: Uuid, client_message_id: Uuid) -> String {
    format!("{sender_id}:{client_message_id}")
}

impl From<&ChatMessage> for MessageDoc {
    fn from(m: &ChatMessage) -> Self {
        Self {
            id: m.id.to_string(),
            appointment_id: m.appointment_id.to_string(),
            seq: m.seq,
            sender_id: m.sender_id.to_string(),
            receiver_id: m.receiver_id.to_string(),
            message: m.message.clone(),
            attachments: m
                .attachments
                .iter()
                .map(|a| AttachmentDoc {
                    id: a.id.to_string(),
                    file_name: a.file_name.clone(),
                    content_type: a.content_type.clone(),
                    size_bytes: a.size_bytes,
                })
                .collect(),
            is_read: m.is_read,
            read_at: m.read_at,
            sent_at: m.sent_at,
            client_message_id: m.client_message_id.map(|c| c.to_string()),
            client_key: m.client_message_id.map(|c| client_key(m.sender_id, c)),
        }
    }
}

fn uuid(raw: &str) -> Result<Uuid, DomainError> {
    raw.parse().map_err(|_| {
        tracing::error!(id = raw, "chat_messages holds an id that is not a UUID");
        DomainError::Unavailable("chat")
    })
}

impl TryFrom<MessageDoc> for ChatMessage {
    type Error = DomainError;

    fn try_from(d: MessageDoc) -> Result<Self, DomainError> {
        Ok(Self {
            id: uuid(&d.id)?,
            appointment_id: uuid(&d.appointment_id)?,
            seq: d.seq,
            sender_id: uuid(&d.sender_id)?,
            receiver_id: uuid(&d.receiver_id)?,
            message: d.message,
            attachments: d
                .attachments
                .into_iter()
                .map(|a| {
                    Ok(ChatAttachment {
                        id: uuid(&a.id)?,
                        file_name: a.file_name,
                        content_type: a.content_type,
                        size_bytes: a.size_bytes,
                    })
                })
                .collect::<Result<_, DomainError>>()?,
            is_read: d.is_read,
            read_at: d.read_at,
            sent_at: d.sent_at,
            client_message_id: d.client_message_id.as_deref().map(uuid).transpose()?,
        })
    }
}

fn unavailable(e: &mongodb::error::Error) -> DomainError {
    tracing::warn!(error = %e.kind, "chat store unavailable");
    DomainError::Unavailable("chat")
}

fn is_duplicate(error: &mongodb::error::Error) -> bool {
    matches!(&*error.kind, ErrorKind::Write(WriteFailure::WriteError(e)) if e.code == 11000)
}

/// The MongoDB side of the chat.
#[derive(Clone)]
pub struct MongoChatRepository {
    collection: Collection<MessageDoc>,
    indexed: Arc<AtomicBool>,
}

impl MongoChatRepository {
    pub fn new(store: &MongoStore) -> Self {
        Self {
            collection: store.database().collection("chat_messages"),
            indexed: Arc::default(),
        }
    }

    /// Creates the indexes the queries need, once per process (again after a failure).
    pub async fn ensure_indexes(&self) -> Result<(), DomainError> {
        if self.indexed.load(Ordering::Acquire) {
            return Ok(());
        }
        let unique = |name: &str| {
            IndexOptions::builder()
                .unique(true)
                .name(name.to_owned())
                .build()
        };
        let indexes = vec![
            IndexModel::builder()
                .keys(doc! { "appointmentId": 1, "seq": -1 })
                .options(unique("appointment_seq_unique"))
                .build(),
            IndexModel::builder()
                .keys(doc! { "clientKey": 1 })
                .options(
                    IndexOptions::builder()
                        .unique(true)
                        .sparse(true)
                        .name("client_key_unique".to_owned())
                        .build(),
                )
                .build(),
            IndexModel::builder()
                .keys(doc! { "receiverId": 1, "isRead": 1, "appointmentId": 1 })
                .build(),
        ];
        self.collection
            .create_indexes(indexes)
            .await
            .map_err(|e| unavailable(&e))?;
        self.indexed.store(true, Ordering::Release);
        Ok(())
    }

    async fn find(
        &self,
        filter: Document,
        sort: Document,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, DomainError> {
        self.ensure_indexes().await?;
        let docs: Vec<MessageDoc> = self
            .collection
            .find(filter)
            .sort(sort)
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .await
            .map_err(|e| unavailable(&e))?
            .try_collect()
            .await
            .map_err(|e| unavailable(&e))?;
        docs.into_iter().map(ChatMessage::try_from).collect()
    }
}

#[async_trait]
impl ChatRepository for MongoChatRepository {
    async fn insert(&self, message: &ChatMessage) -> Result<Stored, DomainError> {
        self.ensure_indexes().await?;
        let document = MessageDoc::from(message);
        // Twice at most: the second after removing a message whose announcement never
        // committed (the ledger rolled back after the insert), which holds the number.
        for _ in 0..2 {
            match self.collection.insert_one(&document).await {
                Ok(_) => return Ok(Stored::New),
                Err(e) if is_duplicate(&e) => {
                    if let Some(client_id) = message.client_message_id {
                        if self
                            .by_client_id(message.sender_id, client_id)
                            .await?
                            .is_some()
                        {
                            return Ok(Stored::DuplicateClientId);
                        }
                    }
                    self.collection
                        .delete_one(doc! {
                            "appointmentId": &document.appointment_id,
                            "seq": document.seq,
                        })
                        .await
                        .map_err(|e| unavailable(&e))?;
                }
                Err(e) => return Err(unavailable(&e)),
            }
        }
        tracing::error!(
            appointment_id = %message.appointment_id,
            seq = message.seq,
            "a chat message's number stayed taken"
        );
        Err(DomainError::Unavailable("chat"))
    }

    async fn withdraw(&self, message_id: Uuid) -> Result<(), DomainError> {
        self.collection
            .delete_one(doc! { "_id": message_id.to_string() })
            .await
            .map(|_| ())
            .map_err(|e| unavailable(&e))
    }

    async fn get(&self, message_id: Uuid) -> Result<Option<ChatMessage>, DomainError> {
        self.find(doc! { "_id": message_id.to_string() }, doc! {}, 1)
            .await
            .map(|mut found| found.pop())
    }

    async fn by_client_id(
        &self,
        sender_id: Uuid,
        client_message_id: Uuid,
    ) -> Result<Option<ChatMessage>, DomainError> {
        let key = client_key(sender_id, client_message_id);
        self.find(doc! { "clientKey": key }, doc! {}, 1)
            .await
            .map(|mut found| found.pop())
    }

    async fn newest(
        &self,
        appointment_id: Uuid,
        before_seq: Option<i64>,
        up_to: i64,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, DomainError> {
        let below = before_seq.map_or(up_to, |before| (before - 1).min(up_to));
        let filter = doc! {
            "appointmentId": appointment_id.to_string(),
            "seq": { "$lte": below },
        };
        self.find(filter, doc! { "seq": -1 }, limit).await
    }

    async fn after(
        &self,
        appointment_id: Uuid,
        after_seq: i64,
        up_to: i64,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, DomainError> {
        let filter = doc! {
            "appointmentId": appointment_id.to_string(),
            "seq": { "$gt": after_seq, "$lte": up_to },
        };
        self.find(filter, doc! { "seq": 1 }, limit).await
    }

    async fn mark_read(
        &self,
        appointment_id: Uuid,
        receiver_id: Uuid,
        up_to_seq: i64,
        at: DateTime<Utc>,
    ) -> Result<u64, DomainError> {
        self.ensure_indexes().await?;
        let filter = doc! {
            "receiverId": receiver_id.to_string(),
            "isRead": false,
            "appointmentId": appointment_id.to_string(),
            "seq": { "$lte": up_to_seq },
        };
        let at = mongodb::bson::DateTime::from_chrono(at);
        self.collection
            .update_many(filter, doc! { "$set": { "isRead": true, "readAt": at } })
            .await
            .map(|r| r.modified_count)
            .map_err(|e| unavailable(&e))
    }

    async fn unread(&self, receiver_id: Uuid) -> Result<Vec<Unread>, DomainError> {
        self.ensure_indexes().await?;
        let pipeline = vec![
            doc! { "$match": { "receiverId": receiver_id.to_string(), "isRead": false } },
            doc! { "$group": { "_id": "$appointmentId", "count": { "$sum": 1 } } },
            doc! { "$sort": { "_id": 1 } },
        ];
        let groups: Vec<Document> = self
            .collection
            .aggregate(pipeline)
            .await
            .map_err(|e| unavailable(&e))?
            .try_collect()
            .await
            .map_err(|e| unavailable(&e))?;
        groups
            .into_iter()
            .map(|g| {
                let appointment_id = uuid(g.get_str("_id").unwrap_or_default())?;
                let count = match g.get("count") {
                    Some(mongodb::bson::Bson::Int32(n)) => u64::try_from(*n).unwrap_or(0),
                    Some(mongodb::bson::Bson::Int64(n)) => u64::try_from(*n).unwrap_or(0),
                    _ => 0,
                };
                Ok(Unread {
                    appointment_id,
                    count,
                })
            })
            .collect()
    }
}
