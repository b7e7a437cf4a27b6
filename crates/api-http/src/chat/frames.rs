//! The chat socket's protocol: JSON text frames, each an object whose `type` names it. The
//! same message shape ([`ChatMessageDto`]) is used by the REST routes. These types are in the
//! OpenAPI document's components, so a generated SDK has them too.

use chrono::{DateTime, Utc};
use domain::chat::{ChatMessage, ReadReceipt};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::errors::ApiError;

/// One message of an appointment's conversation.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ChatMessageDto {
    pub id: Uuid,
    pub appointment_id: Uuid,
    /// The message's place in its conversation (1, 2, 3, ...), in the order messages became
    /// visible. Give the last one you saw to `resume` after a reconnect.
    pub seq: i64,
    /// The sender's user id.
    pub sender_id: Uuid,
    /// The receiver's user id.
    pub receiver_id: Uuid,
    pub message: String,
    /// Files sent with the message (at most one).
    pub attachments: Vec<ChatAttachmentDto>,
    /// Whether the receiver has read it.
    pub is_read: bool,
    #[schema(nullable, required = true)]
    pub read_at: Option<DateTime<Utc>>,
    /// When it was sent, to the millisecond.
    pub sent_at: DateTime<Utc>,
    /// The id the sender's client gave the send, if any.
    #[schema(nullable, required = true)]
    pub client_message_id: Option<Uuid>,
}

impl From<ChatMessage> for ChatMessageDto {
    fn from(m: ChatMessage) -> Self {
        Self {
            id: m.id,
            appointment_id: m.appointment_id,
            seq: m.seq,
            sender_id: m.sender_id,
            receiver_id: m.receiver_id,
            message: m.message,
            attachments: m
                .attachments
                .into_iter()
                .map(|a| ChatAttachmentDto {
                    file_url: format!(
                        "/appointments/{}/messages/{}/attachments/{}",
                        m.appointment_id, m.id, a.id
                    ),
                    id: a.id,
                    file_name: a.file_name,
                    content_type: a.content_type,
                    size_bytes: a.size_bytes,
                })
                .collect(),
            is_read: m.is_read,
            read_at: m.read_at,
            sent_at: m.sent_at,
            client_message_id: m.client_message_id,
        }
    }
}

/// A file sent with a message.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ChatAttachmentDto {
    pub id: Uuid,
    /// Sanitised original name.
    pub file_name: String,
    /// Decided from the file's bytes.
    #[schema(example = "application/pdf")]
    pub content_type: String,
    pub size_bytes: i64,
    /// The authenticated download route (the two participants only).
    pub file_url: String,
}

/// A read receipt: `readerId` has read the messages sent to them up to `upToSeq`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ReadReceiptDto {
    pub appointment_id: Uuid,
    pub reader_id: Uuid,
    pub up_to_seq: i64,
    pub read_at: DateTime<Utc>,
    /// How many messages this marked read (0 when they already were).
    pub marked: u64,
}

impl From<ReadReceipt> for ReadReceiptDto {
    fn from(r: ReadReceipt) -> Self {
        Self {
            appointment_id: r.appointment_id,
            reader_id: r.reader_id,
            up_to_seq: r.up_to_seq,
            read_at: r.read_at,
            marked: r.marked,
        }
    }
}

/// What a client sends on the chat socket.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum ChatClientFrame {
    /// Send a message (answered by `sent` or `error`; the message itself then arrives as a
    /// `message` event on both participants' sockets, this one included).
    #[serde(rename_all = "camelCase")]
    Send {
        appointment_id: Uuid,
        /// As for `POST /appointments/{id}/messages`.
        #[schema(min_length = 1, max_length = 4000)]
        message: String,
        /// Makes the send idempotent: a retry with the same id stores nothing new.
        #[schema(nullable)]
        #[serde(default)]
        client_message_id: Option<Uuid>,
    },
    /// After a (re)connect: every message of the conversation after `afterSeq` (0 for all),
    /// oldest first (at most 500 per `resume`), then `resumed`. From then on, this socket never delivers a message of the
    /// conversation twice or out of order.
    #[serde(rename_all = "camelCase")]
    Resume {
        appointment_id: Uuid,
        #[schema(minimum = 0, maximum = 1_000_000_000)]
        after_seq: i64,
    },
    /// Mark read the messages sent to me up to `upToSeq` (answered by a `read` event).
    #[serde(rename_all = "camelCase")]
    Read {
        appointment_id: Uuid,
        #[schema(minimum = 1, maximum = 1_000_000_000)]
        up_to_seq: i64,
    },
}

/// What the server sends on the chat socket.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum ChatServerFrame {
    /// First frame: the socket is live; my unread messages in total.
    Ready { unread: u64 },
    /// A message in one of my conversations (sent by me or to me).
    Message { message: ChatMessageDto },
    /// A read receipt in one of my conversations (I read, or the other side read mine).
    #[serde(rename_all = "camelCase")]
    Read { receipt: ReadReceiptDto },
    /// My `send` was stored (`replayed`: by an earlier try with the same client message id).
    #[serde(rename_all = "camelCase")]
    Sent {
        #[schema(nullable, required = true)]
        client_message_id: Option<Uuid>,
        message_id: Uuid,
        appointment_id: Uuid,
        seq: i64,
        replayed: bool,
    },
    /// My `resume` is done: everything up to `lastSeq` has been sent.
    #[serde(rename_all = "camelCase")]
    Resumed {
        appointment_id: Uuid,
        last_seq: i64,
        /// False when the conversation had more than one `resume` sends at once
        /// (`RESUME_MAX`, 500): `resume` again from `lastSeq` for the rest.
        complete: bool,
    },
    /// Events were missed (this socket fell behind, or a store hiccuped); conversations I
    /// resumed have been backfilled, others should be re-read or resumed.
    Lagged {},
    /// A frame of mine failed: the error model of the REST API, plus the frame's client
    /// message id (`ref`) when it had one, and a retry hint for 429 and 503.
    #[serde(rename_all = "camelCase")]
    Error {
        code: String,
        message: String,
        #[schema(nullable, required = true)]
        field: Option<String>,
        /// The conversation the failed frame named, when it named one.
        #[schema(nullable, required = true)]
        appointment_id: Option<Uuid>,
        /// The failed frame's `clientMessageId`, when it had one.
        #[schema(nullable, required = true)]
        #[serde(rename = "ref")]
        reference: Option<Uuid>,
        #[schema(nullable, required = true)]
        retry_after: Option<u64>,
    },
    /// The session ended (logout, password change, deactivation); the socket closes (4001).
    End { reason: String },
}

impl ChatServerFrame {
    /// An `error` frame about the frame that named `appointment_id` and `reference`.
    pub fn error(e: &ApiError, appointment_id: Option<Uuid>, reference: Option<Uuid>) -> Self {
        Self::Error {
            code: e.body.code.clone(),
            message: e.body.message.clone(),
            field: e.body.field.clone(),
            appointment_id,
            reference,
            retry_after: e.retry_after_secs,
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}
