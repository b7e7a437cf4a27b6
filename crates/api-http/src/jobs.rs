//! Background jobs run by `serve`. Each job's one step is a pub fn taking the state
//! (`relay_audit_once`, `generate_slots_once`, `send_reminders_once`, `mark_overdue_once`,
//! `fold_analytics_once`):
//! the spawned loops call them on their interval, and tests call them directly (with a
//! `ManualClock` injected) instead of waiting for the loop.

use std::time::Duration;

use actix_web::web;
use domain::error::DomainError;

use crate::state::AppState;

/// The audit relay's step: makes sure `audit_logs` has its indexes, then ships the whole
/// outbox. Returns how many events were shipped.
pub async fn relay_audit_once(state: &AppState) -> Result<usize, DomainError> {
    state.audit_log.ensure_indexes().await?;
    state.audit_relay.drain().await
}

/// The outbox clean-up step: deletes the `audit_outbox` rows shipped longer than
/// `AUDIT_OUTBOX_RETENTION_HOURS` ago, in bounded batches. Returns how many.
pub async fn prune_audit_outbox_once(state: &AppState) -> Result<usize, DomainError> {
    let retention = chrono::Duration::hours(state.config.audit_outbox_retention_hours.into());
    state.audit_relay.prune(retention).await
}

/// How often the relay prunes the outbox (it ships far more often).
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The slot generation's step: extends every active schedule to the horizon. Returns how many
/// slots were created.
pub async fn generate_slots_once(state: &AppState) -> Result<usize, DomainError> {
    state.scheduling.generate_all().await
}

/// The reminder job's step: writes the REMINDER notifications of appointments starting within
/// `REMINDER_LEAD_MINUTES` of the clock's now. Returns how many were written.
pub async fn send_reminders_once(state: &AppState) -> Result<usize, DomainError> {
    let lead = chrono::Duration::minutes(state.config.reminder_lead_minutes);
    state.appointments.send_reminders(lead).await
}

/// The OVERDUE job's step: marks every PENDING bill past its due date (by the clock) OVERDUE,
/// batch after batch until a short one. Returns how many moved.
pub async fn mark_overdue_once(state: &AppState) -> Result<usize, DomainError> {
    let mut moved = 0;
    loop {
        let n = state.billing.mark_overdue().await?;
        moved += n;
        if n < domain::billing::OVERDUE_BATCH {
            return Ok(moved);
        }
    }
}

/// The idempotency clean-up step: forgets keys older than a day. Returns how many.
pub async fn purge_idempotency_keys_once(state: &AppState) -> Result<usize, DomainError> {
    state.idempotency.purge_expired().await
}

/// Ships the audit outbox to MongoDB every `AUDIT_RELAY_INTERVAL_MS`. While MongoDB is down
/// the events wait in PostgreSQL and are shipped once it is back. Safe with several `serve`
/// processes: the outbox takes a lock, so batches are shipped in order, once. Every minute it
/// also deletes the rows shipped longer than the retention ago (several processes pruning at
/// once skip each other's rows).
pub fn spawn_audit_relay(state: web::Data<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let interval = Duration::from_millis(state.config.audit_relay_interval_ms);
        let mut indexes_ready = false;
        let mut next_prune = tokio::time::Instant::now();
        loop {
            if tokio::time::Instant::now() >= next_prune {
                next_prune = tokio::time::Instant::now() + PRUNE_EVERY;
                match prune_audit_outbox_once(&state).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(rows = n, "shipped audit outbox rows pruned"),
                    Err(e) => {
                        tracing::warn!(error = %crate::errors::cause_chain(&e), "audit outbox prune failed; retrying later")
                    }
                }
            }
            // The indexes once (until that succeeds), then only the shipping.
            let step = if indexes_ready {
                state.audit_relay.drain().await
            } else {
                relay_audit_once(&state).await
            };
            match step {
                Ok(n) => {
                    indexes_ready = true;
                    if n > 0 {
                        tracing::debug!(shipped = n, "audit events shipped");
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %crate::errors::cause_chain(&e), "audit relay paused; events stay in the outbox")
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
            let wait = match generate_slots_once(&state).await {
                Ok(n) => {
                    tracing::info!(created = n, "slot horizon extended");
                    Duration::from_secs(24 * 3600)
                }
                Err(e) => {
                    tracing::warn!(error = %crate::errors::cause_chain(&e), "slot generation failed; retrying in a minute");
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
        let interval = Duration::from_secs(state.config.reminder_interval_secs);
        loop {
            match send_reminders_once(&state).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(sent = n, "reminders written"),
                Err(e) => {
                    tracing::warn!(error = %crate::errors::cause_chain(&e), "reminder job failed; retrying")
                }
            }
            tokio::time::sleep(interval).await;
        }
    })
}

/// Marks PENDING bills past their due date OVERDUE every `OVERDUE_INTERVAL_SECS`, and on the
/// same beat forgets idempotency keys older than a day.
pub fn spawn_overdue_bills(state: web::Data<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let interval = Duration::from_secs(state.config.overdue_interval_secs);
        loop {
            match mark_overdue_once(&state).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(bills = n, "bills marked overdue"),
                Err(e) => {
                    tracing::warn!(error = %crate::errors::cause_chain(&e), "overdue job failed; retrying")
                }
            }
            match purge_idempotency_keys_once(&state).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(keys = n, "expired idempotency keys removed"),
                Err(e) => {
                    tracing::warn!(error = %crate::errors::cause_chain(&e), "idempotency clean-up failed; retrying")
                }
            }
            tokio::time::sleep(interval).await;
        }
    })
}

