//! The chat's ledger (see [`domain::chat::ChatLedger`]): `chat_conversations` numbers each
//! conversation's messages, and `NOTIFY chat` announces messages and read receipts to every
//! `serve` process ([`crate::live::listen`] hears them).
//!
//! Why PostgreSQL carries the fan-out rather than Redis pub/sub or MongoDB change streams:
//! the announcement commits with the number, so it is sent exactly when the message becomes
//! visible and in commit order; each process already holds one listening connection; and a
//! send needs PostgreSQL anyway (the appointment decides who may write). Announcements carry
//! the whole message when it fits NOTIFY's payload (under 8,000 bytes, which a 4,000-character
//! text in a non-Latin script may not); otherwise a reference the listening process reads back
//! from MongoDB once.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel::upsert::excluded;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use domain::audit::AuditEvent;
use domain::chat::{
    ChatAttachment, ChatEvent, ChatLedger, ChatMessage, ChatRepository, ReadReceipt, Stored,
};
use domain::error::DomainError;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::audit_outbox::insert_events;
use crate::errors::{map_diesel, map_pool};
use crate::pool::PgPool;
use crate::schema::chat_conversations;

/// The channel chat announcements travel on.
pub const CHANNEL: &str = "chat";

/// NOTIFY refuses payloads of 8,000 bytes or more; leave room.
const MAX_PAYLOAD: usize = 7_900;

/// An announcement as it travels in NOTIFY's payload.
#[derive(Debug, Serialize, Deserialize)]
#[serde(
    tag = "kind",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
enum Wire {
    Message {
        id: Uuid,
        appointment_id: Uuid,
        seq: i64,
        sender_id: Uuid,
        receiver_id: Uuid,
        message: String,
        attachments: Vec<ChatAttachment>,
        sent_at: DateTime<Utc>,
        client_message_id: Option<Uuid>,
    },
    MessageRef {
        appointment_id: Uuid,
        seq: i64,
        sender_id: Uuid,
        receiver_id: Uuid,
    },
    Read {
        appointment_id: Uuid,
        reader_id: Uuid,
        sender_id: Uuid,
        up_to_seq: i64,
        read_at: DateTime<Utc>,
        marked: u64,
    },
}

impl From<&ChatEvent> for Wire {
    fn from(event: &ChatEvent) -> Self {
        match event.clone() {
            ChatEvent::Message(m) => Self::Message {
                id: m.id,
                appointment_id: m.appointment_id,
                seq: m.seq,
                sender_id: m.sender_id,
                receiver_id: m.receiver_id,
                message: m.message,
                attachments: m.attachments,
                sent_at: m.sent_at,
                client_message_id: m.client_message_id,
            },
            ChatEvent::MessageRef {
                appointment_id,
                seq,
                sender_id,
                receiver_id,
            } => Self::MessageRef {
                appointment_id,
                seq,
                sender_id,
                receiver_id,
            },
            ChatEvent::Read(r) => Self::Read {
                appointment_id: r.appointment_id,
                reader_id: r.reader_id,
                sender_id: r.sender_id,
                up_to_seq: r.up_to_seq,
                read_at: r.read_at,
                marked: r.marked,
            },
        }
    }
}

impl From<Wire> for ChatEvent {
    fn from(wire: Wire) -> Self {
        match wire {
            Wire::Message {
                id,
                appointment_id,
                seq,
                sender_id,
                receiver_id,
                message,
                attachments,
                sent_at,
                client_message_id,
            } => Self::Message(ChatMessage {
                id,
                appointment_id,
                seq,
                sender_id,
                receiver_id,
                message,
                attachments,
                is_read: false,
                read_at: None,
                sent_at,
                client_message_id,
            }),
            Wire::MessageRef {
                appointment_id,
                seq,
                sender_id,
                receiver_id,
            } => Self::MessageRef {
                appointment_id,
                seq,
                sender_id,
                receiver_id,
            },
            Wire::Read {
                appointment_id,
                reader_id,
                sender_id,
                up_to_seq,
                read_at,
                marked,
            } => Self::Read(ReadReceipt {
                appointment_id,
                reader_id,
                sender_id,
                up_to_seq,
                read_at,
                marked,
            }),
        }
    }
}

/// The payload announcing `event`: the event itself, or a reference when it is too long.
pub fn payload(event: &ChatEvent) -> String {
    let full = serde_json::to_string(&Wire::from(event)).unwrap_or_default();
    if full.len() <= MAX_PAYLOAD {
        return full;
    }
    let [sender_id, receiver_id] = event.users();
    let seq = match event {
        ChatEvent::Message(m) => m.seq,
        ChatEvent::MessageRef { seq, .. } => *seq,
        ChatEvent::Read(r) => r.up_to_seq,
    };
    serde_json::to_string(&Wire::MessageRef {
        appointment_id: event.appointment_id(),
        seq,
        sender_id,
        receiver_id,
    })
    .unwrap_or_default()
}

/// The event a payload announces; `None` for anything else.
pub fn parse(payload: &str) -> Option<ChatEvent> {
    serde_json::from_str::<Wire>(payload).ok().map(Into::into)
}

