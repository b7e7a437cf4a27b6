//! Which emails a patient wants, kind by kind. Everything is on until the patient turns it off:
//! reminders (what reduces no-shows) like the rest. A password reset link the user asked for is
//! always sent. Stored as the kinds the patient turned off (`email_preferences.opted_out`), so a
//! kind added later starts on for everyone.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;

use super::EmailKind;
use crate::access::Permission;
use crate::audit::{AuditAction, AuditEvent};
use crate::error::DomainError;
use crate::identity::Actor;

/// The kinds a patient may turn off: every kind but the password reset.
pub const OPTIONAL_KINDS: [EmailKind; 7] = [
    EmailKind::BookingConfirmation,
    EmailKind::Reminder,
    EmailKind::Cancellation,
    EmailKind::Reschedule,
    EmailKind::Bill,
    EmailKind::PaymentReceipt,
    EmailKind::WaitlistOffer,
];

/// A patient's choices: the kinds it turned off (none at first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmailPreferences {
    opted_out: Vec<EmailKind>,
}

impl EmailPreferences {
    /// From the stored kinds; names this build does not know are ignored.
    pub fn from_opted_out(kinds: impl IntoIterator<Item = EmailKind>) -> Self {
        let mut opted_out: Vec<EmailKind> = kinds
            .into_iter()
            .filter(|k| OPTIONAL_KINDS.contains(k))
            .collect();
        opted_out.sort_by_key(|k| k.as_str());
        opted_out.dedup();
        Self { opted_out }
    }

    pub fn wants(&self, kind: EmailKind) -> bool {
        !self.opted_out.contains(&kind)
    }

    pub fn opted_out(&self) -> &[EmailKind] {
        &self.opted_out
    }

    /// These choices with `changes` applied (a kind not named keeps its choice).
    pub fn with(&self, changes: &[(EmailKind, bool)]) -> Self {
        let kept = OPTIONAL_KINDS.into_iter().filter(|kind| {
            changes
                .iter()
                .find(|(k, _)| k == kind)
                .map_or(!self.wants(*kind), |(_, wanted)| !wanted)
        });
        Self::from_opted_out(kept)
    }

    fn snapshot(&self) -> serde_json::Value {
        json!({ "optedOut": self.opted_out.iter().map(|k| k.as_str()).collect::<Vec<_>>() })
    }
}

/// Preferences in PostgreSQL, by user id.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait EmailPreferenceRepository: Send + Sync {
    /// The user's choices (everything on when it never chose).
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

    /// Changes some of the patient's own choices (audited as `email_preferences`); returns all
    /// of them.
    pub async fn change(
        &self,
        actor: &Actor,
        changes: &[(EmailKind, bool)],
    ) -> Result<EmailPreferences, DomainError> {
        actor.require(Permission::EmailPreferences)?;
        if let Some((kind, _)) = changes.iter().find(|(k, _)| !OPTIONAL_KINDS.contains(k)) {
            return Err(DomainError::validation(
                "kind",
                format!("{} emails are always sent", kind.as_str()),
            ));
        }
        let before = self.repository.get(actor.user_id).await?;
        let after = before.with(changes);
        let event = AuditEvent::new(
            Some(actor.user_id),
            AuditAction::Update,
            "email_preferences",
            Some(actor.user_id),
            &actor.meta,
        )
        .before(before.snapshot())
        .after(after.snapshot());
        self.repository
            .set(actor.user_id, after.clone(), event)
            .await?;
        Ok(after)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_is_on_until_turned_off_kind_by_kind() {
        let all = EmailPreferences::default();
        assert!(OPTIONAL_KINDS.iter().all(|k| all.wants(*k)));
        let quiet = all.with(&[(EmailKind::Reminder, false), (EmailKind::Bill, false)]);
        assert!(!quiet.wants(EmailKind::Reminder) && !quiet.wants(EmailKind::Bill));
        assert!(quiet.wants(EmailKind::BookingConfirmation));
        // A kind not named keeps its choice; turning one back on leaves the other off.
        let again = quiet.with(&[(EmailKind::Reminder, true)]);
        assert!(again.wants(EmailKind::Reminder) && !again.wants(EmailKind::Bill));
        assert!(EmailPreferences::from_opted_out([EmailKind::PasswordReset])
            .wants(EmailKind::PasswordReset));
    }
}
