//! The per-IP request budget at `rate:{ip}` (and `rate:{ip}:login` for login attempts): a
//! fixed window (a minute, an hour for password reset requests) counted with INCR, so every API process sharing the Redis server
//! shares the budget.

use deadpool_redis::redis;

use crate::connection::RedisError;
use crate::RedisStore;

/// The answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    Allowed {
        remaining: u64,
    },
    /// Over budget; retry after this many seconds (the rest of the window).
    Limited {
        retry_after_secs: u64,
    },
}

#[derive(Clone)]
pub struct RedisRateLimiter {
    pub store: RedisStore,
}

impl RedisRateLimiter {
    /// Counts one request against `rate:{bucket}` and decides. Errors mean Redis is down;
    /// the caller fails open (and logs it).
    pub async fn hit(&self, bucket: &str, budget: u64) -> Result<RateDecision, RedisError> {
        self.hit_per(bucket, budget, 60).await
    }

    /// Like [`RedisRateLimiter::hit`] with a window of `window_secs` (password reset requests
    /// are counted per hour).
    pub async fn hit_per(
        &self,
        bucket: &str,
        budget: u64,
        window_secs: u64,
    ) -> Result<RateDecision, RedisError> {
        let key = self.store.key(&format!("rate:{bucket}"));
        // INCR, set the expiry only when the key is new, read it back: one atomic exchange
        // (MULTI/EXEC sent as one pipeline, one round trip).
        let (count, ttl): (u64, i64) = self
            .store
            .pipeline(
                redis::pipe()
                    .atomic()
                    .incr(&key, 1)
                    .cmd("EXPIRE")
                    .arg(&key)
                    .arg(window_secs)
                    .arg("NX")
                    .ignore()
                    .ttl(&key),
            )
            .await?;
        if count > budget {
            Ok(RateDecision::Limited {
                retry_after_secs: u64::try_from(ttl)
                    .unwrap_or(window_secs)
                    .clamp(1, window_secs.max(1)),
            })
        } else {
            Ok(RateDecision::Allowed {
                remaining: budget - count,
            })
        }
    }
}
