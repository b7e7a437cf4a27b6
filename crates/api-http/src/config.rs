//! Configuration: environment variables with local defaults (the ports of `make stack-up`).
//! Secrets have no default; see the README's configuration table.
//!
//! Every numeric setting has an allowed range and every enumerated one its allowed values
//! ([`Config::validate`]): a value outside them stops the process at start-up with the
//! variable's name, instead of being silently clamped somewhere in the code.

use std::time::Duration;

use clap::Args;

/// Everything the service reads from its environment.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address the HTTP server binds.
    #[arg(long, env = "HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: String,

    /// PostgreSQL connection URL.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:55432/healthsync"
    )]
    pub database_url: String,

    /// Maximum PostgreSQL connections in the pool.
    #[arg(long, env = "DATABASE_POOL_SIZE", default_value_t = 16)]
    pub database_pool_size: usize,

    /// Redis connection URL.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:56379")]
    pub redis_url: String,

    /// Prefix put before every Redis key (empty in production; tests use one each).
    #[arg(long, env = "REDIS_KEY_PREFIX", default_value = "")]
    pub redis_key_prefix: String,

    /// MongoDB connection URI.
    #[arg(
        long,
        env = "MONGODB_URI",
        default_value = "mongodb://127.0.0.1:57017/?directConnection=true"
    )]
    pub mongodb_uri: String,

    /// MongoDB database name.
    #[arg(long, env = "MONGODB_DATABASE", default_value = "healthsync")]
    pub mongodb_database: String,

    /// Maximum MongoDB connections in the pool.
    #[arg(long, env = "MONGODB_POOL_SIZE", default_value_t = 16)]
    pub mongodb_pool_size: u32,

    /// How long (milliseconds) to wait for a store before answering 503.
    #[arg(long, env = "STORE_TIMEOUT_MS", default_value_t = 2000)]
    pub store_timeout_ms: u64,

    /// Consecutive failures (errors or timeouts) of Redis after which its circuit breaker
    /// opens: calls then fail at once instead of each waiting `STORE_TIMEOUT_MS`.
    #[arg(long, env = "STORE_BREAKER_FAILURES", default_value_t = 3)]
    pub store_breaker_failures: u32,

    /// While a breaker is open, how often (milliseconds) a background probe tests the store;
    /// its first success closes the breaker.
    #[arg(long, env = "STORE_BREAKER_PROBE_MS", default_value_t = 1000)]
    pub store_breaker_probe_ms: u64,

    /// Run pending migrations when `serve` starts.
    #[arg(long, env = "RUN_MIGRATIONS", default_value_t = false, action = clap::ArgAction::Set)]
    pub run_migrations: bool,

    /// Log format: `json` (default, for machines) or `pretty` (for people).
    #[arg(long, env = "LOG_FORMAT", default_value = "json")]
    pub log_format: String,

    /// Web origins allowed to call the API from a browser (CORS), comma-separated, e.g.
    /// `https://app.clinic.example,http://localhost:5173`. Empty: no cross-origin access.
    #[arg(long, env = "CORS_ALLOWED_ORIGINS", default_value = "")]
    pub cors_allowed_origins: String,

    /// Secret key that signs access tokens (HS256). Required by `serve`; no default.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Session (and access token) lifetime, in hours.
    #[arg(long, env = "SESSION_TTL_HOURS", default_value_t = 24)]
    pub session_ttl_hours: i64,

    /// Requests per minute per client IP (all routes).
    #[arg(long, env = "RATE_LIMIT_PER_MINUTE", default_value_t = 300)]
    pub rate_limit_per_minute: u64,

    /// Login attempts per minute per client IP.
    #[arg(long, env = "LOGIN_RATE_LIMIT_PER_MINUTE", default_value_t = 5)]
    pub login_rate_limit_per_minute: u64,

    /// Take the client IP from `X-Forwarded-For` (only behind a trusted proxy).
    #[arg(long, env = "TRUST_PROXY", default_value_t = false, action = clap::ArgAction::Set)]
    pub trust_proxy: bool,

    /// How often (milliseconds) the audit relay ships the outbox to MongoDB.
    #[arg(long, env = "AUDIT_RELAY_INTERVAL_MS", default_value_t = 1000)]
    pub audit_relay_interval_ms: u64,

    /// How long (hours) shipped `audit_outbox` rows are kept before the relay deletes them
    /// (MongoDB holds the events; the rows are only kept for inspection and re-shipping).
    #[arg(long, env = "AUDIT_OUTBOX_RETENTION_HOURS", default_value_t = 168)]
    pub audit_outbox_retention_hours: u32,

    /// The clinic's IANA time zone: schedules and slot dates are local to it.
    #[arg(long, env = "CLINIC_TIMEZONE", default_value = "UTC")]
    pub clinic_timezone: String,

    /// Serve availability from Redis (`slots:{doctorId}:{date}`); off only for benchmarks.
    #[arg(long, env = "SLOT_CACHE_ENABLED", default_value_t = true, action = clap::ArgAction::Set)]
    pub slot_cache_enabled: bool,

    /// How many days ahead time slots are generated.
    #[arg(long, env = "SLOT_HORIZON_DAYS", default_value_t = 60)]
    pub slot_horizon_days: i64,

    /// How many hours before the start a patient may still cancel itself.
    #[arg(long, env = "PATIENT_CANCEL_NOTICE_HOURS", default_value_t = 24)]
    pub patient_cancel_notice_hours: i64,

    /// A no-show can be recorded from this many minutes after a visit's start.
    #[arg(long, env = "NO_SHOW_GRACE_MINUTES", default_value_t = 15)]
    pub no_show_grace_minutes: i64,

    /// The fee billed for a no-show (a decimal like 25.00); empty: no-shows are not billed.
    #[arg(long, env = "NO_SHOW_FEE", default_value = "")]
    pub no_show_fee: String,

    /// A patient with this many no-shows in the last 90 days cannot book online (the desk
    /// still can); 0: no such policy.
    #[arg(long, env = "NO_SHOW_BOOKING_LIMIT", default_value_t = 0)]
    pub no_show_booking_limit: i64,

    /// A doctor may start an appointment from this many minutes before its start, not earlier
    /// (starting, then completing, is what bills a visit).
    #[arg(long, env = "START_EARLY_MINUTES", default_value_t = 60)]
    pub start_early_minutes: i64,

    /// Arrival can be confirmed on the appointment's own day only (in the clinic's zone).
    #[arg(long, env = "CONFIRM_ON_THE_DAY", default_value_t = true, action = clap::ArgAction::Set)]
    pub confirm_on_the_day: bool,

    /// Patients cannot book (or move to) a slot starting within this many hours; staff can.
    /// 0: up to the start. A doctor may set its own.
    #[arg(long, env = "BOOKING_MIN_NOTICE_HOURS", default_value_t = 0)]
    pub booking_min_notice_hours: i64,

    /// Patients cannot book a slot starting more than this many days ahead; staff can. 0: no
    /// limit but the slot horizon. A doctor may set its own.
    #[arg(long, env = "BOOKING_MAX_ADVANCE_DAYS", default_value_t = 0)]
    pub booking_max_advance_days: i64,

    /// How long a waitlist offer holds its slot for the patient, in minutes.
    #[arg(long, env = "WAITLIST_HOLD_MINUTES", default_value_t = 30)]
    pub waitlist_hold_minutes: i64,

    /// How often the waitlist job expires offers and makes new ones, in seconds (slots freed
    /// by cancellations and moves are offered at once; this catches the rest).
    #[arg(long, env = "WAITLIST_MATCH_SECS", default_value_t = 30)]
    pub waitlist_match_secs: u64,

    /// Webhook receivers may be only at public addresses, plus these networks:
    /// comma-separated addresses or CIDR ranges (`10.20.0.0/16,127.0.0.1`). Empty: public only.
    #[arg(long, env = "WEBHOOK_ALLOWED_NETWORKS", default_value = "")]
    pub webhook_allowed_networks: String,

    /// Whether webhook URLs must use https (set false only for receivers on a trusted network).
    #[arg(long, env = "WEBHOOK_REQUIRE_HTTPS", default_value_t = true, action = clap::ArgAction::Set)]
    pub webhook_require_https: bool,

    /// How long one webhook request may take, in milliseconds, before it counts as failed.
    #[arg(long, env = "WEBHOOK_TIMEOUT_MS", default_value_t = 10_000)]
    pub webhook_timeout_ms: u64,

    /// The first retry's delay after a failed webhook delivery, in seconds; it doubles per
    /// attempt up to `WEBHOOK_RETRY_MAX_SECS`.
    #[arg(long, env = "WEBHOOK_RETRY_BASE_SECS", default_value_t = 30)]
    pub webhook_retry_base_secs: i64,

    /// The longest delay between two attempts of a webhook delivery, in seconds.
    #[arg(long, env = "WEBHOOK_RETRY_MAX_SECS", default_value_t = 3600)]
    pub webhook_retry_max_secs: i64,

    /// How long a failing webhook delivery is retried, in hours, before it is given up and its
    /// endpoint switched off.
    #[arg(long, env = "WEBHOOK_GIVE_UP_HOURS", default_value_t = 24)]
    pub webhook_give_up_hours: i64,

    /// How long the webhook delivery log keeps delivered and failed deliveries, in days.
    #[arg(long, env = "WEBHOOK_LOG_RETENTION_DAYS", default_value_t = 30)]
    pub webhook_log_retention_days: i64,

    /// How often the webhook relay looks for due deliveries, in milliseconds.
    #[arg(long, env = "WEBHOOK_RELAY_INTERVAL_MS", default_value_t = 1000)]
    pub webhook_relay_interval_ms: u64,

    /// The SMTP server emails go through, as a URL: `smtps://user:pass@host:465` (TLS from the
    /// start), `smtp://user:pass@host:587?tls=required` (STARTTLS, refused without it),
    /// `?tls=opportunistic` (STARTTLS when offered), or plain `smtp://host:25` (a relay on a
    /// trusted network only). Empty: emails are written as `.eml` files into `EMAIL_DIR` instead
    /// (and logged).
    #[arg(long, env = "SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// The sender of every email, `Name <address>` or an address.
    #[arg(
        long,
        env = "EMAIL_FROM",
        default_value = "HealthSync <no-reply@healthsync.invalid>"
    )]
    pub email_from: String,

    /// Where emails are written when `SMTP_URL` is empty.
    #[arg(long, env = "EMAIL_DIR", default_value = ".stack/mail")]
    pub email_dir: String,

    /// The clinic's name, as emails say it.
    #[arg(long, env = "CLINIC_NAME", default_value = "HealthSync Clinic")]
    pub clinic_name: String,

    /// The web app's address: links in emails (password reset, bills, appointments) point
    /// into it, e.g. `https://app.clinic.example`.
    #[arg(long, env = "APP_URL", default_value = "http://localhost:5173")]
    pub app_url: String,

    /// How long one whole SMTP send may take (connecting included), in milliseconds, before
    /// the attempt counts as failed (and is retried). The relay's lease is four times this.
    #[arg(long, env = "EMAIL_TIMEOUT_MS", default_value_t = 10_000)]
    pub email_timeout_ms: u64,

    /// The first retry's delay after an email could not be sent, in seconds; it doubles per
    /// attempt up to `EMAIL_RETRY_MAX_SECS`.
    #[arg(long, env = "EMAIL_RETRY_BASE_SECS", default_value_t = 30)]
    pub email_retry_base_secs: i64,

    /// The longest delay between two attempts of an email, in seconds.
    #[arg(long, env = "EMAIL_RETRY_MAX_SECS", default_value_t = 3600)]
    pub email_retry_max_secs: i64,

    /// How long an email is retried, in hours, before it is given up (FAILED).
    #[arg(long, env = "EMAIL_GIVE_UP_HOURS", default_value_t = 24)]
    pub email_give_up_hours: i64,

    /// How often the email relay looks for due emails, in milliseconds.
    #[arg(long, env = "EMAIL_RELAY_INTERVAL_MS", default_value_t = 1000)]
    pub email_relay_interval_ms: u64,

    /// How long sent and failed emails stay in the outbox, in days.
    #[arg(long, env = "EMAIL_LOG_RETENTION_DAYS", default_value_t = 30)]
    pub email_log_retention_days: i64,

    /// How long a password reset link works, in minutes.
    #[arg(long, env = "PASSWORD_RESET_TTL_MINUTES", default_value_t = 30)]
    pub password_reset_ttl_minutes: i64,

    /// Password reset requests per hour for one email address (whether or not an account uses
    /// it).
    #[arg(long, env = "PASSWORD_RESET_PER_EMAIL_PER_HOUR", default_value_t = 3)]
    pub password_reset_per_email_per_hour: u64,

    /// The least time a password reset request takes to answer, in milliseconds: both paths
    /// (an account uses the address or not) wait until then, so timing tells nothing.
    #[arg(long, env = "PASSWORD_RESET_RESPONSE_MS", default_value_t = 250)]
    pub password_reset_response_ms: u64,

    /// Password reset requests and uses per hour from one client IP.
    #[arg(long, env = "PASSWORD_RESET_PER_IP_PER_HOUR", default_value_t = 20)]
    pub password_reset_per_ip_per_hour: u64,

    /// How long before an appointment its REMINDER notification is written, in minutes.
    #[arg(long, env = "REMINDER_LEAD_MINUTES", default_value_t = 1440)]
    pub reminder_lead_minutes: i64,

    /// How often (seconds) the reminder job looks for due appointments.
    #[arg(long, env = "REMINDER_INTERVAL_SECS", default_value_t = 60)]
    pub reminder_interval_secs: u64,

    /// Largest accepted JSON body, in bytes.
    #[arg(long, env = "JSON_BODY_LIMIT", default_value_t = 64 * 1024)]
    pub json_body_limit: usize,

    /// How often (seconds) an idle live notification stream sends a keep-alive and re-checks
    /// the session (a logged-out user's stream ends within this).
    #[arg(long, env = "LIVE_KEEPALIVE_SECS", default_value_t = 15)]
    pub live_keepalive_secs: u64,

    /// How many live notification streams one user may hold open at once (per process).
    #[arg(long, env = "LIVE_MAX_STREAMS_PER_USER", default_value_t = 5)]
    pub live_max_streams_per_user: usize,

    /// Days a completed visit's conversation stays open for messages (from the visit's end).
    #[arg(long, env = "CHAT_WRITE_WINDOW_DAYS", default_value_t = 14)]
    pub chat_write_window_days: i64,

    /// How many chat sockets one user may hold open at once (per process).
    #[arg(long, env = "CHAT_MAX_SOCKETS_PER_USER", default_value_t = 5)]
    pub chat_max_sockets_per_user: usize,

    /// Messages per second one chat socket may send, on average (a token bucket).
    #[arg(long, env = "CHAT_SOCKET_RATE_PER_SEC", default_value_t = 5)]
    pub chat_socket_rate_per_sec: u32,

    /// How many messages a chat socket may send in a burst before the rate applies.
    #[arg(long, env = "CHAT_SOCKET_BURST", default_value_t = 20)]
    pub chat_socket_burst: u32,

    /// Days after completion a visit's bill is due; unpaid after that it becomes OVERDUE.
    #[arg(long, env = "BILL_DUE_DAYS", default_value_t = 30)]
    pub bill_due_days: i64,

    /// How often (seconds) the OVERDUE job looks for bills past their due date.
    #[arg(long, env = "OVERDUE_INTERVAL_SECS", default_value_t = 300)]
    pub overdue_interval_secs: u64,

    /// Largest accepted medical record file, in bytes (default 20 MiB).
    #[arg(long, env = "UPLOAD_MAX_BYTES", default_value_t = 20 * 1024 * 1024)]
    pub upload_max_bytes: u64,

    /// An upload that sends nothing for this long (seconds) is abandoned with 408.
    #[arg(long, env = "UPLOAD_IDLE_TIMEOUT_SECS", default_value_t = 30)]
    pub upload_idle_timeout_secs: u64,

    /// Where medical record files are kept: `local` (a directory) or `s3`.
    #[arg(long, env = "FILE_STORE", default_value = "local")]
    pub file_store: String,

    /// The directory of the `local` file store.
    #[arg(long, env = "FILE_STORE_DIR", default_value = ".stack/files")]
    pub file_store_dir: String,

    /// The bucket of the `s3` file store.
    #[arg(long, env = "S3_BUCKET", default_value = "")]
    pub s3_bucket: String,

    /// The bucket's region.
    #[arg(long, env = "S3_REGION", default_value = "us-east-1")]
    pub s3_region: String,

    /// An S3-compatible endpoint (MinIO, Ceph); unset for AWS.
    #[arg(long, env = "S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,

    /// Access key id (else the AWS environment/instance credentials).
    #[arg(long, env = "S3_ACCESS_KEY_ID", hide_env_values = true)]
    pub s3_access_key_id: Option<String>,

    /// Secret access key.
    #[arg(long, env = "S3_SECRET_ACCESS_KEY", hide_env_values = true)]
    pub s3_secret_access_key: Option<String>,

    /// Allow a plain-http S3 endpoint (local MinIO only).
    #[arg(long, env = "S3_ALLOW_HTTP", default_value_t = false, action = clap::ArgAction::Set)]
    pub s3_allow_http: bool,
}

