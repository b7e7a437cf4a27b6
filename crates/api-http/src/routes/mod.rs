//! One module per resource; handlers stay thin: parse, call one use case, map the result.

pub mod analytics;
pub mod appointments;
pub mod audit;
pub mod auth;
pub mod billing;
pub mod calendar;
pub mod chat;
pub mod departments;
pub mod doctors;
pub mod dto;
pub mod email_preferences;
pub mod fhir;
pub mod health;
pub mod medical_records;
pub mod notifications;
pub mod password_reset;
pub mod patients;
pub mod prescriptions;
pub mod schedules;
pub mod series;
pub mod time_off;
pub mod users;
pub mod waitlist;
pub mod webhooks;
