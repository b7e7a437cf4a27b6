//! The Redis pool and the key namespace.

use std::time::Duration;

use async_trait::async_trait;
use deadpool_redis::redis::{self, AsyncCommands};
use deadpool_redis::{Connection, Pool, PoolConfig, Runtime, Timeouts};
use domain::health::{ProbeError, StoreProbe};

/// Pool settings, from configuration.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    pub url: String,
    pub key_prefix: String,
    pub max_size: usize,
    pub timeout: Duration,
}

/// Errors of the Redis adapters. Callers treat every one as "the cache is unavailable".
#[derive(Debug)]
pub enum RedisError {
    Pool(String),
    Command(String),
}

/// A pooled Redis client that namespaces every key with the configured prefix.
#[derive(Clone)]
pub struct RedisStore {
    pool: Pool,
    prefix: String,
}

impl RedisStore {
    /// Builds the pool; connections open lazily, so this succeeds while Redis is down.
    pub fn new(config: &RedisConfig) -> Result<Self, String> {
        let mut cfg = deadpool_redis::Config::from_url(config.url.clone());
        cfg.pool = Some(PoolConfig {
            max_size: config.max_size,
            timeouts: Timeouts {
                wait: Some(config.timeout),
                create: Some(config.timeout),
                recycle: Some(config.timeout),
            },
            ..PoolConfig::default()
        });
        let pool = cfg
            .create_pool(Some(Runtime::Tokio1))
            .map_err(|e| e.to_string())?;
        Ok(Self {
            pool,
            prefix: config.key_prefix.clone(),
        })
    }

    /// The full key for a logical key such as `session:{userId}`.
    pub fn key(&self, logical: &str) -> String {
        format!("{}{}", self.prefix, logical)
    }

    /// The configured prefix (tests delete everything under it).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A connection from the pool.
    pub async fn conn(&self) -> Result<Connection, RedisError> {
        self.pool
            .get()
            .await
            .map_err(|e| RedisError::Pool(e.to_string()))
    }

    /// Sets `key` to `value` with a time to live.
    pub async fn set_ex(
        &self,
        logical: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<(), RedisError> {
        let mut conn = self.conn().await?;
        conn.set_ex::<_, _, ()>(self.key(logical), value, ttl.as_secs().max(1))
            .await
            .map_err(command)
    }

    /// Reads `key`; `None` when absent.
    pub async fn get(&self, logical: &str) -> Result<Option<String>, RedisError> {
        let mut conn = self.conn().await?;
        conn.get(self.key(logical)).await.map_err(command)
    }

    /// Deletes `key`.
    pub async fn del(&self, logical: &str) -> Result<(), RedisError> {
        let mut conn = self.conn().await?;
        conn.del::<_, ()>(self.key(logical)).await.map_err(command)
    }

    /// Deletes every key under this store's prefix (tests' clean-up). Uses SCAN, not KEYS.
    pub async fn delete_all_under_prefix(&self) -> Result<u64, RedisError> {
        let mut conn = self.conn().await?;
        let pattern = format!("{}*", self.prefix);
        let mut keys: Vec<String> = Vec::new();
        {
            let mut iter: redis::AsyncIter<'_, String> =
                conn.scan_match(&pattern).await.map_err(command)?;
            while let Some(key) = iter.next_item().await {
                keys.push(key.map_err(command)?);
            }
        }
        let mut deleted = 0;
        for chunk in keys.chunks(500) {
            deleted += conn.del::<_, u64>(chunk).await.map_err(command)?;
        }
        Ok(deleted)
    }
}

fn command(e: redis::RedisError) -> RedisError {
    RedisError::Command(e.to_string())
}

impl std::fmt::Display for RedisError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Pool(e) => write!(f, "redis unavailable: {e}"),
            Self::Command(e) => write!(f, "redis command failed: {e}"),
        }
    }
}

/// `/ready`'s probe of Redis: a `PING`.
#[derive(Clone)]
pub struct RedisProbe(pub RedisStore);

#[async_trait]
impl StoreProbe for RedisProbe {
    fn name(&self) -> &'static str {
        "redis"
    }

    async fn ping(&self) -> Result<(), ProbeError> {
        let mut conn = self.0.conn().await.map_err(|e| ProbeError(e.to_string()))?;
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .map(|_| ())
            .map_err(|e| ProbeError(e.to_string()))
    }
}

impl std::error::Error for RedisError {}
