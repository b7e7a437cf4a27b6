//! The one shared Redis connection and the key namespace.
//!
//! Why one multiplexed connection and not a pool: a pooled checkout (deadpool-redis) is
//! recycled with an `UNWATCH`+`PING` round trip, so every command cost two exchanges, and a
//! burst of requests queued for the pool's few connections until its wait timeout ran out.
//! The redis crate's [`MultiplexedConnection`] pipelines every concurrent command on one
//! socket (commands are written as they come, replies matched in order), so a request's
//! commands cost one round trip each, no checkout and no ping, and a burst only makes the
//! socket's pipeline deeper. Redis executes commands on one thread anyway, so more sockets
//! would not make it faster. (`ConnectionManager` does the same with reconnection, but
//! connects eagerly at start-up, which would keep the service from starting while Redis is
//! down; reconnecting here is a few lines.)
//!
//! The connection opens on first use and is replaced after an I/O error or a timeout; every
//! command is bounded by the store timeout.
//!
//! A circuit breaker ([`domain::breaker`]) guards every call: after consecutive failures
//! (`STORE_BREAKER_FAILURES`) calls fail at once with [`RedisError::CircuitOpen`], which
//! every adapter already treats as "Redis is down", instead of each waiting out the timeout
//! on a hung server. A background task then PINGs every `STORE_BREAKER_PROBE_MS`; the first
//! answer (or `/ready`'s PING answering) closes the breaker.

use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use async_trait::async_trait;
use deadpool_redis::redis::aio::MultiplexedConnection;
use deadpool_redis::redis::{self, AsyncConnectionConfig, FromRedisValue};
use domain::breaker::{BreakerPolicy, CircuitBreaker, Transition};
use domain::clock::SystemClock;
use domain::health::{ProbeError, StoreProbe};

/// Connection settings, from configuration.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    pub url: String,
    pub key_prefix: String,
    /// Bounds connecting and every command.
    pub timeout: Duration,
    /// When calls stop waiting on a failing Redis, and how often it is probed meanwhile.
    pub breaker: BreakerPolicy,
}

/// Errors of the Redis adapters. Callers treat every one as "the cache is unavailable".
#[derive(Debug)]
pub enum RedisError {
    /// No connection could be opened.
    Connect(String),
    /// The command failed or timed out.
    Command(String),
    /// Redis is known to be failing (the circuit breaker is open): not even tried.
    CircuitOpen,
}

impl std::fmt::Display for RedisError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Connect(e) => write!(f, "redis unavailable: {e}"),
            Self::Command(e) => write!(f, "redis command failed: {e}"),
            Self::CircuitOpen => write!(f, "redis failing (circuit open); not tried"),
        }
    }
}

impl std::error::Error for RedisError {}

impl RedisError {
    /// Whether the call was not even tried (the breaker is open). The breaker logged the
    /// opening once; callers log these at debug level, not once per request.
    pub fn is_circuit_open(&self) -> bool {
        matches!(self, Self::CircuitOpen)
    }
}

struct Shared {
    client: redis::Client,
    settings: AsyncConnectionConfig,
    timeout: Duration,
    /// The open connection (cloning one is cheap: the clones share the socket), tagged with a
    /// generation so a failure only discards the connection it happened on.
    current: Mutex<Option<(u64, MultiplexedConnection)>>,
    /// Held while connecting, so a burst opens one connection, not one each.
    connecting: tokio::sync::Mutex<u64>,
    breaker: CircuitBreaker,
}

/// A Redis client on one shared multiplexed connection that namespaces every key with the
/// configured prefix. Cheap to clone.
#[derive(Clone)]
pub struct RedisStore {
    shared: Arc<Shared>,
    prefix: String,
}

/// Whether `e` says the connection itself is unusable (as opposed to Redis refusing one
/// command, for example a wrong type), so it must be replaced.
fn connection_failed(e: &redis::RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_unrecoverable_error()
}

