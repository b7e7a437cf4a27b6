//! What every handler can reach: configuration, the stores' clients and the use cases.

use std::sync::Arc;

use adapters_mongo::{MongoConfig, MongoProbe, MongoStore};
use adapters_postgres::pool::{build_pool, PgPool, PgPoolConfig};
use adapters_postgres::PgProbe;
use adapters_redis::{RedisConfig, RedisProbe, RedisStore};
use domain::health::StoreProbe;

use crate::config::Config;

/// Shared application state, built once at start-up.
pub struct AppState {
    pub config: Config,
    pub pg: PgPool,
    pub redis: RedisStore,
    pub mongo: MongoStore,
    /// The stores `/ready` checks, in the order it reports them.
    pub probes: Vec<Arc<dyn StoreProbe>>,
}

impl AppState {
    /// Builds the pools. Nothing connects yet: the service starts even with a store down and
    /// reports it on `/ready`.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let timeout = config.store_timeout();
        let pg = build_pool(&PgPoolConfig {
            url: config.database_url.clone(),
            max_size: config.database_pool_size,
            timeout,
        })
        .map_err(|e| anyhow::anyhow!("PostgreSQL pool: {e}"))?;
        let redis = RedisStore::new(&RedisConfig {
            url: config.redis_url.clone(),
            key_prefix: config.redis_key_prefix.clone(),
            max_size: config.redis_pool_size,
            timeout,
        })
        .map_err(|e| anyhow::anyhow!("Redis pool: {e}"))?;
        let mongo = MongoStore::new(&MongoConfig {
            uri: config.mongodb_uri.clone(),
            database: config.mongodb_database.clone(),
            max_pool_size: config.mongodb_pool_size,
            timeout,
        })
        .await
        .map_err(|e| anyhow::anyhow!("MongoDB client: {e}"))?;
        let probes: Vec<Arc<dyn StoreProbe>> = vec![
            Arc::new(PgProbe(pg.clone())),
            Arc::new(RedisProbe(redis.clone())),
            Arc::new(MongoProbe(mongo.clone())),
        ];
        Ok(Self {
            config,
            pg,
            redis,
            mongo,
            probes,
        })
    }
}
