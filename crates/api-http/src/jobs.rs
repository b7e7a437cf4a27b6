//! Background jobs run by `serve`.

use std::time::Duration;

use actix_web::web;

use crate::state::AppState;

/// Ships the audit outbox to MongoDB every `AUDIT_RELAY_INTERVAL_MS`. While MongoDB is down
/// the events wait in PostgreSQL and are shipped once it is back. Safe with several `serve`
/// processes: the outbox takes a lock, so batches are shipped in order, once.
pub fn spawn_audit_relay(state: web::Data<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut indexes_ready = false;
        let interval = Duration::from_millis(state.config.audit_relay_interval_ms.max(50));
        loop {
            if !indexes_ready {
                indexes_ready = state.audit_log.ensure_indexes().await.is_ok();
            }
            if indexes_ready {
                match state.audit_relay.drain().await {
                    Ok(0) => {}
                    Ok(n) => tracing::debug!(shipped = n, "audit events shipped"),
                    Err(e) => {
                        tracing::warn!(error = %e, "audit relay paused; events stay in the outbox")
                    }
                }
            }
            tokio::time::sleep(interval).await;
        }
    })
}
