//! Email: the messages a patient gets outside the app, and the password reset link.
//!
//! - **What is sent** ([`Letter`]): booking confirmations, reminders, cancellations, moves,
//!   bills, payment receipts, waitlist offers and password resets. A letter carries times, names of doctors,
//!   amounts and ids only: never the reason for a visit, notes, a diagnosis, a prescription or a
//!   record's title ([`intents`] picks fields one by one from the changes).
//! - **When** : written to the email outbox in the transaction of the change it tells about,
//!   like the audit trail, so a rolled-back change sends nothing and a committed one cannot be
//!   missed. Letters to patients are written only when the patient wants that kind
//!   ([`EmailPreferences`]; everything is on until the patient turns it off).
//! - **How** ([`relay::EmailRelay`]): a relay in every `serve` process claims due emails under a
//!   lease, renews the lease just before sending, and records the outcome; so several processes
//!   send each email once, and a crash between sending and recording is the only way to send
//!   one twice (at least once). Temporary failures are retried with back-off, permanent ones
//!   (a refused address) are given up at once.
//! - **Looks** ([`templates`]): plain text plus HTML from one place, times in the clinic's zone,
//!   an iCalendar file on confirmations and moves.

pub mod intents;
pub mod preferences;
pub mod relay;
pub mod templates;

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::error::DomainError;

pub use intents::EmailIntent;
pub use preferences::{
    EmailPreferenceRepository, EmailPreferenceService, EmailPreferences, OPTIONAL_KINDS,
};

/// One visit as an email tells it: when and with whom. Not why, and not its type either: an
/// "Emergency" in a shared calendar already says something about the patient.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Visit {
    pub appointment_id: Uuid,
    pub doctor_id: Uuid,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

/// What an email says, as stored in the outbox (`data`): the facts, not the text, so the
/// templates render it when it is sent, with the recipient's name and address as they are then.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Letter {
    /// One or more visits booked in one go (a single booking, or a recurring series).
    #[serde(rename_all = "camelCase")]
    BookingConfirmation { visits: Vec<Visit> },
    /// A visit coming up (written by the reminder job, once per visit).
    #[serde(rename_all = "camelCase")]
    Reminder { visits: Vec<Visit> },
    /// One or more visits cancelled in one go.
    #[serde(rename_all = "camelCase")]
    Cancellation { visits: Vec<Visit> },
    /// A visit moved to another time.
    #[serde(rename_all = "camelCase")]
    Reschedule {
        visit: Visit,
        previous_starts_at: DateTime<Utc>,
        /// Absent in emails written before it was recorded: the old time had the new length.
        #[serde(default)]
        previous_ends_at: Option<DateTime<Utc>>,
    },
    /// A bill was issued.
    #[serde(rename_all = "camelCase")]
    Bill {
        bill_id: Uuid,
        amount: String,
        due_at: Option<DateTime<Utc>>,
    },
    /// A bill was paid.
    #[serde(rename_all = "camelCase")]
    PaymentReceipt {
        bill_id: Uuid,
        amount: String,
        paid_at: Option<DateTime<Utc>>,
        payment_method: Option<String>,
    },
    /// A freed slot held for a patient on the waitlist until `expires_at` (accepting books it).
    #[serde(rename_all = "camelCase")]
    WaitlistOffer {
        offer_id: Uuid,
        doctor_id: Uuid,
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    },
    /// A password reset link. The token is not stored anywhere: the relay derives it from
    /// `reset_id` with the server's key ([`crate::identity::reset::ResetKey`]).
    #[serde(rename_all = "camelCase")]
    PasswordReset {
        reset_id: Uuid,
        expires_at: DateTime<Utc>,
        /// Sent by an admin rather than asked for by the user.
        #[serde(default)]
        by_admin: bool,
    },
}

/// The kinds of email, as the outbox's `kind` column stores them.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EmailKind {
    BookingConfirmation,
    Reminder,
    Cancellation,
    Reschedule,
    Bill,
    PaymentReceipt,
    PasswordReset,
    WaitlistOffer,
}

impl EmailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BookingConfirmation => "BOOKING_CONFIRMATION",
            Self::Reminder => "REMINDER",
            Self::Cancellation => "CANCELLATION",
            Self::Reschedule => "RESCHEDULE",
            Self::Bill => "BILL",
            Self::PaymentReceipt => "PAYMENT_RECEIPT",
            Self::PasswordReset => "PASSWORD_RESET",
            Self::WaitlistOffer => "WAITLIST_OFFER",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            Self::BookingConfirmation,
            Self::Reminder,
            Self::Cancellation,
            Self::Reschedule,
            Self::Bill,
            Self::PaymentReceipt,
            Self::PasswordReset,
            Self::WaitlistOffer,
        ]
        .into_iter()
        .find(|k| k.as_str() == raw)
    }
}

