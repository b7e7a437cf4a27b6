//! Argon2id password hashing, run on the blocking pool so it never stalls request threads.
//!
//! Each hash fills 19 MiB of memory on purpose (that is what makes it slow to crack). At most
//! one hash per core runs at once ([`HASHING`]): more would not finish sooner on a saturated
//! machine, and a burst of logins would otherwise hold 19 MiB per blocking thread (tokio allows
//! hundreds) at the same moment. The service runs with glibc's `MALLOC_MMAP_THRESHOLD_` at 1 MiB
//! (Makefile, Dockerfile) so that each hash's block goes back to the operating system when it
//! is freed rather than staying in the arena of the thread that hashed (README, "Memory").

use std::sync::LazyLock;

use argon2::password_hash::phc::PasswordHash as Phc;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::Argon2;
use async_trait::async_trait;
use domain::error::DomainError;
use domain::identity::{Password, PasswordHash, PasswordHasher};
use tokio::sync::Semaphore;

/// Permits to hash: one per core.
static HASHING: LazyLock<Semaphore> = LazyLock::new(|| {
    Semaphore::new(std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get))
});

/// Runs one Argon2 computation on the blocking pool once a core is free for it.
async fn on_a_free_core<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let _permit = HASHING.acquire().await.ok()?;
    tokio::task::spawn_blocking(work).await.ok()
}

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
        on_a_free_core(move || Self::hash_now(&plain))
            .await
            .ok_or_else(|| {
                DomainError::unexpected(
                    "password hashing",
                    std::io::Error::other("the hashing task did not finish"),
                )
            })?
    }

    async fn verify(&self, candidate: &str, hash: &PasswordHash) -> bool {
        let (candidate, hash) = (candidate.to_owned(), hash.0.clone());
        on_a_free_core(move || {
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
