//! The dashboard cache at `analytics:{scope}:{from..to}` (15 minutes), the scope in the key so
//! a doctor never reads the clinic's figures. Best effort: a Redis failure is logged and is a
//! miss, so the dashboard is computed directly.

use std::time::Duration;

use async_trait::async_trait;
use domain::analytics::{AnalyticsCache, Dashboard};

use crate::RedisStore;

pub const TTL: Duration = Duration::from_secs(15 * 60);

#[derive(Clone)]
pub struct RedisAnalyticsCache {
    pub store: RedisStore,
}

#[async_trait]
impl AnalyticsCache for RedisAnalyticsCache {
    async fn get(&self, key: &str) -> Option<Dashboard> {
        match self.store.get(key).await {
            // Anything unreadable (an older format) is a miss, and is replaced.
            Ok(Some(value)) => serde_json::from_str(&value).ok(),
            Ok(None) => None,
            Err(e) => {
                if !e.is_circuit_open() {
                    tracing::warn!(error = %e, "analytics cache unavailable; computing directly");
                }
                None
            }
        }
    }

    async fn put(&self, key: &str, dashboard: &Dashboard) {
        let Ok(json) = serde_json::to_string(dashboard) else {
            return;
        };
        match self.store.set_ex(key, &json, TTL).await {
            Err(e) if !e.is_circuit_open() => {
                tracing::warn!(error = %e, "analytics cache not written")
            }
            _ => {}
        }
    }
}
