//! MongoDB adapters: the `audit_logs` and `chat_messages` collections.
//!
//! Documents use the camelCase field names of the data model. The client's own pool is used,
//! with short server-selection and connect timeouts so a dead server fails requests fast.

pub mod audit_logs;
pub mod chat_messages;
pub mod client;

pub use audit_logs::MongoAuditLog;
pub use chat_messages::MongoChatRepository;
pub use client::{MongoConfig, MongoProbe, MongoStore};
