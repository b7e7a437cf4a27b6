//! What every handler can reach: configuration, the stores' clients and the use cases, wired
//! once at start-up (this is the composition root of the hexagon).

use std::sync::Arc;

use adapters_mongo::{MongoAuditLog, MongoConfig, MongoProbe, MongoStore};
use adapters_postgres::pool::{build_pool, PgPool, PgPoolConfig};
use adapters_postgres::{
    PgAppointmentRepository, PgAuditOutbox, PgDirectoryRepository, PgProbe, PgScheduleRepository,
    PgUserRepository,
};
use adapters_redis::{
    RedisConfig, RedisProbe, RedisRateLimiter, RedisSessionStore, RedisSlotCache, RedisStore,
};
use domain::appointments::AppointmentService;
use domain::audit::AuditRelay;
use domain::clock::{Clock, SystemClock};
use domain::directory::DirectoryService;
use domain::health::StoreProbe;
use domain::identity::IdentityService;
use domain::scheduling::{NoSlotCache, SchedulingService, SlotCache};

use crate::auth::password::Argon2Hasher;
use crate::auth::tokens::TokenService;
use crate::config::Config;

/// Ports the composition root would otherwise build from the configuration; tests inject
/// their own (a [`domain::clock::ManualClock`], an in-memory or failing file store). `None`
/// means "the real one".
#[derive(Clone, Default)]
pub struct Ports {
    /// The clock of every use case (default: [`SystemClock`]).
    pub clock: Option<Arc<dyn Clock>>,
    /// The medical records' file store (default: the one `FILE_STORE` names).
    pub file_store: Option<Arc<dyn domain::medical_records::FileStore>>,
}

/// Shared application state, built once at start-up.
pub struct AppState {
    pub config: Config,
    /// The clock every use case was given.
    pub clock: Arc<dyn Clock>,
    pub pg: PgPool,
    pub redis: RedisStore,
    pub mongo: MongoStore,
    /// The stores `/ready` checks, in the order it reports them.
    pub probes: Vec<Arc<dyn StoreProbe>>,
    pub tokens: TokenService,
    pub identity: IdentityService,
    /// Password reset links (asked for by the user, or sent by an admin).
    pub password_resets: domain::identity::PasswordResets,
    /// Sends the email outbox (see `jobs::spawn_email_relay`).
    pub email_relay: domain::email::relay::EmailRelay,
    pub email_preferences: domain::email::EmailPreferenceService,
    /// Single-use tickets that open the live stream from a browser.
    pub stream_tickets: domain::identity::tickets::StreamTickets,
    pub directory: DirectoryService,
    pub audit_log: MongoAuditLog,
    pub audit_relay: AuditRelay,
    pub rate_limiter: RedisRateLimiter,
    pub scheduling: Arc<SchedulingService>,
    pub appointments: AppointmentService,
    /// Shared with the services that free slots, which tell it to offer them at once.
    pub waitlist: Arc<domain::waitlist::WaitlistService>,
    pub webhooks: Arc<domain::webhooks::WebhookService>,
    pub calendar_feeds: domain::calendar::CalendarFeedService,
    pub idempotency: domain::idempotency::Idempotency,
    pub notifications: domain::notifications::NotificationService,
    pub billing: domain::billing::BillingService,
    pub prescriptions: domain::prescriptions::PrescriptionService,
    pub medical_records: domain::medical_records::MedicalRecordService,
    /// Committed notifications, announced by PostgreSQL, fanned out to the live streams.
    pub live: crate::live::LiveHub,
    pub chat: domain::chat::service::ChatService,
    /// The dashboard, cached in Redis at `analytics:{scope}:{range}`.
    pub analytics: domain::analytics::service::AnalyticsService,
    /// The dashboard's daily roll-up in PostgreSQL (folded by a job; see `jobs`).
    pub analytics_rollup: adapters_postgres::PgAnalyticsRepository,
    /// Announced chat events, routed to this process's chat sockets.
    pub chat_hub: crate::chat::ChatHub,
}

