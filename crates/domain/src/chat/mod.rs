//! Doctor-patient chat (issue 12): the rules of a conversation, before any store or socket.
//!
//! A conversation belongs to one appointment and has exactly two participants: the
//! appointment's patient and its doctor. Everyone else (another patient, another doctor, the
//! front desk, admins) is told the conversation does not exist (404): chat is clinical, and an
//! id must not be probeable.
//!
//! When it may be written, decided here once:
//! - from booking on, while the appointment is SCHEDULED, CONFIRMED or IN_PROGRESS;
//! - after COMPLETED, until `write_window` (14 days by default) past the visit's end, for the
//!   questions a visit leaves. The window counts from the visit's scheduled end rather than the
//!   moment the doctor pressed "complete": the end is fixed at booking, so the deadline cannot
//!   move when a visit is completed late;
//! - a CANCELLED appointment's conversation is read-only at once: what was said stays readable
//!   by both, nothing more can be added.
//!
//! A message is trimmed, never empty, at most [`MessageText::MAX_CHARS`] characters, and free
//! text (line breaks allowed, other control characters refused, as everywhere).
//!
//! A send carries an optional client message id: a retried send with the same one stores one
//! message (the port answers the stored one), so a flaky network never doubles a message.
//!
//! A message may carry a file: the same byte sniffing, size limit and clean-up guarantees as
//! medical records (see [`service::ChatService::prepare_attachment`]), downloadable only by
//! the two participants.
//!
//! Messages are numbered per conversation (`seq`) in the order they become visible, which is
//! what makes history pages stable and a reconnecting socket's backfill exact: see
//! [`ChatLedger`].
//!
//! Here: the rules, the message, its ports ([`ChatRepository`] for MongoDB, [`ChatLedger`] for
//! ordering and announcing) and the use cases ([`service::ChatService`]).

pub mod service;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::appointments::{Appointment, AppointmentStatus};
use crate::audit::AuditEvent;
use crate::error::{Conflict, DomainError};
use crate::identity::{Actor, Role};
use crate::text::{check_text, Lines};

/// Which side of a conversation a participant is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Patient,
    Doctor,
}

/// The participant reading or writing, and the one on the other side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Participants {
    pub side: Side,
    /// The appointment's patient or doctor record this actor is.
    pub me: Uuid,
    /// The record on the other side (the receiver of what `me` sends).
    pub other: Uuid,
}

/// Whether the conversation takes new messages now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writability {
    Open,
    /// Readable by both participants, closed to new messages.
    ReadOnly,
}

/// How long a completed visit's conversation stays open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatPolicy {
    pub write_window: Duration,
}

impl Default for ChatPolicy {
    fn default() -> Self {
        Self {
            write_window: Duration::days(14),
        }
    }
}

impl ChatPolicy {
    /// The actor's place in the appointment's conversation, or 404 for anyone else.
    pub fn participants(
        &self,
        actor: &Actor,
        appointment: &Appointment,
    ) -> Result<Participants, DomainError> {
        let as_patient =
            actor.role == Role::Patient && actor.patient_id == Some(appointment.patient_id);
        let as_doctor =
            actor.role == Role::Doctor && actor.doctor_id == Some(appointment.doctor_id);
        match (as_patient, as_doctor) {
            (true, _) => Ok(Participants {
                side: Side::Patient,
                me: appointment.patient_id,
                other: appointment.doctor_id,
            }),
            (_, true) => Ok(Participants {
                side: Side::Doctor,
                me: appointment.doctor_id,
                other: appointment.patient_id,
            }),
            _ => Err(DomainError::NotFound("conversation")),
        }
    }

    /// Whether the conversation of `appointment` takes messages at `now`.
    pub fn writability(&self, appointment: &Appointment, now: DateTime<Utc>) -> Writability {
        match appointment.status {
            AppointmentStatus::Scheduled
            | AppointmentStatus::Confirmed
            | AppointmentStatus::InProgress => Writability::Open,
            // After a visit, or one the patient missed, there is still something to say.
            AppointmentStatus::Completed | AppointmentStatus::NoShow
                if now <= appointment.ends_at + self.write_window =>
            {
                Writability::Open
            }
            AppointmentStatus::Completed
            | AppointmentStatus::NoShow
            | AppointmentStatus::Cancelled => Writability::ReadOnly,
        }
    }

