//! The HealthSync HTTP API: actix-web routes, DTOs with utoipa schemas, the error model, the
//! OpenAPI document and the application builder shared by `main` and the end-to-end tests.

pub mod admin;
pub mod auth;
pub mod chat;
pub mod config;
pub mod errors;
pub mod extract;
pub mod fallback;
pub mod hardening;
pub mod idempotent;
pub mod jobs;
pub mod live;
pub mod openapi;
pub mod rate_limit;
pub mod request_id;
pub mod routes;
pub mod seed;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod uploads;

pub use config::Config;
pub use startup::Application;
