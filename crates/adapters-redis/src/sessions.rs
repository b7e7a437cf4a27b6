//! Sessions at `session:{userId}`, expiring with the session (24 h by default).

use async_trait::async_trait;
use domain::error::DomainError;
use domain::identity::{Session, SessionStore};
use uuid::Uuid;

use crate::RedisStore;

#[derive(Clone)]
pub struct RedisSessionStore {
    pub store: RedisStore,
}

fn key(user_id: Uuid) -> String {
    format!("session:{user_id}")
}

fn unavailable(e: impl std::fmt::Display) -> DomainError {
    tracing::warn!(error = %e, "session store unavailable");
    DomainError::Unavailable("session store")
}

#[async_trait]
impl SessionStore for RedisSessionStore {
    async fn put(&self, session: &Session) -> Result<(), DomainError> {
        let ttl = (session.expires_at - session.issued_at)
            .to_std()
            .unwrap_or_default();
        let json = serde_json::to_string(session)
            .map_err(|e| DomainError::unexpected("session JSON", e))?;
        self.store
            .set_ex(&key(session.user_id), &json, ttl)
            .await
            .map_err(unavailable)
    }

    async fn get(&self, user_id: Uuid) -> Result<Option<Session>, DomainError> {
        match self.store.get(&key(user_id)).await.map_err(unavailable)? {
            None => Ok(None),
            // An unreadable session is no session: the user logs in again.
            Some(json) => Ok(serde_json::from_str(&json).ok()),
        }
    }

    async fn delete(&self, user_id: Uuid) -> Result<(), DomainError> {
        self.store.del(&key(user_id)).await.map_err(unavailable)
    }
}
