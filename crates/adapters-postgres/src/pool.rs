//! The diesel-async connection pool (deadpool), with timeouts so a dead database fails fast
//! instead of hanging requests, and a recycle that drops closed connections so the pool heals
//! after a restart.

use std::time::Duration;

use async_trait::async_trait;
use deadpool::Runtime;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use domain::health::{ProbeError, StoreProbe};

/// The pool every PostgreSQL adapter shares.
pub type PgPool = Pool<AsyncPgConnection>;

/// Pool settings, from configuration.
#[derive(Debug, Clone)]
pub struct PgPoolConfig {
    pub url: String,
    pub max_size: usize,
    /// How long a request waits for a free connection, and for a new one to be opened.
    pub timeout: Duration,
}

/// Builds the pool. Connections are opened lazily, so this succeeds while the database is
/// down; the first query then fails within `timeout` and `/ready` says so.
pub fn build_pool(config: &PgPoolConfig) -> Result<PgPool, String> {
    let mut manager_config = ManagerConfig::default();
    // A connection that died with the server (its socket closed) is seen as broken on checkout
    // and replaced. `Fast` rather than `Verified`: the latter sends a `SELECT 1` before every
    // checkout, one more round trip for each of a request's queries (a booking checks out
    // several times); a connection that dies between the check and its query fails that one
    // request with 503, as any outage does, and is then replaced.
    manager_config.recycling_method = RecyclingMethod::Fast;
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
        config.url.clone(),
        manager_config,
    );
    Pool::builder(manager)
        .max_size(config.max_size)
        .wait_timeout(Some(config.timeout))
        .create_timeout(Some(config.timeout))
        .recycle_timeout(Some(config.timeout))
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(|e| e.to_string())
}

/// `/ready`'s probe of PostgreSQL: a `SELECT 1` through the pool.
#[derive(Clone)]
pub struct PgProbe(pub PgPool);

#[async_trait]
impl StoreProbe for PgProbe {
    fn name(&self) -> &'static str {
        "postgres"
    }

    async fn ping(&self) -> Result<(), ProbeError> {
        let mut conn = self
            .0
            .get()
            .await
            .map_err(|e| ProbeError(pool_error_kind(&e)))?;
        diesel::sql_query("SELECT 1")
            .execute(&mut conn)
            .await
            .map(|_| ())
            .map_err(|e| ProbeError(e.to_string()))
    }
}

/// A short description of a pool error that never includes the connection string.
pub fn pool_error_kind(error: &diesel_async::pooled_connection::deadpool::PoolError) -> String {
    use deadpool::managed::PoolError;
    match error {
        PoolError::Timeout(_) => "timed out waiting for a connection".into(),
        PoolError::Backend(e) => format!("cannot connect: {e}"),
        PoolError::Closed => "pool closed".into(),
        PoolError::NoRuntimeSpecified => "no runtime".into(),
        PoolError::PostCreateHook(_) => "connection hook failed".into(),
    }
}
