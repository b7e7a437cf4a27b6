//! Live notification streams (Server-Sent Events).
//!
//! PostgreSQL announces every committed notification (`adapters_postgres::live`); the
//! [`LiveHub`] fans the announcements out to this process's open streams, and caps how many
//! streams one user may hold open at once (`LIVE_MAX_STREAMS_PER_USER`, per process), so a
//! client looping on reconnect cannot pile up server tasks.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::web;
use adapters_postgres::live::Announcement;
use bytes::Bytes;
use domain::error::DomainError;
use domain::identity::Actor;
use serde::Serialize;
use tokio::sync::{broadcast, mpsc};
use uuid::Uuid;

use crate::errors::ApiError;
use crate::routes::notifications::{CountDto, NotificationDto};
use crate::state::AppState;

/// The announcements and who is listening.
pub struct LiveHub {
    tx: broadcast::Sender<Announcement>,
    open: Arc<Mutex<HashMap<Uuid, usize>>>,
    max_per_user: usize,
}

/// One open stream's place in the hub; gives it back when dropped.
pub struct Subscription {
    rx: broadcast::Receiver<Announcement>,
    open: Arc<Mutex<HashMap<Uuid, usize>>>,
    user_id: Uuid,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.user_id) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.user_id);
            }
        }
    }
}

impl LiveHub {
    pub fn new(max_per_user: usize) -> Self {
        Self {
            tx: broadcast::channel(1024).0,
            open: Arc::default(),
            max_per_user,
        }
    }

    /// Where the PostgreSQL listener publishes.
    pub fn sender(&self) -> broadcast::Sender<Announcement> {
        self.tx.clone()
    }

    /// A place for one more stream of `user_id`, or 429 `TOO_MANY_STREAMS`.
    pub fn subscribe(&self, user_id: Uuid) -> Result<Subscription, ApiError> {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let n = open.entry(user_id).or_insert(0);
        if *n >= self.max_per_user {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TOO_MANY_STREAMS",
                format!(
                    "at most {} live streams per user; close one first",
                    self.max_per_user
                ),
            )
            .retry_after(5));
        }
        *n += 1;
        Ok(Subscription {
            rx: self.tx.subscribe(),
            open: self.open.clone(),
            user_id,
        })
    }
}

fn event(name: &str, id: Option<Uuid>, data: &impl Serialize) -> Bytes {
    let data = serde_json::to_string(data).unwrap_or_else(|_| "{}".into());
    let id = id.map(|i| format!("id: {i}\n")).unwrap_or_default();
    Bytes::from(format!("event: {name}\n{id}data: {data}\n\n"))
}

/// The body of one stream: `ready` with the unread count, then the actor's notifications as
/// they commit, keep-alives that also re-check the session, and `end` when it is gone.
pub fn stream(
    state: web::Data<AppState>,
    actor: Actor,
    subscription: Subscription,
    unread: u64,
) -> impl futures::Stream<Item = Result<Bytes, Infallible>> {
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let _ = tx.try_send(event("ready", None, &CountDto { count: unread }));
    tokio::spawn(async move {
        let mut subscription = subscription;
        let mut keep_alive =
            tokio::time::interval(Duration::from_secs(state.config.live_keepalive_secs));
        keep_alive.tick().await;
        loop {
            tokio::select! {
                // The client went away: the body (and its receiver) was dropped.
                _ = tx.closed() => break,
                got = subscription.rx.recv() => match got {
                    Ok(a) if a.user_id == actor.user_id => {
                        if let Ok(n) = state.notifications.get(&actor, a.notification_id).await {
                            let e = event("notification", Some(n.id), &NotificationDto::from(n));
                            if tx.send(e).await.is_err() {
                                break;
                            }
                        }
                    }
                    Ok(_) => {}
                    // Fell behind a burst: say so; the client re-reads the list.
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        let _ = tx.send(event("lagged", None, &CountDto { count: missed })).await;
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                _ = keep_alive.tick() => {
                    let session = state
                        .identity
                        .authenticate(actor.user_id, actor.session_id, actor.meta.clone())
                        .await;
                    if matches!(session, Err(DomainError::Unauthenticated)) {
                        let reason = serde_json::json!({ "reason": "session ended" });
                        let _ = tx.send(event("end", None, &reason)).await;
                        break;
                    }
                    if tx.send(Bytes::from_static(b": keep-alive\n\n")).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    futures::stream::unfold(
        rx,
        |mut rx| async move { rx.recv().await.map(|b| (Ok(b), rx)) },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_capped_per_user_and_given_back_on_drop() {
        let hub = LiveHub::new(2);
        let (me, you) = (Uuid::new_v4(), Uuid::new_v4());
        let a = hub.subscribe(me).unwrap();
        let _b = hub.subscribe(me).unwrap();
        let refused = hub.subscribe(me).err().unwrap();
        assert_eq!(refused.body.code, "TOO_MANY_STREAMS");
        assert!(hub.subscribe(you).is_ok(), "others are not affected");
        drop(a);
        assert!(hub.subscribe(me).is_ok(), "a closed stream frees its place");
    }
}
