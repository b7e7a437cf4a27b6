//! Sessions at `session:{userId}`: one Redis hash per user, one field per session (device),
//! holding the session as JSON. The key lives as long as its newest session (every session has
//! the same lifetime); expired fields are filtered on read and pruned at login by the domain.

use async_trait::async_trait;
use deadpool_redis::redis::{self, Cmd};
use domain::error::DomainError;
use domain::identity::{Session, SessionStore};
use uuid::Uuid;

use crate::{RedisError, RedisStore};

#[derive(Clone)]
pub struct RedisSessionStore {
    pub store: RedisStore,
}

fn key(store: &RedisStore, user_id: Uuid) -> String {
    store.key(&format!("session:{user_id}"))
}

fn unavailable(e: RedisError) -> DomainError {
    if !e.is_circuit_open() {
        tracing::warn!(error = %e, "session store unavailable");
    }
    DomainError::Unavailable("session store")
}

#[async_trait]
impl SessionStore for RedisSessionStore {
    async fn put(&self, session: &Session) -> Result<(), DomainError> {
        let ttl = (session.expires_at - session.issued_at)
            .num_seconds()
            .max(1);
        let json = serde_json::to_string(session)
            .map_err(|e| DomainError::unexpected("session JSON", e))?;
        let key = key(&self.store, session.user_id);
        self.store
            .pipeline::<()>(
                redis::pipe()
                    .atomic()
                    .hset(&key, session.session_id.to_string(), json)
                    .ignore()
                    .expire(&key, ttl)
                    .ignore(),
            )
            .await
            .map_err(unavailable)
    }

    async fn get(&self, user_id: Uuid, session_id: Uuid) -> Result<Option<Session>, DomainError> {
        let json: Option<String> = self
            .store
            .query(&Cmd::hget(
                key(&self.store, user_id),
                session_id.to_string(),
            ))
            .await
            .map_err(unavailable)?;
        // An unreadable session is no session: the user logs in again.
        Ok(json.and_then(|j| serde_json::from_str(&j).ok()))
    }

    async fn list(&self, user_id: Uuid) -> Result<Vec<Session>, DomainError> {
        let all: std::collections::HashMap<String, String> = self
            .store
            .query(&Cmd::hgetall(key(&self.store, user_id)))
            .await
            .map_err(unavailable)?;
        Ok(all
            .values()
            .filter_map(|j| serde_json::from_str(j).ok())
            .collect())
    }

    async fn delete(&self, user_id: Uuid, session_ids: &[Uuid]) -> Result<(), DomainError> {
        if session_ids.is_empty() {
            return Ok(());
        }
        let fields: Vec<String> = session_ids.iter().map(Uuid::to_string).collect();
        self.store
            .query::<()>(&Cmd::hdel(key(&self.store, user_id), fields))
            .await
            .map_err(unavailable)
    }

    async fn delete_all(&self, user_id: Uuid) -> Result<(), DomainError> {
        self.store
            .query::<()>(&Cmd::del(key(&self.store, user_id)))
            .await
            .map_err(unavailable)
    }
}

/// Stream tickets at `stream-ticket:{sha256}`, expiring by themselves; `GETDEL` makes
/// redeeming one atomic, so a ticket works once even with several API processes.
#[derive(Clone)]
pub struct RedisTicketStore {
    pub store: RedisStore,
}

#[async_trait]
impl domain::identity::tickets::TicketStore for RedisTicketStore {
    async fn put(
        &self,
        hash: &str,
        user_id: Uuid,
        session_id: Uuid,
        ttl: chrono::Duration,
    ) -> Result<(), DomainError> {
        let seconds = u64::try_from(ttl.num_seconds().max(1)).unwrap_or(1);
        self.store
            .query::<()>(&Cmd::set_ex(
                self.store.key(&format!("stream-ticket:{hash}")),
                format!("{user_id}:{session_id}"),
                seconds,
            ))
            .await
            .map_err(unavailable)
    }

    async fn take(&self, hash: &str) -> Result<Option<(Uuid, Uuid)>, DomainError> {
        let value: Option<String> = self
            .store
            .query(&Cmd::get_del(
                self.store.key(&format!("stream-ticket:{hash}")),
            ))
            .await
            .map_err(unavailable)?;
        Ok(value.and_then(|v| {
            let (user, session) = v.split_once(':')?;
            Some((user.parse().ok()?, session.parse().ok()?))
        }))
    }
}
