//! The dashboard cache at `analytics:{scope}:{from..to}` (15 minutes), the scope in the key so
//! a doctor never reads the clinic's figures. Best effort: a Redis failure is logged and is a
//! miss, so the dashboard is computed directly.
//!
//! Claims: the process that computes a missing dashboard holds `{key}:claim` (a random token,
//! `SET NX` with a 30 s expiry, released by compare-and-delete); the others poll the key and
//! the claim every 50 ms until the result is there or the claim is gone.

use std::time::Duration;

use async_trait::async_trait;
use deadpool_redis::redis;
use domain::analytics::{AnalyticsCache, Claim, Dashboard};

use crate::RedisStore;

pub const TTL: Duration = Duration::from_secs(15 * 60);
/// How long a claim lasts if its holder never releases it (a process that died mid-way).
const CLAIM_TTL: Duration = Duration::from_secs(30);
/// How often a waiting process looks for the result.
const POLL: Duration = Duration::from_millis(50);
/// Deletes the claim only if it is still the caller's (not one taken after it expired).
const RELEASE: &str =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0";

fn claim_key(key: &str) -> String {
    format!("{key}:claim")
}

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

    async fn claim(&self, key: &str) -> Claim {
        let token = uuid::Uuid::new_v4().to_string();
        let set = redis::cmd("SET")
            .arg(self.store.key(&claim_key(key)))
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(CLAIM_TTL.as_millis() as u64)
            .to_owned();
        match self.store.query::<Option<String>>(&set).await {
            Ok(Some(_)) => Claim::Won(token),
            Ok(None) => Claim::Taken,
            Err(e) => {
                if !e.is_circuit_open() {
                    tracing::warn!(error = %e, "analytics claim unavailable; computing directly");
                }
                Claim::Unavailable
            }
        }
    }

    async fn release(&self, key: &str, token: &str) {
        let release = redis::cmd("EVAL")
            .arg(RELEASE)
            .arg(1)
            .arg(self.store.key(&claim_key(key)))
            .arg(token)
            .to_owned();
        if let Err(e) = self.store.query::<i64>(&release).await {
            // It expires by itself.
            tracing::debug!(error = %e, "analytics claim not released");
        }
    }

    async fn wait(&self, key: &str, patience: Duration) -> Option<Dashboard> {
        let deadline = tokio::time::Instant::now() + patience;
        let mut look = redis::pipe();
        look.get(self.store.key(key))
            .exists(self.store.key(&claim_key(key)));
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(POLL).await;
            match self.store.pipeline::<(Option<String>, bool)>(&look).await {
                Ok((Some(value), _)) => return serde_json::from_str(&value).ok(),
                // Released (or expired) without a result: the holder failed.
                Ok((None, false)) => return None,
                Ok((None, true)) => {}
                Err(_) => return None,
            }
        }
        None
    }
}
