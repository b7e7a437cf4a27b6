//! The migrations in `migrations/`, embedded in the binary and run by `healthsync migrate`
//! (or at `serve` start-up when `RUN_MIGRATIONS=true`).
//!
//! diesel_migrations is synchronous, so it runs on a blocking thread through
//! `AsyncConnectionWrapper`, on a connection of its own rather than one taken from the pool.

use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::AsyncPgConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

type Wrapper = AsyncConnectionWrapper<AsyncPgConnection>;

/// Failure to connect or to apply a migration.
#[derive(Debug, thiserror::Error)]
#[error("migration failed: {0}")]
pub struct MigrationError(String);

async fn on_blocking_connection<T, F>(database_url: &str, work: F) -> Result<T, MigrationError>
where
    T: Send + 'static,
    F: FnOnce(&mut Wrapper) -> Result<T, MigrationError> + Send + 'static,
{
    use diesel::Connection;
    let url = database_url.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut conn = Wrapper::establish(&url).map_err(|e| MigrationError(e.to_string()))?;
        work(&mut conn)
    })
    .await
    .map_err(|e| MigrationError(e.to_string()))?
}

/// Applies every pending migration; returns the versions applied (empty when up to date).
pub async fn run_pending(database_url: &str) -> Result<Vec<String>, MigrationError> {
    on_blocking_connection(database_url, |conn| {
        conn.run_pending_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(ToString::to_string).collect())
            .map_err(|e| MigrationError(e.to_string()))
    })
    .await
}

/// Reverts every applied migration, newest first (used by the test that proves each
/// `down.sql` reverses its `up.sql`).
pub async fn revert_all(database_url: &str) -> Result<Vec<String>, MigrationError> {
    on_blocking_connection(database_url, |conn| {
        conn.revert_all_migrations(MIGRATIONS)
            .map(|versions| versions.iter().map(ToString::to_string).collect())
            .map_err(|e| MigrationError(e.to_string()))
    })
    .await
}

/// Applies the next pending migration only; `None` when up to date.
pub async fn run_next(database_url: &str) -> Result<Option<String>, MigrationError> {
    on_blocking_connection(database_url, |conn| {
        let pending = conn
            .pending_migrations(MIGRATIONS)
            .map_err(|e| MigrationError(e.to_string()))?;
        match pending.first() {
            None => Ok(None),
            Some(next) => conn
                .run_migration(next)
                .map(|v| Some(v.to_string()))
                .map_err(|e| MigrationError(e.to_string())),
        }
    })
    .await
}

/// Reverts the newest applied migration.
pub async fn revert_last(database_url: &str) -> Result<String, MigrationError> {
    on_blocking_connection(database_url, |conn| {
        conn.revert_last_migration(MIGRATIONS)
            .map(|v| v.to_string())
            .map_err(|e| MigrationError(e.to_string()))
    })
    .await
}

/// Names of the embedded migrations, oldest first.
pub fn embedded_names() -> Vec<String> {
    MigrationSource::<Pg>::migrations(&MIGRATIONS)
        .map(|ms| ms.iter().map(|m| m.name().to_string()).collect())
        .unwrap_or_default()
}
