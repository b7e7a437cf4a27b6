//! Live delivery: one dedicated connection LISTENs on the `notifications` channel that the
//! `notifications_announce` trigger NOTIFYs on commit, and on the `chat` channel of
//! [`crate::chat`], and fans each announcement out to the in-process subscribers (the SSE
//! streams and the chat sockets). Works across several
//! `serve` processes, since every process listens; reconnects with back-off when the
//! database goes away (announcements made while disconnected are not replayed: clients
//! re-read the list on reconnect, which the API documents).

use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use domain::chat::ChatEvent;
use futures::StreamExt;
use tokio::sync::broadcast;
use uuid::Uuid;

/// A committed notification: whose it is and its id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Announcement {
    pub user_id: Uuid,
    pub notification_id: Uuid,
}

fn parse(payload: &str) -> Option<Announcement> {
    let (user, id) = payload.split_once(':')?;
    Some(Announcement {
        user_id: user.parse().ok()?,
        notification_id: id.parse().ok()?,
    })
}

/// Where the listener publishes what it hears.
#[derive(Clone)]
pub struct Listeners {
    pub notifications: broadcast::Sender<Announcement>,
    pub chat: broadcast::Sender<ChatEvent>,
}

/// Listens forever, publishing into `to`. Run it as a background task.
pub async fn listen(database_url: String, to: Listeners) {
    let mut backoff = Duration::from_millis(250);
    loop {
        match AsyncPgConnection::establish(&database_url).await {
            Ok(mut conn) => {
                let listening = async {
                    diesel::sql_query("LISTEN notifications")
                        .execute(&mut conn)
                        .await?;
                    diesel::sql_query(format!("LISTEN {}", crate::chat::CHANNEL))
                        .execute(&mut conn)
                        .await
                };
                if let Err(e) = listening.await {
                    tracing::warn!(error = %e, "LISTEN failed");
                } else {
                    tracing::debug!("listening for notifications");
                    backoff = Duration::from_millis(250);
                    let mut stream = std::pin::pin!(conn.notifications_stream());
                    while let Some(item) = stream.next().await {
                        match item {
                            // No subscriber is fine: nobody is connected.
                            Ok(n) if n.channel == crate::chat::CHANNEL => {
                                if let Some(event) = crate::chat::parse(&n.payload) {
                                    let _ = to.chat.send(event);
                                }
                            }
                            Ok(n) => {
                                if let Some(a) = parse(&n.payload) {
                                    let _ = to.notifications.send(a);
                                }
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "notification listener lost its connection");
                                break;
                            }
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "notification listener cannot connect"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn payloads_are_parsed_strictly() {
        let u = uuid::Uuid::new_v4();
        let n = uuid::Uuid::new_v4();
        let a = super::parse(&format!("{u}:{n}")).unwrap();
        assert_eq!((a.user_id, a.notification_id), (u, n));
        assert!(super::parse("garbage").is_none());
        assert!(super::parse(&format!("{u}:x")).is_none());
    }
}