    /// The check before a send: a participant (404 otherwise), and an open conversation (409
    /// `CHAT_CLOSED` otherwise).
    pub fn may_send(
        &self,
        actor: &Actor,
        appointment: &Appointment,
        now: DateTime<Utc>,
    ) -> Result<Participants, DomainError> {
        let participants = self.participants(actor, appointment)?;
        match self.writability(appointment, now) {
            Writability::Open => Ok(participants),
            Writability::ReadOnly => Err(DomainError::Conflict(Conflict::ChatClosed)),
        }
    }
}

/// A message's text: trimmed, 1 to [`Self::MAX_CHARS`] characters, free text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    pub const MAX_CHARS: usize = 4000;

    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(DomainError::validation(
                "message",
                "must not be empty or only spaces",
            ));
        }
        check_text(text, "message", Lines::Multi)?;
        if text.chars().any(is_bidi_control) {
            return Err(DomainError::validation(
                "message",
                "must not contain bidirectional override characters",
            ));
        }
        if text.chars().all(|c| c.is_whitespace() || is_invisible(c)) {
            return Err(DomainError::validation(
                "message",
                "must not be empty or only invisible characters",
            ));
        }
        if text.chars().count() > Self::MAX_CHARS {
            return Err(DomainError::validation(
                "message",
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Characters that reorder the text around them when displayed (U+202A-U+202E,
/// U+2066-U+2069): in clinical text they can make "do not take" read otherwise.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Characters that display as nothing (zero-width spaces and joiners, the word joiner, the
/// byte-order mark): a message of only these would show as empty.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}')
}

/// A stored message (the seed's `chat_messages` document, plus what ordering, idempotent sends
/// and read receipts need). Sender and receiver are user ids: live delivery reaches users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub id: Uuid,
    pub appointment_id: Uuid,
    /// The message's place in its conversation: 1, 2, 3, ... in the order the messages were
    /// committed (see [`ChatLedger`]), so "after 12" names exactly what a client has not seen.
    pub seq: i64,
    pub sender_id: Uuid,
    pub receiver_id: Uuid,
    pub message: String,
    /// Files sent with the message (at most one per message today).
    pub attachments: Vec<ChatAttachment>,
    pub is_read: bool,
    pub read_at: Option<DateTime<Utc>>,
    pub sent_at: DateTime<Utc>,
    /// The sender's id for this send, unique per sender: a retry finds the first one.
    pub client_message_id: Option<Uuid>,
}

/// A file sent in a conversation. Its bytes are in the file store under [`attachment_key`],
/// which never contains the client's file name; only the two participants can download it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatAttachment {
    pub id: Uuid,
    /// Sanitised original name.
    pub file_name: String,
    /// Decided from the file's bytes.
    pub content_type: String,
    pub size_bytes: i64,
}

/// Where an attachment's bytes are kept.
pub fn attachment_key(appointment_id: Uuid, attachment_id: Uuid) -> String {
    format!("chat/{appointment_id}/{attachment_id}")
}

/// A read receipt: `reader_id` has read every message sent to them in the conversation up to
/// `up_to_seq`; `marked` of them were unread until now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadReceipt {
    pub appointment_id: Uuid,
    pub reader_id: Uuid,
    /// The other participant's user id (the one whose messages were read).
    pub sender_id: Uuid,
    pub up_to_seq: i64,
    pub read_at: DateTime<Utc>,
    pub marked: u64,
}

/// What happens in conversations, as announced to every process and pushed to sockets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatEvent {
    Message(ChatMessage),
    /// A message too long to travel in the announcement: the receiving process reads it back.
    MessageRef {
        appointment_id: Uuid,
        seq: i64,
        sender_id: Uuid,
        receiver_id: Uuid,
    },
    Read(ReadReceipt),
}

impl ChatEvent {
    /// The two users the event is for.
    pub fn users(&self) -> [Uuid; 2] {
        match self {
            Self::Message(m) => [m.sender_id, m.receiver_id],
            Self::MessageRef {
                sender_id,
                receiver_id,
                ..
            } => [*sender_id, *receiver_id],
            Self::Read(r) => [r.reader_id, r.sender_id],
        }
    }

