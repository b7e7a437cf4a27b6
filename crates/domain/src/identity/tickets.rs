//! Stream tickets: how a browser opens the live notification stream. `EventSource` cannot send
//! an `Authorization` header, and a long-lived token must never sit in a URL (it ends up in
//! logs, proxies and history). So a signed-in client first asks for a ticket: random, good for
//! [`STREAM_TICKET_TTL_SECS`] seconds and for one use, standing for the session that asked for
//! it. Only its SHA-256 is stored, so a leaked store cannot be replayed; redeeming it still
//! requires that session to be live.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::Actor;
use crate::clock::Clock;
use crate::error::DomainError;

/// How long a ticket can be redeemed.
pub const STREAM_TICKET_TTL_SECS: i64 = 30;

/// A ticket as handed to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamTicket {
    pub ticket: String,
    pub expires_at: DateTime<Utc>,
}

/// Tickets in a store shared by every process (Redis), keyed by the ticket's hash.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait TicketStore: Send + Sync {
    /// Keeps `(user, session)` under `hash` for `ttl`.
    async fn put(
        &self,
        hash: &str,
        user_id: Uuid,
        session_id: Uuid,
        ttl: Duration,
    ) -> Result<(), DomainError>;
    /// Removes and returns what `hash` stood for, atomically: a second call gets `None`.
    async fn take(&self, hash: &str) -> Result<Option<(Uuid, Uuid)>, DomainError>;
}

pub struct StreamTickets {
    store: Arc<dyn TicketStore>,
    clock: Arc<dyn Clock>,
}

fn hash(ticket: &str) -> String {
    Sha256::digest(ticket.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl StreamTickets {
    pub fn new(store: Arc<dyn TicketStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// A fresh ticket for the actor's session (244 random bits).
    #[tracing::instrument(name = "identity.issue_stream_ticket", skip_all, fields(user_id = %actor.user_id))]
    pub async fn issue(&self, actor: &Actor) -> Result<StreamTicket, DomainError> {
        let ticket = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
        let ttl = Duration::seconds(STREAM_TICKET_TTL_SECS);
        self.store
            .put(&hash(&ticket), actor.user_id, actor.session_id, ttl)
            .await?;
        Ok(StreamTicket {
            ticket,
            expires_at: self.clock.now() + ttl,
        })
    }

    /// The `(user, session)` a ticket stood for, once; `Unauthenticated` for an unknown, used
    /// or expired one. The caller still checks that the session is live.
    pub async fn redeem(&self, ticket: &str) -> Result<(Uuid, Uuid), DomainError> {
        if ticket.len() != 64 || !ticket.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(DomainError::Unauthenticated);
        }
        self.store
            .take(&hash(ticket))
            .await?
            .ok_or(DomainError::Unauthenticated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::FixedClock;

    #[tokio::test]
    async fn a_ticket_is_stored_only_as_its_hash_and_malformed_ones_never_reach_the_store() {
        let actor = crate::testing::actor(crate::identity::Role::Patient);
        let (user, session) = (actor.user_id, actor.session_id);
        let mut store = MockTicketStore::new();
        store
            .expect_put()
            .withf(move |h, u, s, ttl| {
                h.len() == 64 && *u == user && *s == session && *ttl == Duration::seconds(30)
            })
            .times(1)
            .returning(|_, _, _, _| Ok(()));
        store.expect_take().times(0);
        let tickets = StreamTickets::new(Arc::new(store), Arc::new(FixedClock(Utc::now())));
        let issued = tickets.issue(&actor).await.unwrap();
        assert_eq!(issued.ticket.len(), 64);
        for bad in ["", "x", &"g".repeat(64)] {
            assert_eq!(tickets.redeem(bad).await, Err(DomainError::Unauthenticated));
        }
    }
}
