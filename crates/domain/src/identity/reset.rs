//! Password reset: a link by email that sets a new password once.
//!
//! - **Asking** ([`PasswordResets::request`]) takes an email address and answers the same
//!   whether or not an account uses it; both paths do a lookup and one audited write, so they
//!   take about the same time. (Rate limits per address and per IP are the HTTP edge's.)
//! - **The token** is `hsrst_` and 64 hex digits: the HMAC-SHA256 of the reset's id under a key
//!   derived from the server's secret ([`ResetKey`]). The database holds only the token's
//!   SHA-256; the outbox holds only the reset's id, and the relay derives the token when it
//!   writes the email. So neither a database dump nor the outbox lets anyone reset a password.
//! - **Using it** ([`PasswordResets::complete`]) within [`PasswordResets`]' lifetime (30
//!   minutes by default), once: the new password meets the password policy, the reset is
//!   marked used in the same transaction as the new hash (with any other open link of the
//!   user), and every session of the user ends.
//!   An unknown, expired or used token all get the same answer. A new request closes the
//!   user's older links.
//! - **Admins** can send a user the link ([`PasswordResets::send_by_admin`]). Every step is
//!   audited (`password_reset`, and the user's password change).

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Actor, Email, Password, PasswordHash, PasswordHasher, SessionStore, UserRepository};
use crate::access::Permission;
use crate::audit::{AuditAction, AuditEvent, RequestMeta};
use crate::clock::Clock;
use crate::email::Letter;
use crate::error::{Conflict, DomainError};

const PREFIX: &str = "hsrst_";

/// The key reset tokens are derived with (from the server's signing secret, under its own
/// label, so it is never the JWT key itself).
#[derive(Clone)]
pub struct ResetKey([u8; 32]);

impl ResetKey {
    pub fn from_secret(secret: &str) -> Self {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
        mac.update(b"healthsync/password-reset/v1");
        Self(mac.finalize().into_bytes().into())
    }

    /// The token of a reset: only this key makes it.
    pub fn token(&self, reset_id: Uuid) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("any key length");
        mac.update(reset_id.as_bytes());
        format!("{PREFIX}{}", hex(&mac.finalize().into_bytes()))
    }
}