async fn announce(
    conn: &mut AsyncPgConnection,
    event: &ChatEvent,
) -> Result<(), diesel::result::Error> {
    diesel::sql_query("SELECT pg_notify($1, $2)")
        .bind::<Text, _>(CHANNEL)
        .bind::<Text, _>(payload(event))
        .execute(conn)
        .await
        .map(|_| ())
}

#[derive(Clone)]
pub struct PgChatLedger {
    pub pool: PgPool,
}

/// Why an append's transaction rolled back.
enum Abort {
    Failed(DomainError),
    /// The sender had used the client message id already.
    Duplicate,
}

impl From<diesel::result::Error> for Abort {
    fn from(e: diesel::result::Error) -> Self {
        Self::Failed(map_diesel(e))
    }
}

#[async_trait]
impl ChatLedger for PgChatLedger {
    async fn append(
        &self,
        mut message: ChatMessage,
        audit: AuditEvent,
        store: &(dyn ChatRepository + 'static),
    ) -> Result<Option<ChatMessage>, DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let mut stored = false;
        let outcome = conn
            .transaction::<ChatMessage, Abort, _>(async |conn| {
                use chat_conversations::dsl as c;
                // Takes the number and holds the row until commit: the next send of this
                // conversation waits here, so numbers become visible in order.
                message.seq = diesel::insert_into(c::chat_conversations)
                    .values((
                        c::appointment_id.eq(message.appointment_id),
                        c::last_seq.eq(1_i64),
                        c::last_message_at.eq(message.sent_at),
                    ))
                    .on_conflict(c::appointment_id)
                    .do_update()
                    .set((
                        c::last_seq.eq(c::last_seq + 1_i64),
                        c::last_message_at.eq(excluded(c::last_message_at)),
                    ))
                    .returning(c::last_seq)
                    .get_result(conn)
                    .await?;
                match store.insert(&message).await.map_err(Abort::Failed)? {
                    Stored::DuplicateClientId => return Err(Abort::Duplicate),
                    Stored::New => stored = true,
                }
                insert_events(conn, std::slice::from_ref(&audit)).await?;
                announce(conn, &ChatEvent::Message(message.clone())).await?;
                Ok(message.clone())
            })
            .await;
        match outcome {
            Ok(message) => Ok(Some(message)),
            Err(Abort::Duplicate) => Ok(None),
            Err(Abort::Failed(e)) => {
                // Stored but never announced nor numbered for good: take it back.
                if stored {
                    if let Err(withdraw) = store.withdraw(message.id).await {
                        tracing::warn!(error = %withdraw, "could not withdraw an uncommitted chat message");
                    }
                }
                Err(e)
            }
        }
    }

    async fn count(&self, appointment_id: Uuid) -> Result<u64, DomainError> {
        use chat_conversations::dsl as c;
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let last: Option<i64> = c::chat_conversations
            .find(appointment_id)
            .select(c::last_seq)
            .first(&mut conn)
            .await
            .optional()
            .map_err(map_diesel)?;
        Ok(last.map_or(0, |n| u64::try_from(n).unwrap_or(0)))
    }

    async fn announce_read(
        &self,
        receipt: &ReadReceipt,
        audit: AuditEvent,
    ) -> Result<(), DomainError> {
        let mut conn = self.pool.get().await.map_err(map_pool)?;
        let event = ChatEvent::Read(receipt.clone());
        conn.transaction::<(), crate::errors::TxError, _>(async |conn| {
            insert_events(conn, std::slice::from_ref(&audit)).await?;
            announce(conn, &event).await?;
            Ok(())
        })
        .await
        .map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// A fixed instant: payloads must round-trip whatever the time.
    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 2, 9, 30, 15).unwrap()
    }

    fn message(text: &str) -> ChatMessage {
        ChatMessage {
            id: Uuid::new_v4(),
            appointment_id: Uuid::new_v4(),
            seq: 12,
            sender_id: Uuid::new_v4(),
            receiver_id: Uuid::new_v4(),
            message: text.into(),
            attachments: vec![],
            is_read: false,
            read_at: None,
            sent_at: at(),
            client_message_id: Some(Uuid::new_v4()),
        }
    }

    #[test]
    fn a_message_travels_whole_when_it_fits() {
        let m = message("Is it serious? \"quoted\"\nnext line");
        let event = ChatEvent::Message(m.clone());
        assert_eq!(parse(&payload(&event)), Some(event));
        let receipt = ChatEvent::Read(ReadReceipt {
            appointment_id: m.appointment_id,
            reader_id: m.receiver_id,
            sender_id: m.sender_id,
            up_to_seq: 12,
            read_at: at(),
            marked: 3,
        });
        assert_eq!(parse(&payload(&receipt)), Some(receipt));
        assert_eq!(parse("not json"), None);
        assert_eq!(parse(r#"{"kind":"other"}"#), None);
    }

    #[test]
    fn a_long_message_travels_as_a_reference() {
        // 4,000 characters of three bytes each: 12,000 bytes, over NOTIFY's limit.
        let m = message(&"語".repeat(4000));
        let text = payload(&ChatEvent::Message(m.clone()));
        assert!(text.len() < 8000);
        assert_eq!(
            parse(&text),
            Some(ChatEvent::MessageRef {
                appointment_id: m.appointment_id,
                seq: 12,
                sender_id: m.sender_id,
                receiver_id: m.receiver_id,
            })
        );
    }
}
