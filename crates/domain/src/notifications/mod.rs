//! Notifications to users: BOOKING_CONFIRMATION and REMINDER are written by the booking
//! transaction and the reminder job; a user lists its own (unread first), counts unread, and
//! marks one or all read; an admin broadcasts GENERAL notices. Another user's notification is
//! `NotFound`.

pub mod texts;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::access::Permission;
use crate::audit::{AuditAction, AuditEvent};
use crate::error::DomainError;
use crate::identity::{parse_optional_text, Actor, Role};
use crate::paging::{Page, PageRequest};

pub use texts::Notice;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotificationType {
    BookingConfirmation,
    Reminder,
    Prescription,
    Payment,
    General,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: NotificationType,
    pub title: String,
    pub message: String,
    pub is_read: bool,
    pub appointment_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait NotificationRepository: Send + Sync {
    /// The user's notifications, unread first, then newest first.
    async fn list(
        &self,
        user_id: Uuid,
        unread_only: bool,
        page: PageRequest,
    ) -> Result<Page<Notification>, DomainError>;
    async fn unread_count(&self, user_id: Uuid) -> Result<u64, DomainError>;
    /// One of the user's notifications (`None` if missing or someone else's).
    async fn get(&self, user_id: Uuid, id: Uuid) -> Result<Option<Notification>, DomainError>;
    /// Marks one of the user's notifications read; `NotFound` if it is not the user's.
    async fn mark_read(&self, user_id: Uuid, id: Uuid) -> Result<Notification, DomainError>;
    async fn mark_all_read(&self, user_id: Uuid) -> Result<u64, DomainError>;
    /// A GENERAL notification to every active user (of `role` when given), with its audit
    /// event, in one transaction. Returns how many were written.
    async fn broadcast(
        &self,
        title: String,
        message: String,
        role: Option<Role>,
        event: AuditEvent,
    ) -> Result<u64, DomainError>;
}

pub struct NotificationService {
    repo: Arc<dyn NotificationRepository>,
}

impl NotificationService {
    /// Wires the use case to its ports; only the composition root (and tests) build one.
    #[allow(clippy::too_many_arguments)]
    pub fn new(repo: Arc<dyn NotificationRepository>) -> Self {
        Self { repo }
    }
}

impl NotificationService {
    #[tracing::instrument(name = "notifications.list", skip_all, fields(user_id = %actor.user_id, role = ?actor.role))]
    pub async fn list(
        &self,
        actor: &Actor,
        unread_only: bool,
        page: PageRequest,
    ) -> Result<Page<Notification>, DomainError> {
        self.repo.list(actor.user_id, unread_only, page).await
    }

    #[tracing::instrument(name = "notifications.get", skip_all, fields(user_id = %actor.user_id, role = ?actor.role, id = %id))]
    pub async fn get(&self, actor: &Actor, id: Uuid) -> Result<Notification, DomainError> {
        self.repo
            .get(actor.user_id, id)
            .await?
            .ok_or(DomainError::NotFound("notification"))
    }

    #[tracing::instrument(name = "notifications.unread_count", skip_all, fields(user_id = %actor.user_id, role = ?actor.role))]
    pub async fn unread_count(&self, actor: &Actor) -> Result<u64, DomainError> {
        self.repo.unread_count(actor.user_id).await
    }

    #[tracing::instrument(name = "notifications.mark_read", skip_all, fields(user_id = %actor.user_id, role = ?actor.role, id = %id))]
    pub async fn mark_read(&self, actor: &Actor, id: Uuid) -> Result<Notification, DomainError> {
        self.repo.mark_read(actor.user_id, id).await
    }

    #[tracing::instrument(name = "notifications.mark_all_read", skip_all, fields(user_id = %actor.user_id, role = ?actor.role))]
    pub async fn mark_all_read(&self, actor: &Actor) -> Result<u64, DomainError> {
        self.repo.mark_all_read(actor.user_id).await
    }

    /// Admins only.
    #[tracing::instrument(name = "notifications.broadcast", skip_all, fields(user_id = %actor.user_id, role = ?actor.role))]
    pub async fn broadcast(
        &self,
        actor: &Actor,
        title: &str,
        message: &str,
        role: Option<Role>,
    ) -> Result<u64, DomainError> {
        actor.require(Permission::Broadcast)?;
        let title = crate::text::parse_optional_line(Some(title), "title", 200)?
            .ok_or_else(|| DomainError::validation("title", "must not be empty"))?;
        let message = parse_optional_text(Some(message), "message", 2000)?
            .ok_or_else(|| DomainError::validation("message", "must not be empty"))?;
        let event = AuditEvent::new(Some(actor.user_id), AuditAction::Create, "notification", None, &actor.meta)
            .after(serde_json::json!({ "type": "GENERAL", "title": title, "message": message, "role": role }));
        self.repo.broadcast(title, message, role, event).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testing::actor;

    #[tokio::test]
    async fn only_admins_broadcast_and_empty_notices_are_refused() {
        let svc = NotificationService {
            repo: Arc::new(MockNotificationRepository::new()),
        };
        for role in [Role::Patient, Role::Doctor, Role::Receptionist] {
            assert_eq!(
                svc.broadcast(&actor(role), "t", "m", None).await,
                Err(DomainError::Forbidden)
            );
        }
        let err = svc
            .broadcast(&actor(Role::Admin), "  ", "m", None)
            .await
            .unwrap_err();
        assert!(matches!(err, DomainError::Validation { ref field, .. } if field == "title"));
    }

    #[tokio::test]
    async fn a_user_only_ever_reaches_its_own_notifications() {
        let me = actor(Role::Patient);
        let uid = me.user_id;
        let mut repo = MockNotificationRepository::new();
        repo.expect_mark_read()
            .withf(move |user, _| *user == uid)
            .returning(|_, _| Err(DomainError::NotFound("notification")));
        let svc = NotificationService {
            repo: Arc::new(repo),
        };
        assert_eq!(
            svc.mark_read(&me, Uuid::new_v4()).await,
            Err(DomainError::NotFound("notification"))
        );
    }
}
