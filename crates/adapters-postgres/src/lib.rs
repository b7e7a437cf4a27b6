//! PostgreSQL adapters: the schema, the connection pool, embedded migrations and the
//! repositories that implement the domain's ports.
//!
//! Every statement goes through diesel's typed query builder, or `sql_query` with bound
//! parameters; no SQL is built from strings of user input.

pub mod migrations;
pub mod pool;
pub mod schema;

pub use pool::{PgPool, PgPoolConfig, PgProbe};