/// The allowed range (inclusive) of every numeric setting, by environment variable. The
/// README's configuration table lists the same ranges.
pub const RANGES: &[(&str, i128, i128)] = &[
    ("DATABASE_POOL_SIZE", 1, 512),
    ("MONGODB_POOL_SIZE", 1, 512),
    ("STORE_TIMEOUT_MS", 50, 60_000),
    ("STORE_BREAKER_FAILURES", 1, 1000),
    ("STORE_BREAKER_PROBE_MS", 50, 600_000),
    ("JSON_BODY_LIMIT", 1024, 16 * 1024 * 1024),
    ("SESSION_TTL_HOURS", 1, 720),
    ("RATE_LIMIT_PER_MINUTE", 1, 100_000_000),
    ("LOGIN_RATE_LIMIT_PER_MINUTE", 1, 100_000),
    ("AUDIT_RELAY_INTERVAL_MS", 50, 3_600_000),
    ("AUDIT_OUTBOX_RETENTION_HOURS", 1, 87_600),
    ("SLOT_HORIZON_DAYS", 1, 366),
    ("PATIENT_CANCEL_NOTICE_HOURS", 0, 720),
    ("START_EARLY_MINUTES", 0, 525_600),
    ("NO_SHOW_GRACE_MINUTES", 0, 1440),
    ("NO_SHOW_BOOKING_LIMIT", 0, 100),
    ("BOOKING_MIN_NOTICE_HOURS", 0, 8760),
    ("BOOKING_MAX_ADVANCE_DAYS", 0, 3650),
    ("WAITLIST_HOLD_MINUTES", 1, 1440),
    ("WAITLIST_MATCH_SECS", 1, 3600),
    ("WEBHOOK_TIMEOUT_MS", 100, 60_000),
    ("WEBHOOK_RETRY_BASE_SECS", 1, 3600),
    ("WEBHOOK_RETRY_MAX_SECS", 1, 86_400),
    ("WEBHOOK_GIVE_UP_HOURS", 1, 168),
    ("WEBHOOK_RELAY_INTERVAL_MS", 10, 60_000),
    ("WEBHOOK_LOG_RETENTION_DAYS", 1, 3650),
    ("EMAIL_TIMEOUT_MS", 100, 120_000),
    ("EMAIL_RETRY_BASE_SECS", 1, 3600),
    ("EMAIL_RETRY_MAX_SECS", 1, 86_400),
    ("EMAIL_GIVE_UP_HOURS", 1, 168),
    ("EMAIL_RELAY_INTERVAL_MS", 10, 60_000),
    ("EMAIL_LOG_RETENTION_DAYS", 1, 3650),
    ("PASSWORD_RESET_TTL_MINUTES", 5, 1440),
    ("PASSWORD_RESET_PER_EMAIL_PER_HOUR", 1, 1000),
    ("PASSWORD_RESET_PER_IP_PER_HOUR", 1, 100_000),
    ("PASSWORD_RESET_RESPONSE_MS", 0, 5000),
    ("REMINDER_LEAD_MINUTES", 1, 10_080),
    ("REMINDER_INTERVAL_SECS", 1, 86_400),
    ("LIVE_KEEPALIVE_SECS", 1, 300),
    ("LIVE_MAX_STREAMS_PER_USER", 1, 100),
    ("CHAT_WRITE_WINDOW_DAYS", 0, 365),
    ("CHAT_MAX_SOCKETS_PER_USER", 1, 100),
    ("CHAT_SOCKET_RATE_PER_SEC", 1, 1000),
    ("CHAT_SOCKET_BURST", 1, 10_000),
    ("BILL_DUE_DAYS", 0, 3650),
    ("OVERDUE_INTERVAL_SECS", 1, 86_400),
    ("UPLOAD_MAX_BYTES", 1024, 5 * 1024 * 1024 * 1024),
    ("UPLOAD_IDLE_TIMEOUT_SECS", 1, 3600),
];