impl std::fmt::Debug for ResetKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResetKey(..)")
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What is stored and looked up: the token's SHA-256, in hex.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Whether `raw` could be a token at all (junk is refused without a database read).
pub fn looks_like_token(raw: &str) -> bool {
    raw.len() == PREFIX.len() + 64
        && raw.starts_with(PREFIX)
        && raw[PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// A reset to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPasswordReset {
    pub id: Uuid,
    pub user_id: Uuid,
    pub token_hash: String,
    /// The admin who sent it; `None` when the user asked.
    pub requested_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A stored reset, found by its token.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredReset {
    pub id: Uuid,
    pub user_id: Uuid,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

/// Resets in PostgreSQL.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PasswordResetRepository: Send + Sync {
    /// In one transaction: closes the user's other unused resets, stores this one, writes its
    /// email to the outbox (to the user, whatever its preferences) and the audit events.
    async fn open(
        &self,
        reset: NewPasswordReset,
        email: Letter,
        events: Vec<AuditEvent>,
    ) -> Result<(), DomainError>;

    async fn find(&self, token_hash: String) -> Result<Option<StoredReset>, DomainError>;

    /// In one transaction, if the reset is still unused: marks it (and any other open reset of
    /// the user) used at `now`, sets the user's password hash and writes the audit events.
    /// `false` when it was used meanwhile.
    async fn complete(
        &self,
        reset_id: Uuid,
        user_id: Uuid,
        hash: PasswordHash,
        now: DateTime<Utc>,
        events: Vec<AuditEvent>,
    ) -> Result<bool, DomainError>;
}

pub struct PasswordResets {
    users: Arc<dyn UserRepository>,
    resets: Arc<dyn PasswordResetRepository>,
    sessions: Arc<dyn SessionStore>,
    hasher: Arc<dyn PasswordHasher>,
    clock: Arc<dyn Clock>,
    key: ResetKey,
    lifetime: Duration,
}

/// The one answer to a token that cannot be used, whatever the reason.
fn unusable() -> DomainError {
    DomainError::validation(
        "token",
        "this reset link is invalid, expired or already used; ask for a new one",
    )
}

impl PasswordResets {
    /// Wires the use case to its ports; only the composition root (and tests) build one.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        users: Arc<dyn UserRepository>,
        resets: Arc<dyn PasswordResetRepository>,
        sessions: Arc<dyn SessionStore>,
        hasher: Arc<dyn PasswordHasher>,
        clock: Arc<dyn Clock>,
        key: ResetKey,
        lifetime: Duration,
    ) -> Self {
        Self {
            users,
            resets,
            sessions,
            hasher,
            clock,
            key,
            lifetime,
        }
    }

    /// Someone asks for a reset link for `email`. `Ok` whether or not an active account uses
    /// it; only a malformed address is refused (which says nothing about accounts).
    #[tracing::instrument(name = "identity.request_password_reset", skip_all)]
    pub async fn request(&self, email: &str, meta: &RequestMeta) -> Result<(), DomainError> {
        let email = Email::parse(email)?;
        match self.users.find_credentials(&email).await? {
            Some((user, _)) if user.is_active => self.open(user.id, None, meta).await,
            _ => {
                // Recorded too: someone probing addresses shows up in the audit log.
                self.users
                    .record(
                        AuditEvent::new(None, AuditAction::Create, "password_reset", None, meta)
                            .after(json!({ "accountFound": false })),
                    )
                    .await
            }
        }
    }

    /// An admin sends a user a reset link (`NotFound` for no such user; a deactivated one is
    /// `Conflict(UserInactive)`).
    #[tracing::instrument(name = "identity.send_password_reset", skip_all, fields(user_id = %user_id))]
    pub async fn send_by_admin(&self, actor: &Actor, user_id: Uuid) -> Result<(), DomainError> {
        actor.require(Permission::ManageUsers)?;
        let user = self
            .users
            .find_user(user_id)
            .await?
            .ok_or(DomainError::NotFound("user"))?;
        if !user.is_active {
            return Err(DomainError::Conflict(Conflict::UserInactive));
        }
        self.open(user.id, Some(actor.user_id), &actor.meta).await
    }

    async fn open(
        &self,
        user_id: Uuid,
        by: Option<Uuid>,
        meta: &RequestMeta,
    ) -> Result<(), DomainError> {
        let now = self.clock.now();
        let id = Uuid::new_v4();
        let reset = NewPasswordReset {
            id,
            user_id,
            token_hash: token_hash(&self.key.token(id)),
            requested_by: by,
            created_at: now,
            expires_at: now + self.lifetime,
        };
        let event = AuditEvent::new(by, AuditAction::Create, "password_reset", Some(id), meta)
            .after(json!({
                "userId": user_id, "expiresAt": reset.expires_at,
                "requestedBy": if by.is_some() { "admin" } else { "user" },
            }));
        let letter = Letter::PasswordReset {
            reset_id: id,
            expires_at: reset.expires_at,
            by_admin: by.is_some(),
        };
        self.resets.open(reset, letter, vec![event]).await
    }

    /// Sets a new password with a reset token: once, before it expires, for an active
    /// account; then every session of the user ends.
    #[tracing::instrument(name = "identity.complete_password_reset", skip_all)]
    pub async fn complete(
        &self,
        token: &str,
        password: Password,
        meta: &RequestMeta,
    ) -> Result<(), DomainError> {
        let now = self.clock.now();
        let found = if looks_like_token(token) {
            self.resets.find(token_hash(token)).await?
        } else {
            None
        };
        let why = match &found {
            None => Some("unknown"),
            Some(r) if r.used_at.is_some() => Some("used"),
            Some(r) if r.expires_at <= now => Some("expired"),
            Some(_) => None,
        };
        let reset = match (found, why) {
            (Some(reset), None) => reset,
            (found, why) => return Err(self.refuse(found.map(|r| r.id), why, meta).await),
        };
        let active = self
            .users
            .find_user(reset.user_id)
            .await?
            .is_some_and(|u| u.is_active);
        if !active {
            return Err(self.refuse(Some(reset.id), Some("inactive"), meta).await);
        }
        let hash = self.hasher.hash(&password).await?;
        // Sessions end before the password changes (Redis down: nothing changes, the link
        // stays usable) and again after, for a login with the old password in between.
        self.sessions.delete_all(reset.user_id).await?;
        let events = vec![
            AuditEvent::new(
                Some(reset.user_id),
                AuditAction::Update,
                "password_reset",
                Some(reset.id),
                meta,
            )
            .before(json!({ "usedAt": null }))
            .after(json!({ "usedAt": now })),
            AuditEvent::new(
                Some(reset.user_id),
                AuditAction::Update,
                "user",
                Some(reset.user_id),
                meta,
            )
            .before(json!({ "password": "set" }))
            .after(json!({ "password": "reset by link" })),
        ];
        if !self
            .resets
            .complete(reset.id, reset.user_id, hash, now, events)
            .await?
        {
            return Err(self.refuse(Some(reset.id), Some("used"), meta).await);
        }
        self.sessions.delete_all(reset.user_id).await
    }

    /// Audits a refused token and returns the one answer for it.
    async fn refuse(
        &self,
        reset_id: Option<Uuid>,
        why: Option<&str>,
        meta: &RequestMeta,
    ) -> DomainError {
        let event = AuditEvent::new(None, AuditAction::Update, "password_reset", reset_id, meta)
            .after(json!({ "refused": why }));
        match self.users.record(event).await {
            Ok(()) => unusable(),
            Err(e) => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_derived_per_reset_and_key_and_hashed_for_storage() {
        let key = ResetKey::from_secret("server secret");
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let token = key.token(a);
        assert!(looks_like_token(&token), "{token}");
        assert_eq!(token, key.token(a));
        assert_ne!(token, key.token(b));
        assert_ne!(token, ResetKey::from_secret("another secret").token(a));
        assert_eq!(token_hash(&token).len(), 64);
        assert_ne!(token_hash(&token), token[PREFIX.len()..]);
        assert!(!looks_like_token("hsrst_short"));
        assert!(!looks_like_token(&token.to_uppercase()));
    }
}
