//! The end-to-end test harness: every test gets its own PostgreSQL database (cloned from a
//! template migrated once per migration set), its own MongoDB database and its own Redis key
//! prefix, and the real application on a random port. Everything is removed when the test's
//! [`TestApp`] is dropped, so tests run in parallel (and two `make test` runs side by side)
//! without seeing each other.
//!
//! Store addresses come from `DATABASE_URL`, `REDIS_URL` and `MONGODB_URI` (set by
//! `make test` from `.stack/env`), with the same local defaults as the service.

pub mod api;
pub mod chat;
pub mod clinic;
pub mod db;
pub mod proxy;
pub mod receiver;
pub mod servers;
pub mod smtp;

use std::sync::Arc;
use std::time::Duration;

use api_http::state::Ports;
use api_http::{Application, Config};
use domain::clock::ManualClock;

pub use db::TestDatabase;

/// A running application and the stores it was given.
pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub client: reqwest::Client,
    pub config: Config,
    pub app: actix_web::web::Data<api_http::state::AppState>,
    db: Option<TestDatabase>,
    server: Option<actix_web::dev::ServerHandle>,
    /// Whether dropping this app removes its stores (false for a [`TestApp::sibling`]).
    owns_stores: bool,
}

/// A fresh id for naming per-test resources.
pub fn unique_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

