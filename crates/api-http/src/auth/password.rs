//! Argon2id password hashing, run on the blocking pool so it never stalls request threads.

use argon2::password_hash::phc::PasswordHash as Phc;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::Argon2;
use async_trait::async_trait;
use domain::error::DomainError;
use domain::identity::{Password, PasswordHash, PasswordHasher};

/// Argon2id with the crate's defaults (19 MiB, 2 passes, 1 lane: the OWASP minimum).
#[derive(Debug, Default, Clone, Copy)]
pub struct Argon2Hasher;

impl Argon2Hasher {
    /// Hashes synchronously (start-up and `create-admin` use it outside a request).
    pub fn hash_now(password: &str) -> Result<PasswordHash, DomainError> {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| PasswordHash(h.to_string()))
            .map_err(|e| DomainError::unexpected("argon2 hashing", e))
    }
}

#[async_trait]
impl PasswordHasher for Argon2Hasher {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, DomainError> {
        let plain = password.expose().to_owned();
        tokio::task::spawn_blocking(move || Self::hash_now(&plain))
            .await
            .map_err(|e| DomainError::unexpected("password hashing task", e))?
    }

    async fn verify(&self, candidate: &str, hash: &PasswordHash) -> bool {
        let (candidate, hash) = (candidate.to_owned(), hash.0.clone());
        tokio::task::spawn_blocking(move || {
            Phc::new(&hash).is_ok_and(|parsed| {
                Argon2::default()
                    .verify_password(candidate.as_bytes(), &parsed)
                    .is_ok()
            })
        })
        .await
        .unwrap_or(false)
    }
}
