//! The chat's live side: the hub that routes announced chat events to this process's sockets,
//! and the socket protocol ([`frames`], [`socket`]).
//!
//! PostgreSQL announces every committed message and read receipt (`NOTIFY chat`, see
//! `adapters_postgres::chat`); each `serve` process listens, so a message sent through one
//! process reaches sockets held by another. The hub keeps, per user, the sockets open in this
//! process, and hands each event only to its two users' sockets: a thousand idle sockets cost
//! nothing per message.

pub mod frames;
pub mod socket;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use actix_web::http::StatusCode;
use actix_web::web;
use domain::chat::ChatEvent;
use tokio::sync::{broadcast, mpsc};
use uuid::Uuid;

use crate::errors::ApiError;
use crate::state::AppState;

/// How many events may wait for one slow socket before it is told it fell behind.
const SOCKET_QUEUE: usize = 256;

struct Entry {
    id: u64,
    tx: mpsc::Sender<Arc<ChatEvent>>,
    lagged: Arc<AtomicBool>,
}

#[derive(Default)]
struct Sockets {
    by_user: Mutex<HashMap<Uuid, Vec<Entry>>>,
    next_id: AtomicU64,
}

/// The sockets of this process, by user, and where the PostgreSQL listener publishes.
pub struct ChatHub {
    sockets: Arc<Sockets>,
    announced: broadcast::Sender<ChatEvent>,
    max_per_user: usize,
}

/// One open socket's place in the hub; gives it back when dropped.
pub struct ChatSubscription {
    pub events: mpsc::Receiver<Arc<ChatEvent>>,
    /// Set when an event for this socket was dropped because its queue was full.
    pub lagged: Arc<AtomicBool>,
    sockets: Arc<Sockets>,
    user_id: Uuid,
    id: u64,
}

impl Drop for ChatSubscription {
    fn drop(&mut self) {
        let mut by_user = self
            .sockets
            .by_user
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(entries) = by_user.get_mut(&self.user_id) {
            entries.retain(|e| e.id != self.id);
            if entries.is_empty() {
                by_user.remove(&self.user_id);
            }
        }
    }
}

impl ChatHub {
    pub fn new(max_per_user: usize) -> Self {
        Self {
            sockets: Arc::default(),
            announced: broadcast::channel(4096).0,
            max_per_user,
        }
    }

    /// Where the PostgreSQL listener publishes chat announcements.
    pub fn sender(&self) -> broadcast::Sender<ChatEvent> {
        self.announced.clone()
    }

    /// A place for one more socket of `user_id`, or 429 `TOO_MANY_SOCKETS`.
    pub fn subscribe(&self, user_id: Uuid) -> Result<ChatSubscription, ApiError> {
        let mut by_user = self
            .sockets
            .by_user
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let entries = by_user.entry(user_id).or_default();
        if entries.len() >= self.max_per_user {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "TOO_MANY_SOCKETS",
                format!(
                    "at most {} chat sockets per user; close one first",
                    self.max_per_user
                ),
            )
            .retry_after(5));
        }
        let (tx, events) = mpsc::channel(SOCKET_QUEUE);
        let lagged = Arc::new(AtomicBool::new(false));
        let id = self.sockets.next_id.fetch_add(1, Ordering::Relaxed);
        entries.push(Entry {
            id,
            tx,
            lagged: lagged.clone(),
        });
        Ok(ChatSubscription {
            events,
            lagged,
            sockets: self.sockets.clone(),
            user_id,
            id,
        })
    }

    /// Hands `event` to its users' sockets in this process.
    fn dispatch(&self, event: &Arc<ChatEvent>) {
        let by_user = self
            .sockets
            .by_user
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let [a, b] = event.users();
        let users = if a == b { &[a][..] } else { &[a, b][..] };
        for user in users {
            for entry in by_user.get(user).into_iter().flatten() {
                if entry.tx.try_send(event.clone()).is_err() {
                    entry.lagged.store(true, Ordering::Release);
                }
            }
        }
    }

    /// Tells `users`' sockets (all sockets when `None`) that they missed events.
    fn mark_lagged(&self, users: Option<[Uuid; 2]>) {
        let by_user = self
            .sockets
            .by_user
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for (user, entries) in by_user.iter() {
            if users.is_none_or(|u| u.contains(user)) {
                for entry in entries {
                    entry.lagged.store(true, Ordering::Release);
                }
            }
        }
    }

    /// How many sockets are open in this process (for the benchmark's memory figure).
    pub fn open_sockets(&self) -> usize {
        let by_user = self
            .sockets
            .by_user
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        by_user.values().map(Vec::len).sum()
    }
}

/// Routes announced chat events to the sockets, in the order PostgreSQL delivered them,
/// reading back from MongoDB the messages too long to travel in an announcement.
pub fn spawn_relay(state: web::Data<AppState>) -> tokio::task::JoinHandle<()> {
    let mut announced = state.chat_hub.announced.subscribe();
    tokio::spawn(async move {
        loop {
            let event = match announced.recv().await {
                Ok(event) => event,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "the chat relay fell behind; sockets will backfill");
                    state.chat_hub.mark_lagged(None);
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            };
            let users = event.users();
            match state.chat.resolve(event).await {
                Ok(Some(event)) => state.chat_hub.dispatch(&Arc::new(event)),
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "could not read back an announced chat message");
                    state.chat_hub.mark_lagged(Some(users));
                }
            }
        }
    })
}