    pub fn appointment_id(&self) -> Uuid {
        match self {
            Self::Message(m) => m.appointment_id,
            Self::MessageRef { appointment_id, .. } => *appointment_id,
            Self::Read(r) => r.appointment_id,
        }
    }
}

/// The outcome of storing a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    New,
    /// The sender already used this client message id: nothing was stored.
    DuplicateClientId,
}

/// How many unread messages a user has in one conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unread {
    pub appointment_id: Uuid,
    pub count: u64,
}

/// Where messages are kept (MongoDB `chat_messages`). Every read is one indexed query.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ChatRepository: Send + Sync {
    /// Stores `message`, unless its sender already used its client message id. A message
    /// already stored at the same `(appointment_id, seq)` is one whose announcement never
    /// committed (see [`ChatLedger::append`]): it is replaced.
    async fn insert(&self, message: &ChatMessage) -> Result<Stored, DomainError>;
    /// Removes a message the ledger could not commit after it was stored (best effort: a
    /// leftover is replaced by the next message given the same number).
    async fn withdraw(&self, message_id: Uuid) -> Result<(), DomainError>;
    /// One message by id.
    async fn get(&self, message_id: Uuid) -> Result<Option<ChatMessage>, DomainError>;
    /// The message `sender_id` sent with `client_message_id`, if any.
    async fn by_client_id(
        &self,
        sender_id: Uuid,
        client_message_id: Uuid,
    ) -> Result<Option<ChatMessage>, DomainError>;
    /// Up to `limit` messages of the conversation numbered at most `up_to` (and below
    /// `before_seq` when given), newest first.
    async fn newest(
        &self,
        appointment_id: Uuid,
        before_seq: Option<i64>,
        up_to: i64,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, DomainError>;
    /// Up to `limit` messages of the conversation numbered after `after_seq` and at most
    /// `up_to`, oldest first.
    async fn after(
        &self,
        appointment_id: Uuid,
        after_seq: i64,
        up_to: i64,
        limit: usize,
    ) -> Result<Vec<ChatMessage>, DomainError>;
    /// Marks read the messages to `receiver_id` up to `up_to_seq`; answers how many were unread.
    async fn mark_read(
        &self,
        appointment_id: Uuid,
        receiver_id: Uuid,
        up_to_seq: i64,
        at: DateTime<Utc>,
    ) -> Result<u64, DomainError>;
    /// `receiver_id`'s unread messages, per conversation (those with none left out).
    async fn unread(&self, receiver_id: Uuid) -> Result<Vec<Unread>, DomainError>;
}

