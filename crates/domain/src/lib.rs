//! HealthSync's business rules, free of I/O.
//!
//! Modules follow the business areas of the clinic, each holding its entities, rules, ports
//! (traits the adapters implement) and use cases, so one area reads top to bottom:
//!
//! - [`clock`]: the time source every rule asks instead of calling `Utc::now()`.
//! - [`health`]: the probe port `/ready` uses to check each store.
//!
//! This crate depends on no database, web or runtime crate; `make lint` checks that with
//! `cargo tree`. Mocks of every port come from `mockall` under the `mocks` feature.

pub mod clock;
pub mod health;
