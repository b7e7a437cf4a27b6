//! The end-to-end tests: one test binary (linked once, one process) with a module per area,
//! each test against the real stores through `e2e::TestApp` (see `tests/src/lib.rs`).
//!
//! Where to look: `visit` (a whole visit, money to the cent, OVERDUE/refund on a manual
//! clock), `clinical_access` (the authorisation matrix of prescriptions, records and bills),
//! `uploads` (upload abuse, interrupted and stalled uploads, failure injection), `file_stores`
//! (the S3 store), `notifications` (live streams), `booking` (no double booking under races,
//! reminders on a manual clock), `audit` (outbox exactly once across a MongoDB outage and a
//! re-created PostgreSQL database), `audit_outbox` (retention), `authorization`, `bad_input`,
//! `pages` (cursor walks of every deep list, capped totals), `chat` (conversations over real
//! WebSockets: outsiders, reconnects, two processes, attachments, a MongoDB outage), `operations` (readiness and
//! outages), `redis_use` (one connection, cached bytes, the circuit breaker on a hung Redis),
//! `stores`, `migrations` (every down.sql reverses its up.sql), `fhir` (FHIR R4 resources as every
//! caller, validated against HL7's R4 schema).

mod analytics;
mod audit;
mod audit_outbox;
mod authorization;
mod bad_input;
mod booking;
mod calendar;
mod chat;
mod clinical_access;
mod directory;
mod email;
mod fhir;
mod file_stores;
mod hardening;
mod idempotency;
mod identity;
mod input_table;
mod limits;
mod migrations;
mod notifications;
mod operations;
mod pages;
mod redis_use;
mod scheduling_rules;
mod seed;
mod series;
mod stores;
mod time_off;
mod uploads;
mod visit;
mod waitlist;
mod webhooks;
