//! PostgreSQL adapters: the schema, the connection pool, embedded migrations and the
//! repositories that implement the domain's ports.
//!
//! Every statement goes through diesel's typed query builder, or `sql_query` with bound
//! parameters; no SQL is built from strings of user input. Each repository method that must
//! be atomic runs in one transaction, which also writes its audit events to the outbox.

pub mod analytics;
pub mod appointments;
pub mod audit_outbox;
pub mod billing;
pub mod calendar_feeds;
pub mod chat;
pub mod directory;
pub mod email;
pub mod enums;
pub mod errors;
pub mod idempotency;
pub mod identity;
pub mod live;
pub mod medical_records;
pub mod migrations;
pub mod notifications;
mod paging;
pub mod pool;
pub mod prescriptions;
pub mod scheduling;
pub mod schema;
pub mod seed;
pub mod time_off;
pub mod waitlist;
pub mod webhooks;

pub use analytics::PgAnalyticsRepository;
pub use appointments::PgAppointmentRepository;
pub use audit_outbox::PgAuditOutbox;
pub use billing::PgBillingRepository;
pub use chat::PgChatLedger;
pub use directory::PgDirectoryRepository;
pub use email::{PgEmailOutbox, PgEmailPreferences, PgPasswordResets};
pub use idempotency::PgIdempotencyStore;
pub use identity::PgUserRepository;
pub use medical_records::PgMedicalRecordRepository;
pub use notifications::PgNotificationRepository;
pub use pool::{PgPool, PgPoolConfig, PgProbe};
pub use prescriptions::PgPrescriptionRepository;
pub use scheduling::PgScheduleRepository;
pub use time_off::PgTimeOffRepository;
pub use waitlist::PgWaitlistRepository;
