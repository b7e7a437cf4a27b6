//! Which emails a patient wants, by topic. Everything is on until the patient turns it off:
//! reminders (what reduces no-shows), the appointment emails and the billing emails alike. A
//! password reset link the user asked for is always sent.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;

use crate::access::Permission;
use crate::audit::{AuditAction, AuditEvent};
use crate::error::DomainError;
use crate::identity::Actor;

/// The topics a patient switches on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// Confirmations, cancellations and moves of visits.
    Appointments,
    /// The reminder before a visit.
    Reminders,
    /// Bills and payment receipts.
    Billing,
}

impl Topic {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Appointments => "APPOINTMENTS",
            Self::Reminders => "REMINDERS",
            Self::Billing => "BILLING",
        }
    }
}

/// A patient's choices (`email_preferences`; no row means all on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmailPreferences {
    pub appointments: bool,
    pub reminders: bool,
    pub billing: bool,
}

impl Default for EmailPreferences {
    fn default() -> Self {
        Self {
            appointments: true,
            reminders: true,
            billing: true,
        }
    }
}

impl EmailPreferences {
    pub fn wants(&self, topic: Topic) -> bool {
        match topic {
            Topic::Appointments => self.appointments,
            Topic::Reminders => self.reminders,
            Topic::Billing => self.billing,
        }
    }
}

/// Preferences in PostgreSQL, by user id.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait EmailPreferenceRepository: Send + Sync {
    /// The user's choices (the defaults when it never chose).
    async fn get(&self, user_id: uuid::Uuid) -> Result<EmailPreferences, DomainError>;
    /// Stores the choices with their audit event, in one transaction.
    async fn set(
        &self,
        user_id: uuid::Uuid,
        preferences: EmailPreferences,
        event: AuditEvent,
    ) -> Result<(), DomainError>;
}

pub struct EmailPreferenceService {
    repository: Arc<dyn EmailPreferenceRepository>,
}

impl EmailPreferenceService {
    pub fn new(repository: Arc<dyn EmailPreferenceRepository>) -> Self {
        Self { repository }
    }

    /// The patient's own choices.
    pub async fn get(&self, actor: &Actor) -> Result<EmailPreferences, DomainError> {
        actor.require(Permission::EmailPreferences)?;
        self.repository.get(actor.user_id).await
    }

    /// Replaces the patient's own choices (audited as `email_preferences`).
    pub async fn set(
        &self,
        actor: &Actor,
        preferences: EmailPreferences,
    ) -> Result<EmailPreferences, DomainError> {
        actor.require(Permission::EmailPreferences)?;
        let before = self.repository.get(actor.user_id).await?;
        let event = AuditEvent::new(
            Some(actor.user_id),
            AuditAction::Update,
            "email_preferences",
            Some(actor.user_id),
            &actor.meta,
        )
        .before(json!(before))
        .after(json!(preferences));
        self.repository
            .set(actor.user_id, preferences, event)
            .await?;
        Ok(preferences)
    }
}