impl AppState {
    /// Builds the pools and the use cases. Nothing connects yet: the service starts even with
    /// a store down and reports it on `/ready`.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with(config, Ports::default()).await
    }

    /// [`AppState::build`] with some ports injected instead of built from the configuration.
    pub async fn build_with(config: Config, ports: Ports) -> anyhow::Result<Self> {
        config.validate()?;
        let clock: Arc<dyn Clock> = ports.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let files = match ports.file_store {
            Some(files) => files,
            None => config.file_store()?,
        };
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
            timeout,
            breaker: config.breaker_policy(),
        })
        .map_err(|e| anyhow::anyhow!("Redis client: {e}"))?;
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
        let tokens = TokenService::new(config.jwt_secret()?);
        let users = Arc::new(PgUserRepository { pool: pg.clone() });
        let reset_key = domain::identity::ResetKey::from_secret(config.jwt_secret()?);
        let password_resets = domain::identity::PasswordResets::new(
            users.clone(),
            Arc::new(adapters_postgres::PgPasswordResets { pool: pg.clone() }),
            Arc::new(RedisSessionStore {
                store: redis.clone(),
            }),
            Arc::new(Argon2Hasher),
            clock.clone(),
            reset_key.clone(),
            chrono::Duration::minutes(config.password_reset_ttl_minutes),
        );
        let identity = IdentityService::new(
            users,
            Arc::new(RedisSessionStore {
                store: redis.clone(),
            }),
            Arc::new(Argon2Hasher),
            clock.clone(),
            chrono::Duration::hours(config.session_ttl_hours),
            Argon2Hasher::hash_now(&uuid::Uuid::new_v4().to_string())
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        );
        let stream_tickets = domain::identity::tickets::StreamTickets::new(
            Arc::new(adapters_redis::RedisTicketStore {
                store: redis.clone(),
            }),
            clock.clone(),
        );
        let directory_repo = Arc::new(PgDirectoryRepository { pool: pg.clone() });
        let directory = DirectoryService::new(directory_repo.clone());
        // SLOT_CACHE_ENABLED=false: every availability read computes from PostgreSQL (the
        // benchmarks' cold baseline; also a way out should the cache ever misbehave).
        let slot_cache: Arc<dyn SlotCache> = if config.slot_cache_enabled {
            Arc::new(RedisSlotCache {
                store: redis.clone(),
            })
        } else {
            Arc::new(NoSlotCache)
        };
        let waitlist = Arc::new(
            domain::waitlist::WaitlistService::new(
                Arc::new(adapters_postgres::PgWaitlistRepository { pool: pg.clone() }),
                directory_repo.clone(),
                slot_cache.clone(),
                clock.clone(),
                config.timezone()?,
                chrono::Duration::minutes(config.waitlist_hold_minutes),
            )
            .with_no_show_limit(
                Arc::new(PgAppointmentRepository { pool: pg.clone() }),
                config.no_show()?.booking_limit,
            ),
        );
        let scheduling = Arc::new(
            SchedulingService::new(
                Arc::new(PgScheduleRepository { pool: pg.clone() }),
                Arc::new(adapters_postgres::PgTimeOffRepository { pool: pg.clone() }),
                directory_repo.clone(),
                slot_cache.clone(),
                clock.clone(),
                config.timezone()?,
                config.slot_horizon_days,
            )
            .with_booking_window(config.booking_window())
            .with_waitlist(waitlist.clone()),
        );
        let appointment_repo = Arc::new(PgAppointmentRepository { pool: pg.clone() });
        let billing = domain::billing::BillingService::new(
            Arc::new(adapters_postgres::PgBillingRepository { pool: pg.clone() }),
            clock.clone(),
        );
        let prescriptions = domain::prescriptions::PrescriptionService::new(
            Arc::new(adapters_postgres::PgPrescriptionRepository { pool: pg.clone() }),
            appointment_repo.clone(),
            clock.clone(),
        );
        let medical_records = domain::medical_records::MedicalRecordService::new(
            Arc::new(adapters_postgres::PgMedicalRecordRepository { pool: pg.clone() }),
            files.clone(),
            directory_repo.clone(),
            clock.clone(),
            config.upload_max_bytes,
        );
        let live = crate::live::LiveHub::new(config.live_max_streams_per_user);
        let chat = domain::chat::service::ChatService::new(
            appointment_repo.clone(),
            directory_repo.clone(),
            Arc::new(adapters_mongo::MongoChatRepository::new(&mongo)),
            Arc::new(adapters_postgres::PgChatLedger { pool: pg.clone() }),
            domain::chat::service::AttachmentStore {
                files,
                max_bytes: config.upload_max_bytes,
            },
            clock.clone(),
            domain::chat::ChatPolicy {
                write_window: chrono::Duration::days(config.chat_write_window_days),
            },
        );
        let chat_hub = crate::chat::ChatHub::new(config.chat_max_sockets_per_user);
        let analytics_rollup = adapters_postgres::PgAnalyticsRepository { pool: pg.clone() };
        // Days are counted in the clinic's zone: a roll-up counted in another is counted again
        // before the first request (seconds at millions of appointments, logged).
        if analytics_rollup
            .prepare(config.timezone()?.name())
            .await
            .map_err(|e| anyhow::anyhow!("preparing the analytics roll-up: {e}"))?
        {
            tracing::info!(zone = %config.clinic_timezone, "analytics roll-up rebuilt in the clinic's time zone");
        }
        let analytics = domain::analytics::service::AnalyticsService::new(
            Arc::new(analytics_rollup.clone()),
            Arc::new(adapters_redis::RedisAnalyticsCache {
                store: redis.clone(),
            }),
            clock.clone(),
            config.timezone()?,
        );
        let appointments = AppointmentService::new(
            appointment_repo,
            directory_repo,
            slot_cache,
            clock.clone(),
            chrono::Duration::hours(config.patient_cancel_notice_hours),
            chrono::Duration::days(config.bill_due_days),
        )
        .with_booking_window(config.booking_window())
        .with_time_guards(domain::appointments::TimeGuards {
            start_early: chrono::Duration::minutes(config.start_early_minutes),
            confirm_on_the_day: config.confirm_on_the_day,
            zone: config.timezone()?,
        })
        .with_no_show(config.no_show()?)
        .with_waitlist(waitlist.clone())
        .with_series(scheduling.clone(), config.timezone()?);
        let audit_log = MongoAuditLog::new(&mongo);
        let audit_relay = AuditRelay::new(
            Arc::new(PgAuditOutbox { pool: pg.clone() }),
            Arc::new(audit_log.clone()),
            500,
        );
        let rate_limiter = RedisRateLimiter {
            store: redis.clone(),
        };
        // A claim blocks retries for this long before it counts as abandoned: longer than the
        // slowest booking can take (every store call is bounded by STORE_TIMEOUT_MS).
        let idempotency = domain::idempotency::Idempotency::new(
            Arc::new(adapters_postgres::PgIdempotencyStore { pool: pg.clone() }),
            clock.clone(),
            chrono::Duration::milliseconds(i64::try_from(config.store_timeout_ms).unwrap_or(2000))
                .max(chrono::Duration::seconds(10))
                * 3,
        );
        let webhooks = Arc::new(domain::webhooks::WebhookService::new(
            Arc::new(adapters_postgres::webhooks::PgWebhookRepository { pool: pg.clone() }),
            Arc::new(
                adapters_webhooks::HttpWebhookSender::new(
                    config.webhook_policy()?,
                    std::time::Duration::from_millis(config.webhook_timeout_ms),
                )
                .map_err(|e| anyhow::anyhow!(e))?,
            ),
            clock.clone(),
            config.webhook_policy()?,
            config.webhook_require_https,
            config.webhook_relay(),
        ));
        let calendar_feeds = domain::calendar::CalendarFeedService::new(
            Arc::new(
                adapters_postgres::calendar_feeds::PgCalendarFeedRepository { pool: pg.clone() },
            ),
            clock.clone(),
            config.timezone()?,
            config.slot_horizon_days,
        );
        let email_relay = domain::email::relay::EmailRelay::new(
            Arc::new(adapters_postgres::PgEmailOutbox { pool: pg.clone() }),
            config.email_sender(clock.clone())?,
            clock.clone(),
            domain::email::templates::Renderer {
                zone: config.timezone()?,
                clinic_name: config.clinic_name.clone(),
                app_url: config.app_url()?,
                reset_key,
            },
            config.email_relay(),
        );
        let email_preferences = domain::email::EmailPreferenceService::new(Arc::new(
            adapters_postgres::PgEmailPreferences { pool: pg.clone() },
        ));
        let notifications = domain::notifications::NotificationService::new(Arc::new(
            adapters_postgres::PgNotificationRepository { pool: pg.clone() },
        ));
        Ok(Self {
            config,
            clock,
            pg,
            redis,
            mongo,
            probes,
            tokens,
            identity,
            password_resets,
            email_relay,
            email_preferences,
            stream_tickets,
            directory,
            audit_log,
            audit_relay,
            rate_limiter,
            scheduling,
            appointments,
            waitlist,
            webhooks,
            calendar_feeds,
            idempotency,
            notifications,
            billing,
            prescriptions,
            medical_records,
            live,
            chat,
            chat_hub,
            analytics,
            analytics_rollup,
        })
    }
}