impl Config {
    /// The store timeout as a [`Duration`].
    pub fn store_timeout(&self) -> Duration {
        Duration::from_millis(self.store_timeout_ms)
    }

    /// When a store's circuit breaker opens, and how often it is probed while open.
    pub fn breaker_policy(&self) -> domain::breaker::BreakerPolicy {
        domain::breaker::BreakerPolicy {
            failures: self.store_breaker_failures,
            cooldown: chrono::Duration::milliseconds(
                i64::try_from(self.store_breaker_probe_ms).unwrap_or(i64::MAX),
            ),
        }
    }

    /// The configuration from the environment alone (no command-line flags), as tests use it.
    pub fn from_env() -> Self {
        #[derive(clap::Parser)]
        struct Only {
            #[command(flatten)]
            config: Config,
        }
        <Only as clap::Parser>::parse_from(["healthsync"]).config
    }

    /// The clinic's no-show rule; the fee must be an amount (0.00 to 99999999.99).
    pub fn no_show(&self) -> anyhow::Result<domain::appointments::NoShowPolicy> {
        let fee = match self.no_show_fee.trim() {
            "" => None,
            raw => Some(
                domain::money::Money::parse(raw, "NO_SHOW_FEE").map_err(|_| {
                    anyhow::anyhow!(
                    "NO_SHOW_FEE must be an amount like 25.00 (or empty for no fee), got {raw:?}"
                )
                })?,
            ),
        };
        Ok(domain::appointments::NoShowPolicy {
            grace: chrono::Duration::minutes(self.no_show_grace_minutes.max(0)),
            fee,
            booking_limit: u32::try_from(self.no_show_booking_limit)
                .ok()
                .filter(|n| *n > 0),
        })
    }

