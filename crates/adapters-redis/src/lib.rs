//! Redis adapters (one shared multiplexed connection): sessions, the rate limiter, the slot
//! and analytics caches.
//!
//! Redis is a cache and a session store here: losing it never loses data. Every key is
//! written under a configurable prefix (`REDIS_KEY_PREFIX`), so tests and several deployments
//! can share one server without seeing each other's keys.

pub mod analytics_cache;
pub mod connection;
pub mod rate_limit;
pub mod sessions;
pub mod slot_cache;

pub use analytics_cache::RedisAnalyticsCache;
pub use connection::{RedisConfig, RedisError, RedisProbe, RedisStore};
pub use rate_limit::{RateDecision, RedisRateLimiter};
pub use sessions::{RedisSessionStore, RedisTicketStore};
pub use slot_cache::RedisSlotCache;