impl Letter {
    pub fn kind(&self) -> EmailKind {
        match self {
            Self::BookingConfirmation { .. } => EmailKind::BookingConfirmation,
            Self::Reminder { .. } => EmailKind::Reminder,
            Self::Cancellation { .. } => EmailKind::Cancellation,
            Self::Reschedule { .. } => EmailKind::Reschedule,
            Self::Bill { .. } => EmailKind::Bill,
            Self::PaymentReceipt { .. } => EmailKind::PaymentReceipt,
            Self::PasswordReset { .. } => EmailKind::PasswordReset,
            Self::WaitlistOffer { .. } => EmailKind::WaitlistOffer,
        }
    }

    /// The doctors the letter names (their names are looked up when it is rendered).
    pub fn doctor_ids(&self) -> Vec<Uuid> {
        let mut ids: Vec<Uuid> = match self {
            Self::BookingConfirmation { visits }
            | Self::Reminder { visits }
            | Self::Cancellation { visits } => visits.iter().map(|v| v.doctor_id).collect(),
            Self::Reschedule { visit, .. } => vec![visit.doctor_id],
            Self::WaitlistOffer { doctor_id, .. } => vec![*doctor_id],
            _ => Vec::new(),
        };
        ids.sort();
        ids.dedup();
        ids
    }

    /// The start of the letter's last visit; `None` for letters not about visits.
    pub fn last_visit_start(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::BookingConfirmation { visits }
            | Self::Reminder { visits }
            | Self::Cancellation { visits } => visits.iter().map(|v| v.starts_at).max(),
            Self::Reschedule { visit, .. } => Some(visit.starts_at),
            _ => None,
        }
    }

    /// The outbox's `data` column.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// An email the relay has claimed, with its recipient as the account is now.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedEmail {
    pub id: Uuid,
    pub letter: Letter,
    /// Attempts made before this one.
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub to_email: String,
    pub to_name: String,
    /// A deactivated account gets nothing more.
    pub to_active: bool,
}

/// One file attached to an email.
#[derive(Debug, Clone, PartialEq)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub content: String,
}

/// A rendered email, ready for the sender.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingEmail {
    /// Also the `Message-ID` (`<id@healthsync>`), so a copy sent twice after a crash can be
    /// recognised.
    pub id: Uuid,
    pub to_email: String,
    pub to_name: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub attachments: Vec<Attachment>,
}

/// Why a send failed. `permanent`: retrying cannot help (the address is not an address, or the
/// server refused the recipient); otherwise (no connection, a timeout, any other refusal) it is
/// retried.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendFailure {
    pub permanent: bool,
    pub message: String,
}

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum SendOutcome {
    Sent { at: DateTime<Utc> },
    Retry { at: DateTime<Utc>, error: String },
    Failed { error: String },
}

/// The email outbox in PostgreSQL (the relay's side; writing is part of each change).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait EmailOutbox: Send + Sync {
    /// Leases up to `limit` PENDING emails due at `now` that no live lease holds, oldest first,
    /// to `owner` until `now + lease`.
    async fn claim(
        &self,
        owner: Uuid,
        now: DateTime<Utc>,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<QueuedEmail>, DomainError>;

    /// Extends `owner`'s lease on a still PENDING email to `until`, just before sending it;
    /// `false` when the lease was lost meanwhile (so another relay may be sending it).
    async fn renew(&self, id: Uuid, owner: Uuid, until: DateTime<Utc>)
        -> Result<bool, DomainError>;

    /// Records an attempt's outcome, if `owner` still holds the email.
    async fn record(&self, id: Uuid, owner: Uuid, outcome: SendOutcome) -> Result<(), DomainError>;

    /// Doctors' display names by id (missing ids are left out).
    async fn doctor_names(&self, ids: Vec<Uuid>) -> Result<HashMap<Uuid, String>, DomainError>;

    /// Deletes sent and failed emails created before `before`, and reset requests expired
    /// before it. Returns how many rows.
    async fn prune(&self, before: DateTime<Utc>) -> Result<usize, DomainError>;
}

/// Sends one email (SMTP in production; a directory of `.eml` files without SMTP settings).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait EmailSender: Send + Sync {
    async fn send(&self, email: &OutgoingEmail) -> Result<(), SendFailure>;
}