    /// The clinic's booking window for patients (the ranges are checked at start-up).
    pub fn booking_window(&self) -> domain::appointments::booking::BookingWindow {
        domain::appointments::booking::BookingWindow {
            min_notice_hours: u32::try_from(self.booking_min_notice_hours).unwrap_or(0),
            max_advance_days: u32::try_from(self.booking_max_advance_days)
                .ok()
                .filter(|d| *d > 0),
        }
    }

    /// Where webhook requests may go (`WEBHOOK_ALLOWED_NETWORKS`).
    pub fn webhook_policy(&self) -> anyhow::Result<domain::webhooks::addresses::AddressPolicy> {
        domain::webhooks::addresses::AddressPolicy::parse(&self.webhook_allowed_networks)
            .map_err(|e| anyhow::anyhow!("WEBHOOK_ALLOWED_NETWORKS: {e}"))
    }

    /// How the webhook relay retries and leases (the ranges are checked at start-up).
    pub fn webhook_relay(&self) -> domain::webhooks::service::RelaySettings {
        domain::webhooks::service::RelaySettings {
            retry: domain::retry::RetryPolicy {
                base: chrono::Duration::seconds(self.webhook_retry_base_secs),
                max: chrono::Duration::seconds(self.webhook_retry_max_secs),
                give_up_after: chrono::Duration::hours(self.webhook_give_up_hours),
            },
            // Renewed at every attempt; a crashed process's endpoints wait this long.
            lease: chrono::Duration::milliseconds(
                i64::try_from(self.webhook_timeout_ms).unwrap_or(10_000) * 3,
            )
            .max(chrono::Duration::seconds(30)),
            endpoints_per_pass: 16,
            deliveries_per_claim: 100,
        }
    }