impl RedisStore {
    /// Parses the URL; the connection opens on first use, so this succeeds while Redis is down.
    pub fn new(config: &RedisConfig) -> Result<Self, String> {
        let client = redis::Client::open(config.url.as_str()).map_err(|e| e.to_string())?;
        let settings = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(config.timeout))
            .set_response_timeout(Some(config.timeout));
        Ok(Self {
            shared: Arc::new(Shared {
                client,
                settings,
                timeout: config.timeout,
                current: Mutex::new(None),
                connecting: tokio::sync::Mutex::new(0),
                // The system clock, even when tests move the business clock.
                breaker: CircuitBreaker::new("redis", config.breaker, Arc::new(SystemClock)),
            }),
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

    fn current(&self) -> Option<(u64, MultiplexedConnection)> {
        self.shared
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The shared connection, opened if there is none; refused at once while the breaker
    /// is open, unless `probing`.
    async fn connection(&self, probing: bool) -> Result<(u64, MultiplexedConnection), RedisError> {
        if !probing && !self.shared.breaker.admit() {
            return Err(RedisError::CircuitOpen);
        }
        let opened = self.open().await;
        if opened.is_err() {
            self.record_failure();
        }
        opened
    }

    async fn open(&self) -> Result<(u64, MultiplexedConnection), RedisError> {
        if let Some(open) = self.current() {
            return Ok(open);
        }
        let timeout = self.shared.timeout;
        let mut generation = tokio::time::timeout(timeout, self.shared.connecting.lock())
            .await
            .map_err(|_| RedisError::Connect("timed out waiting for the connection".into()))?;
        // Someone else may have connected while this task waited.
        if let Some(open) = self.current() {
            return Ok(open);
        }
        let connection = tokio::time::timeout(
            timeout,
            self.shared
                .client
                .get_multiplexed_async_connection_with_config(&self.shared.settings),
        )
        .await
        .map_err(|_| RedisError::Connect("timed out connecting".into()))?
        .map_err(|e| RedisError::Connect(e.to_string()))?;
        *generation += 1;
        let open = (*generation, connection);
        *self
            .shared
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(open.clone());
        Ok(open)
    }

    /// Forgets connection `generation` (if still the current one) so the next call reconnects.
    fn discard(&self, generation: u64) {
        let mut current = self
            .shared
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if current.as_ref().is_some_and(|(g, _)| *g == generation) {
            *current = None;
        }
    }

    /// A clone of the shared connection, for commands the helpers below do not cover (tests
    /// read raw keys with it). Prefer [`RedisStore::query`], which replaces a broken connection.
    pub async fn conn(&self) -> Result<MultiplexedConnection, RedisError> {
        self.connection(false).await.map(|(_, c)| c)
    }

    /// Runs one command on the shared connection.
    pub async fn query<T: FromRedisValue>(&self, command: &redis::Cmd) -> Result<T, RedisError> {
        let (generation, mut connection) = self.connection(false).await?;
        let result = command.query_async(&mut connection).await;
        self.settle(generation, result)
    }

    /// Runs a pipeline (several commands, one round trip) on the shared connection.
    pub async fn pipeline<T: FromRedisValue>(
        &self,
        pipeline: &redis::Pipeline,
    ) -> Result<T, RedisError> {
        let (generation, mut connection) = self.connection(false).await?;
        let result = pipeline.query_async(&mut connection).await;
        self.settle(generation, result)
    }

    /// Tells the breaker how the exchange went and replaces the connection when it broke. An
    /// error reply (a wrong type, say) is Redis answering: a success for the breaker.
    fn settle<T>(&self, generation: u64, result: redis::RedisResult<T>) -> Result<T, RedisError> {
        match result {
            Err(e) if connection_failed(&e) => {
                self.discard(generation);
                self.record_failure();
                Err(RedisError::Command(e.to_string()))
            }
            other => {
                self.shared.breaker.succeeded();
                other.map_err(command)
            }
        }
    }

    fn record_failure(&self) {
        if self.shared.breaker.failed() == Transition::Opened {
            self.start_probing();
        }
    }

    /// While the breaker is open, PINGs Redis once per probe interval, off the request path,
    /// until one answers (which closes it). Holds the store weakly: a dropped store (a test's
    /// application) stops its probe.
    fn start_probing(&self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let shared: Weak<Shared> = Arc::downgrade(&self.shared);
        let prefix = self.prefix.clone();
        let every = self
            .shared
            .breaker
            .policy()
            .cooldown
            .to_std()
            .unwrap_or(Duration::from_secs(1));
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(shared) = shared.upgrade() else {
                    return;
                };
                let store = RedisStore {
                    shared,
                    prefix: prefix.clone(),
                };
                if !store.shared.breaker.is_open() {
                    return;
                }
                if store.shared.breaker.probe_due() {
                    match store.ping().await {
                        Ok(()) => return,
                        Err(e) => tracing::debug!(error = %e, "redis probe: still failing"),
                    }
                }
            }
        });
    }

    /// One PING, made even while the breaker is open; its answer closes the breaker.
    pub async fn ping(&self) -> Result<(), RedisError> {
        let (generation, mut connection) = self.connection(true).await?;
        let result = redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await;
        self.settle(generation, result).map(|_| ())
    }

    /// Whether the circuit breaker is open (Redis is considered failing).
    pub fn failing(&self) -> bool {
        self.shared.breaker.is_open()
    }

    /// Sets `key` to `value` with a time to live.
    pub async fn set_ex(
        &self,
        logical: &str,
        value: &str,
        ttl: Duration,
    ) -> Result<(), RedisError> {
        self.query(&redis::Cmd::set_ex(
            self.key(logical),
            value,
            ttl.as_secs().max(1),
        ))
        .await
    }

    /// Reads `key`; `None` when absent.
    pub async fn get(&self, logical: &str) -> Result<Option<String>, RedisError> {
        self.query(&redis::Cmd::get(self.key(logical))).await
    }

    /// Deletes `key`.
    pub async fn del(&self, logical: &str) -> Result<(), RedisError> {
        self.query(&redis::Cmd::del(self.key(logical))).await
    }

    /// Deletes every key under this store's prefix (tests' clean-up). Uses SCAN, not KEYS.
    pub async fn delete_all_under_prefix(&self) -> Result<u64, RedisError> {
        let mut conn = self.conn().await?;
        let pattern = format!("{}*", self.prefix);
        let mut keys: Vec<String> = Vec::new();
        {
            let mut iter: redis::AsyncIter<'_, String> =
                redis::AsyncCommands::scan_match(&mut conn, &pattern)
                    .await
                    .map_err(command)?;
            while let Some(key) = iter.next_item().await {
                keys.push(key.map_err(command)?);
            }
        }
        let mut deleted = 0;
        for chunk in keys.chunks(500) {
            deleted += self.query::<u64>(&redis::Cmd::del(chunk)).await?;
        }
        Ok(deleted)
    }
}

fn command(e: redis::RedisError) -> RedisError {
    RedisError::Command(e.to_string())
}

/// `/ready`'s probe of Redis: a `PING`.
#[derive(Clone)]
pub struct RedisProbe(pub RedisStore);

#[async_trait]
impl StoreProbe for RedisProbe {
    fn name(&self) -> &'static str {
        "redis"
    }

    /// Probes even while the breaker is open (`/ready` reports the truth, and its success
    /// closes the breaker).
    async fn ping(&self) -> Result<(), ProbeError> {
        self.0.ping().await.map_err(|e| ProbeError(e.to_string()))
    }
}