/// Orders and announces what happens in conversations (PostgreSQL: a per-conversation counter
/// row and `NOTIFY chat`).
///
/// Why a ledger beside the message store: a client that reconnects says "I have seen up to 12"
/// and must get exactly what it missed. That needs numbers given in the order messages become
/// visible. The ledger holds the conversation's counter row locked from taking the number until
/// the message is stored and announced, so number 13 cannot become visible before 12, and
/// PostgreSQL delivers the announcements in commit order to every `serve` process.
#[allow(unused_parens)] // mockall needs the explicit `'static` in `append`.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ChatLedger: Send + Sync {
    /// Gives `message` its conversation's next `seq`, has `store` insert it, writes `audit`
    /// and announces the message, all or nothing. `None` when the sender had already used the
    /// client message id (nothing is taken, stored or announced).
    async fn append(
        &self,
        message: ChatMessage,
        audit: AuditEvent,
        store: &(dyn ChatRepository + 'static),
    ) -> Result<Option<ChatMessage>, DomainError>;
    /// How many messages the conversation holds: its last *committed* number (numbers have
    /// no gaps). Reads never go past it, so a message whose number is still being committed
    /// (and could yet be withdrawn) is never shown.
    async fn count(&self, appointment_id: Uuid) -> Result<u64, DomainError>;
    /// Announces a read receipt, with its audit event.
    async fn announce_read(
        &self,
        receipt: &ReadReceipt,
        audit: AuditEvent,
    ) -> Result<(), DomainError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{actor, appointment_of};
    use chrono::TimeZone;

    /// An appointment whose patient and doctor are `patient` and `doctor`'s records.
    fn appointment(patient: &Actor, doctor: &Actor, status: AppointmentStatus) -> Appointment {
        let starts_at = Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap();
        appointment_of(
            patient.patient_id.unwrap(),
            doctor.doctor_id.unwrap(),
            status,
            starts_at,
        )
    }

    /// Some appointment between a fresh patient and doctor.
    fn any_appointment(status: AppointmentStatus) -> Appointment {
        appointment(&actor(Role::Patient), &actor(Role::Doctor), status)
    }

    #[test]
    fn only_the_appointments_patient_and_doctor_take_part() {
        let policy = ChatPolicy::default();
        let patient = actor(Role::Patient);
        let doctor = actor(Role::Doctor);
        let a = appointment(&patient, &doctor, AppointmentStatus::Confirmed);
        assert_eq!(
            policy.participants(&patient, &a).unwrap(),
            Participants {
                side: Side::Patient,
                me: a.patient_id,
                other: a.doctor_id
            }
        );
        assert_eq!(
            policy.participants(&doctor, &a).unwrap().other,
            a.patient_id
        );
        // A role that does not match the record it claims is nobody here.
        let mut mismatched = actor(Role::Doctor);
        mismatched.patient_id = Some(a.patient_id);
        for outsider in [
            actor(Role::Patient),
            actor(Role::Doctor),
            actor(Role::Receptionist),
            actor(Role::Admin),
            mismatched,
        ] {
            assert!(matches!(
                policy.participants(&outsider, &a),
                Err(DomainError::NotFound("conversation"))
            ));
        }
    }

    #[test]
    fn open_from_booking_until_the_window_after_the_visit() {
        let policy = ChatPolicy::default();
        for status in [
            AppointmentStatus::Scheduled,
            AppointmentStatus::Confirmed,
            AppointmentStatus::InProgress,
        ] {
            let a = any_appointment(status);
            assert_eq!(
                policy.writability(&a, a.ends_at + Duration::days(400)),
                Writability::Open
            );
        }
        let done = any_appointment(AppointmentStatus::Completed);
        let last = done.ends_at + Duration::days(14);
        assert_eq!(policy.writability(&done, last), Writability::Open);
        assert_eq!(
            policy.writability(&done, last + Duration::seconds(1)),
            Writability::ReadOnly
        );
        let cancelled = any_appointment(AppointmentStatus::Cancelled);
        assert_eq!(
            policy.writability(&cancelled, cancelled.created_at),
            Writability::ReadOnly
        );
    }

    #[test]
    fn a_closed_conversation_refuses_a_send_but_an_outsider_still_gets_404() {
        let policy = ChatPolicy {
            write_window: Duration::days(1),
        };
        let patient = actor(Role::Patient);
        let a = appointment(&patient, &actor(Role::Doctor), AppointmentStatus::Cancelled);
        assert!(matches!(
            policy.may_send(&patient, &a, a.ends_at),
            Err(DomainError::Conflict(Conflict::ChatClosed))
        ));
        let desk = actor(Role::Receptionist);
        assert!(matches!(
            policy.may_send(&desk, &a, a.ends_at),
            Err(DomainError::NotFound(_))
        ));
    }

    #[test]
    fn a_message_is_trimmed_bounded_free_text() {
        assert_eq!(
            MessageText::parse("  Is it\nserious?  ").unwrap().as_str(),
            "Is it\nserious?"
        );
        for bad in [
            "",
            "   \n\t ",
            "bell\u{7}",
            "nul\0",
            "\u{200B}\u{200B}",
            "take \u{202E}2 daily",
            "\u{2067}x",
        ] {
            assert!(
                matches!(
                    MessageText::parse(bad),
                    Err(DomainError::Validation { ref field, .. }) if field == "message"
                ),
                "{bad:?}"
            );
        }
        // Invisible characters inside visible text are fine (emoji sequences use joiners).
        assert!(MessageText::parse("👩\u{200D}⚕️ ok").is_ok());
        let longest = "é".repeat(MessageText::MAX_CHARS);
        assert!(MessageText::parse(&longest).is_ok());
        assert!(MessageText::parse(&format!("{longest}é")).is_err());
    }
}
