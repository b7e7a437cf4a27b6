//! `Idempotency-Key`: a retried request returns the first result instead of acting twice.
//!
//! The first request with a key claims it (a row keyed by user and key), acts, and stores its
//! answer; a retry with the same key and the same request replays that answer; the same key
//! with a different request is refused; a retry while the first is still running is told to
//! wait.

use async_trait::async_trait;
use uuid::Uuid;

use crate::error::DomainError;

/// A stored answer: HTTP-agnostic status number and JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// First use: go ahead, then `complete`.
    New,
    /// Seen before with the same request: answer this.
    Replay(StoredResponse),
    /// Seen before with a different request.
    Mismatch,
    /// The first request with this key has not finished yet.
    InFlight,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    async fn claim(
        &self,
        user_id: Uuid,
        key: &str,
        request_hash: &str,
    ) -> Result<Claim, DomainError>;
    async fn complete(
        &self,
        user_id: Uuid,
        key: &str,
        response: StoredResponse,
    ) -> Result<(), DomainError>;
    /// Forgets a claim whose request failed unexpectedly, so a retry can try again.
    async fn release(&self, user_id: Uuid, key: &str) -> Result<(), DomainError>;
}

/// Validates a client's key: 1 to 200 visible ASCII characters.
pub fn parse_key(raw: &str) -> Result<String, DomainError> {
    let key = raw.trim();
    if key.is_empty() || key.len() > 200 || !key.chars().all(|c| c.is_ascii_graphic()) {
        return Err(DomainError::validation(
            "Idempotency-Key",
            "1 to 200 visible ASCII characters",
        ));
    }
    Ok(key.to_owned())
}
