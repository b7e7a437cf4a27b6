//! HealthSync's business rules, free of I/O.
//!
//! Modules follow the business areas of the clinic, each holding its entities, rules, ports
//! (traits the adapters implement) and use cases, so one area reads top to bottom:
//!
//! - [`access`]: which roles may attempt which action (checked before the body is read).
//! - [`identity`]: accounts, sessions, roles, password policy.
//! - [`directory`]: patients, doctors, departments and who may see or change them.
//! - [`scheduling`]: weekly schedules, DST-correct slot generation, cached availability.
//! - [`appointments`]: booking, the status machine and who may move it.
//! - [`waitlist`]: patients waiting for a doctor, offers that hold a freed slot for the first.
//! - [`billing`]: the bill of a completed visit, payment, OVERDUE, refund.
//! - [`prescriptions`], [`medical_records`]: clinical content and the files behind it.
//! - [`audit`]: the audit event written with every change, the outbox relay, the search.
//! - [`analytics`]: the clinic's dashboard: periods in the clinic's zone, what each figure
//!   counts, who sees which scope, the cache.
//! - [`chat`]: doctor-patient conversations: who takes part, when one is open, what a message
//!   may hold, how messages are numbered for exact reconnects, attachments.
//! - [`clock`]: the time source every rule asks instead of calling `Utc::now()`.
//! - [`health`]: the probe port `/ready` uses to check each store; [`breaker`]: the circuit
//!   breaker that stops calls waiting on a store known to be failing.
//! - [`lifecycle`]: the one shape of the appointment and bill status machines.
//! - [`dates`]: the years a client may name (1900-9999), checked before any store sees them.
//! - [`fhir`]: FHIR R4 `Schedule`, `Slot` and `Appointment` (read-only) over the use cases above.
//! - [`error`], [`paging`], [`money`], [`text`]: shared by every area ([`text`] refuses NUL
//!   and control characters in anything a client typed).
//!
//! This crate depends on no database, web or runtime crate; `make lint` checks that with
//! `cargo tree`. Mocks of every port come from `mockall` under the `mocks` feature.

pub mod access;
pub mod analytics;
pub mod appointments;
pub mod audit;
pub mod billing;
pub mod breaker;
pub mod calendar;
pub mod chat;
pub mod clock;
pub mod dates;
pub mod directory;
pub mod email;
pub mod error;
pub mod fhir;
pub mod health;
pub mod idempotency;
pub mod identity;
pub mod lifecycle;
pub mod medical_records;
pub mod money;
pub mod notifications;
pub mod paging;
pub mod prescriptions;
pub mod retry;
pub mod scheduling;
#[cfg(test)]
mod testing;
pub mod text;
pub mod waitlist;
pub mod webhooks;
