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
        let interval = Duration::from_millis(state.config.audit_relay_interval_ms);
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

/// Extends every active schedule's slots to the horizon at start-up and then daily.
/// Idempotent (unique key), so several `serve` processes running it is harmless.
pub fn spawn_slot_generation(state: web::Data<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let wait = match state.scheduling.generate_all().await {
                Ok(n) => {
                    tracing::info!(created = n, "slot horizon extended");
                    Duration::from_secs(24 * 3600)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "slot generation failed; retrying in a minute");
                    Duration::from_secs(60)
                }
            };
            tokio::time::sleep(wait).await;
        }
    })
}

/// Writes REMINDER notifications `REMINDER_LEAD_MINUTES` ahead, every
/// `REMINDER_INTERVAL_SECS`. Exactly once per appointment, whatever the number of processes.
pub fn spawn_reminders(state: web::Data<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let lead = chrono::Duration::minutes(state.config.reminder_lead_minutes);
        let interval = Duration::from_secs(state.config.reminder_interval_secs);
        loop {
            match state.appointments.send_reminders(lead).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(sent = n, "reminders written"),
                Err(e) => tracing::warn!(error = %e, "reminder job failed; retrying"),
            }
            tokio::time::sleep(interval).await;
        }
    })
}

/// Marks PENDING bills past their due date OVERDUE every `OVERDUE_INTERVAL_SECS`.
pub fn spawn_overdue_bills(state: web::Data<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let interval = Duration::from_secs(state.config.overdue_interval_secs);
        loop {
            match state.billing.mark_overdue().await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(bills = n, "bills marked overdue");
                    // A full batch: there may be more right now.
                    if n >= domain::billing::OVERDUE_BATCH {
                        continue;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "overdue job failed; retrying"),
            }
            tokio::time::sleep(interval).await;
        }
    })
}

/// Listens for committed notifications and fans them out to the live streams.
pub fn spawn_live_notifications(state: web::Data<AppState>) -> tokio::task::JoinHandle<()> {
    let url = state.config.database_url.clone();
    let tx = state.live.sender();
    tokio::spawn(adapters_postgres::live::listen(url, tx))
}