    /// How the email relay retries and leases (the ranges are checked at start-up).
    pub fn email_relay(&self) -> domain::email::relay::RelaySettings {
        domain::email::relay::RelaySettings {
            retry: domain::retry::RetryPolicy {
                base: chrono::Duration::seconds(self.email_retry_base_secs),
                max: chrono::Duration::seconds(self.email_retry_max_secs),
                give_up_after: chrono::Duration::hours(self.email_give_up_hours),
            },
            // Renewed before each send: a few timeouts, so a slow server never lets a second
            // relay take an email that is being sent.
            lease: chrono::Duration::milliseconds(
                i64::try_from(self.email_timeout_ms).unwrap_or(10_000) * 4,
            )
            .max(chrono::Duration::seconds(30)),
            batch: 20,
        }
    }

    /// `APP_URL` without a trailing slash, refusing anything but an http(s) URL.
    pub fn app_url(&self) -> anyhow::Result<String> {
        let parsed = url::Url::parse(&self.app_url)
            .map_err(|e| anyhow::anyhow!("APP_URL {:?} is not a URL: {e}", self.app_url))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            anyhow::bail!("APP_URL must be an http(s) address, got {:?}", self.app_url);
        }
        Ok(self.app_url.trim_end_matches('/').to_owned())
    }

    /// The configured email sender: SMTP when `SMTP_URL` is set, else `.eml` files.
    pub fn email_sender(
        &self,
        clock: std::sync::Arc<dyn domain::clock::Clock>,
    ) -> anyhow::Result<std::sync::Arc<dyn domain::email::EmailSender>> {
        let from = adapters_email::parse_from(&self.email_from).map_err(|e| anyhow::anyhow!(e))?;
        Ok(match self.smtp_url.as_deref().map(str::trim) {
            Some(url) if !url.is_empty() => std::sync::Arc::new(
                adapters_email::SmtpSender::new(
                    url,
                    from,
                    Duration::from_millis(self.email_timeout_ms),
                )
                .map_err(|e| anyhow::anyhow!(e))?,
            ),
            _ => std::sync::Arc::new(adapters_email::DirSender::new(&self.email_dir, from, clock)),
        })
    }

    /// The clinic's time zone, refusing an unknown name.
    pub fn timezone(&self) -> anyhow::Result<chrono_tz::Tz> {
        self.clinic_timezone.parse().map_err(|_| {
            anyhow::anyhow!(
                "CLINIC_TIMEZONE {:?} is not an IANA time zone",
                self.clinic_timezone
            )
        })
    }

    /// How long an upload may stall.
    pub fn upload_idle_timeout(&self) -> Duration {
        Duration::from_secs(self.upload_idle_timeout_secs)
    }

    /// Refuses a configuration with a value outside its allowed range (see [`RANGES`]), an
    /// unknown `LOG_FORMAT` or `FILE_STORE`, `FILE_STORE=s3` without `S3_BUCKET`, or an unknown
    /// `CLINIC_TIMEZONE`. The error names every offending variable, its allowed values and the
    /// value given. Called by `healthsync` before any command that uses the configuration, and
    /// by [`crate::state::AppState::build`] (tests adjust a parsed configuration).
    pub fn validate(&self) -> anyhow::Result<()> {
        let mut problems = Vec::new();
        for &(name, min, max) in RANGES {
            let value = self.numeric(name);
            if !(min..=max).contains(&value) {
                problems.push(format!(
                    "{name} must be between {min} and {max}, got {value}"
                ));
            }
        }
        if !matches!(self.log_format.as_str(), "json" | "pretty") {
            problems.push(format!(
                "LOG_FORMAT must be json or pretty, got {:?}",
                self.log_format
            ));
        }
        match self.file_store.as_str() {
            "local" => {}
            "s3" if self.s3_bucket.is_empty() => {
                problems.push("FILE_STORE=s3 needs S3_BUCKET".to_owned());
            }
            "s3" => {}
            other => problems.push(format!("FILE_STORE must be local or s3, got {other:?}")),
        }
        if let Err(e) = self.timezone() {
            problems.push(e.to_string());
        }
        if let Err(e) = self.no_show() {
            problems.push(e.to_string());
        }
        if let Err(e) = self.webhook_policy() {
            problems.push(e.to_string());
        }
        if let Err(e) = self.app_url() {
            problems.push(e.to_string());
        }
        if let Err(e) = adapters_email::parse_from(&self.email_from) {
            problems.push(e);
        }
        if let Some(raw) = self.smtp_url.as_deref().filter(|u| !u.trim().is_empty()) {
            let scheme = url::Url::parse(raw.trim()).map(|u| u.scheme().to_owned());
            if !matches!(scheme.as_deref(), Ok("smtp" | "smtps")) {
                // Not the value: it may hold a password.
                problems.push("SMTP_URL must be an smtp:// or smtps:// URL".to_owned());
            }
        }
        for origin in self.cors_origins() {
            if !is_origin(&origin) {
                problems.push(format!(
                    "CORS_ALLOWED_ORIGINS must list origins like https://app.example or \
                     http://localhost:5173 (scheme, host, optional port; no path), got {origin:?}"
                ));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            anyhow::bail!("invalid configuration: {}", problems.join("; "))
        }
    }

    /// The value of the numeric setting named by its environment variable.
    fn numeric(&self, name: &str) -> i128 {
        let to = |v: usize| i128::try_from(v).unwrap_or(i128::MAX);
        match name {
            "DATABASE_POOL_SIZE" => to(self.database_pool_size),
            "MONGODB_POOL_SIZE" => self.mongodb_pool_size.into(),
            "STORE_TIMEOUT_MS" => self.store_timeout_ms.into(),
            "STORE_BREAKER_FAILURES" => self.store_breaker_failures.into(),
            "STORE_BREAKER_PROBE_MS" => self.store_breaker_probe_ms.into(),
            "JSON_BODY_LIMIT" => to(self.json_body_limit),
            "SESSION_TTL_HOURS" => self.session_ttl_hours.into(),
            "RATE_LIMIT_PER_MINUTE" => self.rate_limit_per_minute.into(),
            "LOGIN_RATE_LIMIT_PER_MINUTE" => self.login_rate_limit_per_minute.into(),
            "AUDIT_RELAY_INTERVAL_MS" => self.audit_relay_interval_ms.into(),
            "AUDIT_OUTBOX_RETENTION_HOURS" => self.audit_outbox_retention_hours.into(),
            "SLOT_HORIZON_DAYS" => self.slot_horizon_days.into(),
            "PATIENT_CANCEL_NOTICE_HOURS" => self.patient_cancel_notice_hours.into(),
            "START_EARLY_MINUTES" => self.start_early_minutes.into(),
            "NO_SHOW_GRACE_MINUTES" => self.no_show_grace_minutes.into(),
            "NO_SHOW_BOOKING_LIMIT" => self.no_show_booking_limit.into(),
            "BOOKING_MIN_NOTICE_HOURS" => self.booking_min_notice_hours.into(),
            "BOOKING_MAX_ADVANCE_DAYS" => self.booking_max_advance_days.into(),
            "WAITLIST_HOLD_MINUTES" => self.waitlist_hold_minutes.into(),
            "WAITLIST_MATCH_SECS" => self.waitlist_match_secs.into(),
            "WEBHOOK_TIMEOUT_MS" => self.webhook_timeout_ms.into(),
            "WEBHOOK_RETRY_BASE_SECS" => self.webhook_retry_base_secs.into(),
            "WEBHOOK_RETRY_MAX_SECS" => self.webhook_retry_max_secs.into(),
            "WEBHOOK_GIVE_UP_HOURS" => self.webhook_give_up_hours.into(),
            "WEBHOOK_RELAY_INTERVAL_MS" => self.webhook_relay_interval_ms.into(),
            "WEBHOOK_LOG_RETENTION_DAYS" => self.webhook_log_retention_days.into(),
            "EMAIL_TIMEOUT_MS" => self.email_timeout_ms.into(),
            "EMAIL_RETRY_BASE_SECS" => self.email_retry_base_secs.into(),
            "EMAIL_RETRY_MAX_SECS" => self.email_retry_max_secs.into(),
            "EMAIL_GIVE_UP_HOURS" => self.email_give_up_hours.into(),
            "EMAIL_RELAY_INTERVAL_MS" => self.email_relay_interval_ms.into(),
            "EMAIL_LOG_RETENTION_DAYS" => self.email_log_retention_days.into(),
            "PASSWORD_RESET_TTL_MINUTES" => self.password_reset_ttl_minutes.into(),
            "PASSWORD_RESET_PER_EMAIL_PER_HOUR" => self.password_reset_per_email_per_hour.into(),
            "PASSWORD_RESET_PER_IP_PER_HOUR" => self.password_reset_per_ip_per_hour.into(),
            "PASSWORD_RESET_RESPONSE_MS" => self.password_reset_response_ms.into(),
            "REMINDER_LEAD_MINUTES" => self.reminder_lead_minutes.into(),
            "REMINDER_INTERVAL_SECS" => self.reminder_interval_secs.into(),
            "LIVE_KEEPALIVE_SECS" => self.live_keepalive_secs.into(),
            "LIVE_MAX_STREAMS_PER_USER" => to(self.live_max_streams_per_user),
            "CHAT_WRITE_WINDOW_DAYS" => self.chat_write_window_days.into(),
            "CHAT_MAX_SOCKETS_PER_USER" => to(self.chat_max_sockets_per_user),
            "CHAT_SOCKET_RATE_PER_SEC" => self.chat_socket_rate_per_sec.into(),
            "CHAT_SOCKET_BURST" => self.chat_socket_burst.into(),
            "BILL_DUE_DAYS" => self.bill_due_days.into(),
            "OVERDUE_INTERVAL_SECS" => self.overdue_interval_secs.into(),
            "UPLOAD_MAX_BYTES" => self.upload_max_bytes.into(),
            "UPLOAD_IDLE_TIMEOUT_SECS" => self.upload_idle_timeout_secs.into(),
            other => unreachable!("{other} is not a numeric setting"),
        }
    }

    /// The allowed CORS origins, trimmed, empty entries dropped.
    pub fn cors_origins(&self) -> Vec<String> {
        self.cors_allowed_origins
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The configured file store for medical records.
    pub fn file_store(
        &self,
    ) -> anyhow::Result<std::sync::Arc<dyn domain::medical_records::FileStore>> {
        match self.file_store.as_str() {
            "local" => Ok(std::sync::Arc::new(adapters_files::LocalDirStore::new(
                &self.file_store_dir,
            ))),
            "s3" => {
                if self.s3_bucket.is_empty() {
                    anyhow::bail!("FILE_STORE=s3 needs S3_BUCKET");
                }
                let store = adapters_files::ObjectStoreFiles::s3(&adapters_files::S3Config {
                    bucket: self.s3_bucket.clone(),
                    region: self.s3_region.clone(),
                    endpoint: self.s3_endpoint.clone(),
                    access_key_id: self.s3_access_key_id.clone(),
                    secret_access_key: self.s3_secret_access_key.clone(),
                    allow_http: self.s3_allow_http,
                })
                .map_err(|e| anyhow::anyhow!("S3 file store: {e}"))?;
                Ok(std::sync::Arc::new(store))
            }
            other => anyhow::bail!("FILE_STORE must be local or s3, not {other:?}"),
        }
    }

    /// The signing secret, refusing to start without a strong one.
    pub fn jwt_secret(&self) -> anyhow::Result<&str> {
        match self.jwt_secret.as_deref() {
            Some(s) if s.len() >= 32 => Ok(s),
            Some(_) => anyhow::bail!("JWT_SECRET must be at least 32 characters"),
            None => {
                anyhow::bail!("JWT_SECRET is not set (make run generates one in .stack/jwt_secret)")
            }
        }
    }
}

/// `scheme://host[:port]` and nothing else: what a browser sends as `Origin`.
fn is_origin(origin: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    matches!(scheme, "http" | "https")
        && !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        && port.is_none_or(|p| p.parse::<u16>().is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(config: &Config) -> String {
        config.validate().unwrap_err().to_string()
    }

    #[test]
    fn the_defaults_are_valid() {
        Config::from_env().validate().unwrap();
    }

    #[test]
    fn cors_origins_are_origins_and_nothing_more() {
        let mut config = Config::from_env();
        config.cors_allowed_origins =
            " https://app.clinic.example , http://localhost:5173,".to_owned();
        config.validate().unwrap();
        assert_eq!(
            config.cors_origins(),
            ["https://app.clinic.example", "http://localhost:5173"]
        );
        for bad in [
            "*",
            "app.example",
            "https://app.example/path",
            "ftp://x",
            "http://h:99999",
        ] {
            config.cors_allowed_origins = bad.to_owned();
            assert!(message(&config).contains("CORS_ALLOWED_ORIGINS"), "{bad}");
        }
    }

    #[test]
    fn every_range_names_a_numeric_setting_and_holds_its_default() {
        let config = Config::from_env();
        for &(name, min, max) in RANGES {
            assert!(
                min <= config.numeric(name) && config.numeric(name) <= max,
                "{name}"
            );
        }
    }

    #[test]
    fn a_value_below_its_range_is_refused_with_the_variable_and_the_range() {
        let mut config = Config::from_env();
        config.session_ttl_hours = 0;
        assert!(message(&config).contains("SESSION_TTL_HOURS must be between 1 and 720, got 0"));
        let mut config = Config::from_env();
        config.database_pool_size = 0;
        assert!(message(&config).contains("DATABASE_POOL_SIZE must be between 1 and 512, got 0"));
        let mut config = Config::from_env();
        config.patient_cancel_notice_hours = -1;
        assert!(message(&config)
            .contains("PATIENT_CANCEL_NOTICE_HOURS must be between 0 and 720, got -1"));
    }

    #[test]
    fn a_value_above_its_range_is_refused_with_the_variable_and_the_range() {
        let mut config = Config::from_env();
        config.slot_horizon_days = 367;
        assert!(message(&config).contains("SLOT_HORIZON_DAYS must be between 1 and 366, got 367"));
        let mut config = Config::from_env();
        config.bill_due_days = 3651;
        assert!(message(&config).contains("BILL_DUE_DAYS must be between 0 and 3650, got 3651"));
        let mut config = Config::from_env();
        config.upload_max_bytes = u64::MAX;
        assert!(message(&config).contains("UPLOAD_MAX_BYTES must be between 1024 and"));
    }

    #[test]
    fn the_bounds_themselves_are_allowed() {
        let mut config = Config::from_env();
        config.session_ttl_hours = 720;
        config.patient_cancel_notice_hours = 0;
        config.audit_relay_interval_ms = 50;
        config.validate().unwrap();
    }

    #[test]
    fn every_problem_is_named_at_once() {
        let mut config = Config::from_env();
        config.live_keepalive_secs = 0;
        config.reminder_interval_secs = 0;
        let message = message(&config);
        assert!(message.contains("LIVE_KEEPALIVE_SECS"), "{message}");
        assert!(message.contains("REMINDER_INTERVAL_SECS"), "{message}");
    }

    #[test]
    fn enumerated_settings_and_the_time_zone_are_checked() {
        let mut config = Config::from_env();
        config.log_format = "xml".into();
        assert!(message(&config).contains("LOG_FORMAT must be json or pretty, got \"xml\""));
        let mut config = Config::from_env();
        config.file_store = "ftp".into();
        assert!(message(&config).contains("FILE_STORE must be local or s3"));
        let mut config = Config::from_env();
        config.file_store = "s3".into();
        config.s3_bucket = String::new();
        assert!(message(&config).contains("FILE_STORE=s3 needs S3_BUCKET"));
        let mut config = Config::from_env();
        config.clinic_timezone = "Mars/Olympus".into();
        assert!(message(&config).contains("CLINIC_TIMEZONE"));
    }
}