/// The analytics fold's step: moves the roll-up's pending changes into its daily rows. The
/// dashboard reads both, so this only keeps the changes table short.
pub async fn fold_analytics_once(state: &AppState) -> Result<(), DomainError> {
    state.analytics_rollup.fold().await
}

/// How often the roll-up's changes are folded.
const ANALYTICS_FOLD_INTERVAL: Duration = Duration::from_secs(60);

/// Folds the analytics roll-up's changes every minute (several processes may: each change is
/// folded once).
pub fn spawn_analytics_fold(state: web::Data<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(ANALYTICS_FOLD_INTERVAL).await;
            if let Err(e) = fold_analytics_once(&state).await {
                tracing::warn!(error = %crate::errors::cause_chain(&e), "analytics fold failed; retrying");
            }
        }
    })
}

/// The waitlist's step: expires offers past their hold and entries past their last day, then
/// offers matching free slots to the patients waiting longest.
pub async fn match_waitlist_once(state: &AppState) -> Result<usize, DomainError> {
    state.waitlist.run_matching().await
}

/// Runs the waitlist's step every `WAITLIST_MATCH_SECS` (several processes may: each slot gets
/// one open offer whatever runs at once).
pub fn spawn_waitlist(state: web::Data<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let interval = Duration::from_secs(state.config.waitlist_match_secs);
        loop {
            tokio::time::sleep(interval).await;
            if let Err(e) = match_waitlist_once(&state).await {
                tracing::warn!(error = %crate::errors::cause_chain(&e), "waitlist matching failed; retrying");
            }
        }
    })
}

/// Listens for committed notifications and chat events and fans them out to the live streams
/// and chat sockets.
pub fn spawn_live_notifications(state: web::Data<AppState>) -> tokio::task::JoinHandle<()> {
    let url = state.config.database_url.clone();
    let to = adapters_postgres::live::Listeners {
        notifications: state.live.sender(),
        chat: state.chat_hub.sender(),
    };
    crate::chat::spawn_relay(state);
    tokio::spawn(adapters_postgres::live::listen(url, to))
}

/// The webhook relay's step: delivers what is due to every endpoint this process can claim.
/// Returns how many deliveries succeeded.
pub async fn deliver_webhooks_once(state: &AppState) -> Result<usize, DomainError> {
    state.webhooks.deliver_due().await
}

/// The webhook log's clean-up step: forgets finished deliveries older than
/// `WEBHOOK_LOG_RETENTION_DAYS` and the events nothing refers to any more. Returns how many rows.
pub async fn prune_webhook_log_once(state: &AppState) -> Result<usize, DomainError> {
    let retention = chrono::Duration::days(state.config.webhook_log_retention_days);
    state.webhooks.prune_log(retention).await
}

/// Delivers due webhooks every `WEBHOOK_RELAY_INTERVAL_MS` (several processes may: an
/// endpoint is delivered to by one process at a time, in order); every minute it also prunes
/// the delivery log.
pub fn spawn_webhook_relay(state: web::Data<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let interval = Duration::from_millis(state.config.webhook_relay_interval_ms);
        let mut next_prune = tokio::time::Instant::now();
        loop {
            if tokio::time::Instant::now() >= next_prune {
                next_prune = tokio::time::Instant::now() + PRUNE_EVERY;
                match prune_webhook_log_once(&state).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(rows = n, "old webhook deliveries pruned"),
                    Err(e) => {
                        tracing::warn!(error = %crate::errors::cause_chain(&e), "webhook log prune failed; retrying later")
                    }
                }
            }
            match deliver_webhooks_once(&state).await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(delivered = n, "webhooks delivered"),
                Err(e) => {
                    tracing::warn!(error = %crate::errors::cause_chain(&e), "webhook relay failed; retrying")
                }
            }
            tokio::time::sleep(interval).await;
        }
    })
}

/// The email relay's step: sends every due email this process can claim. Returns what it did.
pub async fn send_emails_once(state: &AppState) -> Result<domain::email::relay::Pass, DomainError> {
    state.email_relay.deliver_due().await
}

/// The email outbox's clean-up step: forgets sent and failed emails older than
/// `EMAIL_LOG_RETENTION_DAYS`, and reset links expired as long ago. Returns how many rows.
pub async fn prune_emails_once(state: &AppState) -> Result<usize, DomainError> {
    let retention = chrono::Duration::days(state.config.email_log_retention_days);
    state.email_relay.prune(retention).await
}

/// Sends due emails every `EMAIL_RELAY_INTERVAL_MS` (several processes may: each email is
/// leased by one at a time); every minute it also prunes the outbox.
pub fn spawn_email_relay(state: web::Data<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let interval = Duration::from_millis(state.config.email_relay_interval_ms);
        let mut next_prune = tokio::time::Instant::now();
        loop {
            if tokio::time::Instant::now() >= next_prune {
                next_prune = tokio::time::Instant::now() + PRUNE_EVERY;
                match prune_emails_once(&state).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(rows = n, "old emails pruned"),
                    Err(e) => {
                        tracing::warn!(error = %crate::errors::cause_chain(&e), "email outbox prune failed; retrying later")
                    }
                }
            }
            if let Err(e) = send_emails_once(&state).await {
                tracing::warn!(error = %crate::errors::cause_chain(&e), "email relay failed; retrying");
            }
            tokio::time::sleep(interval).await;
        }
    })
}