impl TestApp {
    /// Starts the application against fresh, isolated stores.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Like [`TestApp::spawn`], letting the test adjust the configuration first (for example to
    /// point at a private Redis it will stop).
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_with_ports(adjust, Ports::default()).await
    }

    /// Like [`TestApp::spawn`] with a [`ManualClock`] (standing at the machine's now) injected
    /// into every use case; the test moves it and runs a job's step directly
    /// (`api_http::jobs::*_once(&app.app)`) instead of waiting for the job.
    pub async fn spawn_with_manual_clock(
        adjust: impl FnOnce(&mut Config),
    ) -> (Self, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::starting_now());
        let ports = Ports {
            clock: Some(clock.clone()),
            ..Ports::default()
        };
        (Self::spawn_with_ports(adjust, ports).await, clock)
    }

    /// Like [`TestApp::spawn_with`], with some ports (clock, file store) injected into the app.
    pub async fn spawn_with_ports(adjust: impl FnOnce(&mut Config), ports: Ports) -> Self {
        let id = unique_id();
        let db = TestDatabase::create().await;
        let mut config = Config::from_env();
        config.http_addr = "127.0.0.1:0".into();
        config.database_url = db.url.clone();
        config.database_pool_size = 8;
        config.redis_key_prefix = format!("test:{id}:");
        config.mongodb_database = format!("hs_test_{id}");
        config.mongodb_pool_size = 8;
        // Generous: two suites sharing two cores can make a connection take over a second.
        config.store_timeout_ms = 5000;
        config.log_format = "pretty".into();
        config.jwt_secret = Some("test-secret-test-secret-test-secret-0123".into());
        config.audit_relay_interval_ms = 100;
        // Budgets high enough for tests that log many users in from 127.0.0.1; the rate-limit
        // tests set their own.
        config.rate_limit_per_minute = 100_000;
        config.login_rate_limit_per_minute = 1_000;
        // The suite walks visits booked days ahead through their day at once (confirm, start,
        // complete); the time guards on those moves have their own tests, which set them back.
        config.start_early_minutes = 525_600;
        config.confirm_on_the_day = false;
        // Each test its own file store directory, removed with the test.
        config.file_store = "local".into();
        config.file_store_dir = std::env::temp_dir()
            .join(format!("hs_files_{id}"))
            .to_string_lossy()
            .into_owned();
        // Emails as files in a directory of the test's own (a test that checks delivery points
        // SMTP_URL at its own server).
        config.smtp_url = None;
        config.email_dir = std::env::temp_dir()
            .join(format!("hs_mail_{id}"))
            .to_string_lossy()
            .into_owned();
        adjust(&mut config);
        api_http::telemetry::init_with("pretty", "warn,actix_server=error,mongodb=error");

        let mut builder = Application::builder(config.clone());
        if let Some(clock) = ports.clock {
            builder = builder.clock(clock);
        }
        if let Some(files) = ports.file_store {
            builder = builder.file_store(files);
        }
        let application = builder.build().await.expect("the app builds");
        let port = application.port();
        let app = application.state();
        let (server, handle) = application.into_parts();
        tokio::spawn(server);
        Self {
            address: format!("http://127.0.0.1:{port}"),
            port,
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            config,
            app,
            db: Some(db),
            server: Some(handle),
            owns_stores: true,
        }
    }

    /// A second `serve` process on the same stores (same database, MongoDB database and Redis
    /// prefix), with its own state, listeners and background jobs: what it shares with `self`
    /// goes through the stores only. Dropping it leaves the stores to `self`.
    pub async fn sibling(&self) -> Self {
        let mut config = self.config.clone();
        config.http_addr = "127.0.0.1:0".into();
        let application = Application::builder(config.clone())
            .build()
            .await
            .expect("the sibling builds");
        let port = application.port();
        let app = application.state();
        let (server, handle) = application.into_parts();
        tokio::spawn(server);
        Self {
            address: format!("http://127.0.0.1:{port}"),
            port,
            client: self.client.clone(),
            config,
            app,
            db: None,
            server: Some(handle),
            owns_stores: false,
        }
    }

    /// The test's own PostgreSQL database.
    pub fn database(&self) -> &TestDatabase {
        self.db.as_ref().expect("the test database")
    }

    /// `self.address` joined with `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// The OpenAPI document as the server serves it.
    pub async fn openapi(&self) -> serde_json::Value {
        self.get("/api-docs/openapi.json")
            .await
            .json()
            .await
            .expect("the document is JSON")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request sent")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // The stop command is sent at once; its completion would need this (blocked) runtime,
        // so it is not awaited. Workers run on their own threads and wind down by themselves.
        if let Some(server) = self.server.take() {
            drop(server.stop(false));
        }
        if !self.owns_stores {
            return;
        }
        let db = self.db.take();
        let config = self.config.clone();
        if config.file_store_dir.contains("hs_files_") {
            let _ = std::fs::remove_dir_all(&config.file_store_dir);
        }
        if config.email_dir.contains("hs_mail_") {
            let _ = std::fs::remove_dir_all(&config.email_dir);
        }
        // Drop runs inside the test's runtime, which cannot be blocked on, and the app's
        // clients belong to that runtime: clean up on a thread with its own runtime and its
        // own clients, and wait for it so nothing outlives the test.
        let cleanup = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("rt");
            rt.block_on(async move {
                let limit = Duration::from_secs(5);
                if let Ok(redis) = adapters_redis::RedisStore::new(&adapters_redis::RedisConfig {
                    url: config.redis_url.clone(),
                    key_prefix: config.redis_key_prefix.clone(),
                    timeout: limit,
                    breaker: config.breaker_policy(),
                }) {
                    let _ = tokio::time::timeout(limit, redis.delete_all_under_prefix()).await;
                }
                if config.mongodb_database.starts_with("hs_test_") {
                    let mongo_config = adapters_mongo::MongoConfig {
                        uri: config.mongodb_uri.clone(),
                        database: config.mongodb_database.clone(),
                        max_pool_size: 1,
                        timeout: limit,
                    };
                    let mongo = adapters_mongo::MongoStore::new(&mongo_config);
                    if let Ok(Ok(mongo)) = tokio::time::timeout(limit, mongo).await {
                        let _ = tokio::time::timeout(limit, mongo.database().drop()).await;
                    }
                }
                if let Some(db) = db {
                    let _ = tokio::time::timeout(limit * 2, db.drop_now()).await;
                }
            });
        });
        let _ = cleanup.join();
    }
}
