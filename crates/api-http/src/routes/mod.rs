//! One module per resource; handlers stay thin: parse, call one use case, map the result.

pub mod appointments;
pub mod audit;
pub mod auth;
pub mod departments;
pub mod doctors;
pub mod dto;
pub mod health;
pub mod notifications;
pub mod patients;
pub mod schedules;
pub mod users;
